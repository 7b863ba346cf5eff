"""`samplegan compare` on real audio files, and its one-line errors, through the console script."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.data.audio import load_audio, write_wav
from harness.data.corpus import compose_corpus, render_piece
from harness.evaluation import catalogue
from harness.evaluation.compare_files import compare, format_comparison, reference_clips

RATE_HZ = 16000
CLIP_S = 2
TOP_KEYS = ["generated", "reference", "sample_rate", "clip_seconds", "metrics", "clips"]
METRIC_KEYS = ["value", "floor", "floor_p95", "verdict", "unit", "direction", "note"]
DATA = Path(__file__).parent / "data"


def _noise_like(reference: np.ndarray, count: int, seed: int) -> list[np.ndarray]:
    """White noise at the reference's RMS level."""
    rms = float(np.sqrt(np.mean(np.square(reference, dtype=np.float64))))
    rng = np.random.default_rng(seed)
    return [np.clip(rng.standard_normal(CLIP_S * RATE_HZ) * rms, -1, 1).astype(np.float32)
            for _ in range(count)]


def _split(recordings: list[np.ndarray], every: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Cut recordings into 2 s clips; every `every`-th clip is "generated" (a like-for-like draw
    of real audio), the rest stay together, back to back, as the reference."""
    clips = list(reference_clips(recordings, CLIP_S * RATE_HZ))
    picked = [clip for index, clip in enumerate(clips) if index % every == every // 2]
    rest = [clip for index, clip in enumerate(clips) if index % every != every // 2]
    return picked, np.concatenate(rest)


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Built-in corpus audio as WAVs: 3 real 2 s clips drawn across 4 pieces, the rest of the
    pieces (18 clips' worth) as the reference, and 3 clips of white noise at their level."""
    folder = tmp_path_factory.mktemp("compare-corpus")
    for name in ("real", "noise"):
        (folder / name).mkdir()
    pieces = [render_piece(piece, 6 * CLIP_S * RATE_HZ, RATE_HZ)
              for piece in compose_corpus(seconds=48.0, pieces=4, seed=3)]
    picked, rest = _split(pieces, every=8)
    write_wav(folder / "reference.wav", rest, RATE_HZ)
    for index, clip in enumerate(picked):
        write_wav(folder / "real" / f"clip_{index}.wav", clip, RATE_HZ)
    for index, clip in enumerate(_noise_like(rest, len(picked), seed=1)):
        write_wav(folder / "noise" / f"clip_{index}.wav", clip, RATE_HZ)
    return {name: folder / name for name in ("reference", "real", "noise")} | {
        "reference": folder / "reference.wav"}


def test_reference_clips_are_cut_back_to_back():
    clips = reference_clips([np.arange(10, dtype=np.float32), np.arange(3, dtype=np.float32)], 4)
    assert clips.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]  # remainders shorter than 4 dropped


@pytest.mark.slow
def test_compare_json_on_the_built_in_corpus(cli, corpus_files):
    result = cli("compare", str(corpus_files["real"]), str(corpus_files["noise"]),
                 "--reference", str(corpus_files["reference"]), "--json", check=True)
    report = json.loads(result.stdout)  # exactly one object on stdout
    assert list(report) == TOP_KEYS
    assert (report["generated"], report["reference"], report["sample_rate"]) == (6, 21, RATE_HZ)
    assert report["clip_seconds"] == CLIP_S  # 4 pieces x 12 s = 24 clips of 2 s, 3 picked
    assert set(report["metrics"]) == {e.key for f in catalogue.audio_families() for e in f.metrics}
    for key, row in report["metrics"].items():
        assert list(row) == METRIC_KEYS
        assert (row["unit"], row["direction"]) == (catalogue.metric(key).unit,
                                                   catalogue.metric(key).direction)
    labels = {Path(clip["path"]).parent.name: set() for clip in report["clips"]}
    for clip in report["clips"]:
        labels[Path(clip["path"]).parent.name].add(clip["label"])
    assert labels == {"real": {"healthy"}, "noise": {"noise"}}


def test_real_clips_are_within_and_noise_beyond_the_floor(corpus_files):
    real = compare([corpus_files["real"]], [corpus_files["reference"]])
    noise = compare([corpus_files["noise"]], [corpus_files["reference"]])
    for key in (catalogue.MR_LSD.key, catalogue.FRECHET.key):
        assert real["metrics"][key]["verdict"] == "within", real["metrics"][key]
        assert noise["metrics"][key]["verdict"] == "beyond", noise["metrics"][key]
        assert noise["metrics"][key]["value"] > 2 * real["metrics"][key]["value"]


def test_music_puts_a_frame_tier_runs_textured_noise_beyond_and_real_clips_near_the_floor(corpus_files):
    """4 clips of 2 s of a real `frame-tier-fix` run (tests/evaluation/data) and 3 corpus
    clips, each against 21 corpus clips of 2 s; every music entry is a row of the JSON."""
    textured = sorted(DATA.glob("frame_tier_fix_*.wav"))
    if len(textured) != 4:
        pytest.skip("the frame_tier_fix clips are not in tests/evaluation/data")
    noise = compare(textured, [corpus_files["reference"]])
    real = compare([corpus_files["real"]], [corpus_files["reference"]])
    notes = catalogue.NOTES_SUMMARY.key
    for result in (noise, real):
        for entry in catalogue.MUSIC.metrics:
            row = result["metrics"][entry.key]
            assert (row["unit"], row["direction"]) == (entry.unit, entry.direction)
            assert (row["floor"] is not None) == entry.floor, entry.key
    assert noise["metrics"][notes]["verdict"] == "beyond", noise["metrics"][notes]
    assert noise["metrics"]["music/harmonic_share_gap"]["verdict"] == "beyond"
    # Real clips of the reference's own pieces: within, or at most just above the p95.
    assert real["metrics"][notes]["value"] <= 1.2 * real["metrics"][notes]["floor_p95"], real["metrics"][notes]
    assert noise["metrics"][notes]["value"] > 2 * real["metrics"][notes]["value"]


def test_clips_under_the_music_minimum_get_null_verdicts_with_the_reason(corpus_files, tmp_path):
    short = tmp_path / "short"
    short.mkdir()
    for index, clip in enumerate(load_audio(path, RATE_HZ)[: RATE_HZ // 2]
                                 for path in sorted(corpus_files["real"].glob("*.wav"))):
        write_wav(short / f"clip_{index}.wav", clip, RATE_HZ)
    result = compare([short], [corpus_files["reference"]])
    for entry in catalogue.MUSIC.metrics:
        row = result["metrics"][entry.key]
        assert (row["value"], row["verdict"]) == (None, None), entry.key
        assert row["note"] == "clips of 0.5 s, under the 1 s minimum of the music metrics"
    mr_lsd = result["metrics"][catalogue.MR_LSD.key]  # quality is still measured on 0.5 s
    assert mr_lsd["value"] is not None
    assert mr_lsd["verdict"] is not None or mr_lsd["note"].startswith("no verdict at 3 clips of 0.5 s")
    text = format_comparison(result)
    assert (f"{catalogue.NOTES_SUMMARY.key}: – (minimize) - no verdict: clips of 0.5 s, under the "
            "1 s minimum of the music metrics") in text


@pytest.mark.slow
def test_compare_on_shared_recordings_resamples_to_one_rate(music_dir, tmp_path, cli):
    """Real recordings (44.1 kHz and others) against a real reference, at --sample-rate."""
    piece = music_dir / "brahms_hungarian_dance_5.ogg"
    picked, rest = _split([load_audio(piece, RATE_HZ)], every=6)
    picked = picked[:4]
    write_wav(tmp_path / "reference.wav", rest, RATE_HZ)
    generated = tmp_path / "generated"
    generated.mkdir()
    for index, clip in enumerate(picked):
        write_wav(generated / f"real_{index}.wav", clip, RATE_HZ)
    for index, clip in enumerate(_noise_like(rest, len(picked), seed=2)):
        write_wav(generated / f"white_{index}.wav", clip, RATE_HZ)
    # The reference as two files at different rates: needs --sample-rate.
    write_wav(tmp_path / "reference_22k.wav", load_audio(piece, 22050)[:22050 * 4], 22050)
    refused = cli("compare", str(generated), "--reference", str(tmp_path / "reference.wav"),
                  str(tmp_path / "reference_22k.wav"))
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip().startswith("error: the files are at different sample rates")
    assert "--sample-rate" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    result = cli("compare", *(str(path) for path in sorted(generated.glob("real_*.wav"))),
                 "--reference", str(tmp_path / "reference.wav"),
                 "--reference", str(tmp_path / "reference_22k.wav"),
                 "--sample-rate", str(RATE_HZ), "--json", check=True)
    real = json.loads(result.stdout)
    noise = compare(sorted(generated.glob("white_*.wav")), [tmp_path / "reference.wav"])
    mr_lsd = catalogue.MR_LSD.key
    assert real["metrics"][mr_lsd]["verdict"] == "within", real["metrics"][mr_lsd]
    assert noise["metrics"][mr_lsd]["verdict"] == "beyond", noise["metrics"][mr_lsd]
    text = cli("compare", str(generated), "--reference", str(tmp_path / "reference.wav"),
               check=True).stdout
    assert "floor: real clips of the same count and length, p95" in text
    assert text.startswith("8 generated clip(s) against")


@pytest.mark.slow
@pytest.mark.parametrize("case, message", [
    ("empty_folder", "error: generated "),
    ("missing", "error: reference "),
    ("too_short", "error: the reference is too short for a floor: 3 generated clips of 2 s "
                  "need at least 6 reference clips"),  # 8 s hold 4
    ("corrupt", "error: generated "),
])
def test_bad_input_is_one_line_and_exit_2(case, message, cli, corpus_files, tmp_path):
    generated, reference = [str(corpus_files["real"])], [str(corpus_files["reference"])]
    if case == "empty_folder":
        generated = [str(tmp_path)]
    elif case == "missing":
        reference = [str(tmp_path / "nowhere.wav")]
    elif case == "too_short":
        write_wav(tmp_path / "short.wav", np.zeros(8 * RATE_HZ, np.float32), RATE_HZ)
        reference = [str(tmp_path / "short.wav")]  # 8 s: 4 clips of 2 s
    elif case == "corrupt":
        corrupt = tmp_path / "corrupt.wav"
        corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 4)
        generated = [str(corrupt)]
    args = [arg for path in reference for arg in ("--reference", path)]
    result = cli("compare", *generated, *args, "--json")
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), lines
