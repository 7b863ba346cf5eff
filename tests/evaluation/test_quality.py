"""Offline quality metrics: known answers on Gaussians and sines, and real vs noise on a recording."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.audio import read_audio, resample
from harness.evaluation.quality import (
    MEL_BANDS,
    ReferenceSet,
    frechet_distance,
    frechet_logmel_distance,
    log_mel_frames,
    mel_filterbank,
    multires_log_spectral_distance,
    quality_metrics,
    within_floor,
)

RATE_HZ = 16000
SEGMENT = 2000


@pytest.fixture(scope="module")
def real_segments(music_dir: Path) -> np.ndarray:
    """(segments, 2000) float32 segments of the Brahms recording at 16 kHz, stride = length."""
    path = music_dir / "brahms_hungarian_dance_5.ogg"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    audio, rate = read_audio(path)
    audio = resample(audio, rate, RATE_HZ)
    usable = audio[RATE_HZ : RATE_HZ + 240 * SEGMENT]  # skip the quiet opening second
    return usable.reshape(-1, SEGMENT)


def _sine(frequency_hz: float, seconds: float = 1.0) -> np.ndarray:
    time_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (0.5 * np.sin(2 * np.pi * frequency_hz * time_s)).astype(np.float32)


@pytest.mark.parametrize("rate_hz", [16000, 22050, 44100])
def test_mel_filterbank_has_no_empty_band(rate_hz: int) -> None:
    fft_size = 1 << int(np.ceil(np.log2(0.025 * rate_hz)))
    filters = mel_filterbank(rate_hz, fft_size)
    assert filters.shape == (MEL_BANDS, fft_size // 2 + 1)
    assert np.all(filters.sum(axis=1) > 0)
    peaks = filters.argmax(axis=1)
    assert np.all(np.diff(peaks) >= 0)  # band centres rise with the band index


def test_log_mel_frame_count_and_floor() -> None:
    features = log_mel_frames([np.zeros(4000, np.float32), np.zeros(100, np.float32)], RATE_HZ)
    # 25 ms = 400 samples, hop 160: 1 + (4000 - 400) // 160 = 23 frames; the short clip is padded to 1.
    assert features.shape == (24, MEL_BANDS)
    assert np.all(features == -100.0)


def test_librosa_frames_sit_where_the_hand_written_ones_did(real_segments: np.ndarray) -> None:
    """librosa centres a 400-sample window in its 512-point FFT; the clip is padded so that
    frame t still starts at sample 160 t. The oracle is the plain framing, window and rfft
    that log_mel_frames used before librosa did it (its logged values did not change)."""
    clip = real_segments[:8].reshape(-1)  # 16,000 samples of the recording
    frames = np.lib.stride_tricks.sliding_window_view(clip, 400)[::160] * np.hanning(400)
    power = np.abs(np.fft.rfft(frames, n=512, axis=1)) ** 2
    expected = 10 * np.log10(np.maximum(power @ mel_filterbank(RATE_HZ, 512).T, 1e-10))
    features = log_mel_frames([clip], RATE_HZ)
    assert features.shape == expected.shape == (1 + (clip.size - 400) // 160, MEL_BANDS)
    loud = expected > -60  # float32 FFT rounding shows only in near-empty bins
    np.testing.assert_allclose(features[loud], expected[loud], atol=1e-3)


def test_frechet_distance_of_shifted_gaussians_is_the_squared_shift() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 4))
    b = rng.standard_normal((20000, 4)) + 2.0  # same covariance, mean shifted by 2 in each of 4 dims
    assert frechet_distance(a, b) == pytest.approx(16.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_of_scaled_gaussians_matches_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((40000, 3))
    b = 3.0 * rng.standard_normal((40000, 3))
    # Equal means, covariances I and 9I: Tr(I + 9I - 2 * 3I) = 3 * (1 + 9 - 6) = 12.
    assert frechet_distance(a, b) == pytest.approx(12.0, rel=0.03)


def test_too_few_frames_give_none_instead_of_a_noisy_value() -> None:
    few = np.random.default_rng(2).standard_normal((MEL_BANDS, MEL_BANDS))
    assert frechet_distance(few, few) is None
    assert frechet_logmel_distance([np.zeros(800, np.float32)], [np.zeros(800, np.float32)], RATE_HZ) is None


def test_identical_sets_are_at_distance_zero(real_segments: np.ndarray) -> None:
    clips = real_segments[:60]
    assert frechet_logmel_distance(clips, clips, RATE_HZ) == pytest.approx(0.0, abs=1e-3)
    assert multires_log_spectral_distance(clips, clips, RATE_HZ) == 0.0


def test_sines_an_octave_apart_are_further_than_identical_sines() -> None:
    same = multires_log_spectral_distance([_sine(440)], [_sine(440)], RATE_HZ)
    octave = multires_log_spectral_distance([_sine(440)], [_sine(880)], RATE_HZ)
    assert same == 0.0
    assert octave > 5.0


def test_real_vs_noise_is_far_beyond_real_vs_real(real_segments: np.ndarray) -> None:
    noise = np.random.default_rng(3).standard_normal((60, SEGMENT)).astype(np.float32) * 0.05
    real_generated = list(real_segments[::4])  # 60 real segments standing in for a perfect generator
    reference = real_segments[np.arange(real_segments.shape[0]) % 4 != 0]
    noisy = quality_metrics(list(noise), reference, RATE_HZ, seed=0)
    real = quality_metrics(real_generated, reference, RATE_HZ, seed=0)
    assert noisy["frechet_logmel"] > 5 * noisy["frechet_logmel_real_vs_real"]
    assert noisy["mr_lsd_db"] > 3 * noisy["mr_lsd_db_real_vs_real"]
    assert real["frechet_logmel"] < noisy["frechet_logmel"] / 5
    assert real["mr_lsd_db"] < noisy["mr_lsd_db"] / 3
    # The reference point depends only on the reference set and the seed.
    assert real["frechet_logmel_real_vs_real"] == noisy["frechet_logmel_real_vs_real"]


FLOOR_KEYS = {f"{name}{suffix}" for name in ("frechet_logmel", "mr_lsd_db")
              for suffix in ("", "_real_vs_real", "_real_vs_real_std", "_real_vs_real_p95")}


def _blocks(real_segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reference, held apart): alternate 1 s blocks of the recording, so the two sets never
    hold neighbouring segments, as a generator's clips never neighbour the held-out audio."""
    in_reference = (np.arange(real_segments.shape[0]) // 8) % 2 == 0
    return real_segments[in_reference], real_segments[~in_reference]


def test_a_perfect_generator_sits_on_its_like_for_like_floor(real_segments: np.ndarray) -> None:
    reference, unseen = _blocks(real_segments)
    prepared = ReferenceSet(reference, RATE_HZ)
    rng = np.random.default_rng(0)
    results = [quality_metrics(list(unseen[rng.choice(len(unseen), 4, replace=False)]), prepared,
                               RATE_HZ, seed=draw) for draw in range(10)]
    generated = np.mean([r["mr_lsd_db"] for r in results])
    floor = np.mean([r["mr_lsd_db_real_vs_real"] for r in results])
    assert abs(generated - floor) < 0.15 * floor  # measured: 6.2 vs 6.4 dB
    assert sum(within_floor(r["mr_lsd_db"], r["mr_lsd_db_real_vs_real_p95"]) for r in results) >= 8
    # The floor depends on the set's size: 4 real clips are much further from the reference
    # than 60 are, so a floor from large real sets would put a perfect 4-clip generator beyond it.
    large = quality_metrics(list(unseen[:60]), prepared, RATE_HZ)["mr_lsd_db_real_vs_real"]
    assert large < 0.75 * floor
    noise = np.random.default_rng(1).standard_normal((4, SEGMENT)).astype(np.float32) * 0.05
    noisy = quality_metrics(list(noise), prepared, RATE_HZ)
    assert within_floor(noisy["mr_lsd_db"], noisy["mr_lsd_db_real_vs_real_p95"]) is False


def test_frechet_and_its_floor_are_missing_together(real_segments: np.ndarray) -> None:
    reference, unseen = _blocks(real_segments)
    few = quality_metrics(list(unseen[:4]), reference, RATE_HZ)  # 4 x 11 log-mel frames <= 64
    assert set(few) == FLOOR_KEYS
    assert [few[key] for key in sorted(FLOOR_KEYS) if key.startswith("frechet")] == [None] * 4
    assert few["mr_lsd_db_real_vs_real_std"] > 0
    enough = quality_metrics(list(unseen[:16]), reference, RATE_HZ)  # 176 frames
    assert all(enough[key] > 0 for key in FLOOR_KEYS)
    assert enough["frechet_logmel_real_vs_real_p95"] > enough["frechet_logmel_real_vs_real"]


def test_floors_are_seeded_and_absent_when_no_like_for_like_set_exists(
        real_segments: np.ndarray) -> None:
    generated = list(real_segments[200:204])
    first = quality_metrics(generated, real_segments[:80], RATE_HZ, seed=5)
    assert first == quality_metrics(generated, real_segments[:80], RATE_HZ, seed=5)
    assert first != quality_metrics(generated, real_segments[:80], RATE_HZ, seed=6)
    for reference in (real_segments[:7],  # fewer than twice as many clips as generated
                      real_segments[:80, :1500]):  # shorter than the generated clips
        result = quality_metrics(generated, reference, RATE_HZ)
        assert result["mr_lsd_db"] > 0
        assert {key for key, value in result.items() if value is None} == FLOOR_KEYS - {"mr_lsd_db"}
    single = quality_metrics([_sine(440, 0.1)], _sine(440, 0.1)[None, :], RATE_HZ)
    assert single["mr_lsd_db"] == 0.0 and single["mr_lsd_db_real_vs_real"] is None


def test_a_floor_that_noise_lands_within_gives_no_verdict_and_says_why(real_segments: np.ndarray) -> None:
    # Two 0.5 s clips: the Fréchet floor's p95 (10,460) lets pink noise at the reference's level
    # in (10,020), as the 4-clip floor of issue 23 let mu-law noise and collapse in.
    reference = ReferenceSet(real_segments.reshape(-1, 4 * SEGMENT), RATE_HZ)  # 60 clips
    notes = reference.floor_notes(2)
    assert set(notes) == {"frechet_logmel"} and "pink noise at the reference level" in notes["frechet_logmel"]
    noise = np.random.default_rng(2).standard_normal((2, 4 * SEGMENT)).astype(np.float32) * reference.rms
    metrics = quality_metrics(list(noise), reference, RATE_HZ)
    assert metrics["frechet_logmel_real_vs_real"] > 0 and metrics["frechet_logmel_real_vs_real_p95"] is None
    assert within_floor(metrics["frechet_logmel"], metrics["frechet_logmel_real_vs_real_p95"]) is None
    assert within_floor(metrics["mr_lsd_db"], metrics["mr_lsd_db_real_vs_real_p95"]) is False
    # Eight such clips pin the floor down: every control lands beyond both.
    assert reference.floor_notes(8) == {}
    with pytest.raises(ValueError, match="at least 62 reference clips"):
        reference.floors(31)


def test_within_floor_needs_both_figures() -> None:
    assert within_floor(3.0, 4.0) is True
    assert within_floor(5.0, 4.0) is False
    assert within_floor(None, 4.0) is None and within_floor(3.0, float("nan")) is None


def test_bad_reference_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="segments"):
        quality_metrics([_sine(440)], _sine(440), RATE_HZ)
