"""Training-dynamics flags on synthetic histories with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from harness.evaluation.dynamics import (
    DISCRIMINATOR_WON_ACCURACY,
    HISTORY_KEYS,
    VANISHING_GRAD_NORM,
    diagnose_training,
    gan_history,
)

STEPS = 200


def _healthy_history(steps: int = STEPS) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    return {
        "d_acc_real": list(0.65 + 0.1 * rng.standard_normal(steps)),
        "d_acc_fake": list(0.6 + 0.1 * rng.standard_normal(steps)),
        "d_loss": list(1.3 + 0.1 * rng.standard_normal(steps)),
        "g_loss": list(0.8 + 0.1 * rng.standard_normal(steps)),
        "g_grad_norm": list(np.abs(0.5 + 0.2 * rng.standard_normal(steps))),
        "d_grad_norm": list(np.abs(1.0 + 0.2 * rng.standard_normal(steps))),
    }


def test_healthy_run_raises_no_flag() -> None:
    result = diagnose_training(_healthy_history())
    assert result["discriminator_won"] is False
    assert result["vanishing_gradients"] is False
    assert result["steps"] == STEPS
    assert result["d_acc_real_mean"] == pytest.approx(0.65, abs=0.05)
    assert result["loss_ratio"] == pytest.approx(result["g_loss_mean"] / result["d_loss_mean"])


def test_discriminator_that_wins_for_the_last_window_is_flagged() -> None:
    history = _healthy_history()
    history["d_acc_real"][-60:] = [0.99] * 60
    history["d_acc_fake"][-60:] = [0.98] * 60
    history["d_loss"][-60:] = [0.02] * 60
    history["g_loss"][-60:] = [6.0] * 60
    result = diagnose_training(history, window=50)
    assert result["discriminator_won"] is True
    assert result["discriminator_won_longest_run"] >= 60
    assert result["d_acc_fake_mean"] == pytest.approx(0.98)
    assert result["loss_ratio"] == pytest.approx(300.0)


def test_discriminator_accurate_on_one_side_only_has_not_won() -> None:
    history = _healthy_history()
    history["d_acc_real"] = [1.0] * STEPS  # says "real" to everything: half right at best
    history["d_acc_fake"] = [0.0] * STEPS
    assert diagnose_training(history)["discriminator_won"] is False


def test_a_short_winning_streak_is_not_sustained() -> None:
    history = _healthy_history()
    history["d_acc_real"][100:130] = [0.99] * 30
    history["d_acc_fake"][100:130] = [0.99] * 30
    result = diagnose_training(history, window=50)
    assert result["discriminator_won"] is False
    assert result["discriminator_won_longest_run"] == 30


def test_a_sustained_win_earlier_in_the_run_counts() -> None:
    history = _healthy_history()
    history["d_acc_real"][20:80] = [DISCRIMINATOR_WON_ACCURACY] * 60
    history["d_acc_fake"][20:80] = [DISCRIMINATOR_WON_ACCURACY] * 60
    assert diagnose_training(history, window=50)["discriminator_won"] is True


def test_vanishing_generator_gradients_are_flagged() -> None:
    history = _healthy_history()
    history["g_grad_norm"][-80:] = list(np.geomspace(1e-5, 1e-9, 80))
    result = diagnose_training(history, window=50)
    assert result["vanishing_gradients"] is True
    assert result["vanishing_gradients_longest_run"] == 80
    assert result["g_grad_norm_mean"] < VANISHING_GRAD_NORM


def test_occasional_tiny_gradients_are_not_vanishing() -> None:
    history = _healthy_history()
    history["g_grad_norm"][::5] = [1e-8] * len(history["g_grad_norm"][::5])
    assert diagnose_training(history, window=50)["vanishing_gradients"] is False


def test_missing_series_give_none() -> None:
    result = diagnose_training({"d_loss": [1.0, 0.9], "g_loss": []})
    assert result["d_loss_mean"] == pytest.approx(0.95)
    assert result["g_loss_mean"] is None
    assert result["loss_ratio"] is None
    assert result["discriminator_won"] is None
    assert result["vanishing_gradients"] is None
    assert {f"{key}_mean" for key in HISTORY_KEYS} <= result.keys()


def test_nan_steps_are_counted_and_left_out() -> None:
    history = _healthy_history(60)
    history["d_loss"][-3:] = [float("nan")] * 3
    history["g_grad_norm"][-3:] = [float("nan")] * 3
    result = diagnose_training(history, window=50)
    assert result["nonfinite_steps"] == 3
    assert np.isfinite(result["d_loss_mean"])
    assert result["vanishing_gradients"] is False


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        diagnose_training(_healthy_history(), window=0)


def test_gan_history_keeps_the_gan_series_under_their_bare_names() -> None:
    history = {"gan/d_loss": [0.7, 0.6], "gan/d_acc_real": [0.5, 0.6],
               "autoencoder/reconstruction_mse": [0.1], "pretrain/teacher_loss": [3.0]}
    assert gan_history(history) == {"d_loss": [0.7, 0.6], "d_acc_real": [0.5, 0.6]}
