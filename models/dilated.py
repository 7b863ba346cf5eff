"""WaveNet's causal dilated convolutions as a generator family (`generator = "dilated"`).

A stack of gated layers (van den Oord et al. 2016): layer i reads its input x_i at
times t and t - d_i (a causal convolution of kernel 2 and dilation d_i), gates it,
tanh(filter) * sigmoid(gate), and adds a residual to x_i and a skip output to the sum
that, through ReLU, a Dense and ReLU, feeds the output head. Dilations double from 1 in
each of `dilated_stacks` stacks of `dilated_layers` layers; the receptive field is
1 + sum of the dilations (10 layers: 1 + 1 + 2 + ... + 512 = 1,024 samples, the
period of a 16 Hz tone at 16 kHz). Inputs before a sequence's first sample are zeros at
every layer (causal padding), in teacher forcing and generation alike.

Teacher forcing runs the whole sequence at once: each layer is one Dense over every
time step of [x_i(t - d_i), x_i(t)]. Generation keeps, per layer, a queue of its last
d_i inputs (Fast WaveNet, Paine et al. 2016): a sample reads each layer's input d_i
steps ago from its queue and writes the new one in its place, so it costs O(layers),
whatever the receptive field. All queues live in one circular buffer (sum of d_i
slots) indexed by the step modulo each dilation.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.generator import Carry, Generator


def dilations(layers: int, stacks: int) -> tuple[int, ...]:
    """Each layer's dilation in samples: 1, 2, ..., 2**(layers - 1), `stacks` times."""
    return tuple(2**layer for layer in range(layers)) * stacks


def receptive_field(layers: int, stacks: int) -> int:
    """Samples one output depends on: the newest and 1 + sum(dilations) - 1 before it."""
    return 1 + sum(dilations(layers, stacks))


class DilatedGenerator(Generator):
    """Gated causal dilated convolutions with residual and skip connections (WaveNet).

    Sizes: `dilated_layers` layers per stack, `dilated_stacks` stacks,
    `dilated_channels` residual channels, `dilated_skip_channels` skip channels. The
    input part's features (B, T, E) (`frames`; the family takes no prefilter) are projected
    to the residual channels first.
    """

    def _make_layers(self, config) -> None:
        self.dilations = dilations(config.dilated_layers, config.dilated_stacks)
        self.receptive_field = receptive_field(config.dilated_layers, config.dilated_stacks)
        self.channels = config.dilated_channels
        self.input_projection = keras.layers.Dense(self.channels, name="input_projection")
        self.gates = [keras.layers.Dense(2 * self.channels, name=f"gate_{i}")
                      for i in range(len(self.dilations))]
        # The last layer's residual would feed nothing, so it has none.
        self.residuals = [keras.layers.Dense(self.channels, name=f"residual_{i}")
                          for i in range(len(self.dilations) - 1)]
        # The sum of each layer's skip projection is one projection of all gated outputs.
        self.skips = keras.layers.Dense(config.dilated_skip_channels, name="skips")
        self.skip_hidden = keras.layers.Dense(config.dilated_skip_channels, activation="relu",
                                              name="skip_hidden")
        # The circular buffer of generation: layer i's queue is slots first[i] .. + d_i.
        firsts = [sum(self.dilations[:i]) for i in range(len(self.dilations))]
        object.__setattr__(self, "_queue_first", tf.constant(firsts, tf.int32))
        object.__setattr__(self, "_queue_length", tf.constant(self.dilations, tf.int32))

    # --- the network, shared by both paths -------------------------------------------------
    def _layer(self, index: int, past: tf.Tensor,
               current: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Gated layer `index` on its input d steps ago and now, (..., C) each: its gated
        output (..., C) and the next layer's input (..., C) (None after the last layer)."""
        gate_input = self.gates[index](tf.concat([past, current], axis=-1))  # (..., 2C)
        filtered, gate = tf.split(gate_input, 2, axis=-1)
        gated = tf.tanh(filtered) * tf.sigmoid(gate)
        if index == len(self.residuals):
            return gated, None
        return gated, current + self.residuals[index](gated)

    def _head_params(self, gated: list[tf.Tensor]) -> tf.Tensor:
        """Head parameters from every layer's gated output, each (..., C) -> (..., P)."""
        skips = self.skips(tf.concat(gated, axis=-1))  # (..., S): the sum of skip outputs
        return self.head_layer(self.skip_hidden(tf.nn.relu(skips)))

    def _stack(self, audio: tf.Tensor,
               first: int | tf.Tensor = 0) -> tuple[list[tf.Tensor], tf.Tensor]:
        """Every layer's input (each (B, T, C)) and the params after each sample from index
        `first` on (B, T - first, P): the head is not computed where nothing is scored."""
        x = self.input_projection(self.frames(audio))  # (B, T, C)
        inputs, gated = [], []
        for index, dilation in enumerate(self.dilations):
            inputs.append(x)
            past = tf.pad(x, [[0, 0], [dilation, 0], [0, 0]])[:, :-dilation]  # x(t - d), 0 before
            output, x = self._layer(index, past, x)
            gated.append(output)
        return inputs, self._head_params([output[:, first:] for output in gated])

    def sequence_params(self, audio: tf.Tensor, first: int | tf.Tensor = 0) -> tf.Tensor:
        """Teacher-forced view: params after each prefix of `audio` (B, T) that ends at
        index `first` or later -> (B, T - first, P)."""
        return self._stack(audio, first)[1]

    def window_params(self, windows: tf.Tensor) -> tf.Tensor:
        """Params of the sample after each window (B, W) -> (B, P)."""
        return self.sequence_params(windows, tf.shape(windows)[1] - 1)[:, 0]

    # --- teacher forcing -------------------------------------------------------------------
    def teacher_loss(self, audio, seed):
        del seed
        start = self.warmup  # the first predicted sample (n: after a full window)
        params = self.sequence_params(audio[:, :-1], start - 1)
        return self.head.teacher_loss(params, audio[:, start:])

    def params_at(self, audio, positions):
        params = self.sequence_params(audio[:, :-1])  # params[:, t] predicts audio[:, t + 1]
        return tf.gather(params, positions - 1, axis=1)

    def replay_relaxed(self, seed_window, fed, seed):
        # One pass over the window and the fed-back samples: every step's gradient.
        del seed
        history = tf.concat([seed_window, fed[:, :-1]], axis=1)  # (B, n + L - 1)
        params = self.sequence_params(history, int(seed_window.shape[1]) - 1)  # (B, L, P)
        return tf.range(tf.shape(fed)[1]), self.head.relaxed(params)

    # --- generation with queues ------------------------------------------------------------
    def start(self, seed_window: tf.Tensor) -> Carry:
        """Run the stack over the seed window (B, n) and fill every queue from it.

        Returns:
            (buffer (sum of d_i, B, C), step (), params (B, P)): slot first[i] + t mod d_i
            holds layer i's input at the latest time t with that residue; `step` is the
            next time modulo the largest dilation (every d_i divides it).
        """
        window = tf.convert_to_tensor(seed_window, tf.float32)
        width = tf.shape(window)[1]
        inputs, params = self._stack(window, width - 1)  # params (B, 1, P)
        queues = []
        for x, dilation in zip(inputs, self.dilations, strict=True):
            newest = tf.pad(x, [[0, 0], [dilation, 0], [0, 0]])[:, -dilation:]  # times n-d..n-1
            queues.append(tf.roll(newest, shift=width % dilation, axis=1))  # time t at t mod d
        buffer = tf.transpose(tf.concat(queues, axis=1), [1, 0, 2])  # (sum d, B, C)
        return buffer, width % max(self.dilations), params[:, 0]

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        buffer, step, _ = carry
        slots = self._queue_first + step % self._queue_length  # (layers,): inputs d_i ago
        pasts = tf.gather(buffer, slots)  # (layers, B, C)
        x = self.input_projection(self.frames(fed[:, None])[:, 0])  # (B, C)
        inputs, gated = [], []
        for index in range(len(self.dilations)):
            inputs.append(x)
            output, x = self._layer(index, pasts[index], x)
            gated.append(output)
        buffer = tf.tensor_scatter_nd_update(buffer, slots[:, None], tf.stack(inputs))
        return buffer, (step + 1) % max(self.dilations), self._head_params(gated)
