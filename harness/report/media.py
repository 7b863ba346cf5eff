"""What the ablation report reads beyond final metrics: clips, per-clip diagnoses, timing.

Every training run logs its last evaluation under `final/` (clips as .wav, `clips.png`
with waveform and spectrogram, `diagnostics.json` with each clip's label and collapse
onset) and the metric `eval/collapsed_share` at every evaluation step. This module
fetches those from MLflow (a local store or a server alike) and finds a real held-out
clip to listen to beside the generated ones.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.evaluation import catalogue
from harness.evaluation.diagnostics import ONSET_LABELS
from harness.tracking.run_figures import MAX_CLIP_ROWS
from harness.tracking.store import retrying

logger = logging.getLogger(__name__)

LISTEN_CLIPS = MAX_CLIP_ROWS  # a player for every clip the run's clips.png shows
LISTEN_SECONDS = 4.0  # longer clips are cut for embedding, so the page stays mailable


@dataclass
class RunFinal:
    """A run's final evaluation as logged under `final/`."""

    run_id: str
    folder: Path | None = None  # local copy of final/, None when the run has none
    clip_labels: list[str] = field(default_factory=list)
    onsets_over_n: list[float | None] = field(default_factory=list)  # per clip; None: no onset

    @property
    def wavs(self) -> list[Path]:
        return sorted(self.folder.glob("clip_*.wav")) if self.folder else []

    @property
    def clips_png(self) -> Path | None:
        path = self.folder / "clips.png" if self.folder else None
        return path if path is not None and path.is_file() else None


def _download(client, run_id: str, path: str, destination: Path) -> Path | None:
    from mlflow.exceptions import MlflowException

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per file

    try:
        return Path(retrying(client.download_artifacts, run_id, path, str(destination)))
    except (MlflowException, OSError) as error:
        logger.debug("run %s has no artifact %s: %s", run_id, path, error)
        return None


def fetch_final(client, run_id: str, scratch: Path, with_audio: bool) -> RunFinal:
    """Read a run's `final/diagnostics.json`; with `with_audio`, fetch the whole `final/`.

    Args:
        client: An `MlflowClient` of the study's store.
        run_id: The run.
        scratch: A folder to download into (a subfolder per run is made).
        with_audio: Also fetch the clips and `clips.png` (for the listening section).

    Returns:
        The run's final evaluation; empty lists when the run logged none.
    """
    destination = scratch / run_id
    destination.mkdir(parents=True, exist_ok=True)
    if with_audio:
        folder = _download(client, run_id, "final", destination)
        diagnostics = folder / "diagnostics.json" if folder else None
    else:
        folder = None
        diagnostics = _download(client, run_id, "final/diagnostics.json", destination)
    final = RunFinal(run_id, folder)
    if diagnostics is None or not diagnostics.is_file():
        return final
    try:
        clips = json.loads(diagnostics.read_text())["batch"]["clips"]
    except (ValueError, KeyError, TypeError):
        logger.warning("run %s: unreadable final/diagnostics.json", run_id)
        return final
    final.clip_labels = [clip.get("label", "?") for clip in clips]
    final.onsets_over_n = [clip.get("metrics", {}).get("collapse_onset_over_n")
                           if clip.get("label") in ONSET_LABELS else None for clip in clips]
    return final


def first_collapsed_step(client, run_id: str, threshold: float) -> float:
    """The first evaluation step with at least `threshold` of clips collapsed, else NaN.

    Args:
        client: An `MlflowClient` of the study's store.
        run_id: The run.
        threshold: Share of collapsed clips (silent, flat collapse, loop, saturated) that makes an
            evaluation collapsed; the study's pruner uses the same (`pruner.collapsed_share`).
    """
    history = retrying(client.get_metric_history, run_id, catalogue.COLLAPSED_SHARE.key)
    for metric in sorted(history, key=lambda item: item.step):
        if metric.value >= threshold:
            return float(metric.step)
    return math.nan


def real_clip(dataset_path: str | None, length: int) -> tuple[np.ndarray | None, str]:
    """A real held-out clip of `length` samples from a run's dataset, and where it came from.

    Falls back to the training split when the held-out one has no chain long enough.

    Returns:
        (clip or None, a phrase naming the source, or why there is none).
    """
    from harness.data.loader import load_dataset
    from models.errors import SampleGanError

    if not dataset_path:
        return None, "the runs do not name their dataset"
    try:
        dataset = load_dataset(dataset_path)
    except SampleGanError as error:
        return None, f"its dataset is not readable here ({error})"
    for split in ("holdout", "train"):
        clips = dataset.contiguous_clips(split, length, 1)
        if len(clips):
            return np.asarray(clips[0], dtype=np.float32), f"{split} split of `{dataset_path}`"
    return None, f"no {length}-sample stretch of contiguous audio in `{dataset_path}`"


def listening_length(sample_rate_hz: int, clip_samples: int) -> int:
    """Samples of a clip to embed: the whole clip, at most `LISTEN_SECONDS`."""
    return int(min(clip_samples, LISTEN_SECONDS * sample_rate_hz))
