"""harness.data.duplicates and `data import`: one recording in several files stays in one split."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.data.audio import load_audio
from harness.data.duplicates import MATCH_CORRELATION, duplicate_groups, fingerprint, similarity

PAIRS = [("brahms_hungarian_dance_5.hq.ogg", "brahms_hungarian_dance_5.ogg"),
         ("trumpet_loop.hq.ogg", "trumpet_loop.ogg")]
RATE_HZ = 16000


def _recording(music_dir: Path, name: str) -> Path:
    path = music_dir / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {music_dir}")
    return path


@pytest.mark.slow
def test_importing_the_shared_recordings_keeps_each_duplicate_pair_in_one_split(
        music_dir, tmp_path, cli):
    for pair in PAIRS:
        for name in pair:
            _recording(music_dir, name)
    out = tmp_path / "music"
    # Seed 0 with half held out splits both pairs when the split goes by file hash alone.
    completed = cli("data", "import", str(music_dir), "--out", str(out), "--sample-rate",
                    str(RATE_HZ), "--n", "500", "--holdout-fraction", "0.5", "--seed", "0",
                    check=True)
    manifest = json.loads((out / "manifest.json").read_text())

    found = sorted(tuple(Path(path).name for path in group["paths"])
                   for group in manifest["duplicates"])
    assert found == PAIRS
    split_of = {Path(source["path"]).name: source["split"] for source in manifest["sources"]}
    for group, (better, _) in zip(manifest["duplicates"], PAIRS, strict=True):
        assert Path(group["kept"]).name == better  # the .hq copy: the higher input rate
        assert [name for name in (Path(path).name for path in group["paths"])
                if name in split_of] == [better]  # the other copy is no source
        assert split_of[better] == group["split"]
        assert group["correlation"] >= MATCH_CORRELATION
    assert set(split_of.values()) == {"train", "holdout"}  # something is held out
    warnings = [line for line in completed.stderr.splitlines() if "same recording" in line]
    assert len(warnings) == 2
    for (better, worse), line in zip(PAIRS, sorted(warnings), strict=True):
        assert line.startswith("warning: same recording in 2 files: keeping ")
        assert line.index(better) < line.index("skipping ") < line.index(worse)
    assert completed.stdout.count("same recording in 2 files, one kept") == 2


@pytest.mark.slow
def test_two_encodings_of_one_recording_are_trained_on_once_and_count_as_one_source(
        music_dir, ffmpeg, tmp_path, cli):
    from harness.data.loader import load_dataset

    inputs = tmp_path / "in"
    inputs.mkdir()
    # Recordings shipped in tests/data/music, so this runs from any clone.
    original = _recording(music_dir, "trumpet_loop.hq.ogg")
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(original), "-ac", "1",
                    "-c:a", "pcm_s16le", str(inputs / "trumpet.wav")], check=True)
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(original), "-ar", "22050",
                    "-c:a", "libmp3lame", "-q:a", "6", str(inputs / "trumpet_copy.mp3")],
                   check=True)
    other = _recording(music_dir, "brahms_hungarian_dance_5.ogg")
    args = ["--sample-rate", str(RATE_HZ), "--n", "500", "--holdout-fraction", "0"]
    completed = cli("data", "import", str(inputs), str(other), "--out", str(tmp_path / "both"),
                    *args, check=True)
    cli("data", "import", str(inputs / "trumpet.wav"), str(other), "--out", str(tmp_path / "one"),
        *args, check=True)
    both, one = load_dataset(tmp_path / "both"), load_dataset(tmp_path / "one")
    # The MP3 adds nothing: train.npy is the WAV's segments and the other recording's.
    assert np.array_equal(both.train, one.train)
    manifest = json.loads((tmp_path / "both" / "manifest.json").read_text())
    assert [Path(source["path"]).name for source in manifest["sources"]] == [
        "trumpet.wav", "brahms_hungarian_dance_5.ogg"]  # the lossless copy is kept
    assert manifest["splits"]["train"]["sources"] == 2
    [group] = manifest["duplicates"]
    assert Path(group["kept"]).name == "trumpet.wav" and group["split"] == "train"
    [skipped] = manifest["skipped"]
    assert Path(skipped["path"]).name == "trumpet_copy.mp3"
    assert skipped["reason"].startswith(f"same recording as {inputs / 'trumpet.wav'} "
                                        "(correlation 0.9")
    assert "  train:  " in completed.stdout and "segments from 2 source(s)" in completed.stdout
    assert "  sources: 2 (" in completed.stdout


@pytest.fixture(scope="module")
def vibe_ace(music_dir) -> np.ndarray:
    """The longest shared recording at 16 kHz (61 s)."""
    return load_audio(_recording(music_dir, "vibe_ace.hq.ogg"), RATE_HZ)


def test_an_mp3_at_another_rate_shifted_and_quieter_is_the_same_recording(
        music_dir, ffmpeg, tmp_path):
    original = _recording(music_dir, "loop_mika.flac")
    mp3 = tmp_path / "mika.mp3"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(original), "-af",
                    "adelay=30:all=1,volume=-6dB", "-ar", "22050", "-ac", "1",
                    "-c:a", "libmp3lame", "-q:a", "6", str(mp3)], check=True)
    value = similarity(fingerprint(load_audio(original, RATE_HZ), RATE_HZ),
                       fingerprint(load_audio(mp3, 44100), 44100))
    assert value >= MATCH_CORRELATION


def test_different_music_of_the_same_length_is_not_a_duplicate(vibe_ace):
    ten_s = 10 * RATE_HZ
    # Five 10 s passages of one jazz piece: the same band and tempo, repeated choruses.
    parts = [fingerprint(vibe_ace[start:start + ten_s], RATE_HZ)
             for start in range(0, 5 * ten_s, ten_s)]
    assert max(similarity(a, b) for i, a in enumerate(parts) for b in parts[i + 1:]) < 0.7
    assert duplicate_groups(parts) == []


def test_groups_join_transitively_and_skip_short_or_unequal_recordings(vibe_ace):
    passage = vibe_ace[: 8 * RATE_HZ]
    copies = [fingerprint(passage, RATE_HZ),
              fingerprint(0.5 * passage, RATE_HZ),
              fingerprint(passage[: int(0.7 * passage.size)], RATE_HZ),  # 30 % shorter
              fingerprint(vibe_ace[8 * RATE_HZ: 16 * RATE_HZ], RATE_HZ),
              fingerprint(np.concatenate([np.zeros(RATE_HZ // 10, np.float32), passage]), RATE_HZ)]
    [(members, correlation)] = duplicate_groups(copies)
    assert members == [0, 1, 4] and correlation >= MATCH_CORRELATION
    short = fingerprint(passage[: RATE_HZ // 2], RATE_HZ)
    assert similarity(short, short) == 0.0  # under a second: too short to tell apart
