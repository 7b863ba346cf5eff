"""The discriminator: prefilter, two stacked LSTMs and a dense score (paper, fig. 2)."""

from __future__ import annotations

import keras
import tensorflow as tf

from models.inputs import RawSamples
from models.prefilter import build_prefilter


class Discriminator(keras.Model):
    """(B, L) waveform segments -> (B,) real-vs-generated logits (critic scores for WGAN)."""

    def __init__(self, config, **kwargs):
        super().__init__(name="discriminator", **kwargs)
        self.sample_input = RawSamples(name="sample_input")  # see models/inputs.py: always raw
        self.prefilter = build_prefilter(config, stride=config.prefilter_pool)
        self.lstm1 = keras.layers.LSTM(config.lstm_units, return_sequences=True, name="lstm1")
        self.lstm2 = keras.layers.LSTM(config.lstm_units, name="lstm2")
        self.score = keras.layers.Dense(1, name="score")

    def call(self, segments: tf.Tensor, training: bool = False) -> tf.Tensor:
        frames = self.prefilter(self.sample_input(segments))  # (B, L', C)
        hidden = self.lstm2(self.lstm1(frames))  # (B, U)
        return self.score(hidden)[:, 0]  # (B,)
