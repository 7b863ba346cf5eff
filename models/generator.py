"""The autoregressive generator: the base every family builds on, and the LSTM families.

A generator holds the last n samples, predicts the next one, shifts it in and the
oldest out. `Generator` holds what every family shares: the input part, the prefilter,
the output head and the compiled generation loop; each family adds its layers and
its entry points (teacher forcing and one generation step), and declares itself in
`models.plugin`. The paper's two stacked LSTMs (fig. 3) are `LstmGenerator`, on which
three families differ only in how a step is computed:

* `StatelessGenerator` (the paper): every step re-runs both LSTMs over the whole
  window from a zero state. O(n) LSTM steps per sample.
* `StatefulGenerator`: the LSTM state is carried; after a warm-up over the seed
  window each step consumes one sample. O(1) per sample.
* `FrameTierGenerator`: SampleRNN's two tiers; the LSTMs step once per frame.

Generation is one compiled loop (`tf.while_loop` inside `tf.function`, XLA where it
compiles) over a batch of streams; it never calls the model once per sample from
Python.

Generator gradient. Back-propagating through the whole autoregressive loop costs
memory O(L * n * B * units) in stateless mode (about 25 GB for n = L = 500, B = 16,
128 units), so training uses a straight-through replay instead:
the sequence is generated without a tape, then the generator is re-applied to the
windows it actually saw (`replay_relaxed`), with the fed-back samples held fixed.
The discriminator's gradient reaches every generated sample (stateful) or a random
`grad_positions` of them per sequence (stateless), and from each through one
application of the generator; it is truncated where a sample is fed back into later
windows. In stateful mode the replay is one LSTM pass over the sequence, so the
gradient also flows through the carried state (full BPTT, truncated only at the
sample feedback).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from models.parts import part
from models.prefilter import build_prefilter

Carry = tuple


def _step_seed(seed: tf.Tensor, step: tf.Tensor, stream: int) -> tf.Tensor:
    """A distinct stateless-RNG seed (2,) per generation step and random stream."""
    return tf.stack([seed[0] + tf.cast(step, seed.dtype) * 2 + stream, seed[1]])


class Generator(keras.Model):
    """What every generator family shares: input part, prefilter, head, generation loop.

    A family overrides `_make_layers` (its own layers, created before the head's so that
    the variables of the families that predate this split keep their order and
    names), the entry points below and, when it carries a recurrent state between
    teacher-forced chunks, `zero_state` and `carried_loss`.
    """

    def __init__(self, config, **kwargs):
        super().__init__(name="generator", **kwargs)
        self.n = config.n
        self.warmup = config.warmup_samples  # teacher forcing's unscored samples per sequence
        self.carry_context = config.chunk_context  # a carried chunk's samples before its first
        #                                            predicted one (`carried_loss`)
        self.grad_positions = config.grad_positions
        self.head = part("output_head", config.output_head)(config)
        self.sample_input = part("sample_input", config.sample_input).for_config(config)
        self.prefilter = build_prefilter(config, stride=self._prefilter_stride(config))
        self._make_layers(config)
        self.head_layer = self.head.layer
        # Plain attributes, kept out of Keras' variable tracking.
        object.__setattr__(self, "_loops", {})
        self.set_xla(config.generation_xla)

    def _make_layers(self, config) -> None:
        """Create the family's own layers (called once, before the head's Dense)."""
        raise NotImplementedError

    def _prefilter_stride(self, config) -> int:
        """Frames per sample of the prefilter's pooling: 1, or `prefilter_pool` for a family
        that reads whole windows."""
        return 1

    # --- per-family entry points -----------------------------------------------------
    def start(self, seed_window: tf.Tensor) -> Carry:
        """The loop carry after the seed window (B, n) fills the window."""
        raise NotImplementedError

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        """Shift the fed-back sample (B,) into the window; carry holds the next params."""
        raise NotImplementedError

    def replay_relaxed(self, seed_window: tf.Tensor, fed: tf.Tensor,
                       seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Differentiable re-application to the windows seen while generating.

        Args:
            seed_window: (B, n) the window before the first step.
            fed: (B, L) the samples that were fed back (with feedback noise).
            seed: (2,) int stateless-RNG seed (chooses positions in stateless mode).

        Returns:
            positions (K,) int32 in [0, L) and relaxed samples (B, K) at those positions.
        """
        raise NotImplementedError

    def teacher_loss(self, audio: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """Next-sample prediction loss on real audio (B, T) of contiguous samples: every
        sample after the first `warmup` (`teacher_warmup`) that the family can score."""
        raise NotImplementedError

    # Truncated BPTT over long excerpts (`teacher_chunks` > 1), as SampleRNN trains: the
    # excerpt is cut into chunks of L predicted samples, each chunk starts from the
    # recurrent state the previous one ended in (gradient stopped there), the first from zeros.
    def zero_state(self, batch: int) -> tuple[tf.Tensor, ...]:
        """The recurrent state a carried excerpt starts from: a tuple of (B, ...) tensors."""
        raise NotImplementedError(f"{type(self).__name__} carries no state between sequences")

    def carried_loss(self, audio: tf.Tensor,
                     state: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        """Teacher-forced loss of one chunk from a carried recurrent state.

        Args:
            audio: (B, carry_context + L) contiguous samples; the last L are predicted.
            state: as `zero_state` makes it: where the previous chunk ended.

        Returns:
            The loss over the L predicted samples and the state the next chunk, which
            starts L samples later, continues from. Chunk after chunk, the losses are
            those of one pass over the whole excerpt.
        """
        raise NotImplementedError(f"{type(self).__name__} carries no state between sequences")

    def params_at(self, audio: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        """Head parameters predicting audio[:, p] from the samples before p: (B, T) -> (B, K, P).

        Every position p must be >= n (a full window precedes it).
        """
        raise NotImplementedError

    def loss_at(self, audio: tf.Tensor, positions: tf.Tensor) -> tf.Tensor:
        """The head's teacher-forced loss on audio[:, positions] (held-out likelihood)."""
        return self.head.teacher_loss(self.params_at(audio, positions),
                                      tf.gather(audio, positions, axis=1))

    def call(self, windows: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Head parameters of the next sample after each window: (B, n) -> (B, P)."""
        return self.window_params(windows)

    def frames(self, audio: tf.Tensor) -> tf.Tensor:
        """Input frames of a waveform: input part, then prefilter: (B, T) -> (B, T', C)."""
        return self.prefilter(self.sample_input(audio))

    def window_params(self, windows: tf.Tensor) -> tf.Tensor:
        """Head parameters of the sample after each window (B, W) -> (B, P), from the
        window alone (a zero state before it)."""
        raise NotImplementedError

    # --- the generation loop ---------------------------------------------------------
    def _loop(self, carry: Carry, steps: int, seed: tf.Tensor, offset: tf.Tensor,
              feedback_noise: tf.Tensor):
        emitted = tf.TensorArray(tf.float32, size=steps)
        fed_back = tf.TensorArray(tf.float32, size=steps)

        def body(i, carry, emitted, fed_back):
            step = offset + i
            sample = self.head.sample(carry[-1], _step_seed(seed, step, 0))  # (B,)
            noise = tf.random.stateless_normal(tf.shape(sample), _step_seed(seed, step, 1))
            fed = sample + feedback_noise * noise
            return i + 1, self.advance(carry, fed), emitted.write(i, sample), fed_back.write(i, fed)

        _, carry, emitted, fed_back = tf.while_loop(
            lambda i, *_: i < steps, body, (tf.constant(0), carry, emitted, fed_back)
        )
        return carry, tf.transpose(emitted.stack()), tf.transpose(fed_back.stack())

    def set_xla(self, enabled: bool) -> None:
        """Compile the generation loop with XLA (default) or without; kept out of Keras tracking."""
        object.__setattr__(self, "use_xla", enabled)

    def _compiled_function(self, function, xla: bool):
        key = (function.__name__, xla)
        if key not in self._loops:
            self._loops[key] = tf.function(function, jit_compile=xla, reduce_retracing=True)
        return self._loops[key]

    def _compiled(self, function, *args):
        """Call `function(*args)` compiled with XLA, or without when XLA cannot compile it here."""
        if self.use_xla:
            try:
                return self._compiled_function(function, True)(*args)
            except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError,
                    tf.errors.InternalError):
                # e.g. cuDNN LSTM kernels have no XLA lowering; the plain loop still works.
                self.set_xla(False)
        return self._compiled_function(function, False)(*args)

    def _compiled_loop(self, function, first, steps: int, seed, offset: int,
                       feedback_noise: float):
        return self._compiled(function, first, steps, tf.cast(seed, tf.int32),
                              tf.constant(offset, tf.int32),
                              tf.constant(feedback_noise, tf.float32))

    def compiled_start(self, seed_window: tf.Tensor) -> Carry:
        """`start` compiled like the loop: the carry after the seed window (B, n).

        Eagerly, Keras steps the LSTMs over the window from Python: seconds at n = 500,
        where the compiled warm-up takes milliseconds.
        """
        return self._compiled(self.start, tf.convert_to_tensor(seed_window, tf.float32))

    def run(self, carry: Carry, steps: int, seed, offset: int = 0,
            feedback_noise: float = 0.0) -> tuple[Carry, tf.Tensor, tf.Tensor]:
        """Generate `steps` samples from `carry`, compiled; XLA unless it cannot compile.

        Returns:
            (carry, emitted (B, steps), fed (B, steps)); `offset` numbers the steps so that
            chunked generation draws the same random numbers as one long call.
        """
        return self._compiled_loop(self._loop, carry, steps, seed, offset, feedback_noise)

    def _start_and_loop(self, seed_window: tf.Tensor, steps: int, seed: tf.Tensor,
                        offset: tf.Tensor, feedback_noise: tf.Tensor):
        return self._loop(self.start(seed_window), steps, seed, offset, feedback_noise)

    def generate(self, seed_window: tf.Tensor, steps: int, seed,
                 feedback_noise: float = 0.0) -> tuple[tf.Tensor, tf.Tensor]:
        """(B, n) seed window -> emitted samples (B, steps) and fed-back samples (B, steps).

        The warm-up over the seed window is compiled together with the loop.
        """
        _, emitted, fed = self._compiled_loop(self._start_and_loop, tf.convert_to_tensor(
            seed_window, tf.float32), steps, seed, 0, feedback_noise)
        return emitted, fed


class LstmGenerator(Generator):
    """The paper's two stacked LSTMs, which the three LSTM families step differently."""

    def _make_layers(self, config) -> None:
        self.units = config.lstm_units
        self.lstm1 = keras.layers.LSTM(config.lstm_units, return_sequences=True,
                                       return_state=True, name="lstm1")
        self.lstm2 = keras.layers.LSTM(config.lstm_units, return_sequences=True,
                                       return_state=True, name="lstm2")

    def zero_state(self, batch: int) -> tuple[tf.Tensor, ...]:
        """The LSTM state (h1, c1, h2, c2) a carried excerpt starts from, each (B, units)."""
        zeros = tf.zeros([batch, self.units])
        return zeros, zeros, zeros, zeros

    def window_params(self, windows: tf.Tensor) -> tf.Tensor:
        """Stateless view: run both LSTMs over each window from a zero state -> (B, P)."""
        hidden, *_ = self.lstm1(self.frames(windows))
        hidden, *_ = self.lstm2(hidden)
        return self.head_layer(hidden[:, -1])


class StatelessGenerator(LstmGenerator):
    """The paper's mode: each sample re-runs the LSTMs over the whole n-sample window."""

    def _prefilter_stride(self, config) -> int:
        return config.prefilter_pool

    def start(self, seed_window: tf.Tensor) -> Carry:
        window = tf.convert_to_tensor(seed_window, tf.float32)
        return (window, self.window_params(window))

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        window = tf.concat([carry[0][:, 1:], fed[:, None]], axis=1)  # shift in, oldest out
        return (window, self.window_params(window))

    def _windows_at(self, seed_window: tf.Tensor, fed: tf.Tensor,
                    positions: tf.Tensor) -> tf.Tensor:
        """The window before step p for each p: (B, K, n)."""
        history = tf.concat([seed_window, fed], axis=1)  # (B, n + L)
        index = positions[:, None] + tf.range(self.n)[None, :]  # (K, n)
        return tf.gather(history, index, axis=1)

    def replay_relaxed(self, seed_window, fed, seed):
        length = tf.shape(fed)[1]
        count = tf.minimum(self.grad_positions, length) if self.grad_positions else length
        positions = tf.random.experimental.stateless_shuffle(tf.range(length), seed)[:count]
        windows = self._windows_at(seed_window, fed, positions)  # (B, K, n)
        batch = tf.shape(windows)[0]
        params = self.window_params(tf.reshape(windows, [-1, self.n]))  # (B*K, P)
        return positions, tf.reshape(self.head.relaxed(params), [batch, -1])

    def params_at(self, audio, positions):
        index = positions[:, None] - self.n + tf.range(self.n)[None, :]  # (K, n)
        windows = tf.gather(audio, index, axis=1)  # (B, K, n)
        batch = tf.shape(windows)[0]
        params = self.window_params(tf.reshape(windows, [-1, self.n]))  # (B*K, P)
        return tf.reshape(params, [batch, tf.shape(positions)[0], -1])

    def teacher_loss(self, audio, seed):
        # One random target per sequence, among the T - n a whole window precedes (T = 2n
        # unless `pretrain_length` says otherwise).
        batch = tf.shape(audio)[0]
        offsets = tf.random.stateless_uniform([batch], seed, 0, tf.shape(audio)[1] - self.n,
                                              dtype=tf.int32)
        index = offsets[:, None] + tf.range(self.n)[None, :]  # (B, n)
        windows = tf.gather(audio, index, axis=1, batch_dims=1)
        targets = tf.gather(audio, offsets + self.n, axis=1, batch_dims=1)  # (B,)
        return self.head.teacher_loss(self.window_params(windows), targets)


class StatefulGenerator(LstmGenerator):
    """State carried from step to step: a warm-up over the seed, then one sample per step."""

    def sequence_params(self, audio: tf.Tensor) -> tf.Tensor:
        """Teacher-forced view: params after each prefix of `audio` (B, T) -> (B, T, P)."""
        hidden, *_ = self.lstm1(self.frames(audio))
        hidden, *_ = self.lstm2(hidden)
        return self.head_layer(hidden)

    def start(self, seed_window: tf.Tensor) -> Carry:
        window = tf.convert_to_tensor(seed_window, tf.float32)
        hidden, h1, c1 = self.lstm1(self.frames(window))
        hidden, h2, c2 = self.lstm2(hidden)
        buffer = window[:, -self.prefilter.receptive_field:]  # (B, R) newest samples
        return (buffer, h1, c1, h2, c2, self.head_layer(hidden[:, -1]))

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        buffer, h1, c1, h2, c2, _ = carry
        buffer = tf.concat([buffer[:, 1:], fed[:, None]], axis=1)
        frame = self.frames(buffer)[:, -1]  # (B, C): the frame of the newest sample
        out1, (h1, c1) = self.lstm1.cell(frame, [h1, c1])
        out2, (h2, c2) = self.lstm2.cell(out1, [h2, c2])
        return (buffer, h1, c1, h2, c2, self.head_layer(out2))

    def replay_relaxed(self, seed_window, fed, seed):
        del seed
        history = tf.concat([seed_window, fed[:, :-1]], axis=1)  # (B, n + L - 1)
        params = self.sequence_params(history)[:, self.n - 1:]  # (B, L, P) predicts fed's steps
        return tf.range(tf.shape(fed)[1]), self.head.relaxed(params)

    def params_at(self, audio, positions):
        params = self.sequence_params(audio[:, :-1])  # params[:, t] predicts audio[:, t + 1]
        return tf.gather(params, positions - 1, axis=1)

    def teacher_loss(self, audio, seed):
        del seed
        start = self.warmup  # the first predicted sample (n: after a full window)
        params = self.sequence_params(audio[:, :-1])[:, start - 1:]
        return self.head.teacher_loss(params, audio[:, start:])

    def carried_loss(self, audio, state):
        h1, c1, h2, c2 = state
        hidden, h1, c1 = self.lstm1(self.frames(audio[:, :-1]), initial_state=[h1, c1])
        hidden, h2, c2 = self.lstm2(hidden, initial_state=[h2, c2])
        # The next chunk's first input is this chunk's last sample: the state after the
        # input before it is the one to carry.
        return self.head.teacher_loss(self.head_layer(hidden), audio[:, 1:]), (h1, c1, h2, c2)


class FrameTierGenerator(LstmGenerator):
    """Two tiers, as SampleRNN's two-tier model (Mehri et al., ICLR 2017).

    The two stacked LSTMs (the frame tier) step once per frame of `frame_size` = F
    samples: each step reads the features of F samples (the `sample_input` part's, e.g.
    F mu-law embeddings) and its output is projected to F conditioning vectors, one for
    each sample of the next frame. The sample tier, a two-layer MLP, predicts each sample
    from the features of the F samples before it plus its conditioning vector. The LSTMs
    thus span F samples per step (a 100-sample period is 6 steps, not 100), and teacher
    forcing runs the sample tier in parallel over every position.

    Frame boundaries are counted from the end of the seed window: in a sequence whose
    first n samples are the window (generation, the GAN's replay, the held-out probe,
    teacher-forced crops), frames start at offset r = n mod F, so the first predicted
    position is r + F and the window's last frame ends at n. Generation carries the LSTM
    state and a phase in [0, F): O(1) per sample, one LSTM step every F samples.
    """

    def __init__(self, config, **kwargs):
        super().__init__(config, **kwargs)
        self.frame = config.frame_size
        self.mlp_units = config.sample_mlp_units
        self.upsample = keras.layers.Dense(self.frame * self.mlp_units, name="upsample")
        self.sample_in = keras.layers.Dense(self.mlp_units, name="sample_in")
        self.sample_hidden = keras.layers.Dense(self.mlp_units, activation="relu",
                                                name="sample_hidden")

    @property
    def offset(self) -> int:
        """Where the first frame starts in a sequence that begins with an n-sample window."""
        return self.n % self.frame

    def _frame_tier(self, features: tf.Tensor,
                    state: tuple[tf.Tensor, ...] | None = None) -> tuple[tf.Tensor, ...]:
        """Both LSTMs over whole frames of per-sample features (B, K*F, C), from `state`
        (h1, c1, h2, c2) or zeros: the output after each frame (B, K, units) and the final
        states h1, c1, h2, c2."""
        batch, samples = tf.shape(features)[0], tf.shape(features)[1]
        frames = tf.reshape(features, [batch, samples // self.frame,
                                       self.frame * features.shape[-1]])
        first, second = (None, None) if state is None else (list(state[:2]), list(state[2:]))
        hidden, h1, c1 = self.lstm1(frames, initial_state=first)
        hidden, h2, c2 = self.lstm2(hidden, initial_state=second)
        return hidden, h1, c1, h2, c2

    def _sample_tier(self, window_features: tf.Tensor, cond: tf.Tensor) -> tf.Tensor:
        """Head parameters from the flattened features of the F previous samples and the
        conditioning vector of the position: (..., F*C), (..., U) -> (..., P)."""
        hidden = tf.nn.relu(self.sample_in(window_features) + cond)
        return self.head_layer(self.sample_hidden(hidden))

    def _sample_params(self, features: tf.Tensor, hidden: tf.Tensor) -> tf.Tensor:
        """The sample tier over every position a full frame of `features` (B, M, C)
        precedes, conditioned by the frame tier's outputs `hidden` (B, K, units), frame k's
        conditioning the F positions after it: (B, M - F + 1, P), index i predicting the
        sample after features[:, i: i + F]."""
        frame, batch = self.frame, tf.shape(features)[0]
        count = tf.shape(features)[1] - frame + 1
        cond = tf.reshape(self.upsample(hidden), [batch, -1, self.mlp_units])
        windows = tf.signal.frame(features, frame, 1, axis=1)  # (B, count, F, C)
        windows = tf.reshape(windows, [batch, count, frame * features.shape[-1]])
        return self._sample_tier(windows, cond[:, :count])

    def _params(self, audio: tf.Tensor, offset: int) -> tf.Tensor:
        """Params of every predictable position of `audio` (B, T), frames starting at `offset`.

        The audio is padded at its end to whole frames (a frame only conditions positions
        after it, so padding changes no prediction). Returns (B, T' - offset - F + 1, P):
        index i predicts position offset + F + i (the last one may lie past the audio).
        """
        frame = self.frame
        length = tf.shape(audio)[1] - offset
        audio = tf.pad(audio[:, offset:], [[0, 0], [0, (frame - length % frame) % frame]])
        features = self.frames(audio)  # (B, M, C)
        hidden, *_ = self._frame_tier(features)  # (B, K, units): after each frame
        return self._sample_params(features, hidden)

    def window_params(self, windows: tf.Tensor) -> tf.Tensor:
        """Params of the sample after each window (B, W), its frames ending at W."""
        width = int(windows.shape[1])
        return self._params(windows, width % self.frame)[:, width - width % self.frame - self.frame]

    def params_at(self, audio, positions):
        params = self._params(audio, self.offset)
        return tf.gather(params, positions - self.offset - self.frame, axis=1)

    def teacher_loss(self, audio, seed):
        del seed
        first = self.offset + self.frame  # the first position a full frame precedes
        start = max(self.warmup, first)
        params = self._params(audio, self.offset)[:, start - first: tf.shape(audio)[1] - first]
        return self.head.teacher_loss(params, audio[:, start:])

    def carried_loss(self, audio, state):
        # audio (B, F + L), L a multiple of F. The LSTMs read the frames of its first L
        # samples (the last frame conditions only what lies past the chunk, so it is the
        # next chunk's first); frame k's output conditions the F samples of frame k + 1.
        length = tf.shape(audio)[1] - self.frame
        features = self.frames(audio)  # (B, F + L, C)
        hidden, *state = self._frame_tier(features[:, :length], state)
        params = self._sample_params(features[:, :-1], hidden)  # (B, L, P)
        return self.head.teacher_loss(params, audio[:, self.frame:]), tuple(state)

    def replay_relaxed(self, seed_window, fed, seed):
        del seed
        length = tf.shape(fed)[1]
        history = tf.concat([seed_window, fed], axis=1)  # (B, n + L)
        first = self.n - self.offset - self.frame  # the index predicting position n
        params = self._params(history, self.offset)[:, first: first + length]
        return tf.range(length), self.head.relaxed(params)

    def _frame_features(self, buffer: tf.Tensor) -> tf.Tensor:
        """Flattened features (B, F*C) of the F newest samples."""
        features = self.frames(buffer)
        return tf.reshape(features, [tf.shape(features)[0], self.frame * features.shape[-1]])

    def start(self, seed_window: tf.Tensor) -> Carry:
        window = tf.convert_to_tensor(seed_window, tf.float32)
        width, frame = int(window.shape[1]), self.frame
        batch = tf.shape(window)[0]
        hidden, h1, c1, h2, c2 = self._frame_tier(self.frames(window[:, width % frame:]))
        cond = tf.reshape(self.upsample(hidden[:, -1]), [batch, frame, self.mlp_units])
        buffer = window[:, -frame:]
        phase = tf.constant(0, tf.int32)
        return (buffer, h1, c1, h2, c2, cond, phase,
                self._sample_tier(self._frame_features(buffer), cond[:, 0]))

    def advance(self, carry: Carry, fed: tf.Tensor) -> Carry:
        buffer, h1, c1, h2, c2, cond, phase, _ = carry
        buffer = tf.concat([buffer[:, 1:], fed[:, None]], axis=1)
        phase = phase + 1

        def next_frame():
            out1, (n_h1, n_c1) = self.lstm1.cell(self._frame_features(buffer), [h1, c1])
            out2, (n_h2, n_c2) = self.lstm2.cell(out1, [h2, c2])
            n_cond = tf.reshape(self.upsample(out2), tf.shape(cond))
            return n_h1, n_c1, n_h2, n_c2, n_cond, tf.zeros_like(phase)

        h1, c1, h2, c2, cond, phase = tf.cond(
            phase >= self.frame, next_frame, lambda: (h1, c1, h2, c2, cond, phase))
        params = self._sample_tier(self._frame_features(buffer), tf.gather(cond, phase, axis=1))
        return (buffer, h1, c1, h2, c2, cond, phase, params)
