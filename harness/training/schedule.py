"""What a run of a config on a dataset will do, decided before it starts and without TensorFlow.

Whether the dataset fits the config (`check_dataset`), the steps of each phase
(`phase_totals`), how many evaluations and held-out likelihood measurements it makes, and
whether its evaluations get music metrics (`music_plan`). `Trainer.run` follows these
counts; `samplegan train` and `samplegan study plan` read them without a TensorFlow import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.data.evaluation_audio import evaluation_split
from harness.data.loader import Dataset
from harness.evaluation.floors import floor_draws
from harness.evaluation.music import MIN_CLIP_SECONDS
from models.config import SampleGANConfig
from models.errors import SampleGanError

# The seed sources (models/parts.py) that read the frozen encoder: only they need the
# autoencoder trained (tests/training/test_schedule.py checks this against the classes).
ENCODER_SEED_SOURCES = frozenset({"encoded"})
# Held-out clips the music metrics compare against: 8x the default 4 evaluation clips, and
# their features cost ~0.2 s CPU per 4 s clip once per run (docs/music.md).
MUSIC_REFERENCE_CLIPS = 32


def check_dataset(config: SampleGANConfig, dataset: Dataset) -> None:
    """Fail with an actionable message when the dataset does not fit the variant."""
    if dataset.n != config.n or dataset.sample_rate != config.sample_rate:
        raise SampleGanError(
            f"dataset {dataset.path} has n={dataset.n} at {dataset.sample_rate} Hz but the variant "
            f"needs n={config.n} at {config.sample_rate} Hz; import it again with "
            f"--n {config.n} --sample-rate {config.sample_rate}, or train at the dataset's with "
            f"--set n={dataset.n} --set sample_rate={dataset.sample_rate}"
        )
    if len(dataset.train) < 2:
        raise SampleGanError(f"dataset {dataset.path} has fewer than 2 training segments")
    teacher = config.pretrain_epochs or config.pretrain_steps
    if teacher and not dataset.crop_starts("train", config.teacher_length):
        raise SampleGanError(
            f"teacher forcing needs {config.teacher_length} contiguous samples (warm-up + "
            f"pretrain_length, or teacher_chunks x pretrain_length), but {dataset.path} has no "
            "run of adjacent segments that long; "
            "import with stride = n and longer sources, lower pretrain_length, or set "
            "pretrain_epochs=0 and pretrain_steps=0"
        )


def phase_totals(config: SampleGANConfig, dataset: Dataset) -> dict[str, int]:
    """Steps of each training phase of a full run, in the order `Trainer.run` runs them.

    The one place these counts are defined: `Trainer.run` runs them and `samplegan study
    plan` extrapolates its timed steps to them (here, without TensorFlow, so planning
    and launching need no TensorFlow import). A phase that does not run has 0 steps: the
    autoencoder trains only for a seed source that reads its encoder (`ENCODER_SEED_SOURCES`;
    nothing else uses it), so noise or real priming skips its `ae_steps`.

    Args:
        config: the run's resolved config.
        dataset: its dataset (an epoch of teacher forcing is sized by its train split).

    Returns:
        `{phase: steps}` for every phase of `PHASES`.
    """
    pretrain = config.pretrain_steps
    if config.pretrain_epochs:  # an epoch predicts about as many samples as the train split holds
        steps_per_epoch = max(1, len(dataset.train) * dataset.n
                              // (config.batch_size * config.teacher_predicted))
        pretrain = config.pretrain_epochs * steps_per_epoch
    autoencoder = config.ae_steps if config.seed_source in ENCODER_SEED_SOURCES else 0
    return {"autoencoder": autoencoder, "pretrain": pretrain, "gan": config.gan_steps}


def heldout_count(config: SampleGANConfig, totals: Mapping[str, int]) -> int:
    """Held-out likelihood measurements of a fresh run's teacher forcing: one every
    `eval_every` of its `totals["pretrain"]` steps (`Trainer._pretrain_likelihood_on_schedule`)."""
    return totals.get("pretrain", 0) // config.eval_every


def evaluation_count(config: SampleGANConfig) -> int:
    """Evaluations of a full run: one every `eval_every` GAN steps, and one after the last
    GAN step unless it had one (as `Trainer.run` does)."""
    scheduled = config.gan_steps // config.eval_every
    return scheduled + (config.gan_steps % config.eval_every != 0 or scheduled == 0)


@dataclass
class MusicPlan:
    """Whether a run computes the music metrics, against which clips, and why (docs/music.md).

    Attributes:
        status: one line for the `samplegan.music` tag and the run page, starting "computed:"
            or "skipped:".
        clips: (clips, eval_length) float32 held-out reference clips; None when skipped.
        sources: (clips,) piece ids for piece-apart floors, or None (piece-blind floors).
        sample_rate_hz: their rate in Hz.
        seed: seed of the floors' draws (the run's).
    """

    status: str
    clips: np.ndarray | None
    sources: np.ndarray | None
    sample_rate_hz: int
    seed: int
    _reference: Any = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        """Music metrics are computed at every evaluation."""
        return self.clips is not None

    def measure(self, generated: np.ndarray) -> tuple[dict[str, float | None], dict[str, str]]:
        """The music metrics of an evaluation's clips and the reasons of withheld floors.

        The reference's features are extracted on the first call (librosa is imported then,
        never in a run that skips music).

        Args:
            generated: (clips, eval_length) float32 generated clips in [-1, 1].

        Returns:
            ({name: value} as `harness.evaluation.music.music_metrics` returns it, {name: why
            its floor gives no verdict}); both empty when skipped.
        """
        if not self.enabled:
            return {}, {}
        from harness.evaluation.music import MusicReference, music_metrics

        if self._reference is None:
            self._reference = MusicReference(self.clips, self.sample_rate_hz, self.sources)
        metrics = music_metrics(list(generated), self._reference, self.sample_rate_hz, seed=self.seed)
        return metrics, self._reference.floor_notes(len(generated), self.seed)


def music_plan(config: SampleGANConfig, dataset: Dataset, seed: int) -> MusicPlan:
    """Decide once per run whether its evaluations get music metrics.

    They need clips of at least `MIN_CLIP_SECONDS` and, for a like-for-like floor, at least
    2 x `eval_clips` held-out clips of that length (up to `MUSIC_REFERENCE_CLIPS`, spread
    over the evaluation split). The floors are piece-apart (`sources`) when every floor draw
    leaves at least `eval_clips` clips of other pieces; otherwise piece-blind.
    """
    seconds = config.eval_length / config.sample_rate
    rate = config.sample_rate

    def skipped(reason: str) -> MusicPlan:
        return MusicPlan(f"skipped: {reason}", None, None, rate, seed)

    if seconds < MIN_CLIP_SECONDS:
        return skipped(f"clips of {seconds:.3g} s, under the {MIN_CLIP_SECONDS:g} s minimum "
                       "(raise eval_samples)")
    split = evaluation_split(dataset)
    clips = dataset.contiguous_clips(split, config.eval_length, MUSIC_REFERENCE_CLIPS)
    if len(clips) < 2 * config.eval_clips:
        return skipped(f"the {split} split holds {len(clips)} contiguous clips of {seconds:.3g} s; "
                       f"a floor for {config.eval_clips} clips needs {2 * config.eval_clips}")
    sources = dataset.contiguous_clip_sources(split, config.eval_length, MUSIC_REFERENCE_CLIPS)
    pieces = len(set(sources.tolist()))
    try:
        floor_draws(config.eval_clips, len(clips), seed, sources)
        floors = f"piece-apart floors ({pieces} pieces)"
    except ValueError:
        sources = None
        floors = (f"piece-blind floors: {pieces} piece(s) cannot leave {config.eval_clips} clips "
                  "of other pieces in every draw")
    where = "held-out audio" if split == "holdout" else "TRAINING audio (no held-out split)"
    return MusicPlan(f"computed: {config.eval_clips} clips of {seconds:.3g} s against {len(clips)} "
                     f"clips of {where}, {floors}", clips, sources, rate, seed)
