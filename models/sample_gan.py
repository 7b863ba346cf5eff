"""Assemble a Sample-GAN from a config: every part looked up by the name the config gives."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from models.autoencoder import build_decoder, build_encoder
from models.config import SampleGANConfig, check_sampling_keys
from models.discriminator import Discriminator
from models.parts import part

WEIGHT_FILES = ("encoder", "decoder", "generator", "discriminator")


class SampleGAN:
    """The autoencoder, generator, discriminator, seed source and GAN loss of one config."""

    def __init__(self, config: SampleGANConfig):
        self.config = config
        self.encoder = build_encoder(config)
        self.decoder = build_decoder(config)
        self.generator = part("generator", config.generator).build(config)
        self.discriminator = Discriminator(config)
        self.seed_source = part("seed_source", config.seed_source)(config, self.encoder)
        self.loss = part("gan_loss", config.gan_loss)(config)
        self._build()

    def _build(self) -> None:
        """Create every variable now, in a fixed order, so weights save and load by name.

        The autoencoder's shapes follow n; the LSTM nets' weights do not depend on the
        sequence length, so they are built on a short probe: running them eagerly over
        n = 500 samples three times cost seconds per model (every trial, every generate).
        """
        n = self.config.n
        self.decoder(self.encoder(tf.zeros((1, n))))
        pool = self.config.prefilter_pool
        reach = max(2 * (self.config.prefilter_kernel + pool) + 2 * pool,
                    self.config.chunk_context)  # a window holds a whole frame of every tier
        short = tf.zeros((1, min(n, reach)))
        carry = self.generator.start(short)
        self.generator.advance(carry, tf.zeros((1,)))
        self.generator(short)  # through __call__, so Keras marks it built
        self.discriminator(tf.zeros((1, min(self.config.gen_length, int(short.shape[1])))))

    def autoencode(self, segments: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.decoder(self.encoder(segments, training=training), training=training)

    def seed_windows(self, real_segments, seed) -> tf.Tensor:
        """Seed windows (B, n) from real segments (B, n), as the variant's seed source does."""
        return self.seed_source.window(tf.convert_to_tensor(real_segments, tf.float32),
                                       tf.cast(seed, tf.int32))

    # --- persistence -----------------------------------------------------------------
    def save(self, directory: Path, seed_bank: np.ndarray) -> Path:
        """Write config.json, the weights of every net and the real segments seeds come from."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.json").write_text(self.config.to_json())
        for name in WEIGHT_FILES:
            getattr(self, name).save_weights(str(directory / f"{name}.weights.h5"))
        np.save(directory / "seed_bank.npy", np.asarray(seed_bank, np.float32))
        return directory

    @classmethod
    def load(cls, directory: Path, sampling: Mapping[str, Any] | None = None,
             ) -> tuple[SampleGAN, np.ndarray]:
        """Inverse of `save`: the model and its seed bank (segments, n).

        `sampling` changes how the saved weights are sampled from: only `SAMPLING_KEYS`.
        """
        values = json.loads((directory / "config.json").read_text())
        check_sampling_keys(sampling or {})
        config = SampleGANConfig.from_dict({**values, **(sampling or {})})
        model = cls(config)
        for name in WEIGHT_FILES:
            getattr(model, name).load_weights(str(directory / f"{name}.weights.h5"))
        return model, np.load(directory / "seed_bank.npy")


def set_global_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow (weight initialisers) for a reproducible build."""
    keras.utils.set_random_seed(seed)
