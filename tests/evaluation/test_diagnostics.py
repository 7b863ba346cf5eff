"""Known-answer tests of the collapse diagnostics, on real recordings and on the paper's failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from harness.data.audio import decode_audio, quantize_16bit, read_audio, resample
from harness.data.corpus import compose_corpus, render_piece
from harness.evaluation.diagnostics import COLLAPSED_LABELS, LABELS, diagnose_batch, diagnose_clip
from harness.evaluation.levels import DB_FLOOR, frame_rms_db
from harness.evaluation.onset import collapse_onset_sample
from harness.evaluation.spectral import NOISE_MIN_FRAMES, spectral_fft_size
from harness.evaluation.thresholds import DEFAULT_THRESHOLDS, Thresholds

N = 500
RATE_16K = 16000
RECORDINGS = (
    "brahms_hungarian_dance_5.ogg",
    "brahms_hungarian_dance_5.hq.ogg",
    "trumpet_loop.ogg",
    "trumpet_loop.hq.ogg",
    "vibe_ace.hq.ogg",
)
TEN_MS = 0.010
RATE_44K = 44100
NOISE_CUES = ("fluctuation_z", "tonality_ratio", "modulation_z", "modulation_depth_db", "declicked_depth_db")
# Every recording shipped in the shared music folder (the loops and drones are Sonic Pi samples).
SHIPPED = (
    *RECORDINGS,
    "ambi_choir.flac",
    "ambi_glass_hum.flac",
    "bass_voxy_c.flac",
    "loop_amen.flac",
    "loop_breakbeat.flac",
    "loop_compus.flac",
    "loop_mika.flac",
)
DRONES = ("ambi_choir.flac", "ambi_glass_hum.flac", "bass_voxy_c.flac")


@pytest.fixture(scope="module")
def recordings(music_dir: Path) -> dict[str, tuple[np.ndarray, int]]:
    """Every shipped recording decoded at its native rate (22.05 or 44.1 kHz)."""
    found = {name: read_audio(music_dir / name) for name in RECORDINGS if (music_dir / name).is_file()}
    if not found:
        pytest.skip(f"none of {RECORDINGS} in {music_dir}")
    return found


@pytest.fixture(scope="module")
def recordings_16k(recordings: dict[str, tuple[np.ndarray, int]]) -> dict[str, np.ndarray]:
    """The same recordings resampled to 16 kHz, the project's low rate."""
    return {name: resample(audio, rate, RATE_16K) for name, (audio, rate) in recordings.items()}


@pytest.fixture(scope="module")
def brahms_16k(recordings_16k: dict[str, np.ndarray]) -> np.ndarray:
    """Four loud seconds of the Brahms recording at 16 kHz (running music, no rests)."""
    audio = recordings_16k.get("brahms_hungarian_dance_5.ogg")
    if audio is None:
        pytest.skip("brahms_hungarian_dance_5.ogg is missing")
    return audio[10 * RATE_16K : 14 * RATE_16K]


def _recording(recordings: dict, name: str) -> tuple[np.ndarray, int]:
    if name not in recordings:
        pytest.skip(f"{name} is missing")
    return recordings[name]


# ------------------------------------------------------------------ the paper's failures
def test_zeros_are_silent() -> None:
    diagnosis = diagnose_clip(np.zeros(RATE_16K, dtype=np.float32), RATE_16K, N)
    assert diagnosis.label == "silent"
    assert diagnosis.metrics["collapse_onset_sample"] == 0
    assert diagnosis.metrics["rms_db"] == DB_FLOOR
    assert diagnosis.metrics["silent_frame_ratio"] == 1.0
    assert diagnosis.metrics["spectral_flatness"] is None


def test_constant_from_the_first_sample_is_silent_even_off_zero() -> None:
    diagnosis = diagnose_clip(np.full(RATE_16K, 0.3, dtype=np.float32), RATE_16K, N)
    assert diagnosis.label == "silent"
    assert diagnosis.metrics["collapse_onset_sample"] == 0
    assert diagnosis.metrics["dc_offset"] == pytest.approx(0.3)


def test_faint_noise_below_the_silence_level_is_silent() -> None:
    faint = np.random.default_rng(0).standard_normal(RATE_16K).astype(np.float32) * 10 ** (-70 / 20)
    diagnosis = diagnose_clip(faint, RATE_16K, N)
    assert diagnosis.label == "silent"
    assert diagnosis.metrics["ac_rms_db"] == pytest.approx(-70.0, abs=0.5)


@pytest.mark.parametrize("value", [0.3, -0.45])
def test_click_then_constant_is_flat_collapse_with_a_small_onset(value: float) -> None:
    # The paper's second failure: a short transient, then the output freezes.
    click = 0.8 * np.exp(-np.arange(48) / 8.0) * np.sign(value) + value * (1 - np.exp(-np.arange(48) / 8.0))
    clip = np.concatenate([click, np.full(RATE_16K - 48, value)]).astype(np.float32)
    diagnosis = diagnose_clip(clip, RATE_16K, N)
    metrics = diagnosis.metrics
    assert diagnosis.label == "flat_collapse"
    assert 0 < metrics["collapse_onset_sample"] <= 48
    assert metrics["collapse_onset_over_n"] < 0.1
    assert metrics["collapsed_value"] == pytest.approx(value, abs=1e-3)
    assert metrics["start_transient_db"] > 40.0


@pytest.mark.parametrize("value", [0.0, 0.3])
@pytest.mark.parametrize("onset_s", [500 / RATE_16K, 1000 / RATE_16K, 4410 / 44100, 0.5, 1.5])
@pytest.mark.parametrize("rate_hz", [RATE_16K, 44100])
def test_real_music_frozen_at_a_chosen_sample_is_flat_collapse(
    brahms_16k: np.ndarray, rate_hz: int, onset_s: float, value: float
) -> None:
    clip = resample(brahms_16k, RATE_16K, rate_hz)
    true_onset = round(onset_s * rate_hz)
    clip[true_onset:] = value
    diagnosis = diagnose_clip(clip, rate_hz, N)
    metrics = diagnosis.metrics
    assert diagnosis.label == "flat_collapse"
    assert abs(metrics["collapse_onset_sample"] - true_onset) <= TEN_MS * rate_hz
    assert metrics["collapse_onset_over_n"] == pytest.approx(true_onset / N, abs=TEN_MS * rate_hz / N)
    assert metrics["collapsed_tail_s"] == pytest.approx(clip.size / rate_hz - onset_s, abs=TEN_MS)
    assert metrics["collapsed_value"] == pytest.approx(value, abs=1e-3)


def test_dithered_16_bit_constant_still_counts_as_constant(brahms_16k: np.ndarray) -> None:
    clip = brahms_16k.copy()
    dither = np.random.default_rng(1).integers(-3, 4, clip.size - 8000) / 32768
    clip[8000:] = np.round((0.3 + dither) * 32768) / 32768  # 16-bit steps, +-3 LSB of dither
    diagnosis = diagnose_clip(clip, RATE_16K, N)
    assert diagnosis.label == "flat_collapse"
    assert abs(diagnosis.metrics["collapse_onset_sample"] - 8000) <= TEN_MS * RATE_16K


def test_a_quiet_tail_that_still_moves_is_not_constant(brahms_16k: np.ndarray) -> None:
    clip = brahms_16k.copy()
    clip[8000:] *= 10 ** (-30 / 20)  # -30 dB is quiet, but its peaks exceed the 1e-3 band
    diagnosis = diagnose_clip(clip, RATE_16K, N)
    onset = diagnosis.metrics["collapse_onset_sample"]
    assert onset is None or onset > 8000 + RATE_16K  # a rest near the end may still be flat
    assert diagnosis.label == "healthy"


def test_a_constant_tail_shorter_than_the_minimum_has_no_onset(brahms_16k: np.ndarray) -> None:
    clip = brahms_16k.copy()
    clip[-80:] = 0.0  # 5 ms, below the 10 ms minimum
    assert collapse_onset_sample(clip, RATE_16K) is None


@pytest.mark.parametrize("tail", [1, 4095, 4096, 4097, 20480, 20481, 90000])
def test_onset_scan_matches_brute_force_across_chunk_borders(tail: int) -> None:
    rng = np.random.default_rng(tail)
    clip = np.concatenate([rng.uniform(-0.5, 0.5, 3000), 0.2 + rng.uniform(-9e-4, 9e-4, tail)]).astype(np.float32)
    band = 2 * DEFAULT_THRESHOLDS.constant_tolerance
    suffix_range = np.maximum.accumulate(clip[::-1])[::-1] - np.minimum.accumulate(clip[::-1])[::-1]
    expected = int(np.argmax(suffix_range <= band))
    thresholds = Thresholds(min_constant_tail_s=0.0)
    assert expected == 3000
    assert collapse_onset_sample(clip, RATE_16K, thresholds) == expected


# ----------------------------------------------------------------------- other failures
def test_white_noise_is_noise() -> None:
    noise = np.random.default_rng(2).standard_normal(2 * RATE_16K).astype(np.float32) * 0.2
    diagnosis = diagnose_clip(noise, RATE_16K, N)
    assert diagnosis.label == "noise"
    assert diagnosis.metrics["spectral_flatness"] == pytest.approx(np.exp(-np.euler_gamma), abs=0.05)


@pytest.mark.parametrize("name", RECORDINGS)
def test_heavily_clipped_recording_is_saturated(recordings: dict, name: str) -> None:
    audio, rate = _recording(recordings, name)
    diagnosis = diagnose_clip(np.clip(audio * 20, -1, 1), rate, N)
    assert diagnosis.label == "saturated"
    assert diagnosis.metrics["clipping_ratio"] >= DEFAULT_THRESHOLDS.saturated_ratio


def test_generator_stuck_at_a_rail_after_moving_is_collapsed(brahms_16k: np.ndarray) -> None:
    clip = brahms_16k.copy()
    clip[4000:] = 1.0
    diagnosis = diagnose_clip(clip, RATE_16K, N)
    assert diagnosis.label == "flat_collapse"
    assert diagnosis.metrics["clipping_ratio"] > 0.7
    assert diagnosis.label in COLLAPSED_LABELS


# ------------------------------------------------------------------ real music is healthy
@pytest.mark.parametrize("name", RECORDINGS)
def test_unmodified_recordings_are_healthy_at_native_rate(recordings: dict, name: str) -> None:
    audio, rate = _recording(recordings, name)
    diagnosis = diagnose_clip(audio, rate, N)
    assert diagnosis.label == "healthy", diagnosis.metrics
    assert diagnosis.metrics["duration_s"] == pytest.approx(audio.size / rate)
    assert diagnosis.metrics["spectral_flatness"] < 0.1 * DEFAULT_THRESHOLDS.noise_flatness


@pytest.mark.parametrize("name", RECORDINGS)
def test_unmodified_recordings_are_healthy_at_16k(recordings_16k: dict, name: str) -> None:
    if name not in recordings_16k:
        pytest.skip(f"{name} is missing")
    audio = recordings_16k[name]
    diagnosis = diagnose_clip(audio, RATE_16K, N)
    assert diagnosis.label == "healthy", diagnosis.metrics
    assert diagnosis.metrics["clipping_ratio"] == 0.0


def _trailing_silence(audio: np.ndarray, rate: int) -> np.ndarray:
    return np.concatenate([audio, np.zeros(2 * rate, np.float32)])


def _leading_and_trailing_silence(audio: np.ndarray, rate: int) -> np.ndarray:
    return np.concatenate([np.zeros(rate, np.float32), audio, np.zeros(rate, np.float32)])


def _fade_out_then_silence(audio: np.ndarray, rate: int) -> np.ndarray:
    faded = audio.copy()
    length = min(audio.size // 3, 3 * rate)
    faded[-length:] *= np.linspace(1.0, 0.0, length, dtype=np.float32) ** 2
    return np.concatenate([faded, np.zeros(rate, np.float32)])


def _quiet_passage(audio: np.ndarray, rate: int) -> np.ndarray:
    quiet = audio.copy()
    quiet[audio.size // 4 : audio.size // 2] *= 10 ** (-40 / 20)
    return quiet


def _mildly_clipped_loud_master(audio: np.ndarray, rate: int) -> np.ndarray:
    return np.clip(audio / np.abs(audio).max() * 2.0, -1.0, 1.0)  # peaks 6 dB over full scale


VARIANTS = {
    "trailing 2 s silence": _trailing_silence,
    "1 s silence both ends": _leading_and_trailing_silence,
    "fade-out then 1 s silence": _fade_out_then_silence,
    "quiet passage -40 dB": _quiet_passage,
    "mildly clipped loud master": _mildly_clipped_loud_master,
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", RECORDINGS)
@pytest.mark.parametrize("at_16k", [False, True], ids=["native", "16k"])
def test_real_music_variants_are_healthy(
    recordings: dict, recordings_16k: dict, name: str, variant: str, at_16k: bool
) -> None:
    audio, rate = _recording(recordings, name)
    if at_16k:
        audio, rate = recordings_16k[name], RATE_16K
    diagnosis = diagnose_clip(VARIANTS[variant](audio, rate), rate, N)
    assert diagnosis.label == "healthy", diagnosis.metrics


def test_trailing_silence_is_reported_as_an_onset_but_not_as_collapse(recordings: dict) -> None:
    audio, rate = _recording(recordings, "trumpet_loop.ogg")
    padded = np.concatenate([audio, np.zeros(3 * rate, np.float32)])  # then over half is silence
    diagnosis = diagnose_clip(padded, rate, N)
    assert diagnosis.label == "healthy"
    assert diagnosis.metrics["collapsed_tail_fraction"] > DEFAULT_THRESHOLDS.min_collapsed_tail_fraction
    assert diagnosis.metrics["pre_onset_drop_db"] > DEFAULT_THRESHOLDS.abrupt_stop_db


@pytest.mark.parametrize("position", [0.0, 0.25, 0.5, 0.75])
@pytest.mark.parametrize("name", RECORDINGS)
def test_two_second_excerpts_are_healthy(recordings_16k: dict, name: str, position: float) -> None:
    if name not in recordings_16k:
        pytest.skip(f"{name} is missing")
    audio = recordings_16k[name]
    start = int(position * (audio.size - 2 * RATE_16K))
    diagnosis = diagnose_clip(audio[start : start + 2 * RATE_16K], RATE_16K, N)
    assert diagnosis.label == "healthy", diagnosis.metrics


def test_thresholds_can_be_overridden(recordings: dict) -> None:
    audio, rate = _recording(recordings, "vibe_ace.hq.ogg")
    loud = _mildly_clipped_loud_master(audio, rate)
    strict = Thresholds(saturated_ratio=0.001)
    assert diagnose_clip(loud, rate, N).label == "healthy"
    assert diagnose_clip(loud, rate, N, strict).label == "saturated"


# ------------------------------------------------------------------------------ metrics
def test_frame_rms_db_of_a_sine_and_of_silence() -> None:
    time_s = np.arange(RATE_16K + 100) / RATE_16K
    sine = (0.5 * np.sin(2 * np.pi * 1000 * time_s)).astype(np.float32)
    levels = frame_rms_db(sine, RATE_16K, frame_s=0.02)
    assert levels.shape == (51,)  # 50 full 20 ms frames and a 100-sample remainder
    np.testing.assert_allclose(levels[:50], 20 * np.log10(0.5 / np.sqrt(2)), atol=0.01)
    assert np.all(frame_rms_db(np.zeros(1000), RATE_16K) == DB_FLOOR)


def test_level_dc_crossings_and_centroid_of_a_known_signal() -> None:
    time_s = np.arange(RATE_16K) / RATE_16K
    clip = (0.1 + 0.25 * np.sin(2 * np.pi * 1000 * time_s)).astype(np.float32)
    metrics = diagnose_clip(clip, RATE_16K, N).metrics
    assert metrics["dc_offset"] == pytest.approx(0.1, abs=1e-4)
    assert metrics["ac_rms_db"] == pytest.approx(20 * np.log10(0.25 / np.sqrt(2)), abs=0.05)
    assert metrics["rms_db"] == pytest.approx(10 * np.log10(0.1**2 + 0.25**2 / 2), abs=0.05)
    # Offset by 0.1, the sine crosses zero twice per period: 2000 sign changes per second.
    assert metrics["zero_crossing_rate_per_s"] == pytest.approx(2000, abs=2)
    assert metrics["spectral_centroid_hz"] == pytest.approx(1000, abs=20)
    assert metrics["peak_db"] == pytest.approx(20 * np.log10(0.35), abs=0.01)


def test_metrics_are_plain_python_values_and_labels_are_known(brahms_16k: np.ndarray) -> None:
    diagnosis = diagnose_clip(brahms_16k, RATE_16K, N)
    as_dict = diagnosis.to_dict()
    assert as_dict["label"] in LABELS
    assert all(value is None or type(value) in (int, float) for value in as_dict["metrics"].values())


@pytest.mark.parametrize(
    "bad, message",
    [(np.zeros(0), "empty"), (np.zeros((2, 100)), "one-dimensional"), (np.array([0.0, np.nan] * 100), "NaN")],
)
def test_invalid_audio_is_rejected(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        diagnose_clip(bad, RATE_16K, N)


@pytest.mark.parametrize("size", [1, 100, 319, 321])
def test_clips_shorter_than_a_frame_are_diagnosed(size: int) -> None:
    rng = np.random.default_rng(size)
    diagnosis = diagnose_clip(rng.uniform(-0.5, 0.5, size).astype(np.float32), RATE_16K, N)
    assert diagnosis.label in LABELS
    assert diagnosis.metrics["duration_s"] == size / RATE_16K


# -------------------------------------------------------------------------------- batch
def test_identical_clips_are_mode_collapse(brahms_16k: np.ndarray) -> None:
    batch = diagnose_batch([brahms_16k[:RATE_16K]] * 4, RATE_16K, N)
    assert batch.label == "mode_collapse"
    assert batch.metrics["diversity_lsd_db"] == pytest.approx(0.0, abs=1e-3)
    assert batch.metrics["share_healthy"] == 1.0


def test_a_batch_of_silent_clips_is_mode_collapse_whatever_their_noise_floors() -> None:
    rng = np.random.default_rng(0)
    # Each clip is faint noise of another colour and level: spectra far apart in dB, all silent.
    clips = [(level * np.cumsum(rng.standard_normal(RATE_16K)) / 100).astype(np.float32)
             for level in (1e-6, 1e-5)] + [np.full(RATE_16K, 1e-6, np.float32)]
    clips.append((1e-5 * rng.standard_normal(RATE_16K)).astype(np.float32))
    batch = diagnose_batch(clips, RATE_16K, N)
    assert [clip.label for clip in batch.clips] == ["silent"] * 4
    assert batch.metrics["diversity_lsd_db"] > DEFAULT_THRESHOLDS.mode_collapse_lsd_db
    assert batch.label == "mode_collapse"
    assert diagnose_batch(clips[:1], RATE_16K, N).label == "diverse"  # one clip: no batch


def test_different_recordings_are_diverse(recordings_16k: dict) -> None:
    clips = [audio[5 * RATE_16K : 6 * RATE_16K] for audio in recordings_16k.values()]
    if len(clips) < 2:
        pytest.skip("needs two recordings")
    batch = diagnose_batch(clips, RATE_16K, N)
    assert batch.label == "diverse"
    assert batch.metrics["diversity_lsd_db"] > 5 * DEFAULT_THRESHOLDS.mode_collapse_lsd_db


def test_batch_shares_and_mean_onset(brahms_16k: np.ndarray) -> None:
    frozen = brahms_16k[:RATE_16K].copy()
    frozen[N:] = 0.3
    clips = [brahms_16k[:RATE_16K], frozen, np.zeros(RATE_16K, np.float32), brahms_16k[RATE_16K : 2 * RATE_16K]]
    batch = diagnose_batch(clips, RATE_16K, N)
    metrics = batch.metrics
    assert [clip.label for clip in batch.clips] == ["healthy", "flat_collapse", "silent", "healthy"]
    assert metrics["share_healthy"] == 0.5
    assert metrics["share_flat_collapse"] == metrics["share_silent"] == 0.25
    assert metrics["collapsed_share"] == 0.5
    assert sum(metrics[f"share_{label}"] for label in LABELS) == pytest.approx(1.0)
    # Onsets 500 (= n) and 0: the healthy clips have none.
    assert metrics["mean_collapse_onset_over_n"] == pytest.approx(0.5, abs=TEN_MS * RATE_16K / N / 2)
    assert len(batch.to_dict()["clips"]) == 4


def test_single_clip_batch_has_no_diversity(brahms_16k: np.ndarray) -> None:
    batch = diagnose_batch([brahms_16k], RATE_16K, N)
    assert batch.label == "diverse"
    assert batch.metrics["diversity_lsd_db"] is None
    assert batch.metrics["mean_collapse_onset_over_n"] is None


def test_empty_batch_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one clip"):
        diagnose_batch([], RATE_16K, N)


def test_a_long_recording_is_diagnosed_healthy(brahms_16k: np.ndarray) -> None:
    # Speed is measured in benchmarks/bench_diagnostics.py (an hour of audio), not here.
    long_clip = np.tile(brahms_16k, 15)  # a minute at 16 kHz
    diagnosis = diagnose_clip(long_clip, RATE_16K, N)
    assert diagnosis.label == "healthy"
    assert diagnosis.metrics["collapse_onset_sample"] is None


# ----------------------------------------------------------------- noise of any colour
def _at_minus_20_dbfs(audio: np.ndarray) -> np.ndarray:
    audio = audio - audio.mean()
    return (audio * (0.1 / np.sqrt(np.mean(audio**2)))).astype(np.float32)


def _sloped(rng: np.random.Generator, size: int, rate: int, db_per_octave: float) -> np.ndarray:
    """Gaussian noise whose power falls by `db_per_octave` (pink -3, brown -6), shaped in the FFT."""
    spectrum = np.fft.rfft(rng.standard_normal(size))
    frequencies = np.fft.rfftfreq(size, 1 / rate)
    frequencies[0] = frequencies[1]
    return np.fft.irfft(spectrum * frequencies ** (db_per_octave / 20 / np.log10(2)), size)


def _filtered(sos_args: tuple, rng: np.random.Generator, size: int, rate: int) -> np.ndarray:
    return signal.sosfilt(signal.butter(*sos_args, fs=rate, output="sos"), rng.standard_normal(size))


def _ar2(radius: float, frequency_hz: float, rng: np.random.Generator, size: int, rate: int) -> np.ndarray:
    """White noise through a two-pole resonance: what a 2-tap linear predictor generates."""
    angle = 2 * np.pi * frequency_hz / rate
    return signal.lfilter([1.0], [1.0, -2 * radius * np.cos(angle), radius**2], rng.standard_normal(size))


def _mulaw_roundtrip(audio: np.ndarray, classes: int = 256) -> np.ndarray:
    """Encode to `classes` mu-law classes and decode, as a sampled mu-law softmax head outputs."""
    mu = classes - 1
    companded = np.sign(audio) * np.log1p(mu * np.abs(audio)) / np.log1p(mu)
    decoded = np.round((companded + 1) / 2 * mu) / mu * 2 - 1
    return np.sign(decoded) * ((1 + mu) ** np.abs(decoded) - 1) / mu


COLOURED_NOISES = {
    "pink": lambda rng, size, rate: _sloped(rng, size, rate, -3.0),
    "brown": lambda rng, size, rate: _sloped(rng, size, rate, -6.0),
    "brown (integrated white)": lambda rng, size, rate: np.cumsum(rng.standard_normal(size)),
    "white low-passed at 1.5 kHz": lambda rng, size, rate: _filtered((8, 1500), rng, size, rate),
    "white band-passed 500 Hz-2 kHz": lambda rng, size, rate: _filtered((4, [500, 2000], "band"), rng, size, rate),
    "white band-passed 1-1.2 kHz": lambda rng, size, rate: _filtered((4, [1000, 1200], "band"), rng, size, rate),
    "AR(2) x[t] = 1.8 x[t-1] - 0.85 x[t-2] + e": lambda rng, size, rate: signal.lfilter(
        [1.0], [1.0, -1.8, 0.85], rng.standard_normal(size)),
    "AR(2) pole radius 0.98 at 800 Hz": lambda rng, size, rate: _ar2(0.98, 800, rng, size, rate),
    "AR(2) through 256-class mu-law": lambda rng, size, rate: _mulaw_roundtrip(
        _at_minus_20_dbfs(signal.lfilter([1.0], [1.0, -1.8, 0.85], rng.standard_normal(size)))),
}
FADES = {
    "linear fade-out to zero": lambda size: np.linspace(1.0, 0.0, size),
    "20 dB exponential fade": lambda size: 10 ** (np.linspace(0.0, -20.0, size) / 20),
    "0.5 s fade-in and fade-out": lambda size: np.minimum(1.0, np.minimum(np.arange(size), size - np.arange(size)) / (size / 4)),
}


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("name", COLOURED_NOISES)
def test_coloured_noise_is_noise_although_flatness_misses_it(name: str, rate_hz: int) -> None:
    rng = np.random.default_rng(sum(map(ord, name)))
    noise = _at_minus_20_dbfs(COLOURED_NOISES[name](rng, 2 * rate_hz, rate_hz))
    diagnosis = diagnose_clip(noise, rate_hz, N)
    metrics = diagnosis.metrics
    assert metrics["spectral_flatness"] < DEFAULT_THRESHOLDS.noise_flatness  # the old rule alone: healthy
    assert diagnosis.label == "noise", metrics
    # Each cue sits near its value for a stationary Gaussian process (1, 1, 0), well inside its threshold.
    assert 0.5 < metrics["fluctuation_z"] < 2.0
    assert metrics["tonality_ratio"] < 1.1
    assert abs(metrics["modulation_z"]) < 4.0


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_white_noise_also_passes_the_noise_cues(rate_hz: int) -> None:
    noise = _at_minus_20_dbfs(np.random.default_rng(3).standard_normal(2 * rate_hz))
    metrics = diagnose_clip(noise, rate_hz, N).metrics
    assert metrics["spectral_flatness"] == pytest.approx(np.exp(-np.euler_gamma), abs=0.05)
    assert metrics["fluctuation_z"] <= DEFAULT_THRESHOLDS.noise_fluctuation_z
    assert metrics["tonality_ratio"] <= DEFAULT_THRESHOLDS.noise_tonality_ratio
    assert metrics["modulation_z"] <= DEFAULT_THRESHOLDS.noise_modulation_z


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("fade", FADES)
@pytest.mark.parametrize("colour", ["pink", "brown", "white low-passed at 1.5 kHz"])
def test_slowly_faded_coloured_noise_is_noise(colour: str, fade: str, rate_hz: int) -> None:
    size = 2 * rate_hz
    rng = np.random.default_rng(len(colour) + len(fade))
    faded = _at_minus_20_dbfs(COLOURED_NOISES[colour](rng, size, rate_hz) * FADES[fade](size))
    diagnosis = diagnose_clip(faded, rate_hz, N)
    assert diagnosis.metrics["spectral_flatness"] < DEFAULT_THRESHOLDS.noise_flatness
    assert diagnosis.label == "noise", diagnosis.metrics


def _percussive_bursts(rng: np.random.Generator, size: int, rate: int) -> np.ndarray:
    """Low-passed noise hits every 250 ms, each decaying over 30 ms, digital silence between."""
    period = rate // 4
    hit = np.exp(-np.arange(period) / (0.03 * rate))
    hit[int(0.15 * rate):] = 0.0
    envelope = np.resize(hit, size)
    return _filtered((4, 2000), rng, size, rate) * envelope


def _pitched_melody(rng: np.random.Generator, size: int, rate: int) -> np.ndarray:
    """Eighth notes of five-harmonic tones on a pentatonic scale, each decaying, over faint noise."""
    melody = 0.01 * rng.standard_normal(size)
    note = rate // 4
    time_s = np.arange(note) / rate
    for start in range(0, size - note + 1, note):
        pitch_hz = 220 * 2 ** (rng.choice([0, 2, 4, 7, 9, 12]) / 12)
        tone = sum(np.sin(2 * np.pi * pitch_hz * harmonic * time_s) / harmonic for harmonic in range(1, 6))
        melody[start : start + note] += tone * np.exp(-time_s / 0.15)
    return melody


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_percussive_bursts_with_silence_between_are_not_noise(rate_hz: int) -> None:
    bursts = _at_minus_20_dbfs(_percussive_bursts(np.random.default_rng(4), 2 * rate_hz, rate_hz))
    diagnosis = diagnose_clip(bursts, rate_hz, N)
    assert diagnosis.label == "healthy", diagnosis.metrics
    assert diagnosis.metrics["modulation_z"] > 5 * DEFAULT_THRESHOLDS.noise_modulation_z


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_a_pitched_melody_is_not_noise(rate_hz: int) -> None:
    melody = _at_minus_20_dbfs(_pitched_melody(np.random.default_rng(5), 2 * rate_hz, rate_hz))
    diagnosis = diagnose_clip(melody, rate_hz, N)
    assert diagnosis.label == "healthy", diagnosis.metrics
    assert diagnosis.metrics["fluctuation_z"] > DEFAULT_THRESHOLDS.noise_fluctuation_z


def test_clips_too_short_for_the_noise_cues_fall_back_on_flatness() -> None:
    frames = NOISE_MIN_FRAMES - 1
    size = frames * spectral_fft_size(RATE_16K)
    rng = np.random.default_rng(6)
    pink = diagnose_clip(_at_minus_20_dbfs(_sloped(rng, size, RATE_16K, -3.0)), RATE_16K, N)
    white = diagnose_clip(_at_minus_20_dbfs(rng.standard_normal(size)), RATE_16K, N)
    assert all(pink.metrics[cue] is None for cue in NOISE_CUES)
    assert pink.label == "healthy"  # coloured: flatness 0.3 alone does not call it noise
    assert white.label == "noise"


def test_a_long_noise_clip_is_noise_across_chunks_and_blocks() -> None:
    # 80 s at 16 kHz: 1250 spectral frames, over one chunk (1024 frames) and 39 blocks.
    pink = _at_minus_20_dbfs(_sloped(np.random.default_rng(8), 80 * RATE_16K, RATE_16K, -3.0))
    diagnosis = diagnose_clip(pink, RATE_16K, N)
    assert diagnosis.label == "noise", diagnosis.metrics
    assert diagnosis.metrics["fluctuation_z"] == pytest.approx(1.0, abs=0.2)
    assert diagnosis.metrics["tonality_ratio"] == pytest.approx(0.9, abs=0.15)


def test_noise_cue_thresholds_can_be_overridden() -> None:
    pink = _at_minus_20_dbfs(_sloped(np.random.default_rng(7), 2 * RATE_16K, RATE_16K, -3.0))
    assert diagnose_clip(pink, RATE_16K, N).label == "noise"
    assert diagnose_clip(pink, RATE_16K, N, Thresholds(noise_tonality_ratio=0.1)).label == "healthy"


# --------------------------------------------- every shipped recording, drones included
@pytest.fixture(scope="module")
def shipped(music_dir: Path) -> dict[str, dict[int, np.ndarray]]:
    """Every shipped recording decoded once, resampled to 16 and 44.1 kHz and 16-bit quantised."""
    found = {}
    for name in SHIPPED:
        if (music_dir / name).is_file():
            decoded = decode_audio(music_dir / name)
            found[name] = {rate: quantize_16bit(resample(decoded.audio, decoded.sample_rate_hz, rate))
                           for rate in (RATE_16K, RATE_44K)}
    return found


def test_every_audio_file_in_the_music_folder_is_covered(music_dir: Path) -> None:
    audio_files = {path.name for path in music_dir.iterdir() if path.suffix in (".ogg", ".flac", ".wav", ".mp3")}
    assert audio_files <= set(SHIPPED)


# The live Brahms recording ends in 5 s of applause after its last chord (38.6 s): noise, and
# labelled so since `noise_modulation_depth_db` (see test_the_applause_after_the_last_chord_is_noise).
APPLAUSE_FROM_S = {"brahms_hungarian_dance_5.ogg": 38.6, "brahms_hungarian_dance_5.hq.ogg": 38.6}


def _excerpts(audio: np.ndarray, rate: int, music_until_s: float | None = None) -> list[tuple[str, np.ndarray]]:
    """The whole file, then 2, 3 and 4 s excerpts at five offsets up to the last audible sample
    (or up to `music_until_s`)."""
    audible = np.flatnonzero(np.abs(audio) >= 10 ** (DEFAULT_THRESHOLDS.silence_db / 20))
    end = int(audible[-1]) + 1
    if music_until_s is not None:
        end = min(end, round(music_until_s * rate))
    excerpts = [("whole", audio)]
    for seconds in (2, 3, 4):
        size = seconds * rate
        if size <= end:
            for offset in np.linspace(0, end - size, 5).astype(int):
                excerpts.append((f"{seconds} s at {offset / rate:.2f} s", audio[offset : offset + size]))
    return excerpts


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recordings_and_their_excerpts_are_healthy(shipped: dict, name: str, rate_hz: int) -> None:
    if name not in shipped:
        pytest.skip(f"{name} is missing")
    for where, excerpt in _excerpts(shipped[name][rate_hz], rate_hz, APPLAUSE_FROM_S.get(name)):
        diagnosis = diagnose_clip(excerpt, rate_hz, N)
        assert diagnosis.label == "healthy", (where, diagnosis.metrics)


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("name", APPLAUSE_FROM_S)
def test_the_applause_after_the_last_chord_is_noise(shipped: dict, name: str, rate_hz: int) -> None:
    # Its level jitters beyond chance (modulation_z 7-62) but by about 1-3 dB, as spiky hiss does.
    if name not in shipped:
        pytest.skip(f"{name} is missing")
    for start_s in (39.5, 40.5, 41.5):
        excerpt = shipped[name][rate_hz][round(start_s * rate_hz) : round((start_s + 2.0) * rate_hz)]
        diagnosis = diagnose_clip(excerpt, rate_hz, N)
        metrics = diagnosis.metrics
        assert diagnosis.label == "noise", (start_s, metrics)
        assert metrics["modulation_depth_db"] < DEFAULT_THRESHOLDS.noise_modulation_depth_db


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("name", DRONES)
def test_tonal_drones_are_kept_healthy_by_their_tonality(shipped: dict, name: str, rate_hz: int) -> None:
    # A sustained tone barely modulates and ambi_choir's bins fluctuate like noise: the peaks decide.
    if name not in shipped:
        pytest.skip(f"{name} is missing")
    for where, excerpt in _excerpts(shipped[name][rate_hz], rate_hz):
        metrics = diagnose_clip(excerpt, rate_hz, N).metrics
        assert metrics["tonality_ratio"] > 1.5 * DEFAULT_THRESHOLDS.noise_tonality_ratio, (where, metrics)


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_the_built_in_corpus_is_healthy(rate_hz: int) -> None:
    for piece in compose_corpus(seconds=24.0, pieces=4, seed=11):
        audio = render_piece(piece, 6 * rate_hz, rate_hz)
        for where, excerpt in _excerpts(audio, rate_hz):
            diagnosis = diagnose_clip(excerpt, rate_hz, N)
            assert diagnosis.label == "healthy", (piece.path, where, diagnosis.metrics)


# ------------------------------------------------------------------- periodic loops
def _smooth_period(rng: np.random.Generator, period: int, level_db: float) -> np.ndarray:
    """One period of a random smooth waveform (low-passed noise, zero mean) at level_db dBFS."""
    one = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(period))
    one -= one.mean()
    return one * (10 ** (level_db / 20) / one.std())


def _seed_then_loop(rng: np.random.Generator, period: int, rate_hz: int, seconds: float = 4.0) -> np.ndarray:
    """A second of the built-in corpus, then a quiet, exactly periodic waveform off zero (as generated)."""
    seed = render_piece(compose_corpus(seconds=24.0, pieces=1, seed=3)[0], rate_hz, rate_hz)
    loop_size = round((seconds - 1.0) * rate_hz)
    loop = np.tile(_smooth_period(rng, period, -52.0), loop_size // period + 1)[:loop_size] + 0.004
    return quantize_16bit(np.concatenate([seed, loop]))


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("period", [37, 500])
def test_a_quiet_exact_loop_after_a_real_seed_is_loop(period: int, rate_hz: int) -> None:
    clip = _seed_then_loop(np.random.default_rng(period), period, rate_hz)
    diagnosis = diagnose_clip(clip, rate_hz, N)
    assert diagnosis.label == "loop", diagnosis.metrics
    assert diagnosis.label in COLLAPSED_LABELS
    assert diagnosis.metrics["loop_period_samples"] == period
    assert diagnosis.metrics["loop_period_s"] == pytest.approx(period / rate_hz)
    assert diagnosis.metrics["loop_residual_db"] == DB_FLOOR  # sample-exact
    # Tonal and steady: without the loop rule it would pass as a healthy drone.
    assert diagnose_clip(clip, rate_hz, N, Thresholds(loop_residual_db=-200.0)).label == "healthy"


def test_a_one_second_clip_that_loops_is_loop() -> None:
    clip = _seed_then_loop(np.random.default_rng(1), 111, RATE_16K, seconds=1.6)[-RATE_16K:]  # 0.4 s seed
    assert diagnose_clip(clip, RATE_16K, N).label == "loop"


def test_a_loop_of_music_is_found_beyond_the_window_when_the_period_allows() -> None:
    # A 50 ms period is searched whatever n; a 2,000-sample one only when n reaches it.
    rng = np.random.default_rng(5)
    clip = np.tile(_smooth_period(rng, 2000, -30.0), 32)
    assert diagnose_clip(clip, RATE_16K, N).label == "healthy"
    assert diagnose_clip(clip, RATE_16K, 2000).label == "loop"


def _karplus_strong(rng: np.random.Generator, delay: int, decay: float, size: int) -> np.ndarray:
    """A plucked string: a noise burst in a delay line with a lossy two-point average."""
    line = np.concatenate([rng.uniform(-1.0, 1.0, delay + 1), np.zeros(size)])
    for start in range(delay + 1, line.size, delay):  # vectorised per period: each sample depends on one period back
        end = min(start + delay, line.size)
        line[start:end] = 0.5 * decay * (line[start - delay : end - delay] + line[start - delay - 1 : end - delay - 1])
    return 0.3 * line[delay + 1 :]


def _sine(frequency_hz: np.ndarray, rate_hz: int) -> np.ndarray:
    return 0.3 * np.sin(2 * np.pi * np.cumsum(frequency_hz) / rate_hz)


NEAR_LOOPS = {
    "Karplus-Strong, fast decay": lambda rng, t: _karplus_strong(rng, 100, 0.996, t.size),
    "Karplus-Strong, slow decay": lambda rng, t: _karplus_strong(rng, 100, 0.9999, t.size),
    "exact repetition fading by 3 dB/s": lambda rng, t: (
        np.resize(_smooth_period(rng, 111, -20.0), t.size) * 10 ** (-3.0 * t / 20)
    ),
    "sine drifting 440 to 441 Hz": lambda rng, t: _sine(440.0 + t / 4.0, RATE_16K),
    "sine drifting 440 to 440.1 Hz": lambda rng, t: _sine(440.0 + 0.1 * t / 4.0, RATE_16K),
    "sine with 1% vibrato": lambda rng, t: _sine(440.0 + 4.4 * np.sin(2 * np.pi * 5.5 * t), RATE_16K),
}


@pytest.mark.parametrize("name", NEAR_LOOPS)
def test_nearly_periodic_sounds_are_not_loops(name: str) -> None:
    time_s = np.arange(4 * RATE_16K) / RATE_16K
    clip = NEAR_LOOPS[name](np.random.default_rng(2), time_s).astype(np.float32)
    diagnosis = diagnose_clip(clip, RATE_16K, N)
    assert diagnosis.label != "loop", diagnosis.metrics
    assert diagnosis.metrics["loop_residual_db"] > DEFAULT_THRESHOLDS.loop_residual_db


def test_a_smooth_low_frequency_signal_is_not_a_loop_at_lag_one() -> None:
    # 30 Hz: x[t + 1] - x[t] is 45 dB below x, but the autocorrelation has not dropped yet there.
    time_s = np.arange(4 * RATE_16K) / RATE_16K
    rumble = 0.3 * np.sin(2 * np.pi * (30.0 + 0.5 * time_s) * time_s)
    diagnosis = diagnose_clip(rumble.astype(np.float32), RATE_16K, N)
    assert diagnosis.label != "loop"
    assert diagnosis.metrics["loop_period_samples"] > 100


def test_a_constant_or_too_short_tail_has_no_loop_metrics() -> None:
    for clip in (np.full(RATE_16K, 0.3, np.float32), np.ones(5, np.float32)):
        metrics = diagnose_clip(clip, RATE_16K, N).metrics
        assert metrics["loop_period_samples"] is metrics["loop_residual_db"] is None


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_recordings_are_far_from_repeating_themselves(shipped: dict, name: str, rate_hz: int) -> None:
    # The closest measured -20.8 dB (loop_breakbeat); the loop rule needs -40 dB. None: a whole
    # file whose searched stretch is its final digital silence.
    if name not in shipped:
        pytest.skip(f"{name} is missing")
    for where, excerpt in _excerpts(shipped[name][rate_hz], rate_hz):
        residual_db = diagnose_clip(excerpt, rate_hz, N).metrics["loop_residual_db"]
        assert residual_db is None or residual_db > DEFAULT_THRESHOLDS.loop_residual_db + 15.0, (where, residual_db)


# ------------------------------------------------------------------- impulsive noise
GENERATED = Path(__file__).parent / "data"


def _spiky_hiss(rng: np.random.Generator, seconds: float, rate_hz: int) -> np.ndarray:
    """Hiss with 100 single-sample spikes per second, gently low-passed (flatness ~0.35)."""
    size = int(seconds * rate_hz)
    spikes = np.zeros(size)
    where = rng.choice(size, int(100 * seconds), replace=False)
    spikes[where] = rng.choice([-1.0, 1.0], where.size) * rng.uniform(5.0, 15.0, where.size)
    return _at_minus_20_dbfs(signal.lfilter([1.0, 0.75], [1.0], rng.standard_normal(size) + spikes))


# None of the three rules that catch spiky hiss: its modulation would keep it `healthy`.
NEITHER_RULE = Thresholds(noise_broadband_flatness=1.0, noise_modulation_depth_db=0.0,
                          noise_declicked_depth_db=0.0)


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_spikes_on_broadband_hiss_are_noise_although_their_level_jumps(rate_hz: int) -> None:
    clip = _spiky_hiss(np.random.default_rng(6), 4.0, rate_hz)
    diagnosis = diagnose_clip(clip, rate_hz, N)
    metrics = diagnosis.metrics
    assert DEFAULT_THRESHOLDS.noise_broadband_flatness < metrics["spectral_flatness"] < DEFAULT_THRESHOLDS.noise_flatness
    assert metrics["modulation_z"] > DEFAULT_THRESHOLDS.noise_modulation_z  # the spikes move the level
    assert diagnosis.label == "noise", metrics
    assert diagnose_clip(clip, rate_hz, N, NEITHER_RULE).label == "healthy"
    # Either rule alone is enough.
    for only_one in (Thresholds(noise_broadband_flatness=1.0), Thresholds(noise_modulation_depth_db=0.0)):
        assert diagnose_clip(clip, rate_hz, N, only_one).label == "noise"


@pytest.mark.parametrize("name", ["embedded_fix_spiky_hiss.wav", "raw_mulaw_spiky_hiss.wav",
                                  "embedded_fix_coloured_spiky_hiss.wav"])
def test_generated_spiky_hiss_from_a_real_study_is_noise(name: str) -> None:
    decoded = decode_audio(GENERATED / name)
    diagnosis = diagnose_clip(decoded.audio, decoded.sample_rate_hz, N)
    metrics = diagnosis.metrics
    assert metrics["spectral_flatness"] < DEFAULT_THRESHOLDS.noise_flatness  # flatness alone missed it
    assert diagnosis.label == "noise", metrics
    assert diagnose_clip(decoded.audio, decoded.sample_rate_hz, N, NEITHER_RULE).label == "healthy"
    # The depth rule alone catches every one; the broadband rule misses the coloured one.
    depth_only = Thresholds(noise_broadband_flatness=1.0)
    assert diagnose_clip(decoded.audio, decoded.sample_rate_hz, N, depth_only).label == "noise"
    coloured = metrics["spectral_flatness"] < DEFAULT_THRESHOLDS.noise_broadband_flatness
    assert coloured == name.startswith("embedded_fix_coloured")


@pytest.mark.parametrize("sigma_db", [1.5, 3.0, 6.0])
def test_modulation_depth_is_the_size_of_frame_to_frame_level_jitter(sigma_db: float) -> None:
    # Brown noise whose level jumps by an independent N(0, sigma) dB at every spectral frame.
    rng = np.random.default_rng(7)
    frame = spectral_fft_size(RATE_16K)
    frames = 30 * RATE_16K // frame
    gains = np.repeat(10 ** (rng.normal(0.0, sigma_db, frames) / 20), frame)
    jittered = _at_minus_20_dbfs(COLOURED_NOISES["brown"](rng, frames * frame, RATE_16K) * gains)
    depth = diagnose_clip(jittered, RATE_16K, N).metrics["modulation_depth_db"]
    assert depth == pytest.approx(sigma_db, rel=0.2)
    steady = _at_minus_20_dbfs(COLOURED_NOISES["brown"](rng, frames * frame, RATE_16K))
    assert diagnose_clip(steady, RATE_16K, N).metrics["modulation_depth_db"] < 0.3


def _only_modulation_keeps_it_healthy(metrics: dict) -> bool:
    thresholds = DEFAULT_THRESHOLDS
    return (metrics["fluctuation_z"] is not None
            and metrics["fluctuation_z"] <= thresholds.noise_fluctuation_z
            and metrics["tonality_ratio"] <= thresholds.noise_tonality_ratio
            and metrics["modulation_z"] > thresholds.noise_modulation_z)


def test_music_that_only_its_level_keeps_healthy_moves_it_far_more_than_spiky_hiss(shipped: dict) -> None:
    # Noise-like spectra kept `healthy` by their rhythm alone: here 2 s windows of loop_mika
    # (9.4 dB); every 1-4 s window at 0.1 s steps measured 4.3 dB and more, spiky hiss 0.9-2.7.
    depths = []
    for name in SHIPPED:
        for rate_hz in (RATE_16K, RATE_44K):
            if name not in shipped:
                continue
            audio = shipped[name][rate_hz][: round(APPLAUSE_FROM_S.get(name, 1e9) * rate_hz)]
            for start in range(0, audio.size - 2 * rate_hz + 1, rate_hz // 2):  # 2 s every 0.5 s
                metrics = diagnose_clip(audio[start : start + 2 * rate_hz], rate_hz, N).metrics
                if _only_modulation_keeps_it_healthy(metrics):
                    depths.append((name, rate_hz, start / rate_hz, metrics["modulation_depth_db"]))
    if not depths:
        pytest.skip("no shipped recording has an excerpt that only its modulation keeps healthy")
    assert min(depth for *_, depth in depths) > 1.25 * DEFAULT_THRESHOLDS.noise_modulation_depth_db, depths


@pytest.mark.parametrize("rate_hz", [RATE_16K, RATE_44K])
def test_isolated_clicks_do_not_make_near_silent_hiss_healthy(rate_hz: int) -> None:
    # Issue 23: pink hiss at -52 dBFS with 4 isolated clicks was `healthy`; its spectral shape is
    # noise on both cues, and the clicks alone moved the level (modulation_z ~99, depth > 3.3 dB).
    rng = np.random.default_rng(11)
    size = 4 * rate_hz
    pink = COLOURED_NOISES["pink"](rng, size, rate_hz)
    clip = pink * (10 ** (-52 / 20) / np.sqrt(np.mean(pink**2)))
    for at_s in (0.5, 1.4, 2.3, 3.2):
        start = int(at_s * rate_hz)
        clip[start : start + 3] += 0.9 * np.array([1.0, -0.6, 0.3])
    diagnosis = diagnose_clip(clip.astype(np.float32), rate_hz, N)
    metrics = diagnosis.metrics
    assert metrics["fluctuation_z"] <= DEFAULT_THRESHOLDS.noise_fluctuation_z
    assert metrics["tonality_ratio"] <= DEFAULT_THRESHOLDS.noise_tonality_ratio
    assert metrics["modulation_z"] > DEFAULT_THRESHOLDS.noise_modulation_z  # the clicks move the level
    assert metrics["modulation_depth_db"] >= DEFAULT_THRESHOLDS.noise_modulation_depth_db
    assert metrics["declicked_depth_db"] < DEFAULT_THRESHOLDS.noise_declicked_depth_db
    assert diagnosis.label == "noise", metrics
    # Pink hiss sits at the broadband-flatness threshold (0.30 at 16 kHz): take that rule out too.
    without_rule = Thresholds(noise_declicked_depth_db=0.0, noise_broadband_flatness=1.0)
    assert diagnose_clip(clip.astype(np.float32), rate_hz, N, without_rule).label == "healthy"
