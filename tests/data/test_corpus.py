"""harness.data.corpus: Karplus-Strong tuning, the seeded score, and the corpus as a dataset."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from harness.data.corpus import (
    GENERATOR,
    SCALES,
    compose_corpus,
    compose_piece,
    karplus_strong_filter,
    midi_to_hz,
    peak_normalize,
    pluck,
    render_piece,
    synthesize_dataset,
)
from harness.data.dataset import DATASET_FORMAT
from harness.data.loader import load_dataset
from models.errors import SampleGanError

LOWEST_HZ, HIGHEST_HZ = 60.0, 1600.0  # bass root C2 (65 Hz) .. melody top (about 1.5 kHz)


def _synth(out, **overrides) -> dict:
    options = dict(seconds=8.0, sample_rate_hz=16000, n=500, pieces=4, holdout_fraction=0.25,
                   seed=0, force=False)
    options.update(overrides)
    return synthesize_dataset(out, **options)


def _peak_frequency_hz(audio: np.ndarray, rate_hz: int, near_hz: float) -> float:
    """Strongest frequency within 10% of `near_hz`, from a zero-padded FFT."""
    size = 16 * audio.shape[0]
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.shape[0]), size))
    frequencies = np.fft.rfftfreq(size, 1 / rate_hz)
    band = (frequencies > 0.9 * near_hz) & (frequencies < 1.1 * near_hz)
    return float(frequencies[band][np.argmax(spectrum[band])])


def test_midi_to_hz():
    assert midi_to_hz(69) == 440.0
    assert midi_to_hz(57) == pytest.approx(220.0)
    assert midi_to_hz(60) == pytest.approx(261.6256, abs=1e-4)


@pytest.mark.parametrize("rate_hz", [16000, 44100])
@pytest.mark.parametrize("frequency_hz", [65.41, 261.63, 440.0, 1479.98])
def test_a_pluck_is_in_tune(rate_hz, frequency_hz):
    tone = pluck(frequency_hz, 1.0, 0.8, rate_hz, np.random.default_rng(0))
    found_hz = _peak_frequency_hz(tone, rate_hz, frequency_hz)
    assert abs(1200 * np.log2(found_hz / frequency_hz)) < 5  # cents


def test_a_pluck_decays_and_is_damped_at_its_end():
    tone = pluck(220.0, 1.0, 0.8, 16000, np.random.default_rng(0))
    first, last = np.abs(tone[:1600]).max(), np.abs(tone[-2000:-700]).max()
    assert last < 0.5 * first
    assert tone[-1] == 0.0  # the release fade ends in silence


def test_velocity_sets_loudness_and_brightness():
    def level_and_centroid(velocity: float) -> tuple[float, float]:
        tone = pluck(220.0, 0.5, velocity, 16000, np.random.default_rng(0))
        power = np.abs(np.fft.rfft(tone)) ** 2
        return float(np.sqrt(np.mean(tone**2))), float(np.sum(np.arange(power.size) * power) / power.sum())

    soft, hard = level_and_centroid(0.3), level_and_centroid(0.9)
    assert hard[0] > 2 * soft[0]
    assert hard[1] > 1.2 * soft[1]  # spectral centroid: brighter


def test_karplus_strong_filter_is_stable():
    b, a = karplus_strong_filter(440.0, 16000, 2.0)
    assert b.shape == (2,) and a.shape[0] == 35 + 3  # delay floor(36.4 - 0.6), then three loop taps
    assert np.max(np.abs(np.roots(a))) < 1.0


def test_a_score_has_rhythm_dynamics_and_stays_in_range():
    notes, description = compose_piece(np.random.default_rng(5), 20.0)
    assert description["notes"] == len(notes) > 40
    assert description["scale"] in SCALES
    assert 72 <= description["tempo_bpm"] <= 144
    onsets = [note.onset_s for note in notes]
    assert onsets == sorted(onsets) and onsets[0] >= 0 and onsets[-1] < 20.0
    assert all(LOWEST_HZ < midi_to_hz(note.midi) < HIGHEST_HZ for note in notes)
    assert {note.voice for note in notes} == {"bass", "chord", "melody"}
    melody = [note for note in notes if note.voice == "melody"]
    assert len({note.duration_s for note in melody}) >= 3  # several note lengths
    gaps = [b.onset_s - (a.onset_s + a.duration_s) for a, b in zip(melody, melody[1:], strict=False)]
    assert max(gaps) > 0.2  # rests
    assert min(gaps) == pytest.approx(0.0, abs=1e-9)  # and legato notes
    assert len({round(note.velocity, 2) for note in notes}) > 10  # per-note dynamics
    assert all(0 < note.velocity <= 1 for note in notes)


def test_the_score_does_not_depend_on_the_sample_rate(tmp_path):
    at_16k = _synth(tmp_path / "a", sample_rate_hz=16000)
    at_44k = _synth(tmp_path / "b", sample_rate_hz=44100)
    assert at_16k["corpus"]["piece_list"] == at_44k["corpus"]["piece_list"]


def test_peak_normalize():
    audio = np.array([0.1, -0.4, 0.2])
    np.testing.assert_allclose(np.abs(peak_normalize(audio, -6.0)).max(), 10 ** (-6 / 20))
    np.testing.assert_array_equal(peak_normalize(np.zeros(4)), np.zeros(4))


# ------------------------------------------------------------------------ dataset
def test_the_corpus_is_a_dataset_of_the_requested_length(tmp_path):
    manifest = _synth(tmp_path / "ds", seconds=8.0, pieces=4, n=500)
    ds = load_dataset(tmp_path / "ds")
    assert manifest["format"] == DATASET_FORMAT and manifest["corpus"]["generator"] == GENERATOR
    assert [s["path"] for s in manifest["sources"]] == [f"builtin://piece-{k:02d}" for k in range(4)]
    assert sum(s["samples"] for s in manifest["sources"]) == 8 * 16000
    assert sum(s["duration_s"] for s in manifest["sources"]) == pytest.approx(8.0)
    assert ds.train.shape[0] + ds.holdout.shape[0] == 4 * (2 * 16000 // 500)
    assert manifest["splits"]["holdout"]["sources"] == 1  # 0.25 of 4 pieces
    assert (ds.stride, ds.n, ds.sample_rate) == (500, 500, 16000)


def test_the_corpus_is_deterministic_per_seed(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _synth(tmp_path / name, seed=seed)
    first, again, other = (load_dataset(tmp_path / name) for name in "abc")
    np.testing.assert_array_equal(first.train, again.train)
    np.testing.assert_array_equal(first.holdout, again.holdout)
    assert first.manifest["sources"] == again.manifest["sources"]
    assert first.train.shape != other.train.shape or not np.array_equal(first.train, other.train)
    assert first.manifest["corpus"]["piece_list"] != other.manifest["corpus"]["piece_list"]


def test_pieces_are_loud_music_in_the_expected_pitch_range():
    rate_hz = 16000
    for piece in compose_corpus(seconds=24.0, pieces=4, seed=1):
        audio = render_piece(piece, 6 * rate_hz, rate_hz).astype(np.float64)
        assert np.abs(audio).max() == pytest.approx(10 ** (-3 / 20), abs=1e-4)  # -3 dBFS peak
        assert 20 * np.log10(np.sqrt(np.mean(audio**2))) > -40  # not silent
        quiet_frames = np.sqrt(np.mean(audio.reshape(-1, 1600) ** 2, axis=1)) < 1e-3
        assert quiet_frames.mean() < 0.1  # sounds throughout, not a click and silence
        power = np.abs(np.fft.rfft(audio)) ** 2
        frequencies = np.fft.rfftfreq(audio.shape[0], 1 / rate_hz)
        assert LOWEST_HZ < frequencies[np.argmax(power)] < HIGHEST_HZ
        in_band = power[(frequencies > LOWEST_HZ) & (frequencies < 2 * HIGHEST_HZ)].sum()
        assert in_band / power.sum() > 0.7


def test_pieces_shorter_than_n_are_refused_before_writing(tmp_path):
    with pytest.raises(SampleGanError, match="fewer than n=500; raise --seconds or lower --pieces"):
        _synth(tmp_path / "ds", seconds=0.1, pieces=8, n=500)
    assert not (tmp_path / "ds").exists()


def test_synth_keeps_an_existing_dataset_without_force(tmp_path):
    _synth(tmp_path / "ds", seed=0)
    with pytest.raises(SampleGanError, match="already exists"):
        _synth(tmp_path / "ds", seed=1)
    assert load_dataset(tmp_path / "ds").manifest["seed"] == 0
    assert _synth(tmp_path / "ds", seed=1, force=True)["seed"] == 1


def test_cli_synth(tmp_path, monkeypatch, capsys):
    from harness.cli.root import main

    monkeypatch.setattr(sys, "argv", ["samplegan", "data", "synth", "--out", str(tmp_path / "ds"),
                                      "--seconds", "4", "--pieces", "2", "--n", "500"])
    main()
    assert f"wrote {tmp_path / 'ds'}: 128 segments of n=500" in capsys.readouterr().out
    assert load_dataset(tmp_path / "ds").manifest["corpus"]["pieces"] == 2
