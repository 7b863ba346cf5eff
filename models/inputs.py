"""How the generator reads its past samples: the `sample_input` part.

Both parts turn a waveform (B, T) into per-sample features (B, T, F) that the prefilter
and the LSTMs consume; they are pointwise, so the stateful generator can stream them
one sample at a time.

* `RawSamples` (the paper): the float sample itself, one feature.
* `MulawCompanded`: the sample's mu-law companded value, one feature in [-1, 1]: the
  float input rescaled so that quiet samples are not near zero (music's RMS is ~0.03-0.1).
* `MulawEmbedding`: the sample's 8-bit mu-law class, looked up in a learned table of
  `input_embedding_dim` features, as SampleRNN and WaveNet feed their nets. A
  2 x LSTM(128) fed raw floats learned only the histogram of sample values here (its
  teacher-forced loss stayed at the marginal entropy); SampleRNN reports a better
  likelihood with the embedding than without (1.392 vs 1.566 bits per sample on speech).

The discriminator always reads raw samples: its input carries the generator's
straight-through gradient, and a table lookup has none.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.mulaw import mulaw_encode


class RawSamples(keras.layers.Layer):
    """Float samples as one-feature frames: (B, T) -> (B, T, 1)."""

    features = 1

    @classmethod
    def for_config(cls, config) -> RawSamples:
        del config
        return cls(name="sample_input")

    def call(self, waveform: tf.Tensor) -> tf.Tensor:
        return tf.cast(waveform, tf.float32)[..., None]


class MulawCompanded(keras.layers.Layer):
    """Mu-law companded samples as one-feature frames: (B, T) -> (B, T, 1), values in [-1, 1].

    Args:
        classes: mu-law classes; mu = classes - 1, as the head and the embedding use.
    """

    features = 1

    def __init__(self, classes: int, **kwargs):
        super().__init__(**kwargs)
        self.mu = float(classes - 1)

    @classmethod
    def for_config(cls, config) -> MulawCompanded:
        return cls(config.mulaw_channels, name="sample_input")

    def call(self, waveform: tf.Tensor) -> tf.Tensor:
        x = tf.clip_by_value(tf.cast(waveform, tf.float32), -1.0, 1.0)
        companded = tf.sign(x) * tf.math.log1p(self.mu * tf.abs(x)) / tf.math.log1p(self.mu)
        return companded[..., None]


class MulawEmbedding(keras.layers.Layer):
    """Quantise each sample to its mu-law class and embed it: (B, T) -> (B, T, E).

    Args:
        classes: mu-law classes (the quantiser's resolution).
        features: embedding width E.
    """

    def __init__(self, classes: int, features: int, **kwargs):
        super().__init__(**kwargs)
        self.classes = classes
        self.features = features
        self.table = keras.layers.Embedding(classes, features, name="table")

    @classmethod
    def for_config(cls, config) -> MulawEmbedding:
        return cls(config.mulaw_channels, config.input_embedding_dim, name="sample_input")

    def call(self, waveform: tf.Tensor) -> tf.Tensor:
        return self.table(mulaw_encode(waveform, self.classes))  # (B, T, E)

