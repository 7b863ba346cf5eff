"""GAN losses over discriminator scores (logits): the paper's BCE, hinge and WGAN-GP."""

from __future__ import annotations

import tensorflow as tf


class BceLoss:
    """Binary cross-entropy (the paper); the generator uses the non-saturating form."""

    def __init__(self, config):
        del config  # BCE and hinge have no parameter

    def discriminator(self, real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
        real = tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(real_scores), real_scores)
        fake = tf.nn.sigmoid_cross_entropy_with_logits(tf.zeros_like(fake_scores), fake_scores)
        return tf.reduce_mean(real) + tf.reduce_mean(fake)

    def generator(self, fake_scores: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(tf.ones_like(fake_scores), fake_scores)
        )

    def penalty(self, discriminator, real: tf.Tensor, fake: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        return tf.constant(0.0)


class HingeLoss(BceLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN)."""

    def discriminator(self, real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(tf.nn.relu(1.0 - real_scores)) + tf.reduce_mean(
            tf.nn.relu(1.0 + fake_scores)
        )

    def generator(self, fake_scores: tf.Tensor) -> tf.Tensor:
        return -tf.reduce_mean(fake_scores)


class WganGpLoss(HingeLoss):
    """Wasserstein critic loss with a gradient penalty on real/fake interpolates."""

    def __init__(self, config):
        self.gp_weight = config.gp_weight  # weight of the gradient penalty

    def discriminator(self, real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)

    def penalty(self, discriminator, real: tf.Tensor, fake: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        mix = tf.random.stateless_uniform([tf.shape(real)[0], 1], seed)
        interpolates = mix * real + (1.0 - mix) * fake  # (B, L)
        with tf.GradientTape() as tape:
            tape.watch(interpolates)
            scores = discriminator(interpolates, training=True)
        gradients = tape.gradient(scores, interpolates)
        norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=-1) + 1e-12)
        return self.gp_weight * tf.reduce_mean(tf.square(norms - 1.0))

