"""The training loop on the built-in corpus: what changes, what stays frozen, resume, budgets."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path

import mlflow
import numpy as np
import pytest

from harness.common import signals as stopping
from harness.data.corpus import synthesize_dataset
from harness.data.loader import load_dataset
from harness.training.events import RunOptions, TrainingObserver
from harness.training.schedule import evaluation_count, phase_totals
from harness.training.trainer import Trainer
from models.errors import SampleGanError
from models.registry import resolve

pytestmark = pytest.mark.slow


def weights(model) -> list[np.ndarray]:
    return [w.numpy().copy() for w in model.weights]


def same(a: list[np.ndarray], b: list[np.ndarray], atol: float = 0.0) -> bool:
    return all(np.allclose(x, y, atol=atol, rtol=0) for x, y in zip(a, b, strict=True))


class SnapshotAtPhaseEnd(TrainingObserver):
    """Copies every net's weights when a phase writes its closing checkpoint."""

    def __init__(self, trainer_ref: list):
        self.trainer_ref = trainer_ref
        self.snapshots: dict[str, dict[str, list[np.ndarray]]] = {}

    def on_checkpoint(self, phase: str, step: int) -> None:
        model = self.trainer_ref[0].model
        self.snapshots[phase] = {name: weights(getattr(model, name))
                                 for name in ("encoder", "decoder", "generator", "discriminator")}


class InterruptAtGanStep(TrainingObserver):
    def __init__(self, step: int):
        self.step = step

    def on_metrics(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        if phase == "gan" and step == self.step:
            raise KeyboardInterrupt


class CtrlCAtGanStep(TrainingObserver):
    """Presses Ctrl-C (a real SIGINT to this process) while GAN step `step` is recorded."""

    def __init__(self, step: int):
        self.step = step

    def on_metrics(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        if phase == "gan" and step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def stop_handlers():
    """The command line's Ctrl-C handling (stop at the next safe point), undone afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping.install_stop_handlers()
    yield
    stopping._requested.clear()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture(scope="module")
def config(tiny_training):
    return resolve("paper", {**tiny_training, "gan_steps": 4, "ae_steps": 3})


@pytest.fixture(scope="module")
def straight_run(config, tiny_corpus, tmp_path_factory):
    """One uninterrupted tiny run, with weight snapshots at the end of each phase."""
    holder: list = []
    observer = SnapshotAtPhaseEnd(holder)
    trainer = Trainer(config, load_dataset(tiny_corpus), tmp_path_factory.mktemp("straight"),
                      observer, RunOptions(seed=3, progress=False, checkpoint_every_s=0))
    holder.append(trainer)
    result = trainer.run()
    return trainer, result, observer.snapshots


def test_gan_training_changes_generator_and_discriminator_with_finite_losses(straight_run):
    trainer, result, snapshots = straight_run
    assert result.steps == {"autoencoder": 3, "pretrain": 0, "gan": 4}
    for key in ("gan/d_loss", "gan/g_loss", "gan/g_grad_norm", "gan/d_grad_norm"):
        assert len(result.history[key]) == 4
        assert all(math.isfinite(value) for value in result.history[key])
    assert min(result.history["gan/g_grad_norm"]) > 0.0
    after_autoencoder = snapshots["autoencoder"]
    assert not same(after_autoencoder["generator"], weights(trainer.model.generator))
    assert not same(after_autoencoder["discriminator"], weights(trainer.model.discriminator))


def test_the_encoder_is_frozen_during_gan_training(straight_run):
    trainer, _, snapshots = straight_run
    assert same(snapshots["autoencoder"]["encoder"], weights(trainer.model.encoder))
    assert same(snapshots["autoencoder"]["decoder"], weights(trainer.model.decoder))


def test_evaluations_follow_the_schedule(straight_run):
    trainer, result, _ = straight_run
    assert [e.step for e in result.evaluations] == [2, 4]
    # What `study plan` extrapolates to is what the run did.
    assert result.steps == phase_totals(trainer.config, trainer.dataset)
    assert len(result.evaluations) == evaluation_count(trainer.config)
    last = result.evaluations[-1]
    assert last.clips.shape == (2, 256)
    assert set(last.diagnosis.metrics) >= {"collapsed_share", "share_healthy", "diversity_lsd_db"}
    assert last.quality["mr_lsd_db"] > 0.0


def test_an_interrupted_run_resumes_from_its_checkpoint(straight_run, config, tiny_corpus, tmp_path):
    trainer, _, _ = straight_run
    dataset = load_dataset(tiny_corpus)
    options = RunOptions(seed=3, progress=False, checkpoint_every_s=0)
    interrupted = Trainer(config, dataset, tmp_path, InterruptAtGanStep(2), options)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    resumed = Trainer(config, dataset, tmp_path, None, options)
    assert resumed.resumed_from is not None
    assert int(resumed.steps["gan"].numpy()) == 2
    result = resumed.run()
    assert result.steps["gan"] == 4
    assert len(result.history["gan/d_loss"]) == 4  # the history came back with the checkpoint
    # batches and random numbers derive from (seed, phase, step): same weights as never stopping
    for name in ("generator", "discriminator", "encoder"):
        assert same(weights(getattr(trainer.model, name)), weights(getattr(resumed.model, name)),
                    atol=1e-5), name


def test_ctrl_c_checkpoints_where_it_stops_and_redoes_the_evaluation_it_cut_short(
        straight_run, config, tiny_corpus, tmp_path, stop_handlers):
    trainer, _, _ = straight_run
    dataset = load_dataset(tiny_corpus)
    options = RunOptions(seed=3, progress=False)  # no timed checkpoint in a run this short
    interrupted = Trainer(config, dataset, tmp_path, CtrlCAtGanStep(1), options)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run()
    # GAN step 1 finished, then the stop took effect before the evaluation at step 2.
    assert interrupted.position() == "gan step 2" and interrupted.evaluated_steps == []
    stopping._requested.clear()
    resumed = Trainer(config, dataset, tmp_path, None, options)
    assert resumed.position() == "gan step 2"  # not the autoencoder's closing checkpoint
    result = resumed.run()
    assert [e.step for e in result.evaluations] == [2, 4]
    for name in ("generator", "discriminator"):
        assert same(weights(getattr(trainer.model, name)), weights(getattr(resumed.model, name)),
                    atol=1e-5), name


def test_a_dataset_of_another_shape_is_refused_before_any_run(tiny_corpus, tiny_training, store):
    from harness.runs.train import TrainRequest, tracked_training
    from harness.tracking.store import TrackingStore

    tracking = TrackingStore.open()
    with pytest.raises(SampleGanError, match=r"n=32 at 16000 Hz but the variant needs n=64"):
        tracked_training(tracking, TrainRequest(experiment="refused", variant="paper",
                                                overrides={**tiny_training, "n": 64},
                                                dataset=tiny_corpus))
    assert tracking.client().get_experiment_by_name("refused") is None


def test_the_time_budget_stops_early_but_still_evaluates(config, tiny_corpus, tmp_path):
    trainer = Trainer(config, load_dataset(tiny_corpus), tmp_path, None,
                      RunOptions(seed=0, progress=False, max_minutes=0.0))
    result = trainer.run()
    assert result.stopped_early and "time budget" in result.stopped_early
    assert result.steps["gan"] == 0 and len(result.evaluations) == 1


@pytest.mark.parametrize("generator", ["stateless", "stateful"])
def test_teacher_forcing_trains_only_the_generator(generator, tiny_training, tmp_path):
    synthesize_dataset(tmp_path / "short", seconds=0.4, sample_rate_hz=16000, n=32, pieces=2,
                       holdout_fraction=0.5, seed=1, force=False)
    dataset = load_dataset(tmp_path / "short")
    config = resolve("teacher-forced", {**tiny_training, "pretrain_epochs": 1, "gan_steps": 0,
                                        "generator": generator})
    holder: list = []
    observer = SnapshotAtPhaseEnd(holder)
    trainer = Trainer(config, dataset, tmp_path / "work", observer, RunOptions(progress=False))
    holder.append(trainer)
    result = trainer.run()
    steps = len(dataset.train) // config.batch_size  # one epoch predicts about the split
    assert steps > 5 and result.steps["pretrain"] == steps
    assert result.steps == phase_totals(config, dataset)
    losses = result.history["pretrain/teacher_loss"]
    assert len(losses) == steps and all(math.isfinite(v) for v in losses)
    before, after = observer.snapshots["autoencoder"], observer.snapshots["pretrain"]
    assert not same(before["generator"], after["generator"])
    assert same(before["discriminator"], after["discriminator"])
    assert same(before["encoder"], after["encoder"])


def test_a_stateless_generator_teacher_forces_sequences_shorter_than_its_window(
        cli, store, tiny_corpus, tiny_set_args):
    # Issue 25: pretrain_length < n drew targets past the sequence and crashed inside TF.
    completed = cli("train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
                    "--set", "pretrain_length=8", "--set", "pretrain_steps=2", "--set", "gan_steps=0")
    assert completed.returncode == 0, completed.stderr
    assert "Traceback" not in completed.stderr
    run_id = completed.stdout.strip().splitlines()[-1]
    client = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    losses = client.get_metric_history(run_id, "pretrain/teacher_loss")
    assert losses and all(math.isfinite(m.value) for m in losses)
    # A run without GAN steps says when it was evaluated in teacher-forced steps, not "GAN step 0".
    assert "final evaluation after 2 teacher-forced steps: " in completed.stderr
    page = Path(client.download_artifacts(run_id, "final/index.html")).read_text()
    assert "<h2>Generated clips after 2 teacher-forced steps</h2>" in page
    assert "GAN step 0" not in page


def test_teacher_batches_are_the_same_crops_negated_and_scaled_when_augmented(tiny_training, tiny_corpus,
                                                                              tmp_path):
    dataset = load_dataset(tiny_corpus)
    plain_config = resolve("teacher-forced", {**tiny_training, "pretrain_epochs": 0, "pretrain_steps": 2, "gan_steps": 0})
    augmented_config = resolve("teacher-forced", {**tiny_training, "pretrain_epochs": 0, "pretrain_steps": 2, "gan_steps": 0,
                                                  "teacher_polarity_flip": True, "teacher_gain_db": 6.0})
    batches = []
    for name, config in (("plain", plain_config), ("augmented", augmented_config)):
        trainer = Trainer(config, dataset, tmp_path / name, TrainingObserver(), RunOptions(progress=False))
        batches.append([trainer._teacher_audio(trainer._rng("pretrain", step)) for step in range(8)])
        assert trainer.run().steps["pretrain"] == 2  # and a run with it trains
    plain, augmented = np.concatenate(batches[0]), np.concatenate(batches[1])
    factors = augmented[:, 0] / plain[:, 0]
    np.testing.assert_allclose(augmented, plain * factors[:, None], rtol=1e-5, atol=1e-7)
    assert (factors < 0).any() and (factors > 0).any()
    assert (np.abs(20 * np.log10(np.abs(factors))) <= 6.0 + 1e-4).all()
    assert not np.allclose(np.abs(factors), 1.0)
    with pytest.raises(SampleGanError, match="teacher_gain_db must be >= 0"):
        resolve("teacher-forced", {**tiny_training, "teacher_gain_db": -1.0})


def test_carried_teacher_forcing_continues_each_excerpt_and_resumes_mid_excerpt(tiny_training,
                                                                               tiny_corpus, tmp_path):
    dataset = load_dataset(tiny_corpus)
    config = resolve("frame-tier-fix", {**tiny_training, "ae_steps": 0, "gan_steps": 0,
                                        "pretrain_steps": 5, "teacher_chunks": 3,
                                        "pretrain_length": 16, "teacher_warmup": 0,
                                        "frame_size": 4})
    trainer = Trainer(config, dataset, tmp_path / "work", TrainingObserver(), RunOptions(progress=False))
    generator = trainer.model.generator
    excerpts = {first: trainer._teacher_audio(trainer._rng("pretrain", first)) for first in (0, 3)}
    assert excerpts[0].shape == (4, 4 + 3 * 16)
    carried = generator.zero_state(4)
    for step in range(4):  # chunks 0, 1, 2 of the first excerpt, then chunk 0 of the next
        first, chunk = step - step % 3, step % 3
        start = generator.zero_state(4) if chunk == 0 else carried
        _, expected = generator.carried_loss(excerpts[first][:, chunk * 16: chunk * 16 + 20], start)
        trainer.pretrain_batch_step(step)
        carried = tuple(variable.numpy() for variable in trainer._carried)
        for got, want in zip(carried, expected, strict=True):
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-6)
        assert np.abs(carried[1]).max() > 1e-3  # a real state, not the zeros it started from
    trainer.steps["pretrain"].assign(4)
    trainer.save_checkpoint("pretrain")  # mid-excerpt: chunk 1 of the excerpt drawn at step 3

    resumed = Trainer(config, dataset, tmp_path / "work", TrainingObserver(), RunOptions(progress=False))
    for got, want in zip(resumed._carried, carried, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)
    result = resumed.run()
    # The steps above ran outside `run`, so only the resumed one is in the history.
    assert result.steps["pretrain"] == 5 and len(result.history["pretrain/teacher_loss"]) == 1
    assert resumed._excerpt[0] == 3  # the excerpt the interrupted run was in, drawn again


def test_an_excerpt_longer_than_the_training_audio_is_refused_before_any_run(tiny_training, tiny_corpus):
    from harness.training.schedule import check_dataset

    dataset = load_dataset(tiny_corpus)  # 2 s pieces: no 3,000 x 16 contiguous samples
    config = resolve("frame-tier-fix", {**tiny_training, "pretrain_steps": 5, "teacher_chunks": 3000,
                                        "pretrain_length": 16, "teacher_warmup": 0, "frame_size": 4})
    with pytest.raises(SampleGanError, match=r"teacher forcing needs 48004 contiguous samples .*"
                                             r"teacher_chunks x pretrain_length"):
        check_dataset(config, dataset)
    check_dataset(resolve("frame-tier-fix", {**tiny_training, "pretrain_steps": 5, "teacher_chunks": 30,
                                             "pretrain_length": 16, "teacher_warmup": 0, "frame_size": 4}),
                  dataset)  # 484 samples fit
