"""`samplegan diagnose`: collapse diagnostics of audio files, as a dict for JSON and as a table.

Each readable file is diagnosed at its native rate. The batch (diversity, label
shares) is computed over every readable file resampled to the most common rate
among them (ties go to the rate seen first), so files at different rates still
form one batch; per-file labels are never affected by that resampling.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from harness.data.audio import AudioDecodeError, read_audio, resample
from harness.evaluation.diagnostics import ONSET_LABELS, diagnose_batch, diagnose_clip

_PATH_WIDTH = 40  # longer paths keep their end (the file name), which is what tells files apart


def diagnose_files(paths: list[Path], n: int) -> dict:
    """Diagnose each file, then the readable ones as one batch.

    Args:
        paths: Audio files (anything `harness.data.audio.read_audio` decodes).
        n: The generator's window in samples (at each file's native rate).

    Returns:
        ``{"files": [{"path", "label", "metrics", "error"}], "batch": {"label",
        "metrics"}}``. A file that cannot be read has ``label`` and ``metrics`` None
        and a one-line ``error``; the others have ``error`` None and the metrics of
        `harness.evaluation.diagnostics.diagnose_clip` (None values become JSON null). The batch
        has the label and metrics of `harness.evaluation.diagnostics.diagnose_batch` plus
        ``sample_rate_hz`` (the common rate), or label and metrics None when no file
        could be read.
    """
    files = []
    readable: list[tuple[np.ndarray, int]] = []
    for path in paths:
        try:
            audio, sample_rate_hz = read_audio(path)
        except AudioDecodeError as exc:
            reason = " ".join(str(exc).split())  # one line, whatever the decoder printed
            # The decoder names the resolved path first; the entry already carries the path.
            reason = reason.removeprefix(f"{Path(path).resolve()}: ")
            files.append({"path": str(path), "label": None, "metrics": None, "error": reason})
            continue
        diagnosis = diagnose_clip(audio, sample_rate_hz, n)
        files.append({"path": str(path), "label": diagnosis.label, "metrics": diagnosis.metrics, "error": None})
        readable.append((audio, sample_rate_hz))

    batch: dict = {"label": None, "metrics": None}
    if readable:
        common_rate_hz = Counter(rate for _, rate in readable).most_common(1)[0][0]
        clips = [resample(audio, rate, common_rate_hz) for audio, rate in readable]
        batch_diagnosis = diagnose_batch(clips, common_rate_hz, n)
        batch = {
            "label": batch_diagnosis.label,
            "metrics": {**batch_diagnosis.metrics, "sample_rate_hz": common_rate_hz},
        }
    return {"files": files, "batch": batch}


def _number(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _fit_path(path: str) -> str:
    return path if len(path) <= _PATH_WIDTH else "..." + path[-(_PATH_WIDTH - 3) :]


def format_table(result: dict) -> str:
    """A fixed-width table of `diagnose_files` output: one row per file, then the batch.

    Args:
        result: The dict `diagnose_files` returns.

    Returns:
        Lines joined by newlines, without a trailing newline.
    """
    columns = (
        ("path", _PATH_WIDTH, "<"), ("label", 13, "<"), ("dur s", 8, ">"), ("AC dB", 7, ">"),
        ("onset", 9, ">"), ("onset/n", 8, ">"), ("flatness", 8, ">"), ("clipping", 8, ">"),
    )

    def row(cells: list[str]) -> str:
        return "  ".join(f"{cell:{align}{width}}" for cell, (_, width, align) in zip(cells, columns, strict=True))

    lines = [row([name for name, _, _ in columns]).rstrip()]
    for entry in result["files"]:
        path = _fit_path(entry["path"])
        if entry["error"] is not None:
            lines.append(f"{path:<{_PATH_WIDTH}}  error: {entry['error']}")
            continue
        metrics = entry["metrics"]
        collapsed = entry["label"] in ONSET_LABELS  # else a constant tail is no collapse onset
        lines.append(row([
            path,
            entry["label"],
            _number(metrics["duration_s"], ".2f"),
            _number(metrics["ac_rms_db"], ".1f"),
            _number(metrics["collapse_onset_sample"] if collapsed else None, "d"),
            _number(metrics["collapse_onset_over_n"] if collapsed else None, ".2f"),
            _number(metrics["spectral_flatness"], ".3f"),
            _number(metrics["clipping_ratio"], ".3f"),
        ]).rstrip())

    batch = result["batch"]
    if batch["label"] is None:
        lines.append("batch: no readable file")
    else:
        metrics = batch["metrics"]
        lines.append(
            f"batch ({metrics['clips']} file(s) at {metrics['sample_rate_hz']} Hz): {batch['label']}; "
            f"collapsed {metrics['collapsed_share']:.0%}, "
            f"diversity {_number(metrics['diversity_lsd_db'], '.1f')} dB, "
            f"mean onset/n {_number(metrics['mean_collapse_onset_over_n'], '.2f')}"
        )
    return "\n".join(lines)
