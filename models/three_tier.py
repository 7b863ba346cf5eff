"""SampleRNN's three-tier generator (Mehri et al., ICLR 2017): two frame tiers above a sample MLP.

With top frames of T = `top_frame_size` samples (64), middle frames of F = `frame_size`
(16) and R = T / F middle frames per top frame:

* the top tier, one LSTM, steps once per top frame: it reads the input features of the
  frame's T samples, and its output is projected to R conditioning vectors, one for each
  middle frame of the next top frame;
* the middle tier, one LSTM, steps once per middle frame: it reads the features of the
  F samples before the frame plus the frame's top-tier vector, and its output is
  projected to F conditioning vectors, one for each sample of the frame;
* the sample tier, a two-layer MLP, predicts each sample from the features of the F
  samples before it plus its vector, through the output head.

Each tier thus conditions only what comes after what it has read. A 100-sample period
spans two top steps and seven middle steps. Frames are counted from the end of the
seed window, as in `models.generator.FrameTierGenerator`: in a sequence whose first n
samples are the window, top frames start at r = n mod T and the first predicted position
is r + T. Teacher forcing runs each tier once over the whole sequence; generation
carries both LSTMs' states, their conditioning vectors and the phase within the top
frame: O(1) per sample, one middle step every F samples, one top step every T.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.generator import Carry, Generator


class ThreeTierGenerator(Generator):
    """Top tier every `top_frame_size` samples, middle tier every `frame_size`, MLP per sample."""

    def _make_layers(self, config) -> None:
        self.top_frame = config.top_frame_size
        self.frame = config.frame_size
        self.ratio = config.top_frame_size // config.frame_size  # middle frames per top frame
        self.units = config.lstm_units
        self.mlp_units = config.sample_mlp_units
        self.top_lstm = keras.layers.LSTM(self.units, return_sequences=True, return_state=True,
                                          name="top_lstm")
        self.top_upsample = keras.layers.Dense(self.ratio * self.units, name="top_upsample")
        self.middle_in = keras.layers.Dense(self.units, name="middle_in")
        self.middle_lstm = keras.layers.LSTM(self.units, return_sequences=True, return_state=True,
                                             name="middle_lstm")
        self.middle_upsample = keras.layers.Dense(self.frame * self.mlp_units,
                                                  name="middle_upsample")
        self.sample_in = keras.layers.Dense(self.mlp_units, name="sample_in")
        self.sample_hidden = keras.layers.Dense(self.mlp_units, activation="relu",
                                                name="sample_hidden")

    @property
    def offset(self) -> int:
        """Where the first top frame starts in a sequence that begins with an n-sample window."""
        return self.n % self.top_frame

    def zero_state(self, batch: int) -> tuple[tf.Tensor, ...]:
        """The state (top h, top c, middle h, middle c), each (B, units), of a fresh excerpt."""
        zeros = tf.zeros([batch, self.units])
        return zeros, zeros, zeros, zeros

    def _sample_tier(self, window_features: tf.Tensor, cond: tf.Tensor) -> tf.Tensor:
        """Head parameters from the flattened features of the F previous samples and the
        position's conditioning vector: (..., F*C), (..., mlp_units) -> (..., P)."""
        hidden = tf.nn.relu(self.sample_in(window_features) + cond)
        return self.head_layer(self.sample_hidden(hidden))

    def _tiers(self, features: tf.Tensor, state: tuple[tf.Tensor, ...] | None = None,
               past_end: bool = True):
        """The three tiers over per-sample features (B, M, C), M a multiple of T, frames from 0.

        Args:
            features: the input part's features of M samples.
            state: (top h, top c, middle h, middle c) to start from; None = zeros.
            past_end: also predict position M, the sample after the features (generation's
                next sample); without it the returned state is the one after position M - 1,
                which the next chunk of a carried excerpt continues from.

        Returns:
            params (B, M - T + past_end, P), index i predicting position T + i; the final
            state; the top tier's conditioning vectors (B, ., units) and the middle tier's
            (B, ., mlp_units), the last R and F of which condition what follows.
        """
        top, frame, ratio = self.top_frame, self.frame, self.ratio
        batch, samples, channels = tf.shape(features)[0], tf.shape(features)[1], features.shape[-1]
        extra = int(past_end)
        top_state, middle_state = (None, None) if state is None else (list(state[:2]),
                                                                      list(state[2:]))
        top_frames = tf.reshape(features, [batch, samples // top, top * channels])
        top_hidden, top_h, top_c = self.top_lstm(
            top_frames[:, :samples // top - 1 + extra], initial_state=top_state)
        # the top vector of middle frame R + q (the first frame a whole top frame precedes)
        top_cond = tf.reshape(self.top_upsample(top_hidden), [batch, -1, self.units])
        middle_steps = samples // frame - ratio + extra
        previous = tf.reshape(features, [batch, samples // frame, frame * channels])
        middle_input = (self.middle_in(previous[:, ratio - 1: ratio - 1 + middle_steps])
                        + top_cond[:, :middle_steps])
        middle_hidden, middle_h, middle_c = self.middle_lstm(middle_input,
                                                             initial_state=middle_state)
        middle_cond = tf.reshape(self.middle_upsample(middle_hidden), [batch, -1, self.mlp_units])
        count = samples - top + extra
        windows = tf.signal.frame(features, frame, 1, axis=1)[:, top - frame: top - frame + count]
        windows = tf.reshape(windows, [batch, count, frame * channels])  # (B, count, F*C)
        params = self._sample_tier(windows, middle_cond[:, :count])
        return params, (top_h, top_c, middle_h, middle_c), top_cond, middle_cond

    def _params(self, audio: tf.Tensor, offset: int) -> tf.Tensor:
        """Params of every predictable position of `audio` (B, T'), top frames from `offset`.

        The audio is padded at its end to whole top frames (a frame only conditions positions
        after it, so padding changes no prediction). Returns (B, M - T + 1, P), M the padded
        length after `offset`: index i predicts position offset + T + i (the last may lie
        past the audio).
        """
        length = tf.shape(audio)[1] - offset
        audio = tf.pad(audio[:, offset:], [[0, 0], [0, (-length) % self.top_frame]])
        return self._tiers(self.frames(audio))[0]

    def window_params(self, windows: tf.Tensor) -> tf.Tensor:
        width = int(windows.shape[1])
        offset = width % self.top_frame
        return self._params(windows, offset)[:, width - offset - self.top_frame]

    def params_at(self, audio, positions):
        params = self._params(audio, self.offset)
        return tf.gather(params, positions - self.offset - self.top_frame, axis=1)

    def teacher_loss(self, audio, seed):
        del seed
        first = self.offset + self.top_frame  # the first position a whole top frame precedes
        start = max(self.warmup, first)
        params = self._params(audio, self.offset)[:, start - first: tf.shape(audio)[1] - first]
        return self.head.teacher_loss(params, audio[:, start:])

    def carried_loss(self, audio, state):
        # audio (B, T + L), L a multiple of T: the first T samples are the previous chunk's
        # last top frame, the L after them are predicted.
        params, state, _, _ = self._tiers(self.frames(audio), state, past_end=False)
        return self.head.teacher_loss(params, audio[:, self.top_frame:]), state

    def replay_relaxed(self, seed_window, fed, seed):
        del seed
        length = tf.shape(fed)[1]
        history = tf.concat([seed_window, fed], axis=1)  # (B, n + L)
        first = self.n - self.offset - self.top_frame  # the index predicting position n
        params = self._params(history, self.offset)[:, first: first + length]
        return tf.range(length), self.head.relaxed(params)

    def _flat(self, features: tf.Tensor) -> tf.Tensor:
        """Features (B, K, C) flattened to (B, K*C)."""
        return tf.reshape(features, [tf.shape(features)[0], features.shape[1] * features.shape[2]])

    def start(self, seed_window: tf.Tensor) -> Carry:
        window = tf.convert_to_tensor(seed_window, tf.float32)
        width = int(window.shape[1])
        batch = tf.shape(window)[0]
        params, (top_h, top_c, middle_h, middle_c), top_cond, middle_cond = self._tiers(
            self.frames(window[:, width % self.top_frame:]))
        top_cond = tf.reshape(top_cond[:, -self.ratio:], [batch, self.ratio, self.units])
        middle_cond = tf.reshape(middle_cond[:, -self.frame:], [batch, self.frame, self.mlp_units])
        phase = tf.constant(0, tf.int32)  # position within the current top frame
        return (window[:, -self.top_frame:], top_h, top_c, middle_h, middle_c, top_cond,
                middle_cond, phase, params[:, -1])

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        buffer, top_h, top_c, middle_h, middle_c, top_cond, middle_cond, phase, _ = carry
        buffer = tf.concat([buffer[:, 1:], fed[:, None]], axis=1)  # (B, T) newest samples
        features = self.frames(buffer)  # (B, T, C)
        phase = phase + 1

        def next_top_frame():
            out, (new_h, new_c) = self.top_lstm.cell(self._flat(features), [top_h, top_c])
            return new_h, new_c, tf.reshape(self.top_upsample(out), tf.shape(top_cond)), \
                tf.zeros_like(phase)

        top_h, top_c, top_cond, phase = tf.cond(
            phase >= self.top_frame, next_top_frame, lambda: (top_h, top_c, top_cond, phase))
        last_frame = self._flat(features[:, -self.frame:])  # (B, F*C)

        def next_middle_frame():
            middle_input = (self.middle_in(last_frame)
                            + tf.gather(top_cond, phase // self.frame, axis=1))
            out, (new_h, new_c) = self.middle_lstm.cell(middle_input, [middle_h, middle_c])
            return new_h, new_c, tf.reshape(self.middle_upsample(out), tf.shape(middle_cond))

        middle_h, middle_c, middle_cond = tf.cond(
            phase % self.frame == 0, next_middle_frame,
            lambda: (middle_h, middle_c, middle_cond))
        params = self._sample_tier(last_frame, tf.gather(middle_cond, phase % self.frame, axis=1))
        return (buffer, top_h, top_c, middle_h, middle_c, top_cond, middle_cond, phase, params)
