"""Mu-law companding (ITU-T G.711 style) between samples in [-1, 1] and class indices.

Pure TensorFlow ops, so the same code runs in NumPy-fed tests, in the compiled
generation loop and under XLA.
"""

from __future__ import annotations

import tensorflow as tf


def mulaw_encode(audio: tf.Tensor, channels: int = 256) -> tf.Tensor:
    """Quantise samples to mu-law classes.

    Args:
        audio: float samples in [-1, 1], any shape.
        channels: number of classes (mu = channels - 1).

    Returns:
        int32 classes in [0, channels), same shape as `audio`.
    """
    mu = float(channels - 1)
    x = tf.clip_by_value(tf.cast(audio, tf.float32), -1.0, 1.0)
    companded = tf.sign(x) * tf.math.log1p(mu * tf.abs(x)) / tf.math.log1p(mu)  # [-1, 1]
    return tf.cast(tf.round((companded + 1.0) / 2.0 * mu), tf.int32)


def mulaw_decode(classes: tf.Tensor, channels: int = 256) -> tf.Tensor:
    """Inverse of `mulaw_encode`: class indices -> float samples in [-1, 1]."""
    mu = float(channels - 1)
    companded = tf.cast(classes, tf.float32) / mu * 2.0 - 1.0
    return tf.sign(companded) * (tf.pow(1.0 + mu, tf.abs(companded)) - 1.0) / mu


def mulaw_levels(channels: int = 256) -> tf.Tensor:
    """The sample value of every class, shape (channels,); used for soft expectations."""
    return mulaw_decode(tf.range(channels), channels)
