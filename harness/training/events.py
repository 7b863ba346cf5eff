"""The vocabulary shared by the training loop and whoever watches it (tracking, studies).

No TensorFlow here: the command line checks inputs and builds observers without
paying for a TensorFlow import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.common.errors import SampleGanError
from harness.data.loader import Dataset
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import BatchDiagnosis
from harness.evaluation.floors import floor_draws
from harness.evaluation.music import MIN_CLIP_SECONDS
from models.config import SampleGANConfig

PHASES = ("autoencoder", "pretrain", "gan")
# The seed sources (models/parts.py) that read the frozen encoder: only they need the
# autoencoder trained (tests/training/test_events.py checks this against the classes).
ENCODER_SEED_SOURCES = frozenset({"encoded"})
QUALITY_REFERENCE_SEGMENTS = 256  # held-out segments the quality metrics compare against
SEED_BANK_SEGMENTS = 64  # real segments exported with the model for `samplegan generate`
# Held-out clips the music metrics compare against: 8x the default 4 evaluation clips, and
# their features cost ~0.2 s CPU per 4 s clip once per run (docs/music.md).
MUSIC_REFERENCE_CLIPS = 32


class TrainingDiverged(SampleGanError):
    """A loss became NaN or infinite (reported as a one-line error; the run is FAILED)."""


class StopTraining(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by an observer to end training early (e.g. the study prunes the trial).

    `kind` names the rule that stopped it ("collapse", "median", ...), `reason` says why.
    """

    def __init__(self, reason: str, kind: str = "other"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


@dataclass(frozen=True)
class RunOptions:
    """How to run (not what to train): seed, time budget, checkpoints, progress display."""

    seed: int = 0
    max_minutes: float | None = None  # wall-clock budget of the whole run; None = no limit
    checkpoint_every_s: float = 120.0  # also checkpointed at every evaluation and phase end
    progress: bool = True  # tqdm bars on stderr


@dataclass
class Evaluation:
    """A generated batch with its collapse diagnostics and quality metrics at one GAN step."""

    step: int
    sample_rate_hz: int
    n: int
    clips: np.ndarray  # (clips, samples) float32 in [-1, 1]
    diagnosis: BatchDiagnosis
    quality: dict[str, float | None]
    dynamics: dict[str, Any]
    likelihood: dict[str, float] = field(default_factory=dict)  # harness/evaluation/likelihood.py
    music: dict[str, float | None] = field(default_factory=dict)  # empty when the run skips music
    music_floor_notes: dict[str, str] = field(default_factory=dict)  # music metric -> why no verdict
    generation_s: float | None = None  # wall time of generating `clips` (the first includes tracing)

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics for tracking, keyed as in `harness.evaluation.catalogue`;
        None and non-finite values are left out."""
        values: dict[str, float] = {}
        for family, family_values in ((catalogue.EVAL, self.diagnosis.metrics),
                                      (catalogue.QUALITY, self.quality),
                                      (catalogue.DYNAMICS, self.dynamics),
                                      (catalogue.LIKELIHOOD, self.likelihood),
                                      (catalogue.MUSIC, self.music)):
            values.update(catalogue.keyed(family.name, family_values))
        if self.generation_s:
            values[catalogue.GENERATION_SPEED.key] = self.clips.size / self.generation_s
        return {
            key: float(value) for key, value in values.items()
            if isinstance(value, int | float | bool | np.number) and value is not None
            and math.isfinite(float(value))
        }


class TrainingObserver:
    """Receives what training produces. The default does nothing; subclasses track or prune."""

    def on_metrics(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        """Per-step scalar metrics of `phase` at its own step counter."""

    def on_evaluation(self, evaluation: Evaluation) -> None:
        """A finished evaluation; may raise `StopTraining` to end the run early."""

    def on_checkpoint(self, phase: str, step: int) -> None:
        """A checkpoint was written."""


@dataclass
class TrainingResult:
    model: Any  # models.sample_gan.SampleGAN
    history: dict[str, list[float]]
    evaluations: list[Evaluation]
    stopped_early: str | None = None
    steps: dict[str, int] = field(default_factory=dict)
    music_status: str = ""  # `MusicPlan.status`: whether and why music metrics were computed


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
