"""Importing audio files as a dataset (`samplegan data import`): find, decode, resample, write.

Unusable inputs are skipped with a reason and listed in the manifest; the dataset
itself is written by `harness.data.dataset.write_dataset`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness import __version__
from harness.data.audio import AudioDecodeError, decode_audio, quantize_16bit, resample
from harness.data.dataset import AUDIO_EXTENSIONS, SkippedSource, SourceAudio, write_dataset


# ----------------------------------------------------------------------- importer
def expand_sources(sources: Iterable[Path]) -> list[Path | SkippedSource]:
    """Files to import, in order: files as given, folders searched recursively.

    Args:
        sources: files and folders.

    Returns:
        Absolute paths of candidate files (a folder contributes its
        .mp3/.wav/.ogg/.flac files, sorted), and a `SkippedSource` for each path
        that is missing, of an unsupported type, or a folder without audio files.
    """
    expanded: list[Path | SkippedSource] = []
    for source in (Path(source).resolve() for source in sources):
        if source.is_dir():
            found = sorted(
                path for path in source.rglob("*")
                if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file()
            )
            expanded.extend(found)
            if not found:
                expanded.append(SkippedSource(str(source), "folder holds no .mp3/.wav/.ogg/.flac file"))
        elif not source.exists():
            expanded.append(SkippedSource(str(source), "file not found"))
        elif source.suffix.lower() not in AUDIO_EXTENSIONS:
            expanded.append(SkippedSource(
                str(source), f"unsupported file type {source.suffix or '(none)'!r}; "
                "expected .mp3, .wav, .ogg or .flac",
            ))
        else:
            expanded.append(source)
    return expanded


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _decode_sources(
    candidates: Iterable[Path | SkippedSource], sample_rate_hz: int
) -> Iterable[SourceAudio | SkippedSource]:
    for candidate in candidates:
        if isinstance(candidate, SkippedSource):
            yield candidate
            continue
        try:
            decoded = decode_audio(candidate)
        except AudioDecodeError as exc:
            yield SkippedSource(str(candidate), exc.reason)
            continue
        yield SourceAudio(
            path=str(candidate),
            sha256=_file_sha256(candidate),
            audio=quantize_16bit(resample(decoded.audio, decoded.sample_rate_hz, sample_rate_hz)),
            sample_rate_in=decoded.sample_rate_hz,
            channels_in=decoded.channels,
            duration_s=decoded.duration_s,
        )


def import_audio(
    sources: list[Path],
    out: Path,
    *,
    sample_rate_hz: int,
    n: int,
    stride: int | None,
    drop_silence_db: float | None,
    holdout_fraction: float,
    seed: int,
    force: bool,
) -> dict[str, Any]:
    """Decode audio files into a segmented dataset (``samplegan data import``).

    Each file is decoded (mp3, wav, ogg, flac; any channel count and rate), mixed
    to mono, resampled to `sample_rate_hz`, quantised to 16 bits and cut into
    segments. Unusable inputs are skipped with a warning on stderr and listed
    under ``skipped`` in the manifest.

    Args:
        sources: audio files and folders (searched recursively).
        out: dataset folder to create.
        sample_rate_hz: target rate in Hz.
        n: segment length in samples.
        stride: hop between segments in samples; None means n (the paper).
        drop_silence_db: drop segments whose RMS is below this many dBFS; None keeps all.
        holdout_fraction: share of source files held out, in [0, 1).
        seed: seed of the held-out split.
        force: replace an existing dataset at `out`.

    Returns:
        The manifest that was written.

    Raises:
        SampleGanError: no input is usable, or `out` exists and may not be replaced.
    """
    return write_dataset(
        Path(out),
        _decode_sources(expand_sources(sources), sample_rate_hz),
        sample_rate_hz=sample_rate_hz, n=n, stride=stride, drop_silence_db=drop_silence_db,
        holdout_fraction=holdout_fraction, seed=seed, force=force,
        created_by=f"samplegan-lab {__version__} (data import)",
    )
