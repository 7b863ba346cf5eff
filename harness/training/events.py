"""The vocabulary shared by the training loop and whoever watches it (tracking, studies).

No TensorFlow here: the command line and the study's workers build observers without
paying for a TensorFlow import. What a run will do (its phases' steps, its evaluations, its
music plan) is `harness.training.schedule`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.evaluation import catalogue
from harness.evaluation.diagnostics import BatchDiagnosis
from models.errors import SampleGanError

PHASES = ("autoencoder", "pretrain", "gan")  # in the order `Trainer.run` trains them


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
    teacher_steps: int = 0  # teacher-forced (pretrain) steps done before it

    @property
    def moment(self) -> str:
        """When it was taken, as a reader would say it: "at GAN step 40", or "after 600
        teacher-forced steps" for a run evaluated before any GAN step (GAN off)."""
        if self.step == 0 and self.teacher_steps:
            return f"after {self.teacher_steps:,} teacher-forced steps"
        return f"at GAN step {self.step}"

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
