"""The input stage of both LSTM stacks: the paper's optional conv + max-pool prefilter.

`prefilter=True` selects `ConvPrefilter`, `False` selects `NoPrefilter`; both turn
per-sample features (B, T, F) (from `models.inputs`) into LSTM input frames (B, T', C). Both are causal: frame t only
sees samples <= its last sample, which is what lets the stateful generator stream
them one sample at a time from a short buffer (`receptive_field` samples).
"""

from __future__ import annotations

import keras
import tensorflow as tf


class NoPrefilter(keras.layers.Layer):
    """The per-sample features themselves: (B, T, F) -> (B, T, F)."""

    receptive_field = 1

    def __init__(self, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        del stride  # one frame per sample whatever the LSTM mode

    def call(self, features: tf.Tensor) -> tf.Tensor:
        return features


class ConvPrefilter(keras.layers.Layer):
    """Causal Conv1D + max-pool compression, as the paper tried before its LSTMs.

    With `stride == pool` (stateless generator, discriminator) a window of n samples
    becomes ceil(n / pool) frames: the LSTM runs pool times fewer steps. A stateful
    generator consumes one sample per step, so it uses `stride = 1`: the same
    filter and pooling, one frame per sample.

    Args:
        filters: conv channels C.
        kernel: conv kernel in samples.
        pool: max-pool size in frames.
        stride: hop of the pooling, 1 or `pool`.
    """

    def __init__(self, filters: int, kernel: int, pool: int, stride: int, **kwargs):
        super().__init__(**kwargs)
        self.pool = pool
        self.stride = stride
        self.receptive_field = kernel + pool - 1
        self.conv = keras.layers.Conv1D(filters, kernel, padding="causal", activation="relu")
        self.max_pool = keras.layers.MaxPooling1D(pool_size=pool, strides=stride, padding="valid")

    def call(self, features: tf.Tensor) -> tf.Tensor:
        features = self.conv(features)  # (B, T, F) -> (B, T, C), causal
        length = tf.shape(features)[1]
        # Left-pad so the last pooling window ends on the newest sample; ReLU outputs are
        # >= 0, so zero padding never wins a max over real values.
        pad = (self.pool - 1) if self.stride == 1 else (-length) % self.stride
        features = tf.pad(features, [[0, 0], [pad, 0], [0, 0]])
        return self.max_pool(features)  # (B, T, C) or (B, ceil(T / pool), C)


def build_prefilter(config, stride: int) -> keras.layers.Layer:
    """The prefilter part chosen by `config.prefilter`."""
    if not config.prefilter:
        return NoPrefilter()
    return ConvPrefilter(config.prefilter_filters, config.prefilter_kernel,
                         config.prefilter_pool, stride)
