"""The training loop: autoencoder, optional teacher forcing, then the GAN, with evaluations.

Reads a dataset and a resolved config, writes checkpoints to a work folder and reports
to a `TrainingObserver` (tracking, pruning); it knows nothing of MLflow or Optuna.
Every step's randomness is derived from (seed, phase, step), so a run resumed from a
checkpoint draws the same batches it would have drawn without the interruption.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from harness.common.signals import Terminated, raise_if_stop_requested
from harness.data.evaluation_audio import evaluation_segments, reference_clips
from harness.data.loader import Dataset, augment_crops
from harness.evaluation.diagnostics import diagnose_batch
from harness.evaluation.dynamics import diagnose_training, gan_history
from harness.evaluation.likelihood import (
    PROBE_CLIPS,
    STATELESS_POSITIONS,
    LikelihoodProbe,
    baselines,
    likelihood_metrics,
    make_probe,
)
from harness.evaluation.quality import ReferenceSet, quality_metrics
from harness.training.events import (
    PHASES,
    Evaluation,
    RunOptions,
    StopTraining,
    TrainingDiverged,
    TrainingObserver,
    TrainingResult,
)
from harness.training.generation import evaluation_clips
from harness.training.schedule import music_plan, phase_totals
from models.config import SampleGANConfig
from models.parts import part
from models.sample_gan import SampleGAN, set_global_seed

SEED_BANK_SEGMENTS = 64  # real segments exported with the model for `samplegan generate`


def gan_step_seeds(seed: tf.Tensor) -> tf.Tensor:
    """The stateless-RNG seeds of one GAN step's parts, split from the step's (2,) seed.

    Returns:
        (4, 2) int seeds, in order: the seed window and the generation of
        `Trainer.fake_sequences`, the gradient penalty of `Trainer.discriminator_update`,
        the replayed positions of `Trainer.generator_update`.
    """
    return tf.random.experimental.stateless_split(seed, 4)


def _finite(metrics: dict[str, float], phase: str, step: int) -> None:
    for key, value in metrics.items():
        if not math.isfinite(value):
            raise TrainingDiverged(f"{key} became {value} at {phase} step {step}")


class Trainer:
    """Runs the three phases of one Sample-GAN training run, resumably."""

    def __init__(self, config: SampleGANConfig, dataset: Dataset, work_dir: Path,
                 observer: TrainingObserver | None = None, options: RunOptions | None = None):
        """`dataset` must fit `config`: entry points (`tracked_training`, `samplegan train`,
        `study plan`) check it with `check_dataset` once, before anything is created."""
        self.config = config
        self.dataset = dataset
        self.work_dir = Path(work_dir)
        self.observer = observer or TrainingObserver()
        self.options = options or RunOptions()
        set_global_seed(self.options.seed)
        self.model = SampleGAN(config)
        self._build_optimizers()
        self.steps = {phase: tf.Variable(0, dtype=tf.int64, name=f"{phase}_step")
                      for phase in PHASES}
        self.history: dict[str, list[float]] = {}
        self.evaluations: list[Evaluation] = []
        self.evaluated_steps: list[int] = []  # GAN steps evaluated, this attempt and earlier ones
        self._running_phase: str | None = None
        # False while a step has updated weights but not yet its counter: a checkpoint then
        # would repeat that step on resume (a second Ctrl-C raises anywhere, even there).
        self._consistent = True
        # Truncated BPTT over long excerpts: the LSTM state the next chunk starts from, kept
        # in the checkpoint so a resumed run continues its excerpt (only when on, so
        # checkpoints of runs without it stay as they were).
        self._carried = ([tf.Variable(zeros, trainable=False, name=f"carried_{i}") for i, zeros
                          in enumerate(self.model.generator.zero_state(config.batch_size))]
                         if config.teacher_chunks > 1 else [])
        self._excerpt: tuple[int, np.ndarray] | None = None  # (first step, excerpt) in use
        self.checkpoint = tf.train.Checkpoint(
            encoder=self.model.encoder, decoder=self.model.decoder,
            generator=self.model.generator, discriminator=self.model.discriminator,
            opt_autoencoder=self.opt_autoencoder, opt_teacher=self.opt_teacher,
            opt_generator=self.opt_generator, opt_discriminator=self.opt_discriminator,
            **{f"step_{phase}": variable for phase, variable in self.steps.items()},
            **{f"carried_{i}": variable for i, variable in enumerate(self._carried)},
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.work_dir / "checkpoints",
                                                  max_to_keep=2)
        self.resumed_from: str | None = None
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            self.resumed_from = self.manager.latest_checkpoint
            history_file = self.work_dir / "history.json"
            if history_file.exists():
                self.history = json.loads(history_file.read_text())
            evaluated_file = self.work_dir / "evaluated_steps.json"
            if evaluated_file.exists():
                self.evaluated_steps = json.loads(evaluated_file.read_text())
        self._compile_steps()
        self._eval_real = evaluation_segments(dataset, self.options.seed)
        self._quality_reference = ReferenceSet(
            reference_clips(dataset, config.eval_length, self._eval_real), config.sample_rate)
        self.music = music_plan(config, dataset, self.options.seed)  # its reference is built lazily
        self._probe, self._probe_baselines = self._likelihood_probe()
        self._started = time.monotonic()
        self._last_checkpoint = time.monotonic()

    # --- set-up ---------------------------------------------------------------------
    def _build_optimizers(self) -> None:
        import keras

        c = self.config
        adam = dict(beta_1=c.adam_beta1, beta_2=c.adam_beta2)
        self.opt_autoencoder = keras.optimizers.Adam(c.lr_autoencoder)
        clip = dict(global_clipnorm=c.clip_norm) if c.clip_norm else {}
        self.opt_teacher = keras.optimizers.Adam(c.lr_pretrain, beta_1=c.pretrain_beta1,
                                                 beta_2=c.adam_beta2, **clip)
        self.opt_generator = keras.optimizers.Adam(c.lr_generator, **adam, **clip)
        self.opt_discriminator = keras.optimizers.Adam(c.lr_discriminator, **adam)
        autoencoder_vars = self.model.encoder.trainable_variables + self.model.decoder.trainable_variables
        self.opt_autoencoder.build(autoencoder_vars)
        self.opt_teacher.build(self.model.generator.trainable_variables)
        self.opt_generator.build(self.model.generator.trainable_variables)
        self.opt_discriminator.build(self.model.discriminator.trainable_variables)

    def _compile_steps(self) -> None:
        self._ae_step = tf.function(self._autoencoder_step, reduce_retracing=True)
        self._teacher_step = tf.function(self._pretrain_step, reduce_retracing=True)
        self._carried_step = tf.function(self._carried_pretrain_step, reduce_retracing=True)
        self._adversarial_step = tf.function(self._gan_step, reduce_retracing=True)

    def _likelihood_probe(self) -> tuple[LikelihoodProbe | None, dict[str, float]]:
        """Held-out clips of 2n samples the likelihood is measured on, and their baselines.

        Train clips stand in (with a warning) when nothing is held out; no clips at all
        (no two adjacent segments) leaves the likelihood unmeasured.
        """
        c = self.config
        length = 2 * c.n
        split = "holdout"
        clips = self.dataset.contiguous_clips("holdout", length, PROBE_CLIPS)
        if len(clips) < 2:
            split = "train"
            clips = self.dataset.contiguous_clips("train", length, PROBE_CLIPS)
            if len(clips):
                print(f"warning: {self.dataset.path} holds no {length} contiguous held-out "
                      "samples; the likelihood is measured on train audio", file=sys.stderr)
        train = self.dataset.contiguous_clips("train", length, 8 * PROBE_CLIPS)
        if len(clips) < 1 or len(train) < 2:
            return None, {}
        # A family that re-runs the whole window per prediction scores a few per clip.
        per_clip = STATELESS_POSITIONS if part("generator", c.generator).reruns_window else None
        probe = make_probe(clips, c.n, split, per_clip)
        return probe, baselines(probe, train, c.output_head, c.mulaw_channels)

    def heldout_likelihood(self) -> dict[str, float]:
        """The `likelihood/*` metrics of the generator now (empty when there is no probe)."""
        if self._probe is None:
            return {}
        if not hasattr(self, "_loss_at"):
            self._loss_at = tf.function(self.model.generator.loss_at, reduce_retracing=True)
        positions = tf.constant(self._probe.positions, tf.int32)
        chunk = 16
        total = 0.0
        for start in range(0, len(self._probe.audio), chunk):
            audio = tf.constant(self._probe.audio[start:start + chunk])
            total += float(self._loss_at(audio, positions)) * int(audio.shape[0])
        return likelihood_metrics(total / len(self._probe.audio), self._probe_baselines,
                                  self.config.output_head)

    # --- compiled steps ---------------------------------------------------------------
    def _autoencoder_step(self, segments):
        variables = self.model.encoder.trainable_variables + self.model.decoder.trainable_variables
        with tf.GradientTape() as tape:
            reconstruction = self.model.autoencode(segments, training=True)
            loss = tf.reduce_mean(tf.square(reconstruction - segments))
        self.opt_autoencoder.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return {"reconstruction_mse": loss}

    def _teacher_update(self, loss_of):
        """One teacher-forcing update of the generator on `loss_of()` -> (loss, extra):
        returns extra and the step's metrics."""
        variables = self.model.generator.trainable_variables
        with tf.GradientTape() as tape:
            loss, extra = loss_of()
        grads = tape.gradient(loss, variables)
        self.opt_teacher.apply_gradients(zip(grads, variables, strict=True))
        return extra, {"teacher_loss": loss, "grad_norm": tf.linalg.global_norm(grads)}

    def _pretrain_step(self, audio, seed):
        _, metrics = self._teacher_update(
            lambda: (self.model.generator.teacher_loss(audio, seed), None))
        return metrics

    def _carried_pretrain_step(self, audio, reset):
        """A teacher-forced step on one chunk from the carried state (zeros when `reset`)."""
        state = tuple(tf.where(reset, tf.zeros_like(v), v) for v in self._carried)
        state, metrics = self._teacher_update(
            lambda: self.model.generator.carried_loss(audio, state))
        for variable, value in zip(self._carried, state, strict=True):
            variable.assign(tf.stop_gradient(value))
        return metrics

    def _gan_step(self, real, seed_segments, seed):
        seeds = gan_step_seeds(seed)
        seed_window, fake, fed = self.fake_sequences(seed_segments, seeds[0], seeds[1])
        d_metrics = self.discriminator_update(real, fake, seeds[2])
        g_metrics = self.generator_update(seed_window, fake, fed, seeds[3])
        return {  # the first three show on the progress bar
            "d_loss": d_metrics["d_loss"], "g_loss": g_metrics["g_loss"],
            "d_acc_fake": d_metrics["d_acc_fake"], "d_acc_real": d_metrics["d_acc_real"],
            "gradient_penalty": d_metrics["gradient_penalty"],
            "g_grad_norm": g_metrics["g_grad_norm"], "d_grad_norm": d_metrics["d_grad_norm"],
            "fake_rms": tf.sqrt(tf.reduce_mean(tf.square(fake))),
        }

    # The three parts of a GAN step, also timed one by one by `samplegan bench train`.
    def fake_sequences(self, seed_segments, window_seed, generation_seed):
        """Generate the step's fake batch without a tape.

        Args:
            seed_segments: (B, n) real segments the seed source starts from.
            window_seed, generation_seed: (2,) int stateless-RNG seeds.

        Returns:
            seed windows (B, n), generated samples (B, L) and fed-back samples (B, L).
        """
        seed_window = self.model.seed_source.window(seed_segments, window_seed)  # encoder frozen
        fake, fed = self.model.generator.generate(seed_window, self.config.gen_length,
                                                  generation_seed, self.config.feedback_noise)
        return seed_window, tf.stop_gradient(fake), fed

    def discriminator_update(self, real, fake, penalty_seed) -> dict[str, tf.Tensor]:
        """One optimiser step of the discriminator on real (B, L) and fake (B, L) sequences."""
        model, discriminator = self.model, self.model.discriminator
        with tf.GradientTape() as tape:
            # One pass over real and generated together: one LSTM graph to trace, not two.
            scores = discriminator(tf.concat([real, fake], axis=0), training=True)
            real_scores, fake_scores = tf.split(scores, 2)
            penalty = model.loss.penalty(discriminator, real, fake, penalty_seed)
            d_loss = model.loss.discriminator(real_scores, fake_scores) + penalty
        d_vars = discriminator.trainable_variables
        d_grads = tape.gradient(d_loss, d_vars)
        self.opt_discriminator.apply_gradients(zip(d_grads, d_vars, strict=True))
        return {
            "d_loss": d_loss, "gradient_penalty": penalty,
            "d_acc_fake": tf.reduce_mean(tf.cast(fake_scores < 0, tf.float32)),
            "d_acc_real": tf.reduce_mean(tf.cast(real_scores > 0, tf.float32)),
            "d_grad_norm": tf.linalg.global_norm(d_grads),
        }

    def generator_update(self, seed_window, fake, fed, replay_seed) -> dict[str, tf.Tensor]:
        """One optimiser step of the generator through the straight-through replay.

        Args:
            seed_window: (B, n) windows the fake sequences started from.
            fake, fed: (B, L) generated and fed-back samples (`fake_sequences`).
            replay_seed: (2,) int stateless-RNG seed of the replayed positions.
        """
        generator = self.model.generator
        with tf.GradientTape() as tape:
            positions, relaxed = generator.replay_relaxed(seed_window, fed, replay_seed)
            # Straight-through: the value stays the generated sample, the gradient is the
            # replayed one; positions not replayed carry no generator gradient.
            scatter = tf.one_hot(positions, tf.shape(fake)[1])  # (K, L)
            fake_st = fake + tf.matmul(relaxed - tf.stop_gradient(relaxed), scatter)
            g_loss = self.model.loss.generator(self.model.discriminator(fake_st, training=True))
        g_vars = generator.trainable_variables
        g_grads = tape.gradient(g_loss, g_vars)
        self.opt_generator.apply_gradients(zip(g_grads, g_vars, strict=True))
        return {"g_loss": g_loss, "g_grad_norm": tf.linalg.global_norm(g_grads)}

    # --- batches ------------------------------------------------------------------------
    def _rng(self, phase: str, step: int) -> np.random.Generator:
        return np.random.default_rng([self.options.seed, PHASES.index(phase), step])

    def _tf_seed(self, phase: str, step: int) -> tf.Tensor:
        return tf.constant([self.options.seed * 3 + PHASES.index(phase), step], tf.int32)

    def _segments(self, rng: np.random.Generator, count: int) -> np.ndarray:
        rows = np.sort(rng.integers(0, len(self.dataset.train), size=count))
        return np.asarray(self.dataset.train[rows], np.float32)  # (count, n)

    def _real_sequences(self, rng: np.random.Generator) -> np.ndarray:
        """Real discriminator inputs (B, L): random crops of L <= n samples."""
        segments = self._segments(rng, self.config.batch_size)
        length = self.config.gen_length
        offsets = rng.integers(0, self.config.n - length + 1, size=len(segments))
        index = offsets[:, None] + np.arange(length)[None, :]
        return np.take_along_axis(segments, index, axis=1)

    def _teacher_audio(self, rng: np.random.Generator) -> np.ndarray:
        """(B, n + pretrain_length) contiguous train samples at random positions, augmented as
        `teacher_polarity_flip` and `teacher_gain_db` say (each draws from `rng` only when on,
        so runs without them see the same batches as before they existed)."""
        crops = self.dataset.random_crops("train", self.config.teacher_length,
                                          self.config.batch_size, rng)
        return augment_crops(crops, rng, self.config.teacher_polarity_flip,
                             self.config.teacher_gain_db)

    # --- bookkeeping ----------------------------------------------------------------------
    def _out_of_time(self) -> bool:
        budget = self.options.max_minutes
        return budget is not None and (time.monotonic() - self._started) > 60.0 * budget

    def _record(self, phase: str, step: int, values: dict[str, tf.Tensor]) -> dict[str, float]:
        metrics = {key: float(value) for key, value in values.items()}
        _finite(metrics, phase, step)
        for key, value in metrics.items():
            self.history.setdefault(f"{phase}/{key}", []).append(value)
        self.observer.on_metrics(phase, step, {f"{phase}/{k}": v for k, v in metrics.items()})
        return metrics

    def position(self) -> str:
        """Where training stands, e.g. ``gan step 44``: the latest phase with completed steps."""
        done = {phase: int(variable.numpy()) for phase, variable in self.steps.items()}
        phase = next((phase for phase in reversed(PHASES) if done[phase]), PHASES[0])
        return f"{phase} step {done[phase]}"

    def save_checkpoint(self, phase: str) -> None:
        self.manager.save()
        (self.work_dir / "history.json").write_text(json.dumps(self.history))
        (self.work_dir / "evaluated_steps.json").write_text(json.dumps(self.evaluated_steps))
        self._last_checkpoint = time.monotonic()
        self.observer.on_checkpoint(phase, int(self.steps[phase].numpy()))

    def _maybe_checkpoint(self, phase: str) -> None:
        if time.monotonic() - self._last_checkpoint >= self.options.checkpoint_every_s:
            self.save_checkpoint(phase)

    def _phase(self, phase: str, total: int, step_fn: Callable[[int], dict[str, tf.Tensor]],
               after_step: Callable[[int], None] | None = None) -> bool:
        """Run `phase` up to `total` steps; False when the time budget ran out."""
        counter = self.steps[phase]
        done = int(counter.numpy())
        if done >= total:
            return True
        bar = tqdm(total=total, initial=done, desc=phase, file=sys.stderr, unit="step",
                   disable=not self.options.progress, dynamic_ncols=True, leave=True)
        self._running_phase = phase
        try:
            for step in range(done, total):
                raise_if_stop_requested()  # Ctrl-C / SIGTERM take effect between steps
                if self._out_of_time():
                    self.save_checkpoint(phase)  # `--resume` continues from this very step
                    return False
                self._consistent = False
                metrics = self._record(phase, step, step_fn(step))
                counter.assign(step + 1)
                self._consistent = True
                bar.update(1)
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(metrics.items())[:3]}, refresh=False)
                if after_step:
                    after_step(step + 1)
                self._maybe_checkpoint(phase)
        finally:
            bar.close()
        self.save_checkpoint(phase)
        return True

    # --- evaluation ---------------------------------------------------------------------
    def evaluate(self) -> Evaluation:
        """Generate `eval_clips` clips from fixed held-out seeds; diagnose and measure them
        (quality, likelihood, and music when `self.music` computes it)."""
        raise_if_stop_requested()
        c = self.config
        step = int(self.steps["gan"].numpy())
        started = time.perf_counter()
        clips = evaluation_clips(self.model, self._eval_real[: c.eval_clips], c.eval_length,
                                 self.options.seed)
        generation_s = time.perf_counter() - started
        music, music_floor_notes = self.music.measure(clips)
        evaluation = Evaluation(
            step=step, sample_rate_hz=c.sample_rate, n=c.n, clips=clips,
            diagnosis=diagnose_batch(list(clips), c.sample_rate, c.n),
            quality=quality_metrics(list(clips), self._quality_reference, c.sample_rate,
                                    seed=self.options.seed),
            dynamics=diagnose_training(gan_history(self.history)),
            likelihood=self.heldout_likelihood(),
            music=music, music_floor_notes=music_floor_notes,
            generation_s=generation_s, teacher_steps=int(self.steps["pretrain"].numpy()),
        )
        self.evaluations.append(evaluation)
        if step not in self.evaluated_steps:
            self.evaluated_steps.append(step)
        self.observer.on_evaluation(evaluation)
        return evaluation

    # --- the run --------------------------------------------------------------------------
    def run(self) -> TrainingResult:
        """Every phase to its `phase_totals` step count (GAN evaluations on schedule), then a
        final evaluation unless the last GAN step had one."""
        stopped: str | None = None
        totals = phase_totals(self.config, self.dataset)
        try:
            finished = True
            for phase, total in totals.items():
                if not finished:
                    break
                done = int(self.steps[phase].numpy())
                if phase == "gan" and 0 < done < total and done not in self.evaluated_steps:
                    self._evaluate_on_schedule(done)  # one an interruption cut short
                finished = self._phase(phase, total, self.phase_step(phase),
                                       after_step=self._after_step(phase))
            if not finished:
                phase = self._running_phase  # the phase the budget cut short
                stopped = (f"time budget of {self.options.max_minutes:g} min reached at {phase} "
                           f"step {int(self.steps[phase].numpy())} of {totals[phase]}")
            if not self.evaluations or self.evaluations[-1].step != int(self.steps["gan"].numpy()):
                self.evaluate()
        except StopTraining:
            self.save_checkpoint("gan")
            raise
        except (KeyboardInterrupt, Terminated):
            if self._running_phase is not None and self._consistent:
                self.save_checkpoint(self._running_phase)  # resume here, not at the last one
            raise
        return self._result(stopped)

    def phase_step(self, phase: str) -> Callable[[int], dict[str, tf.Tensor]]:
        """The step function of `phase` (one of `PHASES`) as `run` calls it: step index -> metrics.

        `samplegan study plan` times these same functions.
        """
        return {"autoencoder": self.autoencoder_batch_step, "pretrain": self.pretrain_batch_step,
                "gan": self.gan_batch_step}[phase]

    def autoencoder_batch_step(self, step: int) -> dict[str, tf.Tensor]:
        """Autoencoder step `step`: reconstruction MSE on a batch of (B, n) training segments."""
        segments = self._segments(self._rng("autoencoder", step), self.config.batch_size)
        return self._ae_step(segments)

    def pretrain_batch_step(self, step: int) -> dict[str, tf.Tensor]:
        """Teacher-forced step `step` on (B, n + pretrain_length) contiguous training audio,
        or, with `teacher_chunks` = K > 1, on chunk step % K of the excerpts drawn at step
        step - step % K, from the state the previous chunk ended in."""
        chunks = self.config.teacher_chunks
        if chunks == 1:
            audio = self._teacher_audio(self._rng("pretrain", step))
            return self._teacher_step(audio, self._tf_seed("pretrain", step))
        first, chunk = step - step % chunks, step % chunks
        if self._excerpt is None or self._excerpt[0] != first:
            self._excerpt = (first, self._teacher_audio(self._rng("pretrain", first)))
        length = self.config.pretrain_length
        audio = self._excerpt[1][:, chunk * length: (chunk + 1) * length + self.config.chunk_context]
        return self._carried_step(tf.constant(audio), tf.constant(chunk == 0))

    def _after_step(self, phase: str) -> Callable[[int], None] | None:
        """What runs after each step of `phase`: GAN evaluations, the pretraining learning curve."""
        return {"pretrain": self._pretrain_likelihood_on_schedule,
                "gan": self._evaluate_on_schedule}.get(phase)

    def gan_batch(self, step: int) -> tuple[np.ndarray, np.ndarray, tf.Tensor]:
        """The inputs of GAN step `step`: real sequences (B, L), seed segments (B, n), seed (2,)."""
        rng = self._rng("gan", step)
        real = self._real_sequences(rng)
        seed_segments = self._segments(rng, self.config.batch_size)
        return real, seed_segments, self._tf_seed("gan", step)

    def gan_batch_step(self, step: int) -> dict[str, tf.Tensor]:
        """GAN step `step`: both updates, compiled (XLA generation loop unless it cannot compile)."""
        args = self.gan_batch(step)
        generator = self.model.generator
        try:
            return self._adversarial_step(*args)
        except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                tf.errors.InternalError):
            if not generator.use_xla:
                raise
            # The XLA loop did not compile here (e.g. cuDNN LSTMs on a GPU): retrace without.
            generator.set_xla(False)
            self._compile_steps()
            return self._adversarial_step(*args)

    def _pretrain_likelihood_on_schedule(self, completed_steps: int) -> None:
        """Held-out loss every `eval_every` teacher-forced steps: the pretraining learning curve."""
        if completed_steps % self.config.eval_every == 0 and self._probe is not None:
            loss = self.heldout_likelihood()["teacher_loss"]
            self._record("pretrain", completed_steps - 1, {"heldout_loss": loss})

    def _evaluate_on_schedule(self, completed_steps: int) -> None:
        if completed_steps % self.config.eval_every == 0:
            self.evaluate()
            self.save_checkpoint("gan")

    def _result(self, stopped: str | None) -> TrainingResult:
        return TrainingResult(
            model=self.model, history=self.history, evaluations=self.evaluations,
            stopped_early=stopped, music_status=self.music.status,
            steps={phase: int(variable.numpy()) for phase, variable in self.steps.items()},
        )

    def seed_bank(self) -> np.ndarray:
        """Real segments shipped with the exported model, for `samplegan generate`."""
        return self._eval_real[:SEED_BANK_SEGMENTS]
