"""Seed sources: what fills the generator's n-sample window before the first step."""

from __future__ import annotations

import tensorflow as tf

from models.autoencoder import fit_code_to_window


class EncodedSeed:
    """The paper: the frozen encoder's code of a random real segment, stretched to n."""

    def __init__(self, config, encoder):
        self.n = config.n
        self.encoder = encoder

    def window(self, real_segments: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """real_segments (B, n) -> seed window (B, n)."""
        del seed
        code = self.encoder(real_segments, training=False)  # (B, m)
        return fit_code_to_window(code, self.n)


class NoiseSeed:
    """The usual GAN seed: Gaussian noise with std `seed_noise_std`."""

    def __init__(self, config, encoder):
        del encoder
        self.std = config.seed_noise_std

    def window(self, real_segments: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return self.std * tf.random.stateless_normal(tf.shape(real_segments), seed)


class RealSeed:
    """Priming with real audio: the window starts as the real segment itself."""

    def __init__(self, config, encoder):
        del config, encoder

    def window(self, real_segments: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        del seed
        return tf.convert_to_tensor(real_segments, tf.float32)

