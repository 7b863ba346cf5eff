"""Training-dynamics diagnostics: did the discriminator win, did the generator's gradients vanish.

Reads the per-step history a training run logs and turns its last stretch into a
few numbers and two flags. Pure NumPy; no model or tracking store is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# D classifies >= 95% of both real and generated segments correctly: it has won and
# its verdicts no longer tell the generator how to improve.
DISCRIMINATOR_WON_ACCURACY = 0.95
# A global generator gradient norm below 1e-4 spreads over 1e4-1e6 weights to about
# 1e-6-1e-7 per weight: the size of Adam's epsilon (1e-7 in Keras), where its steps
# shrink towards zero, and negligible for plain SGD.
VANISHING_GRAD_NORM = 1e-4
# A condition is "sustained" when it holds for `window` consecutive steps anywhere,
# or for at least this share of the last `window` steps (the run ends in that state).
SUSTAINED_SHARE = 0.8

HISTORY_KEYS = ("d_acc_real", "d_acc_fake", "d_loss", "g_loss", "g_grad_norm", "d_grad_norm")


def _longest_run(condition: np.ndarray) -> int:
    """Length of the longest stretch of consecutive True values."""
    if not condition.any():
        return 0
    padded = np.concatenate(([False], condition, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))  # starts and ends alternate
    return int((edges[1::2] - edges[::2]).max())


def _sustained(condition: np.ndarray, window: int) -> bool:
    if condition.size == 0:
        return False
    recent = condition[-window:]
    return _longest_run(condition) >= window or float(recent.mean()) >= SUSTAINED_SHARE


def _series(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray | None:
    values = history.get(key)
    if values is None or len(values) == 0:
        return None
    return np.asarray(values, dtype=np.float64)


def _recent_mean(values: np.ndarray | None, window: int) -> float | None:
    if values is None:
        return None
    recent = values[-window:]
    finite = recent[np.isfinite(recent)]
    return float(finite.mean()) if finite.size else None


def gan_history(history: Mapping[str, Sequence[float]]) -> dict[str, Sequence[float]]:
    """The GAN phase's series of a training history under their bare names (``gan/d_loss``
    -> ``d_loss``), as `diagnose_training` reads them; other phases' series are left out."""
    return {key.split("/", 1)[1]: values for key, values in history.items()
            if key.startswith("gan/")}


def diagnose_training(history: Mapping[str, Sequence[float]], *, window: int = 50) -> dict:
    """Summarise the last `window` steps of a GAN run and flag two failure modes.

    Args:
        history: Per-step series, any of ``d_acc_real`` and ``d_acc_fake``
            (discriminator accuracy on real / generated segments, in [0, 1]),
            ``d_loss``, ``g_loss``, ``g_grad_norm``, ``d_grad_norm`` (global L2
            norms). Missing or empty series make their outputs None. NaN and inf
            entries are left out of the means and never satisfy a flag's condition.
        window: Number of final steps summarised, and the length of a sustained
            stretch. A run shorter than `window` is summarised whole.

    Returns:
        ``steps`` (longest series length); ``<key>_mean`` for each key of
        `HISTORY_KEYS` over the last `window` finite values; ``loss_ratio`` =
        g_loss_mean / d_loss_mean (None if either is missing or d_loss_mean is 0);
        ``nonfinite_steps``: steps with a NaN or inf in any series;
        ``discriminator_won``: both accuracies >= `DISCRIMINATOR_WON_ACCURACY` for a
        sustained stretch (see `SUSTAINED_SHARE`), None without both accuracy series;
        ``discriminator_won_longest_run``: longest such stretch in steps;
        ``vanishing_gradients``: g_grad_norm < `VANISHING_GRAD_NORM` for a sustained
        stretch, None without g_grad_norm; ``vanishing_gradients_longest_run``.

    Raises:
        ValueError: If window is not positive.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    series = {key: _series(history, key) for key in HISTORY_KEYS}
    present = [values for values in series.values() if values is not None]
    steps = max((values.size for values in present), default=0)
    nonfinite = np.zeros(steps, dtype=bool)
    for values in present:
        nonfinite[: values.size] |= ~np.isfinite(values)

    result: dict = {"steps": steps, "window": window}
    for key in HISTORY_KEYS:
        result[f"{key}_mean"] = _recent_mean(series[key], window)
    g_loss, d_loss = result["g_loss_mean"], result["d_loss_mean"]
    result["loss_ratio"] = g_loss / d_loss if g_loss is not None and d_loss else None
    result["nonfinite_steps"] = int(nonfinite.sum())

    result.update(_sustained_failures(series, window))
    return result


def _sustained_failures(series: dict[str, np.ndarray | None], window: int) -> dict:
    """Whether the discriminator won and the generator's gradients vanished for a
    sustained stretch, and the longest stretch of each (None without the series)."""
    result: dict = {}
    real, fake = series["d_acc_real"], series["d_acc_fake"]
    if real is None or fake is None:
        result["discriminator_won"] = None
        result["discriminator_won_longest_run"] = None
    else:
        length = min(real.size, fake.size)
        # NaN >= x is False, so a NaN step breaks a run rather than extending it.
        won = (real[-length:] >= DISCRIMINATOR_WON_ACCURACY) & (fake[-length:] >= DISCRIMINATOR_WON_ACCURACY)
        result["discriminator_won"] = _sustained(won, window)
        result["discriminator_won_longest_run"] = _longest_run(won)
    grad = series["g_grad_norm"]
    if grad is None:
        result["vanishing_gradients"] = None
        result["vanishing_gradients_longest_run"] = None
    else:
        vanishing = grad < VANISHING_GRAD_NORM
        result["vanishing_gradients"] = _sustained(vanishing, window)
        result["vanishing_gradients_longest_run"] = _longest_run(vanishing)
    return result
