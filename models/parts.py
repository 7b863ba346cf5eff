"""The parts a variant swaps, one table per axis: the name a config gives -> its class.

Each axis's allowed names live here and only here: `models.config` validates a config
against these keys, and the model is assembled from the classes they name. The
classes are named as ``"module:Class"`` and imported when a model is built, so that
reading or validating a config (`samplegan variants`, a study spec) does not load
TensorFlow.

Each class of an axis is built the same way:

    generator      cls.build(config)            a `models.plugin.GeneratorPlugin` declaring
                                                a `models.generator.Generator`
    output_head    cls(config)                  `models.heads`
    sample_input   cls.for_config(config)       a Keras layer of `models.inputs`
    seed_source    cls(config, encoder)         `models.seeds`
    gan_loss       cls(config)                  `models.losses`
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

PARTS: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "generator": MappingProxyType({
        "stateless": "models.plugin:StatelessPlugin",  # the paper: re-run the window
        "stateful": "models.plugin:StatefulPlugin",  # state carried, O(1) per sample
        "frame-tier": "models.plugin:FrameTierPlugin",  # SampleRNN's two tiers
        "three-tier": "models.plugin:ThreeTierPlugin",  # SampleRNN's three tiers
        "dilated": "models.plugin:DilatedPlugin",  # WaveNet's gated dilated convolutions
    }),
    "output_head": MappingProxyType({
        "tanh": "models.heads:TanhHead",  # the paper: deterministic regression
        "mulaw": "models.heads:MulawHead",  # 8-bit mu-law softmax, sampled
    }),
    "sample_input": MappingProxyType({
        "raw": "models.inputs:RawSamples",  # the paper: the float sample
        "mulaw-companded": "models.inputs:MulawCompanded",
        "mulaw-embedding": "models.inputs:MulawEmbedding",
    }),
    "seed_source": MappingProxyType({
        "encoded": "models.seeds:EncodedSeed",  # the paper: the frozen encoder's code
        "noise": "models.seeds:NoiseSeed",
        "real": "models.seeds:RealSeed",
    }),
    "gan_loss": MappingProxyType({
        "bce": "models.losses:BceLoss",  # the paper
        "hinge": "models.losses:HingeLoss",
        "wgan-gp": "models.losses:WganGpLoss",
    }),
})


def names(axis: str) -> tuple[str, ...]:
    """The allowed names of `axis` (a config field), the paper's first."""
    return tuple(PARTS[axis])


def part(axis: str, name: str) -> type:
    """The class that implements `name` on `axis`; KeyError for a name the table lacks."""
    module, _, attribute = PARTS[axis][name].partition(":")
    return getattr(importlib.import_module(module), attribute)
