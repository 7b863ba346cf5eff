"""The real audio a run's evaluations use: the split they draw from, the seed segments a run's
seed picks, and reference clips as long as the generated ones.

Functions of the dataset alone (no config, no TensorFlow): the trainer, `samplegan evaluate`
and the run page all draw the same audio from them.
"""

from __future__ import annotations

import numpy as np

from harness.data.loader import Dataset

QUALITY_REFERENCE_SEGMENTS = 256  # held-out segments the quality metrics compare against


def evaluation_split(dataset: Dataset) -> str:
    """The split evaluations seed from and measure quality against: "holdout", or "train"
    when nothing is held out (then quality is measured on the training audio)."""
    return "holdout" if len(dataset.holdout) else "train"


def evaluation_segments(dataset: Dataset, seed: int) -> np.ndarray:
    """The segments a run of `seed` seeds its evaluation clips from: up to
    `QUALITY_REFERENCE_SEGMENTS` of the evaluation split, drawn by the seed, in order."""
    pool = getattr(dataset, evaluation_split(dataset))
    rng = np.random.default_rng([seed, 7])
    count = min(len(pool), QUALITY_REFERENCE_SEGMENTS)
    rows = np.sort(rng.choice(len(pool), size=count, replace=False))
    return np.asarray(pool[rows], np.float32)


def reference_clips(dataset: Dataset, length: int, segments: np.ndarray) -> np.ndarray:
    """Real audio as long as the evaluation clips, for the quality metrics and their floors.

    Rebuilt from adjacent segments of the evaluation split; falls back to `segments` (the
    evaluation segments) when no source is long enough (then there is no like-for-like
    floor: see `harness.evaluation.quality.quality_metrics`).
    """
    clips = dataset.contiguous_clips(evaluation_split(dataset), length, QUALITY_REFERENCE_SEGMENTS)
    return clips if len(clips) >= 2 else segments
