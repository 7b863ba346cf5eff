"""The variant registry: every variant is `paper` plus a few named overrides.

A report can therefore say exactly what a variant changes. The first block holds the
user's four axes (prefilter, generator, window n, sample rate); the second the
parts that collapse research points to; the last a few combinations worth running
as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from models.config import SampleGANConfig, canonical_key, coerce_value, parse_value
from models.errors import SampleGanError


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    overrides: Mapping[str, Any]

    def config(self, extra_overrides: Mapping[str, Any] | None = None) -> SampleGANConfig:
        """The resolved config: paper defaults, then this variant's overrides, then extras."""
        values = {**self.overrides, **(extra_overrides or {})}
        checked = {canonical_key(key): coerce_value(key, value) for key, value in values.items()}
        return SampleGANConfig().replace(**checked)


def _variant(name: str, description: str, **overrides: Any) -> Variant:
    return Variant(name, description, MappingProxyType(overrides))


# What made the generator learn (embedded-fix), whatever its LSTMs' mode: real priming, a
# sampled mu-law head, an embedded mu-law input, teacher forcing with its own optimiser.
_FIX = dict(seed_source="real", output_head="mulaw", sample_input="mulaw-embedding",
            pretrain_steps=900, lr_pretrain=2e-3, pretrain_beta1=0.9, clip_norm=1.0)

_VARIANTS = (
    _variant("paper", "Faithful Sample-GAN: stateless LSTMs, encoded seed, tanh head, BCE, n=500, 44.1 kHz."),
    # the user's axes
    _variant("paper-16k", "The paper at 16 kHz (SampleRNN's rate).", sample_rate=16000),
    _variant("prefilter", "Conv + max-pool prefilter before the LSTMs.", prefilter=True),
    _variant("stateful", "Stateful LSTMs: state carried, one sample per step.", generator="stateful"),
    _variant("n1000", "Window of 1000 samples.", n=1000),
    _variant("n4410", "Window of 4410 samples (0.1 s at 44.1 kHz).", n=4410),
    # collapse research
    _variant("noise-seed", "Gaussian noise seeds the window instead of the encoding.", seed_source="noise"),
    _variant("real-seed", "Real audio primes the window instead of its encoding.", seed_source="real"),
    _variant("mulaw", "8-bit mu-law softmax head, sampled with a temperature.", output_head="mulaw"),
    _variant("feedback-noise", "Gaussian noise (std 0.01) on fed-back samples while training.",
             feedback_noise=0.01),
    _variant("teacher-forced", "Five teacher-forced epochs before adversarial training.",
             pretrain_epochs=5),
    _variant("embedded-input", "The generator reads a learned embedding of each past sample's "
             "mu-law class instead of the float sample.", sample_input="mulaw-embedding"),
    _variant("hinge", "Hinge GAN loss.", gan_loss="hinge"),
    _variant("wgan-gp", "Wasserstein loss with gradient penalty.", gan_loss="wgan-gp"),
    # combinations
    _variant("stateful-16k", "Stateful LSTMs on 16 kHz audio.", generator="stateful", sample_rate=16000),
    _variant("embedded-fix",
             "What made the generator learn here: stateful, real priming, sampled mu-law head, an "
             "embedded mu-law input, and teacher forcing with its own optimiser (Adam 2e-3, "
             "beta1 0.9, gradient norm clipped at 1).",
             generator="stateful", **_FIX),
    _variant("frame-tier-fix",
             "embedded-fix with SampleRNN's two tiers: the LSTMs step once per 16-sample frame "
             "and an MLP predicts each sample from the 16 before it.",
             generator="frame-tier", **_FIX),
    _variant("three-tier-fix",
             "embedded-fix with SampleRNN's three tiers: an LSTM steps once per 64-sample frame, "
             "one per 16-sample frame below it, and an MLP predicts each sample from the 16 "
             "before it.",
             generator="three-tier", **_FIX),
    _variant("augmented-fix",
             "embedded-fix trained on augmented audio: each teacher-forced sequence negated with "
             "probability 1/2 and scaled within +-6 dB (for small training sets: the real "
             "recordings, studies/augment_music.toml).",
             generator="stateful", teacher_polarity_flip=True, teacher_gain_db=6.0, **_FIX),
    _variant("dilated-fix",
             "embedded-fix with WaveNet's gated causal dilated convolutions (10 layers, "
             "dilations 1-512, 32 residual channels): a receptive field of 1,024 samples, which "
             "the window n = 1024 fills, so that every teacher-forced prediction and every "
             "generated one sees a whole receptive field of real or generated audio.",
             generator="dilated", n=1024, **_FIX),
    _variant("autoregressive-fix",
             "The collapse-hunt candidate: stateful, real priming, sampled mu-law head, "
             "teacher forcing and feedback noise.",
             generator="stateful", seed_source="real", output_head="mulaw",
             pretrain_epochs=5, feedback_noise=0.01),
)

VARIANTS: Mapping[str, Variant] = MappingProxyType({v.name: v for v in _VARIANTS})


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise SampleGanError(
            f"unknown variant {name!r}; known variants: {', '.join(VARIANTS)}"
        ) from None


def parse_overrides(assignments: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ``["KEY=VALUE", ...]`` (the CLI's ``--set``) into typed overrides."""
    overrides: dict[str, Any] = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise SampleGanError(f"--set expects KEY=VALUE, got {assignment!r}")
        overrides[canonical_key(key.strip())] = parse_value(key.strip(), text.strip())
    return overrides


def resolve(name: str, overrides: Mapping[str, Any] | None = None) -> SampleGANConfig:
    """The config of variant `name` with extra `overrides` applied."""
    return get_variant(name).config(overrides)


def describe_all() -> list[dict[str, Any]]:
    """What ``samplegan variants --json`` prints under "variants"."""
    return [
        {
            "name": variant.name,
            "description": variant.description,
            "overrides": dict(variant.overrides),
            "config": variant.config().to_dict(),
        }
        for variant in VARIANTS.values()
    ]
