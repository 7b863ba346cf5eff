"""Datasets of fixed-length audio segments: the format and its one writer.

A dataset is a folder (format ``samplegan-dataset/1``)::

    manifest.json        what is inside, where it came from, how it was split
    train.npy            float32 [segments, n], int16 / 32768, in [-1, 1)
    train_index.npy      int64 [segments, 2]: (index into manifest["sources"], start sample)
    holdout.npy          float32 [segments, n]; may have 0 rows
    holdout_index.npy    int64 [segments, 2]

Segments are cut from each source with a hop of ``stride`` samples (``n`` by
default, as in the paper). The held-out split is by source, never by segment, so
no recording contributes to both splits; of files holding the same recording in another
encoding or at another rate (`harness.data.duplicates`) one copy is kept (lossless before
lossy, then the highest input rate and channel count, then the first given), the others are
skipped, and the group is listed under ``duplicates``. Rows of one source are consecutive
and in time order.
`write_dataset` is the single writer; `harness.data.importer` (files) and
`harness.data.corpus` (the built-in corpus) feed it, and `harness.data.loader` reads it.

A dataset appears under its final name only when complete: everything is written
into a hidden sibling folder that is renamed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import shutil
import socket
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap

from harness.common.files import publish
from harness.data.duplicates import Fingerprint, duplicate_groups, fingerprint
from models.errors import SampleGanError

DATASET_FORMAT = "samplegan-dataset/1"
AUDIO_EXTENSIONS = (".flac", ".mp3", ".ogg", ".wav")
SPLITS = ("train", "holdout")
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class SourceAudio:
    """One decoded source, ready to be segmented.

    Attributes:
        path: where it came from: a file path or e.g. ``builtin://piece-03``.
        sha256: hex digest identifying the content (file bytes or samples).
        audio: float32 [samples], mono, 16-bit-quantised, at the dataset's rate.
        sample_rate_in: the source's own rate in Hz.
        channels_in: the source's channel count.
        duration_s: the source's length in seconds.
    """

    path: str
    sha256: str
    audio: np.ndarray
    sample_rate_in: int
    channels_in: int
    duration_s: float


@dataclass(frozen=True)
class SkippedSource:
    """An input that contributes nothing, and why (one line)."""

    path: str
    reason: str


# ------------------------------------------------------------------ pure functions
def segment_starts(n_samples: int, n: int, stride: int) -> np.ndarray:
    """Start samples of every whole segment of `n` samples, `stride` apart.

    Args:
        n_samples: length of the source in samples.
        n: segment length in samples.
        stride: hop between segment starts in samples.

    Returns:
        int64 [segments]: 0, stride, 2 * stride, ... while start + n <= n_samples.
    """
    if n_samples < n:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - n + 1, stride, dtype=np.int64)


def frame_segments(audio: np.ndarray, n: int, stride: int) -> np.ndarray:
    """All whole segments of `audio` as a read-only view (no copy).

    Args:
        audio: [samples].
        n: segment length in samples.
        stride: hop between segment starts in samples.

    Returns:
        [segments, n]; row k is audio[k * stride : k * stride + n].
    """
    if audio.shape[0] < n:
        return np.zeros((0, n), dtype=audio.dtype)
    return np.lib.stride_tricks.sliding_window_view(audio, n)[::stride]


def segment_rms_dbfs(segments: np.ndarray) -> np.ndarray:
    """RMS level of each segment in dB relative to full scale (1.0).

    A full-scale sine is -3.01 dBFS on this scale; digital silence is -inf.

    Args:
        segments: float [segments, n].

    Returns:
        float64 [segments].
    """
    mean_square = np.einsum("ij,ij->i", segments, segments, dtype=np.float64) / segments.shape[1]
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(mean_square)


def holdout_count(usable_sources: int, holdout_fraction: float) -> int:
    """How many sources to hold out.

    The fraction is rounded half up, then kept within [1, sources - 1] when the
    fraction is positive and there are two or more sources; with one source,
    nothing can be held out without leaving nothing to train on.

    Args:
        usable_sources: sources that yielded segments.
        holdout_fraction: share of sources to hold out, in [0, 1).

    Returns:
        Number of held-out sources.
    """
    if holdout_fraction <= 0 or usable_sources < 2:
        return 0
    rounded = math.floor(holdout_fraction * usable_sources + 0.5)
    return min(max(rounded, 1), usable_sources - 1)


def choose_holdout(sha256s: Sequence[str], holdout_fraction: float, seed: int) -> set[str]:
    """Pick the held-out sources by content, independent of path and input order.

    Args:
        sha256s: content digests of the usable sources (distinct); for a group of files
            holding one recording, one digest stands for the whole group.
        holdout_fraction: share of sources to hold out, in [0, 1).
        seed: seed of the permutation; any integer.

    Returns:
        The digests of the held-out sources.
    """
    ordered = sorted(sha256s)
    rng = np.random.default_rng(seed % 2**64)
    chosen = rng.permutation(len(ordered))[: holdout_count(len(ordered), holdout_fraction)]
    return {ordered[i] for i in chosen}


def find_contiguous_pairs(index: np.ndarray, n: int) -> np.ndarray:
    """Rows (i, j) where segment j continues segment i without gap or overlap.

    Args:
        index: int64 [segments, 2] of (source, start sample), as in ``*_index.npy``.
        n: segment length in samples.

    Returns:
        int64 [pairs, 2]: row pairs of the same source with start_j == start_i + n,
        so rows i and j together hold 2n contiguous samples. Sorted by i.
    """
    index = np.asarray(index, dtype=np.int64)
    if index.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    span = int(index[:, 1].max()) + n + 1  # keys of different sources never collide
    keys = index[:, 0] * span + index[:, 1]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    position = np.searchsorted(sorted_keys, keys + n)
    position = np.minimum(position, sorted_keys.shape[0] - 1)
    found = sorted_keys[position] == keys + n
    first = np.flatnonzero(found)
    return np.stack([first, order[position[found]]], axis=1).astype(np.int64)


def contiguous_chains(index: np.ndarray, n: int) -> list[np.ndarray]:
    """Maximal runs of rows whose segments follow each other without gap or overlap.

    With stride n these are runs of consecutive rows; with a smaller stride each source
    holds several interleaved runs (rows 0, 2, 4, ... and 1, 3, 5, ... at stride n/2).

    Args:
        index: int64 [segments, 2] of (source, start sample).
        n: segment length in samples.

    Returns:
        Row-index arrays, one per run, each in time order, ordered by their first row.
    """
    index = np.asarray(index, dtype=np.int64)
    pairs = find_contiguous_pairs(index, n)
    successor = np.full(index.shape[0], -1, np.int64)
    successor[pairs[:, 0]] = pairs[:, 1]
    has_predecessor = np.zeros(index.shape[0], bool)
    has_predecessor[pairs[:, 1]] = True
    chains = []
    for first in np.flatnonzero(~has_predecessor):
        chain = [int(first)]
        while successor[chain[-1]] >= 0:
            chain.append(int(successor[chain[-1]]))
        chains.append(np.asarray(chain, np.int64))
    return chains


# ------------------------------------------------------------------------- writer
def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _is_dataset_folder(path: Path) -> bool:
    try:
        manifest = json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("format", "")).startswith(
        "samplegan-dataset/"
    )


def _check_out(out: Path, force: bool) -> None:
    """Fail before any work if `out` may not be (re)placed."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise SampleGanError(f"{out} exists and is not a folder; choose another --out")
    if not any(out.iterdir()):
        return  # an empty folder holds nothing to overwrite
    if not force:
        raise SampleGanError(f"{out} already exists; pass --force to replace it")
    if not _is_dataset_folder(out):
        raise SampleGanError(
            f"{out} is not a samplegan dataset; refusing to replace it even with --force"
        )


def _remove_dead_partials(out: Path) -> None:
    """Delete the half-written folders of imports to `out` killed on this host (SIGKILL, power).

    A partial folder is named after its host and process; one of this host whose process is
    gone can never complete. Folders of other hosts (a shared filesystem) are left alone.
    """
    prefix = f".{out.name}.partial-{socket.gethostname()}-"
    for candidate in out.parent.glob(f"{glob.escape(prefix)}*"):
        pid_text = candidate.name[len(prefix):]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            shutil.rmtree(candidate, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


def _publish(partial: Path, out: Path, force: bool) -> None:
    """Move the finished folder into place; the old one goes only after that."""
    if out.exists() and any(out.iterdir()):
        _check_out(out, force)  # it may have appeared while we were working
    publish(partial, out)


@dataclass(frozen=True)
class _Spooled:
    """A usable source whose segments wait on disk for the split to be known."""

    entry: dict[str, Any]
    segments_file: Path
    starts: np.ndarray
    fingerprint: Fingerprint


def _spool_source(
    source: SourceAudio, spool_dir: Path, position: int, sample_rate_hz: int, n: int, stride: int,
    drop_silence_db: float | None,
) -> _Spooled | SkippedSource:
    starts = segment_starts(source.audio.shape[0], n, stride)
    if starts.size == 0:
        return SkippedSource(
            source.path, f"shorter than n={n} ({source.audio.shape[0]} samples at the dataset rate)"
        )
    segments = frame_segments(source.audio, n, stride)
    dropped = 0
    if drop_silence_db is not None:
        loud = segment_rms_dbfs(segments) >= drop_silence_db
        dropped = int(starts.size - loud.sum())
        if dropped == starts.size:
            return SkippedSource(
                source.path, f"all {dropped} segments are below {drop_silence_db:g} dBFS"
            )
        segments, starts = segments[loud], starts[loud]
    segments_file = spool_dir / f"{position}.npy"
    np.save(segments_file, np.ascontiguousarray(segments, dtype=np.float32))
    entry = {
        "path": source.path,
        "sha256": source.sha256,
        "duration_s": round(float(source.duration_s), 6),
        "samples": int(source.audio.shape[0]),
        "segments": int(starts.size),
        "silent_segments_dropped": dropped,
        "split": None,
        "sample_rate_in": int(source.sample_rate_in),
        "channels_in": int(source.channels_in),
    }
    return _Spooled(entry, segments_file, starts, fingerprint(source.audio, sample_rate_hz))


_LOSSY_EXTENSIONS = (".mp3", ".ogg")


def _copy_rank(entry: Mapping[str, Any]) -> tuple[bool, int, int]:
    """How good a copy of a recording is: lossless first, then input rate, then channels."""
    lossless = Path(entry["path"]).suffix.lower() not in _LOSSY_EXTENSIONS
    return lossless, entry["sample_rate_in"], entry["channels_in"]


def _split_units(spooled: list[_Spooled]) -> tuple[dict[str, str], list[dict[str, Any]],
                                                   list[_Spooled]]:
    """The units of the held-out split, one copy of each recording kept.

    Returns:
        (sha256 of each kept source -> the digest standing for its unit: its own, or the
        smallest of its group's, so the split is the one that kept every copy; the groups of
        files holding one recording as manifest entries, without their split yet; the
        copies dropped, the best copy of each group (`_copy_rank`, the first on a tie) kept).
    """
    unit_of = {item.entry["sha256"]: item.entry["sha256"] for item in spooled}
    groups = []
    dropped = []
    for members, correlation in duplicate_groups([item.fingerprint for item in spooled]):
        digests = [spooled[i].entry["sha256"] for i in members]
        kept = max(members, key=lambda i: _copy_rank(spooled[i].entry))  # max keeps the first
        for i in members:
            if i != kept:
                dropped.append(spooled[i])
                del unit_of[spooled[i].entry["sha256"]]
        unit_of[spooled[kept].entry["sha256"]] = min(digests)
        groups.append({"paths": [spooled[i].entry["path"] for i in members],
                       "kept": spooled[kept].entry["path"],
                       "correlation": round(correlation, 3), "split": None})
    return unit_of, groups, dropped


def _write_split(
    folder: Path, split: str, members: list[tuple[int, _Spooled]], n: int
) -> dict[str, Any]:
    rows = sum(spooled.starts.size for _, spooled in members)
    data = open_memmap(folder / f"{split}.npy", mode="w+", dtype=np.float32, shape=(rows, n))
    index = np.zeros((rows, 2), dtype=np.int64)
    row = 0
    for source_index, spooled in members:
        count = spooled.starts.size
        data[row : row + count] = np.load(spooled.segments_file, mmap_mode="r")
        index[row : row + count, 0] = source_index
        index[row : row + count, 1] = spooled.starts
        row += count
    data.flush()
    del data
    np.save(folder / f"{split}_index.npy", index)
    return {
        "file": f"{split}.npy",
        "index": f"{split}_index.npy",
        "segments": rows,
        "sources": len(members),
    }


def write_dataset(
    out: Path,
    sources: Iterable[SourceAudio | SkippedSource],
    *,
    sample_rate_hz: int,
    n: int,
    stride: int | None,
    drop_silence_db: float | None,
    holdout_fraction: float,
    seed: int,
    force: bool,
    created_by: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Segment, split and write sources as a dataset folder, atomically.

    `sources` is consumed once, one source at a time; each source's segments are
    spooled to disk so memory holds one source, not the corpus.

    Args:
        out: dataset folder to create.
        sources: decoded sources at `sample_rate_hz`, and inputs already skipped.
        sample_rate_hz: rate of every source's audio, in Hz.
        n: segment length in samples.
        stride: hop between segments in samples; None means n.
        drop_silence_db: drop segments whose RMS is below this many dBFS; None keeps all.
        holdout_fraction: share of sources held out, in [0, 1).
        seed: seed of the held-out split.
        force: replace an existing dataset at `out`.
        created_by: who wrote it, e.g. ``samplegan-lab 0.1.0 (data import)``.
        extra: more top-level manifest entries (e.g. the corpus parameters).

    Returns:
        The manifest that was written.

    Raises:
        SampleGanError: bad arguments, `out` not replaceable, or no usable source
            (nothing is written then).
    """
    stride = n if stride is None else stride
    _check_sizes(n, stride, holdout_fraction)
    out = Path(out).absolute()
    _check_out(out, force)
    with _partial_folder(out) as partial:
        spool_dir = partial / "spool"
        spool_dir.mkdir(parents=True)
        spooled, skipped = _spool_sources(sources, spool_dir, sample_rate_hz, n, stride,
                                          drop_silence_db)
        spooled, duplicates = _assign_splits(spooled, skipped, holdout_fraction, seed)
        splits = {split: _write_split(partial, split, [(i, s) for i, s in enumerate(spooled)
                                                        if s.entry["split"] == split], n)
                  for split in SPLITS}
        shutil.rmtree(spool_dir)
        manifest = _manifest(
            sample_rate_hz=sample_rate_hz, n=n, stride=stride, splits=splits, spooled=spooled,
            duplicates=duplicates, skipped=skipped, drop_silence_db=drop_silence_db,
            holdout_fraction=holdout_fraction, seed=seed, created_by=created_by, extra=extra)
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        _publish(partial, out, force)
    return manifest


def _check_sizes(n: int, stride: int, holdout_fraction: float) -> None:
    if n < 1 or stride < 1:
        raise SampleGanError(f"n and stride must be positive (got n={n}, stride={stride})")
    if not 0.0 <= holdout_fraction < 1.0:
        raise SampleGanError(f"holdout fraction must be in [0, 1) (got {holdout_fraction})")


def _manifest(*, sample_rate_hz: int, n: int, stride: int, splits: Mapping[str, dict[str, Any]],
              spooled: Sequence[_Spooled], duplicates: list[dict[str, Any]],
              skipped: list[dict[str, str]], drop_silence_db: float | None,
              holdout_fraction: float, seed: int, created_by: str,
              extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "format": DATASET_FORMAT,
        "sample_rate": int(sample_rate_hz),
        "n": int(n),
        "stride": int(stride),
        "segments": sum(split["segments"] for split in splits.values()),
        "splits": splits,
        "sources": [s.entry for s in spooled],
        "duplicates": duplicates,
        "skipped": skipped,
        "drop_silence_db": drop_silence_db,
        "holdout_fraction": holdout_fraction,
        "seed": seed,
        "created_by": created_by,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra or {}),
    }


@contextlib.contextmanager
def _partial_folder(out: Path) -> Iterator[Path]:
    """A hidden, empty sibling folder of `out` to build in. If the block fails, the folder
    and the parents of `out` this created are removed: a failed run leaves no trace."""
    created_parents = [parent for parent in out.parents if not parent.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(out)
    partial = out.with_name(f".{out.name}.partial-{socket.gethostname()}-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        for parent in created_parents:  # innermost first
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise


def _spool_sources(sources: Iterable[SourceAudio | SkippedSource], spool_dir: Path,
                   sample_rate_hz: int, n: int, stride: int, drop_silence_db: float | None,
                   ) -> tuple[list[_Spooled], list[dict[str, str]]]:
    """Spool each usable source's segments to disk, one source at a time; skip the rest
    (and files whose content an earlier one had) with a warning.

    Raises:
        SampleGanError: no source was usable.
    """
    spooled: list[_Spooled] = []
    skipped: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for source in sources:
        if isinstance(source, SourceAudio):
            if source.sha256 in seen:
                source = SkippedSource(source.path, f"same content as {seen[source.sha256]}")
            else:
                source = _spool_source(
                    source, spool_dir, len(spooled), sample_rate_hz, n, stride, drop_silence_db
                )
        if isinstance(source, SkippedSource):
            _warn(f"skipping {source.path}: {source.reason}")
            skipped.append({"path": source.path, "reason": source.reason})
            continue
        seen[source.entry["sha256"]] = source.entry["path"]
        spooled.append(source)
    if not spooled:
        detail = f"; first: {skipped[0]['path']}: {skipped[0]['reason']}" if skipped else ""
        raise SampleGanError(
            f"no usable audio: {len(skipped)} input(s) skipped{detail}"
        )
    return spooled, skipped


def _assign_splits(spooled: list[_Spooled], skipped: list[dict[str, str]],
                   holdout_fraction: float, seed: int) -> tuple[list[_Spooled], list[dict[str, Any]]]:
    """Keep one copy of each recording and set each kept source's "split".

    A recording's other copies are appended to `skipped` with the copy kept as the reason:
    training on two encodings of one recording would count it twice.

    Returns:
        (the sources kept, in input order; the groups of files holding one recording, each
        with the split of its kept copy).
    """
    unit_of, duplicates, dropped = _split_units(spooled)
    kept = [item for item in spooled if not any(item is copy for copy in dropped)]
    if holdout_fraction > 0 and len(kept) == 1:
        _warn("only one usable source (recording), so nothing is held out (the split is by source)")
    held_out = choose_holdout(sorted(set(unit_of.values())), holdout_fraction, seed)
    for item in kept:
        in_holdout = unit_of[item.entry["sha256"]] in held_out
        item.entry["split"] = "holdout" if in_holdout else "train"
    split_of = {item.entry["path"]: item.entry["split"] for item in kept}
    for group in duplicates:
        group["split"] = split_of[group["kept"]]
        others = [path for path in group["paths"] if path != group["kept"]]
        _warn(f"same recording in {len(group['paths'])} files: keeping {group['kept']} "
              f"({group['split']}), skipping {', '.join(others)}")
        skipped.extend({"path": path, "reason": f"same recording as {group['kept']} "
                        f"(correlation {group['correlation']:.3f}), which is kept"}
                       for path in others)
    return kept, duplicates


def summarize_manifest(manifest: Mapping[str, Any], out: Path) -> str:
    """A few human-readable lines about a written dataset.

    Args:
        manifest: as returned by `write_dataset`.
        out: the dataset folder.

    Returns:
        Lines joined by newlines: size, segments per split, sources, skipped inputs.
    """
    rate_hz = manifest["sample_rate"]
    lines = [
        f"wrote {out}: {manifest['segments']} segments of n={manifest['n']} "
        f"({1000 * manifest['n'] / rate_hz:.1f} ms) at {rate_hz} Hz, stride {manifest['stride']}"
    ]
    for split in SPLITS:
        info = manifest["splits"][split]
        lines.append(
            f"  {split + ':':<9}{info['segments']:>8} segments from {info['sources']} source(s)"
        )
    total_s = sum(source["duration_s"] for source in manifest["sources"])
    lines.append(f"  sources: {len(manifest['sources'])} ({total_s:.1f} s of audio)")
    if "corpus" in manifest:
        corpus = manifest["corpus"]
        lines.append(f"  corpus:  built-in {corpus['generator']}, seed {corpus['seed']}")
    for group in manifest.get("duplicates", ()):
        lines.append(f"  same recording in {len(group['paths'])} files, one kept "
                     f"({group['split']}): {Path(group['kept']).name}")
    if manifest["skipped"]:
        lines.append(f"  skipped: {len(manifest['skipped'])}")
        lines.extend(f"    {item['path']}: {item['reason']}" for item in manifest["skipped"])
    return "\n".join(lines)
