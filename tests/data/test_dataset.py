"""harness.data.dataset: segmenting, the by-source split, bad inputs, atomic writes, the loader and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from harness.data import dataset
from harness.data.audio import quantize_16bit, to_int16
from harness.data.dataset import (
    DATASET_FORMAT,
    choose_holdout,
    find_contiguous_pairs,
    frame_segments,
    holdout_count,
    segment_rms_dbfs,
    segment_starts,
    summarize_manifest,
)
from harness.data.importer import import_audio
from harness.data.loader import augment_crops, load_dataset, manifest_sha256
from models.errors import SampleGanError

REPO = Path(__file__).resolve().parents[2]
SAMPLEGAN = Path(sys.executable).with_name("samplegan")  # the console script of this environment
RATE_HZ = 16000
N = 100


def _tone(samples: int, frequency_hz: float = 440.0, amplitude: float = 0.5, seed: int = 0) -> np.ndarray:
    """A quantised tone with a little noise, so two sources never share a digest."""
    t = np.arange(samples) / RATE_HZ
    noise = np.random.default_rng(seed).normal(0, 0.01, samples)
    return quantize_16bit(amplitude * np.sin(2 * np.pi * frequency_hz * t) + noise)


def _wav(folder: Path, name: str, audio: np.ndarray, rate_hz: int = RATE_HZ) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    wavfile.write(path, rate_hz, to_int16(audio))
    return path


def _import(sources: list[Path], out: Path, **overrides) -> dict:
    options = dict(sample_rate_hz=RATE_HZ, n=N, stride=None, drop_silence_db=None,
                   holdout_fraction=0.0, seed=0, force=False)
    options.update(overrides)
    return import_audio(sources, out, **options)


def _sources(folder: Path, count: int, samples: int = 1000) -> list[Path]:
    return [_wav(folder, f"s{k}.wav", _tone(samples, 200.0 + 50 * k, seed=k)) for k in range(count)]


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir()) if path.parent.exists() else []


# ---------------------------------------------------------------- pure functions
@pytest.mark.parametrize(("length", "n", "stride", "expected"), [
    (1000, 100, 100, list(range(0, 901, 100))),
    (1099, 100, 100, list(range(0, 901, 100))),  # a partial last segment is dropped
    (1000, 100, 50, list(range(0, 901, 50))),
    (1000, 100, 300, [0, 300, 600, 900]),
    (99, 100, 100, []),
    (100, 100, 7, [0]),
])
def test_segment_starts(length, n, stride, expected):
    np.testing.assert_array_equal(segment_starts(length, n, stride), expected)


def test_frame_segments_rows_are_the_audio_at_each_start():
    audio = np.arange(1000, dtype=np.float32)
    segments = frame_segments(audio, 100, 30)
    starts = segment_starts(1000, 100, 30)
    assert segments.shape == (starts.size, 100)
    for row, start in zip(segments, starts, strict=True):
        np.testing.assert_array_equal(row, audio[start : start + 100])


def test_segment_rms_dbfs():
    t = np.arange(RATE_HZ) / RATE_HZ
    segments = np.stack([np.sin(2 * np.pi * 1000 * t), np.full(RATE_HZ, 0.1), np.zeros(RATE_HZ)])
    levels = segment_rms_dbfs(segments)
    np.testing.assert_allclose(levels[:2], [-3.0103, -20.0], atol=1e-3)
    assert levels[2] == -np.inf


@pytest.mark.parametrize(("sources", "fraction", "expected"), [
    (10, 0.2, 2), (10, 0.25, 3), (5, 0.2, 1), (3, 0.1, 1), (2, 0.9, 1), (1, 0.5, 0), (4, 0.0, 0),
])
def test_holdout_count(sources, fraction, expected):
    assert holdout_count(sources, fraction) == expected


def test_choose_holdout_is_seeded_and_independent_of_order():
    digests = [hashlib.sha256(bytes([k])).hexdigest() for k in range(10)]
    chosen = choose_holdout(digests, 0.3, seed=7)
    assert len(chosen) == 3 and chosen <= set(digests)
    assert choose_holdout(list(reversed(digests)), 0.3, seed=7) == chosen
    assert len({frozenset(choose_holdout(digests, 0.3, seed)) for seed in range(6)}) > 1


def test_find_contiguous_pairs():
    index = np.array([
        [0, 0], [0, 100], [0, 200], [0, 400],  # 300 was dropped: 200 -> 400 is no pair
        [1, 0], [1, 100],                      # a new source: never paired across sources
        [2, 0], [2, 50], [2, 100], [2, 150],   # stride n/2: pairs two rows apart
    ])
    pairs = find_contiguous_pairs(index, 100)
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 2], [4, 5], [6, 8], [7, 9]])
    assert find_contiguous_pairs(np.zeros((0, 2), dtype=np.int64), 100).shape == (0, 2)


# ---------------------------------------------------------------------- importing
def test_import_writes_the_documented_format(tmp_path):
    source = _wav(tmp_path / "in", "a.wav", _tone(1050))
    out = tmp_path / "ds"
    manifest = _import([source], out, stride=50)

    assert sorted(os.listdir(out)) == ["holdout.npy", "holdout_index.npy", "manifest.json",
                                       "train.npy", "train_index.npy"]
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["format"] == DATASET_FORMAT
    assert (manifest["sample_rate"], manifest["n"], manifest["stride"]) == (RATE_HZ, N, 50)
    assert manifest["segments"] == manifest["splits"]["train"]["segments"] == (1050 - N) // 50 + 1
    assert manifest["splits"]["holdout"] == {"file": "holdout.npy", "index": "holdout_index.npy",
                                             "segments": 0, "sources": 0}
    [entry] = manifest["sources"]
    assert entry["path"] == str(source.resolve())
    assert entry["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (entry["sample_rate_in"], entry["channels_in"], entry["split"]) == (RATE_HZ, 1, "train")
    assert entry["duration_s"] == pytest.approx(1050 / RATE_HZ)
    for key in ("skipped", "drop_silence_db", "holdout_fraction", "seed", "created_by", "created_at"):
        assert key in manifest

    train = np.load(out / "train.npy", mmap_mode="r")
    index = np.load(out / "train_index.npy", mmap_mode="r")
    holdout = np.load(out / "holdout.npy", mmap_mode="r")
    assert (train.dtype, train.shape) == (np.float32, (20, N))
    assert (index.dtype, index.shape) == (np.int64, (20, 2))
    assert (holdout.dtype, holdout.shape) == (np.float32, (0, N))
    audio = _tone(1050)
    for row, (source_index, start) in zip(train, index, strict=True):
        assert source_index == 0
        np.testing.assert_array_equal(row, audio[start : start + N])


def test_import_resamples_and_mixes_down(tmp_path):
    t = np.arange(44100) / 44100
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1)
    source = _wav(tmp_path / "in", "stereo44k.wav", stereo, rate_hz=44100)
    manifest = _import([source], tmp_path / "ds", n=500)
    [entry] = manifest["sources"]
    assert (entry["sample_rate_in"], entry["channels_in"], entry["samples"]) == (44100, 2, RATE_HZ)
    train = load_dataset(tmp_path / "ds").train
    assert train.shape == (RATE_HZ // 500, 500)
    assert np.max(np.abs(train)) == pytest.approx(0.25, abs=0.002)  # (0.5 + 0) / 2


def test_folders_are_searched_recursively_in_sorted_order(tmp_path):
    _wav(tmp_path / "in" / "b", "z.wav", _tone(300, seed=1))
    _wav(tmp_path / "in" / "a", "y.wav", _tone(300, seed=2))
    _wav(tmp_path / "in", "x.WAV", _tone(300, seed=3))
    (tmp_path / "in" / "notes.txt").write_text("ignored inside folders")
    manifest = _import([tmp_path / "in"], tmp_path / "ds")
    names = [Path(s["path"]).relative_to((tmp_path / "in").resolve()).as_posix()
             for s in manifest["sources"]]
    assert names == ["a/y.wav", "b/z.wav", "x.WAV"]
    assert manifest["skipped"] == []


def test_the_holdout_split_is_by_source_and_seeded(tmp_path):
    sources = _sources(tmp_path / "in", 5)

    def split_of(out_name: str, seed: int, order=sources) -> tuple[set, set]:
        manifest = _import(order, tmp_path / out_name, holdout_fraction=0.4, seed=seed)
        ds = load_dataset(tmp_path / out_name)
        by_split = {}
        for split in ("train", "holdout"):
            rows = getattr(ds, f"{split}_index")[:, 0]
            by_split[split] = {manifest["sources"][i]["sha256"] for i in np.unique(rows)}
            assert all(manifest["sources"][i]["split"] == split for i in np.unique(rows))
        return by_split["train"], by_split["holdout"]

    train, holdout = split_of("a", seed=0)
    assert len(holdout) == 2 and len(train) == 3 and not train & holdout
    assert split_of("b", seed=0) == (train, holdout)
    assert split_of("c", seed=0, order=sources[::-1]) == (train, holdout)
    assert any(split_of(f"seed{seed}", seed=seed)[1] != holdout for seed in range(1, 6))


def test_a_single_source_holds_nothing_out_and_warns(tmp_path, capsys):
    manifest = _import([_wav(tmp_path, "a.wav", _tone(500))], tmp_path / "ds", holdout_fraction=0.5)
    assert manifest["splits"]["holdout"]["segments"] == 0
    assert "only one usable source" in capsys.readouterr().err
    assert load_dataset(tmp_path / "ds").holdout.shape == (0, N)


def test_drop_silence_drops_quiet_segments(tmp_path):
    audio = np.concatenate([_tone(500), np.zeros(300, dtype=np.float32), _tone(200, seed=4)])
    source = _wav(tmp_path, "gappy.wav", audio)
    kept = _import([source], tmp_path / "kept", drop_silence_db=None)
    dropped = _import([source], tmp_path / "dropped", drop_silence_db=-50.0)
    assert kept["segments"] == 10
    assert dropped["segments"] == 7
    assert dropped["sources"][0]["silent_segments_dropped"] == 3
    starts = load_dataset(tmp_path / "dropped").train_index[:, 1]
    np.testing.assert_array_equal(starts, [0, 100, 200, 300, 400, 800, 900])


def test_contiguous_pairs_concatenate_to_contiguous_audio(tmp_path):
    audio = _tone(2000)
    source = _wav(tmp_path, "a.wav", audio)
    _import([source, _wav(tmp_path, "b.wav", _tone(400, seed=9))], tmp_path / "ds", stride=50)
    ds = load_dataset(tmp_path / "ds")
    pairs = ds.contiguous_pairs("train")
    assert pairs.shape[0] == (2000 - 2 * N) // 50 + 1 + (400 - 2 * N) // 50 + 1
    for i, j in pairs:
        source_index, start = ds.train_index[i]
        assert ds.train_index[j, 0] == source_index and ds.train_index[j, 1] == start + N
    first = ds.train_index[:, 0] == 0
    for i, j in pairs[first[pairs[:, 0]]]:
        start = ds.train_index[i, 1]
        np.testing.assert_array_equal(np.concatenate([ds.train[i], ds.train[j]]),
                                      audio[start : start + 2 * N])
    assert ds.contiguous_pairs("holdout").shape == (0, 2)
    with pytest.raises(SampleGanError):
        ds.contiguous_pairs("test")


# ---------------------------------------------------------------------- bad input
def _bad_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    garbage = np.random.default_rng(3).integers(0, 256, 20000, dtype=np.uint8).tobytes()
    for name in ("corrupt.mp3", "corrupt.ogg", "corrupt.wav"):
        (folder / name).write_bytes(garbage)
    (folder / "empty.flac").write_bytes(b"")
    (folder / "notes.txt").write_text("not audio")
    _wav(folder, "short.wav", _tone(N - 1))
    return {
        "corrupt.mp3": (folder / "corrupt.mp3", "cannot decode"),
        "corrupt.ogg": (folder / "corrupt.ogg", "cannot decode"),
        "corrupt.wav": (folder / "corrupt.wav", "cannot decode"),
        "empty.flac": (folder / "empty.flac", "empty file"),
        "notes.txt": (folder / "notes.txt", "unsupported file type '.txt'"),
        "short.wav": (folder / "short.wav", f"shorter than n={N}"),
        "missing.wav": (folder / "missing.wav", "file not found"),
    }


def test_every_bad_input_is_skipped_recorded_and_warned(tmp_path, capsys):
    bad = _bad_inputs(tmp_path / "bad")
    good = _wav(tmp_path / "good", "good.wav", _tone(1000))
    manifest = _import([good, *(path for path, _ in bad.values())], tmp_path / "ds")

    assert [s["path"] for s in manifest["sources"]] == [str(good.resolve())]
    skipped = {Path(item["path"]).name: item["reason"] for item in manifest["skipped"]}
    assert set(skipped) == set(bad)
    for name, (_, words) in bad.items():
        assert words in skipped[name]
        assert "\n" not in skipped[name]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(bad)
    assert "skipped: 7" in summarize_manifest(manifest, tmp_path / "ds")


def test_identical_content_is_imported_once(tmp_path):
    audio = _tone(500)
    first, second = _wav(tmp_path, "a.wav", audio), _wav(tmp_path, "copy.wav", audio)
    manifest = _import([first, second], tmp_path / "ds", holdout_fraction=0.5)
    assert len(manifest["sources"]) == 1
    assert manifest["skipped"] == [{"path": str(second.resolve()),
                                    "reason": f"same content as {first.resolve()}"}]


def test_all_bad_input_fails_and_writes_nothing(tmp_path):
    bad = _bad_inputs(tmp_path / "bad")
    out = tmp_path / "new" / "ds"
    with pytest.raises(SampleGanError, match="no usable audio: 7 input"):
        _import([path for path, _ in bad.values()], out)
    assert not (tmp_path / "new").exists()  # not even the parent folder it created


# --------------------------------------------------------------------- atomicity
def test_a_failure_at_the_last_step_leaves_no_folder(tmp_path, monkeypatch):
    def interrupted(partial: Path, out: Path, force: bool) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset, "_publish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import(_sources(tmp_path / "in", 2), tmp_path / "ds")
    assert _siblings(tmp_path / "ds") == ["in"]


_SLOW_IMPORT = """
import sys, time
from pathlib import Path
import harness.data.importer as importer
real_decode = importer.decode_audio
def decode_then_hang(path):
    if Path(path).name == "s1.wav":
        print("hanging", flush=True)
        time.sleep(60)
    return real_decode(path)
importer.decode_audio = decode_then_hang
importer.import_audio([Path(p) for p in sys.argv[2:]], Path(sys.argv[1]), sample_rate_hz=16000,
                      n=100, stride=None, drop_silence_db=None, holdout_fraction=0.0, seed=0,
                      force=False)
"""


@pytest.mark.slow
def test_a_killed_import_leaves_nothing_that_looks_complete(tmp_path):
    sources = _sources(tmp_path / "in", 3)
    out = tmp_path / "ds"
    process = subprocess.Popen(
        [sys.executable, "-c", _SLOW_IMPORT, str(out), *map(str, sources)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert process.stdout.readline().strip() == "hanging"  # s0 spooled, s1 under way
        partial = tmp_path / f".ds.partial-{socket.gethostname()}-{process.pid}"
        assert (partial / "spool" / "0.npy").is_file()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert not out.exists()
    assert not (partial / "manifest.json").exists()
    with pytest.raises(SampleGanError, match="no dataset at"):
        load_dataset(out)

    # The next import to the same place removes what the killed one left, and only that.
    elsewhere = tmp_path / ".ds.partial-another-host-1"
    living = tmp_path / f".ds.partial-{socket.gethostname()}-{os.getppid()}"
    for folder in (elsewhere, living):
        folder.mkdir()
    _import(sources, out)
    assert not partial.exists()
    assert elsewhere.is_dir() and living.is_dir()  # another host's, and a running process's


def test_an_existing_dataset_is_kept_without_force_and_replaced_with_it(tmp_path):
    sources = _sources(tmp_path / "in", 2)
    out = tmp_path / "ds"
    _import(sources[:1], out)
    before = (out / "manifest.json").read_bytes()

    with pytest.raises(SampleGanError, match="already exists; pass --force"):
        _import(sources, out)
    assert (out / "manifest.json").read_bytes() == before

    replaced = _import(sources, out, force=True)
    assert len(replaced["sources"]) == 2
    assert load_dataset(out).manifest == replaced
    assert _siblings(out) == ["ds", "in"]  # no partial or replaced folder left behind


def test_force_never_replaces_a_folder_that_is_not_a_dataset(tmp_path):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(SampleGanError, match="not a samplegan dataset"):
        _import(_sources(tmp_path / "in", 1), out, force=True)
    assert os.listdir(out) == ["thesis.tex"]


def test_an_empty_existing_folder_is_filled(tmp_path):
    (tmp_path / "ds").mkdir()
    _import(_sources(tmp_path / "in", 1), tmp_path / "ds")
    assert load_dataset(tmp_path / "ds").train.shape[0] == 10


# ------------------------------------------------------------------------- loader
def test_load_dataset_memory_maps_and_exposes_sizes(tmp_path):
    _import(_sources(tmp_path / "in", 3), tmp_path / "ds", holdout_fraction=0.34, stride=50)
    ds = load_dataset(tmp_path / "ds")
    assert isinstance(ds.train, np.memmap) and isinstance(ds.holdout_index, np.memmap)
    assert (ds.sample_rate, ds.n, ds.stride) == (RATE_HZ, N, 50)
    assert ds.train.shape == (2 * 19, N) and ds.holdout.shape == (19, N)
    assert ds.path == tmp_path / "ds"


def test_load_dataset_rejects_what_is_not_a_complete_dataset(tmp_path):
    with pytest.raises(SampleGanError, match="no dataset at"):
        load_dataset(tmp_path / "nothing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(SampleGanError, match="not a samplegan dataset"):
        load_dataset(tmp_path / "plain")

    _import(_sources(tmp_path / "in", 1), tmp_path / "ds")
    manifest_path = tmp_path / "ds" / "manifest.json"
    good = manifest_path.read_text()

    manifest_path.write_text(good.replace(DATASET_FORMAT, "samplegan-dataset/99"))
    with pytest.raises(SampleGanError, match="samplegan-dataset/99"):
        load_dataset(tmp_path / "ds")
    manifest_path.write_text("{not json")
    with pytest.raises(SampleGanError, match="cannot read"):
        load_dataset(tmp_path / "ds")
    manifest_path.write_text(good.replace('"n": 100', '"n": 99'))
    with pytest.raises(SampleGanError, match="manifest says"):
        load_dataset(tmp_path / "ds")
    manifest_path.write_text(good)
    (tmp_path / "ds" / "holdout_index.npy").unlink()
    with pytest.raises(SampleGanError, match="incomplete: holdout_index.npy is missing") as caught:
        load_dataset(tmp_path / "ds")
    assert "\n" not in str(caught.value)


def test_manifest_sha256_tracks_the_manifest_bytes(tmp_path):
    _import(_sources(tmp_path / "in", 1), tmp_path / "ds")
    digest = manifest_sha256(tmp_path / "ds")
    assert digest == hashlib.sha256((tmp_path / "ds" / "manifest.json").read_bytes()).hexdigest()
    with pytest.raises(SampleGanError):
        manifest_sha256(tmp_path / "in")


# ---------------------------------------------------------------------------- CLI
def _run_main(monkeypatch, *args: str) -> int:
    from harness.cli.root import main

    monkeypatch.setattr(sys, "argv", ["samplegan", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_import_succeeds_and_summarises(tmp_path, monkeypatch, capsys):
    sources = _sources(tmp_path / "in", 2)
    code = _run_main(monkeypatch, "data", "import", str(tmp_path / "in"), "--out",
                     str(tmp_path / "ds"), "--sample-rate", "16000", "--n", "100")
    assert code == 0
    out = capsys.readouterr().out
    assert f"wrote {tmp_path / 'ds'}: 20 segments of n=100" in out
    assert "holdout:       10 segments from 1 source(s)" in out
    assert len(load_dataset(tmp_path / "ds").manifest["sources"]) == len(sources)


def test_cli_import_json_is_one_object(tmp_path, monkeypatch, capsys):
    _sources(tmp_path / "in", 1)
    code = _run_main(monkeypatch, "data", "import", str(tmp_path / "in" / "s0.wav"), "--out",
                     str(tmp_path / "ds"), "--sample-rate", "16000", "--n", "100", "--json")
    assert code == 0
    assert json.loads(capsys.readouterr().out)["format"] == DATASET_FORMAT


def test_cli_refuses_to_overwrite_without_force(tmp_path, monkeypatch, capsys):
    _sources(tmp_path / "in", 1)
    args = ["data", "import", str(tmp_path / "in"), "--out", str(tmp_path / "ds"),
            "--sample-rate", "16000", "--n", "100"]
    assert _run_main(monkeypatch, *args) == 0
    before = (tmp_path / "ds" / "manifest.json").read_bytes()
    capsys.readouterr()
    assert _run_main(monkeypatch, *args) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'ds'} already exists; pass --force to replace it")
    assert (tmp_path / "ds" / "manifest.json").read_bytes() == before
    assert _run_main(monkeypatch, *args, "--force") == 0


@pytest.mark.slow
def test_console_script_all_bad_input_exits_non_zero_with_one_line(tmp_path):
    if not SAMPLEGAN.exists():
        pytest.skip(f"console script not installed at {SAMPLEGAN}")
    bad = _bad_inputs(tmp_path / "bad")
    out = tmp_path / "ds"
    completed = subprocess.run(
        [str(SAMPLEGAN), "data", "import", *(str(path) for path, _ in bad.values()), "--out",
         str(out), "--sample-rate", "16000", "--n", "100"],
        capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 2
    [error] = [line for line in completed.stderr.splitlines() if not line.startswith("warning:")]
    assert error.startswith(
        f"error: no usable audio: 7 input(s) skipped; first: {bad['corrupt.mp3'][0]}: cannot decode")
    assert not out.exists() and _siblings(out) == ["bad"]


# ----------------------------------------------------------------- training augmentation
def test_augmented_crops_are_each_crop_negated_or_not_and_scaled_within_the_gain_range():
    crops = np.random.default_rng(0).uniform(-0.1, 0.1, (400, 64)).astype(np.float32)
    augmented = augment_crops(crops, np.random.default_rng(1), polarity_flip=True, gain_db=6.0)
    factors = augmented[:, 0] / crops[:, 0]
    np.testing.assert_allclose(augmented, crops * factors[:, None], rtol=1e-5)  # one factor a crop
    magnitudes_db = 20 * np.log10(np.abs(factors))
    assert magnitudes_db.min() >= -6.0 - 1e-4 and magnitudes_db.max() <= 6.0 + 1e-4
    assert magnitudes_db.min() < -5.0 and magnitudes_db.max() > 5.0  # the range is used
    assert 150 < (factors < 0).sum() < 250  # about half negated


def test_augmentation_clips_to_full_scale_and_flipping_alone_keeps_the_level():
    crops = np.full((50, 8), 0.9, np.float32)
    louder = augment_crops(crops, np.random.default_rng(2), polarity_flip=False, gain_db=12.0)
    assert np.abs(louder).max() == 1.0 and (louder > 0).all()
    flipped = augment_crops(crops, np.random.default_rng(2), polarity_flip=True, gain_db=0.0)
    assert set(np.unique(flipped)) == {np.float32(-0.9), np.float32(0.9)}


def test_no_augmentation_is_the_crops_themselves_and_draws_nothing():
    crops = np.ones((4, 8), np.float32)
    rng = np.random.default_rng(3)
    assert augment_crops(crops, rng, polarity_flip=False, gain_db=0.0) is crops
    assert rng.random() == np.random.default_rng(3).random()  # the batch's later draws are unchanged
