"""The generator plug-in contract, and the declarations of the registered generators.

A generator family is a network (a `models.generator.Generator` subclass, in a module
that loads TensorFlow) plus a declaration here, a `GeneratorPlugin` subclass that does
not: validating a config (`samplegan variants`, a study spec) never loads TensorFlow.
`models.parts` maps each `generator` name to its declaration; nothing else names one.

What a declaration states:

    network          "module:Class" of its `Generator` subclass; `build(config)` makes it
    keys             the config keys only generators read that this family reads (sizes)
    check(config)    refuses a config this family cannot build, one line saying why
    step_key         the key holding its step size in samples (None: one sample per step):
                     `step_size(config)`, what a carried teacher-forcing chunk reads
                     before its first prediction and the least a seed window must hold
    reruns_window    every prediction re-reads the whole n-sample window from a zero state
                     (O(n) per sample): the held-out probe scores a few positions per clip
    carries_state    its recurrent state can be carried between teacher-forced chunks and
                     warmed up on fewer than n samples
    bench            its `samplegan bench` sizes (`BenchSizes`)

Its entry points are the network's: teacher forcing through `teacher_loss`,
`carried_loss` and `params_at`, generation through `start` and `advance` (one sample
per call, O(1) for every family but the paper's), the GAN's gradient through
`replay_relaxed`; `models.generator.Generator` documents their shapes.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from models.errors import SampleGanError


def check(condition: bool, message: str) -> None:
    """Raise `SampleGanError(message)` unless `condition` holds."""
    if not condition:
        raise SampleGanError(message)


@dataclass(frozen=True)
class BenchSizes:
    """What `samplegan bench` runs for one generator family.

    Generation is timed at batch 1 and 64 (streams together); the full sizes are the
    paper's (n = 500, two 128-unit LSTMs), the quick ones n = 32 and 8 units.
    """

    generation_samples: Mapping[int, int]  # batch -> samples per stream per timed run (full)
    quick_generation_samples: Mapping[int, int]  # the same at quick sizes
    train_steps: int  # timed GAN steps after the warm-up step (full; quick runs time one)
    quick_overrides: Mapping[str, Any] = field(default_factory=dict)  # this family's own keys
    #                                       at quick sizes (n = 32)
    generation_targets: Mapping[int, float] = field(default_factory=dict)  # batch ->
    #                                       samples/s required at full sizes
    train_target_generator_step_s: float | None = None  # generator step required (full)
    paper_loop: bool = False  # also time the paper's predict loop (one Keras call per sample)


class GeneratorPlugin:
    """The contract every generator family declares (see the module docstring)."""

    network: ClassVar[str]
    keys: ClassVar[tuple[str, ...]] = ()
    step_key: ClassVar[str | None] = None
    reruns_window: ClassVar[bool] = False
    carries_state: ClassVar[bool] = True
    bench: ClassVar[BenchSizes]

    @classmethod
    def step_size(cls, config) -> int:
        """Samples per step of its slowest recurrent tier (1: one sample per step)."""
        return getattr(config, cls.step_key) if cls.step_key else 1

    @classmethod
    def build(cls, config):
        """Its network for `config` (imports TensorFlow)."""
        module, _, attribute = cls.network.partition(":")
        return getattr(importlib.import_module(module), attribute)(config)

    @classmethod
    def check(cls, config) -> None:
        """The rules every family shares, from what it declares, then its own."""
        if not cls.carries_state:
            from models.parts import PARTS, part

            carrying = ", ".join(name for name in PARTS["generator"]
                                 if part("generator", name).carries_state)
            # teacher_chunks > 1 needs teacher_warmup = 0 (models.config): refused here too.
            check(config.teacher_warmup in (-1, config.n),
                  f"teacher_warmup below n needs a generator that carries its state ({carrying}): "
                  f"generator = {config.generator} reads whole n-sample windows")
        step = cls.step_size(config)
        if cls.step_key:
            check(step <= config.n,
                  f"{cls.step_key} must be at most n (the seed window holds at least one frame)")
            check(config.teacher_chunks == 1 or config.pretrain_length % step == 0,
                  f"teacher_chunks > 1 with generator = {config.generator} needs pretrain_length "
                  f"a multiple of {cls.step_key} (chunks of whole frames)")
        cls.check_keys(config)

    @classmethod
    def check_keys(cls, config) -> None:
        """This family's own rules (none by default)."""


# Samples per stream of a timed generation run: whole chunks of the harness's generation
# (harness.training.generation.CHUNK_SAMPLES = 4096), long enough to time O(1) steps.
_FAST_GENERATION = MappingProxyType({1: 8 * 4096, 64: 2 * 4096})
_FAST_QUICK_GENERATION = MappingProxyType({1: 256, 64: 64})


class StatelessPlugin(GeneratorPlugin):
    """The paper's generator: every sample re-runs both LSTMs over the whole window."""

    network = "models.generator:StatelessGenerator"
    reruns_window = True
    carries_state = False
    # Issue 8's targets on a 2-core CPU at the paper's sizes.
    bench = BenchSizes(generation_samples={1: 200, 64: 16},
                       quick_generation_samples={1: 16, 64: 4}, train_steps=1,
                       generation_targets={1: 80}, paper_loop=True)


class StatefulPlugin(GeneratorPlugin):
    """Two stacked LSTMs whose state is carried: one sample per step."""

    network = "models.generator:StatefulGenerator"
    bench = BenchSizes(generation_samples=_FAST_GENERATION,
                       quick_generation_samples=_FAST_QUICK_GENERATION, train_steps=5,
                       generation_targets={1: 20_000, 64: 150_000},
                       train_target_generator_step_s=1.0)


class FrameTierPlugin(GeneratorPlugin):
    """SampleRNN's two tiers: the LSTMs step once per frame, an MLP predicts each sample."""

    network = "models.generator:FrameTierGenerator"
    keys = ("frame_size", "sample_mlp_units")
    step_key = "frame_size"
    bench = BenchSizes(generation_samples=_FAST_GENERATION,
                       quick_generation_samples=_FAST_QUICK_GENERATION, train_steps=5)

    @classmethod
    def check_keys(cls, config) -> None:
        check(not config.prefilter,
              f"generator = {config.generator} takes no prefilter (its sample tier reads the last "
              "frame_size samples directly)")


class ThreeTierPlugin(GeneratorPlugin):
    """SampleRNN's three tiers: an LSTM per top frame, one per frame, an MLP per sample."""

    network = "models.three_tier:ThreeTierGenerator"
    keys = ("top_frame_size", "frame_size", "sample_mlp_units")
    step_key = "top_frame_size"
    bench = BenchSizes(generation_samples=_FAST_GENERATION,
                       quick_generation_samples=_FAST_QUICK_GENERATION, train_steps=5,
                       quick_overrides={"top_frame_size": 16, "frame_size": 4},
                       generation_targets={1: 16_000})  # real time at 16 kHz

    @classmethod
    def check_keys(cls, config) -> None:
        check(config.top_frame_size % config.frame_size == 0,
              "top_frame_size must be a multiple of frame_size (whole middle frames per top frame)")
        check(not config.prefilter,
              f"generator = {config.generator} takes no prefilter (its sample tier reads the last "
              "frame_size samples directly)")


class DilatedPlugin(GeneratorPlugin):
    """WaveNet's gated causal dilated convolutions: a queue per layer, O(layers) per sample."""

    network = "models.dilated:DilatedGenerator"
    keys = ("dilated_layers", "dilated_stacks", "dilated_channels", "dilated_skip_channels")
    # Its queues could be carried between teacher-forced chunks, but `carried_loss` is not
    # written: every sequence is warmed up on its first n samples.
    carries_state = False
    bench = BenchSizes(generation_samples=_FAST_GENERATION,
                       quick_generation_samples=_FAST_QUICK_GENERATION, train_steps=5,
                       quick_overrides={"dilated_layers": 4, "dilated_channels": 8,
                                        "dilated_skip_channels": 8},
                       generation_targets={1: 16_000})  # real time at 16 kHz

    @classmethod
    def check_keys(cls, config) -> None:
        check(config.dilated_layers <= 16,
              "dilated_layers must be at most 16 (a dilation of 32,768 samples is 2 s at 16 kHz; "
              "use dilated_stacks for more depth)")
        check(not config.prefilter,
              f"generator = {config.generator} takes no prefilter (its first layer reads every "
              "sample)")
