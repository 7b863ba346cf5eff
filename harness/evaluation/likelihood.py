"""Teacher-forced likelihood on held-out audio, and the baselines it must beat.

A generator that ignores its input can still reach the marginal entropy of the sample
values: it learns their histogram. Whether it uses its context shows against a
*linear predictor* scored in the same units on the same samples. Everything here is
pure NumPy/SciPy; the generator's own loss is computed by the trainer on the same
`LikelihoodProbe`.

Units follow the output head:

* mu-law head: cross-entropy of the true next sample's mu-law class, nats per sample.
  `marginal` is the entropy of the held-out targets' class histogram (the best any
  predictor that ignores its input can do on them, even knowing their histogram);
  `linear` is the cross-entropy of a linear predictor whose error is modelled as its
  recent error level times a draw from its standardised errors on train audio (its
  quantised residual distribution, scaled to the passage's loudness).
* tanh head: mean squared error. `marginal` is the targets' variance, `linear` the
  linear predictor's MSE.

The linear predictor is least-squares LPC (Yule-Walker, solved with
`scipy.linalg.solve_toeplitz`) of an order in `LPC_ORDERS`, fitted on train audio and
chosen by its loss on a train part it was not fitted on; held-out audio is only scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from harness.evaluation.catalogue import BITS_OF, bits, metric

LPC_ORDERS = (2, 4, 8, 16, 32)
PROBE_CLIPS = 64  # held-out clips the likelihood is measured on
STATELESS_POSITIONS = 16  # targets per clip for a stateless generator (n LSTM steps each)
_UNIFORM_SHARE = 1e-4  # mixed into the linear predictor's class distribution: no zero mass


@dataclass(frozen=True)
class LikelihoodProbe:
    """Which samples the likelihood is measured on: the same for the net and the baselines.

    Attributes:
        audio: float32 (clips, context + predicted) contiguous real samples.
        context: samples before the first target (the generator's window n).
        positions: int (K,) target indices in [context, length), shared by every clip.
        split: "holdout", or "train" when the dataset holds nothing out (then the
            figures measure fit, not generalisation, and runs say so).
    """

    audio: np.ndarray
    context: int
    positions: np.ndarray
    split: str

    @property
    def targets(self) -> np.ndarray:
        """(clips, K) the samples being predicted."""
        return self.audio[:, self.positions]


def make_probe(audio: np.ndarray, context: int, split: str,
               positions_per_clip: int | None = None) -> LikelihoodProbe:
    """A probe over clips (clips, length): every sample after `context`, or an even subset.

    Args:
        audio: float (clips, length) contiguous samples, length > context.
        context: warm-up samples before the first target.
        split: the dataset split the clips come from.
        positions_per_clip: evenly spaced targets per clip (None = all of them).
    """
    audio = np.asarray(audio, np.float32)
    length = audio.shape[1]
    if length <= context:
        raise ValueError(f"clips of {length} samples leave no target after {context}")
    positions = np.arange(context, length)
    if positions_per_clip is not None and positions_per_clip < len(positions):
        positions = positions[np.linspace(0, len(positions) - 1, positions_per_clip).astype(int)]
    return LikelihoodProbe(audio, context, positions, split)


# --------------------------------------------------------------------------- mu-law
def mulaw_classes(audio: np.ndarray, channels: int = 256) -> np.ndarray:
    """NumPy twin of `models.mulaw.mulaw_encode`: samples in [-1, 1] -> int classes."""
    mu = float(channels - 1)
    x = np.clip(np.asarray(audio, np.float64), -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.round((companded + 1.0) / 2.0 * mu).astype(np.int64)


def mulaw_class_edges(channels: int = 256) -> np.ndarray:
    """Sample-value boundaries of the classes: (channels + 1,), first -inf, last +inf.

    Class k holds the samples whose companded value rounds to k, i.e. those between
    edges[k] and edges[k + 1].
    """
    mu = float(channels - 1)
    companded = (np.arange(channels + 1) - 0.5) / mu * 2.0 - 1.0  # midpoints between classes
    edges = np.sign(companded) * np.expm1(np.abs(companded) * np.log1p(mu)) / mu
    edges[0], edges[-1] = -np.inf, np.inf
    return edges


def marginal_entropy_nats(classes: np.ndarray, channels: int) -> float:
    """Entropy (nats) of the empirical distribution of `classes` in [0, channels)."""
    counts = np.bincount(np.ravel(classes), minlength=channels).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


# --------------------------------------------------------------------------- LPC
def _autocorrelation(clips: Sequence[np.ndarray], order: int) -> np.ndarray:
    """Summed autocorrelation r[0..order] over clips (each treated as its own signal)."""
    r = np.zeros(order + 1)
    for clip in clips:
        x = np.asarray(clip, np.float64)
        for lag in range(order + 1):
            r[lag] += np.dot(x[lag:], x[: len(x) - lag])
    return r


def fit_lpc(clips: Sequence[np.ndarray], order: int) -> np.ndarray:
    """Linear-prediction coefficients a (order,) with x[t] ~ sum_k a[k] x[t-1-k].

    Yule-Walker (autocorrelation method) over all clips, with a tiny ridge so that
    digital silence or a pure tone leaves the system solvable.
    """
    r = _autocorrelation(clips, order)
    ridge = 1e-9 * max(r[0], 1e-12)
    column = r[:order].copy()
    column[0] += ridge
    return scipy.linalg.solve_toeplitz(column, r[1: order + 1])


def lpc_predict(audio: np.ndarray, coefficients: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Predictions (clips, K) of audio[:, positions] from the `order` samples before each.

    Every position must be >= order (the probe's context is the window n >= 8; orders
    above the context are not fitted).
    """
    order = len(coefficients)
    lags = positions[None, :] - 1 - np.arange(order)[:, None]  # (order, K)
    if lags.min() < 0:
        raise ValueError("a target position has fewer past samples than the LPC order")
    past = np.asarray(audio, np.float64)[:, lags]  # (clips, order, K)
    return np.einsum("o,cok->ck", coefficients, past)


def prediction_errors(audio: np.ndarray, coefficients: np.ndarray,
                      window: int) -> tuple[np.ndarray, np.ndarray]:
    """LPC errors at every position >= order, and the causal scale of each.

    Args:
        audio: float (clips, length).
        coefficients: (order,) from `fit_lpc`.
        window: how many previous errors set the scale.

    Returns:
        errors e and scales s, both (clips, length - order); column j is position
        order + j. s[:, j] is the RMS of e[:, j - window: j] (fewer at the start; NaN
        at j = 0, where there is no past error).
    """
    audio = np.asarray(audio, np.float64)
    order = len(coefficients)
    positions = np.arange(order, audio.shape[1])
    errors = audio[:, positions] - lpc_predict(audio, coefficients, positions)
    energy = np.cumsum(np.pad(errors ** 2, ((0, 0), (1, 0))), axis=1)  # energy[:, j] = sum e[:j]^2
    column = np.arange(errors.shape[1])
    first = np.maximum(0, column - window)
    with np.errstate(invalid="ignore", divide="ignore"):
        scales = np.sqrt((energy[:, column] - energy[:, first]) / (column - first))
    return errors, scales


class LinearPredictor:
    """LPC of one order with a level-adaptive noise model; scored like the net's head.

    The prediction of x[t] is sum_k a[k] x[t-1-k]. Its error is modelled as s[t] * z:
    s[t] the RMS of the previous `SCALE_WINDOW` errors (known before x[t] is), z drawn
    from the standardised errors on train audio. Music is loud and quiet in turn; one
    fixed error distribution would make the predictor look far worse than it is.

    Args:
        coefficients: (order,) from `fit_lpc`.
        train_clips: float (clips, length) train audio the standardised errors come from.
    """

    SCALE_WINDOW = 32

    def __init__(self, coefficients: np.ndarray, train_clips: np.ndarray):
        self.coefficients = np.asarray(coefficients, np.float64)
        errors, scales = prediction_errors(train_clips, self.coefficients, self.SCALE_WINDOW)
        self.scale_floor = 1e-3 * float(np.sqrt(np.mean(errors ** 2))) + 1e-9
        standardised = errors[:, self.SCALE_WINDOW:] / (scales[:, self.SCALE_WINDOW:]
                                                         + self.scale_floor)
        self.sorted_standardised = np.sort(standardised.ravel())

    @property
    def order(self) -> int:
        return len(self.coefficients)

    def _cdf(self, values: np.ndarray) -> np.ndarray:
        ranks = np.searchsorted(self.sorted_standardised, values, side="right")
        return ranks / len(self.sorted_standardised)

    def mse(self, audio: np.ndarray, positions: np.ndarray) -> float:
        prediction = lpc_predict(audio, self.coefficients, positions)
        return float(np.mean((np.asarray(audio, np.float64)[:, positions] - prediction) ** 2))

    def cross_entropy_nats(self, audio: np.ndarray, positions: np.ndarray, channels: int) -> float:
        """Mean -log p(true mu-law class of audio[:, positions]).

        p(class k) = F((edge[k+1] - prediction) / s) - F((edge[k] - prediction) / s), F the
        empirical CDF of the standardised train errors, mixed with a 1e-4 share of the
        uniform distribution so that no class has zero mass (this costs at most 1e-4 nats).
        Every position needs at least one earlier error: position >= order + 1.
        """
        audio = np.asarray(audio, np.float64)
        errors, scales = prediction_errors(audio, self.coefficients, self.SCALE_WINDOW)
        column = np.asarray(positions) - self.order
        if column.min() < 1:
            raise ValueError("a target position has no earlier prediction error to scale by")
        x = audio[:, positions]
        prediction = x - errors[:, column]
        scale = scales[:, column] + self.scale_floor
        classes = mulaw_classes(x, channels)
        edges = mulaw_class_edges(channels)
        mass = (self._cdf((edges[classes + 1] - prediction) / scale)
                - self._cdf((edges[classes] - prediction) / scale))
        p = (1.0 - _UNIFORM_SHARE) * mass + _UNIFORM_SHARE / channels
        return float(-np.mean(np.log(p)))

    def loss(self, audio: np.ndarray, positions: np.ndarray, head: str, channels: int) -> float:
        if head == "mulaw":
            return self.cross_entropy_nats(audio, positions, channels)
        return self.mse(audio, positions)


def fit_linear_predictor(train_clips: np.ndarray, head: str, channels: int,
                         orders: Sequence[int] = LPC_ORDERS,
                         validation_share: float = 0.25) -> LinearPredictor:
    """The best LPC order on train audio, chosen on train clips it was not fitted on.

    Args:
        train_clips: float (clips, length) contiguous train audio, at least 2 clips,
            length > max(orders).
        head: "mulaw" (scored by cross-entropy) or "tanh" (by MSE).
        channels: mu-law classes.
    """
    train_clips = np.asarray(train_clips, np.float64)
    length = train_clips.shape[1]
    orders = [order for order in orders if order + LinearPredictor.SCALE_WINDOW < length]
    split = max(1, min(len(train_clips) - 1, round(len(train_clips) * (1 - validation_share))))
    fit, validation = train_clips[:split], train_clips[split:]
    scored = np.arange(max(orders) + LinearPredictor.SCALE_WINDOW, length)
    best: tuple[float, LinearPredictor] | None = None
    for order in orders:
        predictor = LinearPredictor(fit_lpc(fit, order), fit)
        score = predictor.loss(validation, scored, head, channels)
        if best is None or score < best[0]:
            best = (score, predictor)
    assert best is not None, "no LPC order fits clips this short"
    return best[1]


def baselines(probe: LikelihoodProbe, train_clips: np.ndarray, head: str,
              channels: int) -> dict[str, float]:
    """`baseline_marginal`, `baseline_linear` and `lpc_order` on the probe's targets.

    Args:
        probe: the held-out samples (see `LikelihoodProbe`).
        train_clips: float (clips, length) contiguous train audio the LPC is fitted on.
        head: the generator's output head, "mulaw" or "tanh": it sets the units.
        channels: mu-law classes of the head.
    """
    targets = probe.targets
    if head == "mulaw":
        marginal = marginal_entropy_nats(mulaw_classes(targets, channels), channels)
    else:
        marginal = float(np.var(targets.astype(np.float64)))
    predictor = fit_linear_predictor(train_clips, head, channels)
    linear = predictor.loss(probe.audio, probe.positions, head, channels)
    return {"baseline_marginal": marginal, "baseline_linear": linear,
            "lpc_order": float(predictor.order)}


def likelihood_metrics(teacher_loss: float, reference: dict[str, float],
                       head: str) -> dict[str, float]:
    """The `likelihood/*` family: the net's loss, the baselines and its gain over linear.

    Args:
        teacher_loss: the net's loss on the probe, in the head's units (see module docstring).
        reference: `baselines` of the same probe.
        head: the output head, "mulaw" or "tanh". A mu-law head's losses are cross-entropies
            in nats per sample; they are also returned in bits per sample (``<name>_bits``,
            nats / ln 2), the unit the field reports. A tanh head's MSE has no bits.
    """
    metrics = {
        "teacher_loss": teacher_loss,
        "baseline_marginal": reference["baseline_marginal"],
        "baseline_linear": reference["baseline_linear"],
        "gain_over_linear": reference["baseline_linear"] - teacher_loss,
        "gain_over_marginal": reference["baseline_marginal"] - teacher_loss,
        "lpc_order": reference["lpc_order"],
    }
    if head == "mulaw":
        for bits_key, nats in BITS_OF.items():
            metrics[metric(bits_key).name] = bits(metrics[nats.name])
    return metrics
