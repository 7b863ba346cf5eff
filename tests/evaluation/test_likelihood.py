"""Likelihood baselines: hand-worked values, SciPy, and what a real run logs."""

from __future__ import annotations

import math

import mlflow
import numpy as np
import pytest
import scipy.io.wavfile
import scipy.signal
import scipy.stats

from harness.evaluation.likelihood import (
    LinearPredictor,
    baselines,
    fit_linear_predictor,
    fit_lpc,
    likelihood_metrics,
    lpc_predict,
    make_probe,
    marginal_entropy_nats,
    mulaw_class_edges,
    mulaw_classes,
    prediction_errors,
)


def _ar2(seconds_samples: int, seed: int, gain_envelope: bool = True) -> np.ndarray:
    """An AR(2) resonance (a = 1.6, -0.8) driven by white noise, loud and quiet in turn."""
    rng = np.random.default_rng(seed)
    drive = rng.normal(size=seconds_samples)
    if gain_envelope:
        drive *= np.repeat(rng.uniform(0.1, 1.0, seconds_samples // 400 + 1), 400)[:seconds_samples]
    x = scipy.signal.lfilter([1.0], [1.0, -1.6, 0.8], drive)
    return (0.25 * x / np.abs(x).max()).astype(np.float32)


def test_mulaw_classes_match_the_model_encoder():
    from models.mulaw import mulaw_encode

    x = np.linspace(-1.0, 1.0, 4001, dtype=np.float32)
    np.testing.assert_array_equal(mulaw_classes(x), mulaw_encode(x).numpy())


def test_class_edges_separate_neighbouring_classes():
    edges = mulaw_class_edges(256)
    assert edges[0] == -np.inf and edges[-1] == np.inf and np.all(np.diff(edges) > 0)
    inner = edges[1:-1]
    below, above = mulaw_classes(inner - 1e-7), mulaw_classes(inner + 1e-7)
    np.testing.assert_array_equal(below, np.arange(255))
    np.testing.assert_array_equal(above, np.arange(1, 256))


def test_marginal_entropy_by_hand_and_scipy():
    assert marginal_entropy_nats(np.array([0, 0, 1, 1]), 256) == pytest.approx(math.log(2))
    assert marginal_entropy_nats(np.array([3, 3, 3]), 256) == 0.0
    classes = np.random.default_rng(0).integers(0, 40, size=5000)
    expected = scipy.stats.entropy(np.bincount(classes, minlength=256))
    assert marginal_entropy_nats(classes, 256) == pytest.approx(expected)


def test_lpc_by_hand():
    # x = [1, 2, 1]: r0 = 6, r1 = 4, r2 = 1. Order 1: a = r1 / r0. Order 2 solves
    # [[6, 4], [4, 6]] a = [4, 1]  ->  a = [1, -0.5].
    x = [np.array([1.0, 2.0, 1.0])]
    np.testing.assert_allclose(fit_lpc(x, 1), [4 / 6], rtol=1e-6)
    np.testing.assert_allclose(fit_lpc(x, 2), [1.0, -0.5], rtol=1e-6)
    audio = np.array([[1.0, 2.0, 3.0, 5.0]])
    np.testing.assert_allclose(lpc_predict(audio, np.array([1.0, -0.5]), np.array([2, 3])),
                               [[2.0 - 0.5, 3.0 - 1.0]])


def test_lpc_recovers_an_ar2_process_like_scipy_filtering():
    x = _ar2(40000, seed=1, gain_envelope=False).astype(np.float64)
    a = fit_lpc([x], 2)
    np.testing.assert_allclose(a, [1.6, -0.8], atol=0.02)
    # the prediction error equals filtering with the inverse (whitening) filter
    positions = np.arange(2, len(x))
    errors = x[positions] - lpc_predict(x[None], a, positions)[0]
    inverse = scipy.signal.lfilter(np.r_[1.0, -a], [1.0], x)[2:]
    np.testing.assert_allclose(errors, inverse, atol=1e-12)


def test_prediction_error_scale_is_the_rms_of_the_previous_errors():
    x = np.array([[0.0, 1.0, 3.0, 2.0, 5.0, 4.0]])
    errors, scales = prediction_errors(x, np.array([1.0]), window=2)
    np.testing.assert_allclose(errors, [[1.0, 2.0, -1.0, 3.0, -1.0]])
    assert math.isnan(scales[0, 0])
    np.testing.assert_allclose(scales[0, 1:], [1.0, math.sqrt(2.5), math.sqrt(2.5), math.sqrt(5.0)])


def test_linear_cross_entropy_by_hand():
    # Every standardised train error is 0 -> the predictor puts all mass on the class
    # holding its prediction: -log(1 - 1e-4 + 1e-4 / 256) when right, -log(1e-4 / 256) when not.
    predictor = LinearPredictor.__new__(LinearPredictor)
    predictor.coefficients = np.array([1.0])
    predictor.scale_floor = 1e-9
    predictor.sorted_standardised = np.zeros(10)
    audio = np.array([[0.1, 0.1, 0.2, 0.2, 0.2]])
    right = -math.log(1 - 1e-4 + 1e-4 / 256)
    wrong = -math.log(1e-4 / 256)
    # position 3 predicts 0.2 (right), position 2 predicts 0.1 for 0.2 (wrong)
    assert predictor.cross_entropy_nats(audio, np.array([3]), 256) == pytest.approx(right)
    assert predictor.cross_entropy_nats(audio, np.array([2]), 256) == pytest.approx(wrong)
    assert predictor.mse(audio, np.array([2, 3])) == pytest.approx(0.01 / 2)


def test_linear_prediction_beats_the_marginal_on_a_predictable_process():
    train = _ar2(200 * 1000, seed=2).reshape(200, 1000)
    held_out = _ar2(40 * 1000, seed=3).reshape(40, 1000)
    probe = make_probe(held_out, 500, "holdout")
    mulaw = baselines(probe, train, "mulaw", 256)
    tanh = baselines(probe, train, "tanh", 256)
    assert mulaw["lpc_order"] >= 2
    assert mulaw["baseline_linear"] < mulaw["baseline_marginal"] - 1.0
    assert tanh["baseline_marginal"] == pytest.approx(float(np.var(held_out[:, 500:].astype(float))))
    assert tanh["baseline_linear"] < 0.5 * tanh["baseline_marginal"]


def test_white_noise_gives_linear_prediction_nothing():
    rng = np.random.default_rng(4)
    train = (0.1 * rng.normal(size=(100, 1000))).astype(np.float32)
    held_out = (0.1 * rng.normal(size=(20, 1000))).astype(np.float32)
    result = baselines(make_probe(held_out, 500, "holdout"), train, "mulaw", 256)
    assert abs(result["baseline_linear"] - result["baseline_marginal"]) < 0.05


def test_order_is_chosen_on_train_audio_only():
    train = _ar2(100 * 1000, seed=5).reshape(100, 1000)
    chosen = fit_linear_predictor(train, "mulaw", 256)
    # held-out audio of another process does not change the choice: it is never seen
    assert chosen.order == fit_linear_predictor(train.copy(), "mulaw", 256).order
    assert chosen.order in (2, 4, 8, 16, 32)


def test_probe_positions_and_metrics():
    audio = np.zeros((3, 100), np.float32)
    probe = make_probe(audio, 40, "holdout", positions_per_clip=4)
    np.testing.assert_array_equal(probe.positions, [40, 59, 79, 99])
    assert probe.targets.shape == (3, 4)
    assert make_probe(audio, 40, "holdout").positions.tolist() == list(range(40, 100))
    with pytest.raises(ValueError):
        make_probe(audio, 100, "holdout")
    reference = {"baseline_marginal": 5.0, "baseline_linear": 3.5, "lpc_order": 8.0}
    metrics = likelihood_metrics(3.0, reference, "mulaw")
    assert metrics["gain_over_linear"] == pytest.approx(0.5)
    assert metrics["gain_over_marginal"] == pytest.approx(2.0)
    # bits per sample = nats / ln 2: 3 nats are 4.328 bits, a gain of 0.5 nats 0.721 bits
    assert metrics["teacher_loss_bits"] == pytest.approx(4.32809, abs=1e-5)
    assert metrics["gain_over_linear_bits"] == pytest.approx(0.72135, abs=1e-5)
    assert metrics["baseline_linear_bits"] - metrics["teacher_loss_bits"] == pytest.approx(
        metrics["gain_over_linear_bits"])
    tanh = likelihood_metrics(0.01, {**reference, "baseline_linear": 0.02}, "tanh")
    assert not [name for name in tanh if name.endswith("_bits")]  # an MSE has no bits


@pytest.mark.slow
@pytest.mark.parametrize("lstm_mode", ["stateful", "stateless"])
def test_a_real_run_logs_the_likelihood_family_at_every_evaluation(lstm_mode, cli, store,
                                                                   tiny_corpus, tiny_set_args):
    result = cli("train", "--variant", "embedded-input", "--data", str(tiny_corpus),
                 *tiny_set_args, "--set", "gan_steps=4", "--set", "pretrain_steps=3",
                 "--set", f"lstm_mode={lstm_mode}", "--set", "output_head=mulaw", check=True)
    run_id = result.stdout.strip().splitlines()[-1]
    client = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    names = ("teacher_loss", "baseline_marginal", "baseline_linear", "gain_over_linear")
    histories = {name: client.get_metric_history(run_id, f"likelihood/{name}") for name in names}
    for name, history in histories.items():
        assert sorted(point.step for point in history) == [2, 4], name
    for loss, linear, gain in zip(histories["teacher_loss"], histories["baseline_linear"],
                                  histories["gain_over_linear"], strict=True):
        assert gain.value == pytest.approx(linear.value - loss.value)
        assert 0.0 < loss.value < 10.0  # nats of a 256-class softmax near its start
    if lstm_mode == "stateful":  # `generate --set` samples the run's weights differently
        out = store.parent / "nucleus.wav"
        cli("generate", "--run", run_id, "--seconds", "0.05", "--out", str(out),
            "--set", "mulaw_top_p=0.5", "--set", "mulaw_temperature=0.8", check=True)
        rate, audio = scipy.io.wavfile.read(out)
        assert rate == 16000 and len(audio) == 800
        refused = cli("generate", "--run", run_id, "--seconds", "0.05",
                      "--out", str(store.parent / "no.wav"), "--set", "lstm_units=3")
        assert refused.returncode == 2 and not (store.parent / "no.wav").exists()
        assert refused.stderr.strip().splitlines()[-1].startswith("error: lstm_units is fixed")
