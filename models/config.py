"""One frozen config that carries every knob of a Sample-GAN variant, with its default.

The paper ("Time Domain Music Synthesis with Sample-GAN") names the architecture but
not its sizes, optimiser, learning rates or batch size; every such default below is
ours and says so. The parts a variant swaps (seed source, output head, generator,
prefilter, GAN loss) are chosen by name here and looked up in `models.parts`; the
layers never branch on flags. Each generator declares the rules of its own keys
(`models.plugin`); this module names none.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any

from models.errors import SampleGanError
from models.parts import PARTS, part

SAMPLE_RATES_HZ = (16000, 44100)
# Keys that only change how a trained generator is sampled, never its weights: the ones
# `samplegan generate --set` may change.
SAMPLING_KEYS = ("mulaw_temperature", "mulaw_top_p")
# Keys that were renamed: specs, `--set`, saved configs and stored runs that use the old
# name still mean the new one.
RENAMED_KEYS = {"lstm_mode": "generator"}


@dataclass(frozen=True)
class SampleGANConfig:
    """Every knob of one variant. `paper` is this class with no overrides."""

    # --- the user's axes -------------------------------------------------------------
    sample_rate: int = 44100  # Hz; the paper assumed 44.1 kHz input
    n: int = 500  # window = segment length in samples; the paper mostly used 500
    generator: str = "stateless"  # paper: whole window re-run per sample; "stateful": O(1)/sample;
    #   "frame-tier": the LSTMs step once per frame_size samples, an MLP predicts each sample;
    #   "three-tier": an LSTM per top_frame_size samples above one per frame_size (formerly `lstm_mode`, still accepted; the families: models/plugin.py)
    prefilter: bool = False  # paper tried conv+max-pool before the LSTMs, then removed it

    # --- research axes (paper value first) ---------------------------------------------
    seed_source: str = "encoded"  # paper: frozen encoder's code of a real segment; noise; real
    output_head: str = "tanh"  # paper: deterministic tanh regression; "mulaw": sampled softmax
    sample_input: str = "raw"  # paper: the generator reads float samples; "mulaw-companded":
    #   their mu-law companded values; "mulaw-embedding": a learned embedding of each sample's
    #   mu-law class (models/inputs.py)
    gan_loss: str = "bce"  # paper: binary cross-entropy; "hinge"; "wgan-gp"
    feedback_noise: float = 0.0  # std of Gaussian noise on fed-back samples while training
    pretrain_epochs: int = 0  # teacher-forced epochs of the generator before the GAN phase
    pretrain_steps: int = 0  # teacher-forced steps instead of epochs (at most one of the two > 0)

    # --- sizes (ours; the paper gives none) ----------------------------------------------
    lstm_units: int = 128  # units in each of the two stacked LSTMs (generator and discriminator)
    prefilter_filters: int = 16  # conv channels of the prefilter
    prefilter_kernel: int = 9  # conv kernel in samples (causal)
    prefilter_pool: int = 4  # max-pool size; stateless nets also stride by it (n -> n/pool)
    ae_levels: int = 3  # conv+pool levels of the autoencoder (each halves the length)
    ae_filters: int = 32  # conv channels per autoencoder level
    ae_kernel: int = 9  # autoencoder conv kernel in samples
    mulaw_channels: int = 256  # classes of the mu-law head (8-bit mu-law)
    mulaw_temperature: float = 1.0  # softmax temperature when sampling the mu-law head
    mulaw_top_p: float = 1.0  # nucleus sampling of the mu-law head: draw only from the most
    #                          likely classes holding this much probability; 1 = every class
    input_embedding_dim: int = 32  # features per sample of the mulaw-embedding input
    frame_size: int = 16  # frame-tier and three-tier: samples per (middle) LSTM step (SampleRNN: 16)
    top_frame_size: int = 64  # three-tier only: samples per top-tier step (SampleRNN's 3-tier: 64)
    sample_mlp_units: int = 256  # frame-tier and three-tier: width of the per-sample MLP
    dilated_layers: int = 10  # dilated only: gated layers per stack, dilations 1, 2, ..., 2**(k-1)
    dilated_stacks: int = 1  # dilated only: stacks of those layers (receptive field
    #                         1 + stacks * (2**layers - 1) samples: 1,024 with the defaults)
    dilated_channels: int = 32  # dilated only: residual channels of every layer
    dilated_skip_channels: int = 64  # dilated only: skip channels, summed over the layers
    seed_noise_std: float = 0.1  # std of the "noise" seed window

    # --- optimisation (ours) -------------------------------------------------------------
    batch_size: int = 16  # sequences per step, real and generated alike
    ae_steps: int = 2000  # autoencoder steps (reconstruction MSE) before it is frozen
    gan_steps: int = 2000  # adversarial steps (one D update and one G update each)
    lr_autoencoder: float = 1e-3  # Adam
    lr_generator: float = 1e-4  # Adam
    lr_discriminator: float = 1e-4  # Adam
    adam_beta1: float = 0.5  # the usual GAN setting (DCGAN)
    adam_beta2: float = 0.999
    lr_pretrain: float = 1e-4  # Adam, teacher forcing (the generator's rate unless changed)
    pretrain_beta1: float = 0.5  # Adam beta1 of teacher forcing (the GAN's unless changed)
    clip_norm: float = 0.0  # global gradient-norm clip of both generator optimisers; 0 = none
    pretrain_length: int = 0  # predicted samples per teacher-forced sequence, after an
    #                           n-sample warm-up; 0 = n (sequences of 2n contiguous samples)
    teacher_warmup: int = -1  # samples at the start of each teacher-forced sequence that only
    #   warm up the LSTM state, without loss; -1 = n (every prediction sees a full window, as in
    #   generation). Stateful only: below n the warm-up's compute is spent on predictions
    teacher_polarity_flip: bool = False  # negate each teacher-forced sequence with probability
    #   1/2 (a waveform and its negative sound the same): twice the training audio
    teacher_gain_db: float = 0.0  # scale each teacher-forced sequence by a gain drawn uniformly
    #   within +-this many dB (then clipped to [-1, 1]); 0 = none
    teacher_chunks: int = 1  # truncated BPTT over long excerpts, as SampleRNN trains: each
    #   teacher-forced excerpt is this many consecutive chunks of pretrain_length predicted
    #   samples, one per step, each starting from the LSTM state the previous one ended in
    #   (gradient stopped between them); 1 = every sequence starts from a zero state
    gp_weight: float = 10.0  # gradient-penalty weight of wgan-gp (Gulrajani et al.)
    train_gen_length: int = 0  # samples generated per training sequence; 0 = n (paper)
    grad_positions: int = 32  # stateless only: generated positions per sequence that carry
    #                          generator gradient (0 = all); see models/generator.py for why

    # --- evaluation during training --------------------------------------------------------
    eval_every: int = 250  # GAN steps between evaluations (diagnostics, clips, metrics)
    eval_clips: int = 4  # clips generated per evaluation
    eval_samples: int = 0  # samples per evaluation clip; 0 = 4 * n (seed leaves the window at n)

    # --- execution ---------------------------------------------------------------------------
    generation_xla: bool = True  # compile the generation loop with XLA (falls back to plain
    #   graphs where XLA cannot compile it). Compiling costs seconds per model: it pays off
    #   over long clips, not in a run of a few steps and clips of a few hundred samples

    # ------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        _validate(self)

    @property
    def gen_length(self) -> int:
        """Samples generated per training sequence (the discriminator's input length)."""
        return self.train_gen_length or self.n

    @property
    def teacher_length(self) -> int:
        """Samples per teacher-forced crop: an n-sample window, then the predicted ones; with
        `teacher_chunks` > 1, the whole excerpt its chunks are cut from."""
        if self.teacher_chunks > 1:
            return self.chunk_context + self.teacher_chunks * self.pretrain_length
        return self.warmup_samples + (self.pretrain_length or self.n)

    @property
    def teacher_predicted(self) -> int:
        """Samples scored per sequence of a teacher-forced step."""
        if self.teacher_chunks > 1:
            return self.pretrain_length
        return self.teacher_length - self.warmup_samples

    @property
    def chunk_context(self) -> int:
        """Samples of a carried chunk before its first predicted one: the frame tier's first
        frame, the stateful net's previous sample."""
        return part("generator", self.generator).step_size(self)

    @property
    def warmup_samples(self) -> int:
        """Samples of each teacher-forced sequence before its first predicted one (>= 1)."""
        return self.n if self.teacher_warmup < 0 else max(1, self.teacher_warmup)

    @property
    def eval_length(self) -> int:
        """Samples per evaluation clip."""
        return self.eval_samples or 4 * self.n

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SampleGANConfig:
        """A config from its keys; a key of `RENAMED_KEYS` stands for its new name."""
        values = {canonical_key(key): value for key, value in values.items()}
        unknown = sorted(set(values) - set(field_names()))
        if unknown:
            raise SampleGanError(
                f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(field_names())}"
            )
        return cls(**values)

    def replace(self, **overrides: Any) -> SampleGANConfig:
        return SampleGANConfig.from_dict({**self.to_dict(), **overrides})


def canonical_key(key: str) -> str:
    """The current name of a config key: `key` itself unless it was renamed."""
    return RENAMED_KEYS.get(key, key)


def field_names() -> list[str]:
    return [f.name for f in fields(SampleGANConfig)]


def field_type(name: str) -> type:
    """The Python type of a config field (bool, int, float or str)."""
    default = SampleGANConfig.__dataclass_fields__[name].default
    return type(default)


def _a(kind: type) -> str:
    """The type's name with its article: "an int", "a float", "a bool", "a str"."""
    return f"{'an' if kind.__name__[0] in 'aeiou' else 'a'} {kind.__name__}"


def parse_value(key: str, text: str) -> Any:
    """Parse a ``--set KEY=VALUE`` string into the field's type, or fail naming the key."""
    key = canonical_key(key)
    if key not in SampleGANConfig.__dataclass_fields__:
        raise SampleGanError(f"unknown config key {key!r}; valid keys: {', '.join(field_names())}")
    kind = field_type(key)
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        return text
    except ValueError:
        raise SampleGanError(f"{key} must be {_a(kind)}, got {text!r}") from None


def coerce_value(key: str, value: Any) -> Any:
    """Check a typed value (e.g. from TOML) against the field's type; ints widen to floats."""
    key = canonical_key(key)
    if key not in SampleGANConfig.__dataclass_fields__:
        raise SampleGanError(f"unknown config key {key!r}; valid keys: {', '.join(field_names())}")
    kind = field_type(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise SampleGanError(f"{key} must be an int, got {value!r}")
    if not isinstance(value, kind):
        raise SampleGanError(f"{key} must be {_a(kind)}, got {value!r}")
    return value


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SampleGanError(message)


def _validate(config: SampleGANConfig) -> None:
    for name in field_names():
        coerce_value(name, getattr(config, name))
    for axis, table in PARTS.items():
        _check(getattr(config, axis) in table, f"{axis} must be one of {', '.join(table)}")
    _check(not (config.pretrain_epochs and config.pretrain_steps),
           "set pretrain_epochs or pretrain_steps, not both")
    _check(
        config.sample_rate in SAMPLE_RATES_HZ,
        f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES_HZ))} Hz",
    )
    _check(config.n >= 8, "n must be at least 8 samples")
    _check(config.n >= 2**config.ae_levels, "n must be at least 2**ae_levels")
    _check(config.ae_levels >= 1, "ae_levels must be at least 1")
    _check(config.prefilter_pool >= 1 and config.prefilter_kernel >= 1, "prefilter sizes must be >= 1")
    _check(config.n >= config.prefilter_kernel + config.prefilter_pool,
           "n must be at least prefilter_kernel + prefilter_pool (the prefilter's reach)")
    _check(0 <= config.train_gen_length <= config.n, "train_gen_length must be in [0, n]")
    _check(-1 <= config.teacher_warmup <= config.n,
           "teacher_warmup must be -1 (= n) or in [0, n]")
    for name in ("lstm_units", "ae_filters", "ae_kernel", "prefilter_filters", "batch_size",
                 "eval_every", "eval_clips", "mulaw_channels", "input_embedding_dim", "frame_size", "top_frame_size",
                 "sample_mlp_units", "teacher_chunks", "dilated_layers", "dilated_stacks",
                 "dilated_channels", "dilated_skip_channels"):
        _check(getattr(config, name) >= 1, f"{name} must be at least 1")
    for name in ("ae_steps", "gan_steps", "pretrain_epochs", "pretrain_steps", "grad_positions",
                 "eval_samples", "pretrain_length"):
        _check(getattr(config, name) >= 0, f"{name} must be >= 0")
    for name in ("feedback_noise", "seed_noise_std", "gp_weight", "clip_norm", "teacher_gain_db"):
        _check(getattr(config, name) >= 0.0, f"{name} must be >= 0")
    for name in ("lr_autoencoder", "lr_generator", "lr_discriminator", "lr_pretrain",
                 "mulaw_temperature"):
        _check(getattr(config, name) > 0.0, f"{name} must be > 0")
    _check(all(0.0 <= beta < 1.0 for beta in (config.adam_beta1, config.adam_beta2,
                                                config.pretrain_beta1)),
           "adam betas must be in [0, 1)")
    _check(0.0 < config.mulaw_top_p <= 1.0, "mulaw_top_p must be in (0, 1]")
    if config.teacher_chunks > 1:
        _check(not config.prefilter,
               "teacher_chunks > 1 carries the state between chunks, without prefilter (its "
               "receptive field would straddle them)")
        _check(config.teacher_warmup == 0 and config.pretrain_length > 0,
               "teacher_chunks > 1 needs teacher_warmup = 0 (the carried state is the warm-up) "
               "and pretrain_length > 0 (the chunk length)")
    part("generator", config.generator).check(config)


def check_sampling_keys(values: dict[str, Any]) -> None:
    """Refuse any key of `values` that the trained weights fix (not in `SAMPLING_KEYS`)."""
    fixed = sorted(set(values) - set(SAMPLING_KEYS))
    if fixed:
        raise SampleGanError(
            f"{', '.join(fixed)} is fixed by the trained weights; only the sampling keys "
            f"{', '.join(SAMPLING_KEYS)} can be changed when generating")
