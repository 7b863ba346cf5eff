"""The autoencoder whose frozen encoder seeds the generator (paper, section 2 and fig. 4).

A U-Net-shaped contracting path (Conv1D + max-pool per level) and a mirrored
expanding path (up-sample + Conv1D per level), no LSTMs. Unlike a U-Net it has no
skip connections: they would let the decoder bypass the code, and the code is the
only thing the generator ever sees. The code is one channel with tanh, i.e. a
coarse, waveform-like sketch of the segment that can be placed into the window.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def code_length(config) -> int:
    """Samples in the code of an n-sample segment: ceil(n / 2**ae_levels)."""
    length = config.n
    for _ in range(config.ae_levels):
        length = math.ceil(length / 2)
    return length


def build_encoder(config) -> keras.Model:
    """(B, n) segment -> (B, code_length) code in [-1, 1]."""
    segment = keras.Input((config.n,), name="segment")
    x = keras.layers.Reshape((config.n, 1))(segment)  # (B, n, 1)
    for level in range(config.ae_levels):
        x = keras.layers.Conv1D(config.ae_filters, config.ae_kernel, padding="same",
                                activation="relu", name=f"enc_conv{level}")(x)
        x = keras.layers.MaxPooling1D(2, padding="same", name=f"enc_pool{level}")(x)  # halves
    x = keras.layers.Conv1D(1, config.ae_kernel, padding="same", activation="tanh",
                            name="enc_code")(x)  # (B, code_length, 1)
    code = keras.layers.Flatten(name="code")(x)
    return keras.Model(segment, code, name="encoder")


def build_decoder(config) -> keras.Model:
    """(B, code_length) code -> (B, n) reconstruction in [-1, 1]."""
    length = code_length(config)
    code = keras.Input((length,), name="code")
    x = keras.layers.Reshape((length, 1))(code)
    for level in reversed(range(config.ae_levels)):
        x = keras.layers.UpSampling1D(2, name=f"dec_up{level}")(x)  # doubles
        x = keras.layers.Conv1D(config.ae_filters, config.ae_kernel, padding="same",
                                activation="relu", name=f"dec_conv{level}")(x)
    x = keras.layers.Conv1D(1, config.ae_kernel, padding="same", activation="tanh",
                            name="dec_out")(x)  # (B, length * 2**levels, 1) >= n
    x = keras.layers.Cropping1D((0, length * 2**config.ae_levels - config.n))(x)  # (B, n, 1)
    reconstruction = keras.layers.Flatten(name="reconstruction")(x)
    return keras.Model(code, reconstruction, name="decoder")


def fit_code_to_window(code: tf.Tensor, n: int) -> tf.Tensor:
    """Stretch a code (B, m) over an n-sample window by linear interpolation -> (B, n).

    The paper places "the seed" into the n-sample window; stretching keeps the
    seed filling the whole window, so it is shifted out after exactly n samples.
    """
    image = code[:, :, None, None]  # (B, m, 1, 1)
    stretched = tf.image.resize(image, [n, 1], method="bilinear")
    return stretched[:, :, 0, 0]
