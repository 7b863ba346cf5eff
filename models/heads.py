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
    constant: the collapse mechanism suspected in the paper.
    """

    def __init__(self, config):
        self.params_dim = config.mulaw_channels
        self.channels = config.mulaw_channels
        self.temperature = config.mulaw_temperature
        self.layer = keras.layers.Dense(config.mulaw_channels, name="head")
        self.levels = mulaw_levels(config.mulaw_channels)  # (channels,)

    def sample(self, params: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Gumbel-max sampling of logits (..., C) / temperature -> decoded samples (...)."""
        uniform = tf.random.stateless_uniform(tf.shape(params), seed, minval=1e-7, maxval=1.0)
        gumbel = -tf.math.log(-tf.math.log(uniform))
        classes = tf.argmax(params / self.temperature + gumbel, axis=-1)
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

