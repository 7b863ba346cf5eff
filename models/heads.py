"""Output heads: how the generator's last LSTM output becomes the next sample.

Each head owns its Dense layer and four views of its parameters:
`sample` (what generation emits), `relaxed` (a differentiable stand-in used for the
straight-through generator gradient), and `teacher_loss` (next-sample prediction).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.mulaw import mulaw_encode, mulaw_levels


class TanhHead:
    """The paper's head: Dense(1) + tanh, a deterministic regression of the next sample."""

    def __init__(self, config):
        self.params_dim = 1
        self.layer = keras.layers.Dense(1, name="head")

    def sample(self, params: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """params (..., 1) -> samples (...); `seed` is unused (deterministic)."""
        del seed
        return tf.tanh(params[..., 0])

    def relaxed(self, params: tf.Tensor) -> tf.Tensor:
        return tf.tanh(params[..., 0])

    def teacher_loss(self, params: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        """Mean squared error of the predicted next sample."""
        return tf.reduce_mean(tf.square(tf.tanh(params[..., 0]) - target))


class MulawHead:
    """Dense(channels) logits over 8-bit mu-law classes, sampled with a temperature.

    Sampling (rather than taking a mean) keeps the output from regressing to a
    constant: the collapse mechanism suspected in the paper. `mulaw_top_p` < 1 samples
    from the nucleus only (Holtzman et al. 2020): the most likely classes that together
    hold that much probability, so a rare tail class is never drawn.
    """

    def __init__(self, config):
        self.params_dim = config.mulaw_channels
        self.channels = config.mulaw_channels
        self.temperature = config.mulaw_temperature
        self.top_p = config.mulaw_top_p
        self.layer = keras.layers.Dense(config.mulaw_channels, name="head")
        self.levels = mulaw_levels(config.mulaw_channels)  # (channels,)

    def sample(self, params: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Gumbel-max sampling of logits (..., C) / temperature -> decoded samples (...)."""
        uniform = tf.random.stateless_uniform(tf.shape(params), seed, minval=1e-7, maxval=1.0)
        gumbel = -tf.math.log(-tf.math.log(uniform))
        logits = params / self.temperature
        if self.top_p < 1.0:
            logits = nucleus(logits, self.top_p)
        classes = tf.argmax(logits + gumbel, axis=-1)
        return tf.gather(self.levels, classes)

    def relaxed(self, params: tf.Tensor) -> tf.Tensor:
        """Expected sample value under the tempered softmax (differentiable)."""
        probabilities = tf.nn.softmax(params / self.temperature, axis=-1)
        return tf.reduce_sum(probabilities * self.levels, axis=-1)

    def teacher_loss(self, params: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        """Cross-entropy of the mu-law class of the true next sample."""
        labels = mulaw_encode(target, self.channels)
        return tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=params)
        )


def nucleus(logits: tf.Tensor, top_p: float) -> tf.Tensor:
    """Logits (..., C) with every class outside the top-`top_p` nucleus set to -inf.

    The nucleus is the smallest set of most likely classes whose probability reaches
    `top_p`; the most likely class is always in it. Classes tied with its least likely
    member stay in too.
    """
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    mass_before = tf.math.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
    kept = tf.where(mass_before < top_p, ordered, tf.fill(tf.shape(ordered), float("inf")))
    threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
    return tf.where(logits >= threshold, logits, tf.fill(tf.shape(logits), float("-inf")))
