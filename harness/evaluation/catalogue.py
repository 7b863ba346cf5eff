"""The metric catalogue: one declared entry per metric the harness logs.

Every consumer (logging, the run page, `samplegan evaluate` and `samplegan compare`, the
report, the study spec's objective check) looks metrics up here and never re-spells a key.
A metric is a `Metric`: its MLflow key (``<family>/<name>``), unit, direction, whether it
is logged with a like-for-like real-vs-real floor, whether a study may optimise it, how to
format it and one line saying what it measures.

Metrics come in families (`Family`): the metrics one function computes. A family whose
function needs audio alone, ``compute(generated, reference, sample_rate_hz, *, seed) ->
{name: value}`` (like `harness.evaluation.quality.quality_metrics`), is computed by
`samplegan compare` on any audio as well. Adding a metric is one function (or one more
name returned by a family's function) plus one entry here; see docs/quality.md.

Floors: a metric with ``floor=True`` is logged with three partner keys, ``<key>_real_vs_real``
(mean over the floor's draws), ``<key>_real_vs_real_std`` and ``<key>_real_vs_real_p95``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.evaluation.diagnostics import LABELS

DIRECTIONS = ("minimize", "maximize", "none")
FLOOR_SUFFIX = "_real_vs_real"
FLOOR_PARTS = {"mean": FLOOR_SUFFIX, "std": f"{FLOOR_SUFFIX}_std", "p95": f"{FLOOR_SUFFIX}_p95"}
NATS_PER_BIT = math.log(2.0)
# Units that a formatted value does not repeat: the number says it (a share, a count).
_SILENT_UNITS = ("", "share", "count", "flag")


@dataclass(frozen=True)
class Metric:
    """One metric the harness logs.

    Attributes:
        key: MLflow key, ``<family>/<name>``, e.g. "quality/mr_lsd_db".
        unit: e.g. "dB", "dB²", "nats/sample", "bits/sample", "share", "steps".
        direction: "minimize" or "maximize" (which way is better), or "none".
        description: one line: what it measures.
        label: short heading for tables and figures.
        fmt: format spec of its value (Python's format mini-language).
        floor: logged with the partners of `FLOOR_PARTS` (a like-for-like real-vs-real floor).
        objective: a study may optimise it (`objective.metric` in a spec).
        condition: when it is *not* logged at every evaluation ("" = always); shown in docs
            and read by the contract test.
    """

    key: str
    unit: str
    direction: str
    description: str
    label: str = ""
    fmt: str = ".4g"
    floor: bool = False
    objective: bool = False
    condition: str = ""

    def __post_init__(self) -> None:
        if self.key.count("/") != 1 or not all(self.key.split("/")):
            raise ValueError(f"metric key {self.key!r} must be <family>/<name>")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"metric {self.key}: direction {self.direction!r} not in {DIRECTIONS}")

    @property
    def family(self) -> str:
        """The key's prefix, e.g. "quality"."""
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The key without its family, as the family's function returns it, e.g. "mr_lsd_db"."""
        return self.key.split("/", 1)[1]

    @property
    def title(self) -> str:
        """The label, or the name when it has none."""
        return self.label or self.name

    @property
    def heading(self) -> str:
        """The title with its unit, for a column header: "MR-LSD (dB)"."""
        return f"{self.title} ({self.unit})" if self.unit not in _SILENT_UNITS else self.title

    def floor_key(self, part: str = "mean") -> str:
        """The MLflow key of a floor partner: part "mean", "std" or "p95"."""
        if not self.floor:
            raise KeyError(f"metric {self.key} has no real-vs-real floor")
        return self.key + FLOOR_PARTS[part]

    @property
    def partner_keys(self) -> tuple[str, ...]:
        """The floor's keys (mean, SD, p95); () without a floor."""
        return tuple(self.floor_key(part) for part in FLOOR_PARTS) if self.floor else ()

    def format(self, value: Any, unit: str | None = None) -> str:
        """The value with its unit, e.g. "4.07 dB"; "–" for a missing or non-finite value.

        Args:
            value: a number, or None.
            unit: overrides the entry's unit (a likelihood loss is an MSE with a tanh head).
        """
        if value is None or isinstance(value, bool) and self.unit != "flag":
            return "–" if value is None else str(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        if not math.isfinite(number):
            return "–"
        unit = self.unit if unit is None else unit
        text = f"{number:{self.fmt}}"
        return text if unit in _SILENT_UNITS else f"{text} {unit}"


@dataclass(frozen=True)
class Family:
    """The metrics one function computes, under one key prefix.

    Attributes:
        name: the key prefix, e.g. "quality".
        metrics: its entries (floor partners are implied by ``floor=True``).
        source: what computes it, e.g. "harness.evaluation.quality:quality_metrics".
        from_audio: `source` takes (generated, reference, sample_rate_hz, *, seed) and
            returns {name: value} (with floor partners), so `samplegan compare` computes it.
        reference: for a `from_audio` family, the class that prepares a reference once
            (``cls(clips, sample_rate_hz)``), which `source` accepts in place of the clips and
            whose ``floor_notes(count, seed)`` says why a floor gives no verdict; "" = none.
        min_clip_seconds: clips shorter than this get no value of the family: too short for
            its features to mean anything.
    """

    name: str
    metrics: tuple[Metric, ...]
    source: str
    from_audio: bool = False
    reference: str = ""
    min_clip_seconds: float = 0.0

    def compute_function(self) -> Callable[..., Mapping[str, Any]]:
        """The function named by `source` (imported on first use: some pull in librosa)."""
        return _imported(self.source)

    def reference_class(self) -> type | None:
        """The class named by `reference`, or None."""
        return _imported(self.reference) if self.reference else None


def _imported(source: str) -> Any:
    module, _, name = source.partition(":")
    return getattr(importlib.import_module(module), name)


def _m(key: str, unit: str, direction: str, description: str, **options: Any) -> Metric:
    return Metric(key=key, unit=unit, direction=direction, description=description, **options)


_ONLY_IF_SHORT_CLIPS = "only when the clips have enough log-mel frames (more than 64 per set)"
_FLOOR_CONDITION = ("its floor only when the reference holds at least twice as many clips of "
                    "the generated length")
_LABEL_WORDS = {
    "healthy": "no failure found",
    "silent": "silent from the start",
    "flat_collapse": "moves, then holds a constant value",
    "loop": "ends in an exact repetition",
    "saturated": "sits at the rails",
    "noise": "stationary structureless noise",
}

EVAL = Family("eval", (
    _m("eval/clips", "count", "none", "clips in the evaluated batch", label="clips", fmt=".0f"),
    *(_m(f"eval/share_{label}", "share", "maximize" if label == "healthy" else "minimize",
         f"share of clips labelled {label} ({_LABEL_WORDS.get(label, label)})",
         label=f"share {label}", fmt=".2f", objective=label == "healthy")
      for label in LABELS),
    _m("eval/collapsed_share", "share", "minimize",
       "share of clips labelled silent, flat_collapse, loop or saturated",
       label="collapsed share", fmt=".2f", objective=True),
    _m("eval/diversity_lsd_db", "dB", "maximize",
       "mean pairwise log-spectral distance between the batch's clips",
       label="diversity LSD", fmt=".3g", objective=True,
       condition="only with at least two clips"),
    _m("eval/mean_collapse_onset_over_n", "× n", "maximize",
       "mean collapse onset of silent and flat-collapsed clips, in windows n",
       label="mean onset / n", fmt=".3g",
       condition="only when a clip is silent or flat-collapsed"),
), source="harness.evaluation.diagnostics:diagnose_batch")

QUALITY = Family("quality", (
    _m("quality/frechet_logmel", "dB²", "minimize",
       "Fréchet distance of Gaussians on 64-band log-mel frames (not FAD: no embedding)",
       label="Fréchet log-mel", fmt=",.0f", floor=True, objective=True,
       condition=f"{_ONLY_IF_SHORT_CLIPS}; {_FLOOR_CONDITION}"),
    _m("quality/mr_lsd_db", "dB", "minimize",
       "multi-resolution log-spectral distance of the average power spectra",
       label="MR log-spectral distance", fmt=".2f", floor=True, objective=True, condition=_FLOOR_CONDITION),
), source="harness.evaluation.quality:quality_metrics", from_audio=True,
   reference="harness.evaluation.quality:ReferenceSet")

# Pitch, onsets and a decay 0.1-0.5 s after an onset need clips of seconds: the default
# evaluation clips (4 n = 0.125 s at 16 kHz) hold two pYIN frames and no decay (docs/music.md).
_MUSIC_MIN_CLIP_S = 1.0
_MUSIC_LENGTH = f"only when the clips last at least {_MUSIC_MIN_CLIP_S:g} s"
_MUSIC_CONDITION = f"{_MUSIC_LENGTH}; {_FLOOR_CONDITION}"
MUSIC = Family("music", (
    _m("music/notes_summary", "x floor", "minimize",
       "geometric mean over the music distances of distance / floor mean, each clipped to "
       "[1, 10]: 1 = as close to the held-out audio as real sets, 10 = no music structure",
       label="notes summary", fmt=".2f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/voiced_share_gap", "share", "minimize",
       "|share of pYIN-voiced frames, generated - held-out|",
       label="voiced share gap", fmt=".3f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/voicing_confidence_gap", "octaves", "minimize",
       "|log2 of the ratio of mean pYIN voicing probabilities (each + 0.02)|",
       label="voicing confidence gap", fmt=".3f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/harmonic_share_gap", "share", "minimize",
       "|harmonic share of the energy after HPSS, generated - held-out|",
       label="harmonic share gap", fmt=".3f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/chroma_distance", "share", "minimize",
       "total-variation distance between the key-free (sorted) chroma histograms",
       label="chroma distance", fmt=".3f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/onset_rate_gap", "octaves", "minimize",
       "|log2 of the ratio of onset rates (each + 0.5 onsets/s)|",
       label="onset rate gap", fmt=".3f", floor=True, objective=True, condition=_MUSIC_CONDITION),
    _m("music/ioi_distance", "octaves", "minimize",
       "Wasserstein distance between the log2 inter-onset-interval distributions",
       label="inter-onset distance", fmt=".3f", floor=True, objective=True,
       condition=f"{_MUSIC_CONDITION}; only when both sets have two onsets or more"),
    _m("music/decay_distance", "dB", "minimize",
       "Wasserstein distance between the level drops 0.1-0.5 s after each onset",
       label="decay distance", fmt=".2f", floor=True, objective=True,
       condition=f"{_MUSIC_CONDITION}; only when both sets have a measured decay"),
    # Descriptive values: what each set holds, so a gap can be read (neither way is better).
    *(_m(f"music/{prefix}{name}", unit, "none", f"{what} ({owner})", label=f"{title}{suffix}",
         fmt=fmt, condition=_MUSIC_LENGTH + ("; only when an onset's decay was measured"
                                             if name == "decay_db" else ""))
      for prefix, owner, suffix in (("", "generated clips", ""),
                                    ("reference_", "the whole held-out reference", " (held-out)"))
      for name, unit, fmt, title, what in (
          ("voiced_share", "share", ".3f", "voiced share", "share of frames pYIN calls voiced"),
          ("voicing_confidence", "probability", ".3f", "voicing confidence",
           "mean pYIN voicing probability of the frames"),
          ("harmonic_share", "share", ".3f", "harmonic share", "harmonic share of the energy after HPSS"),
          ("chroma_entropy_bits", "bits", ".2f", "chroma entropy",
           "entropy of the chroma histogram (3.58 = flat)"),
          ("onset_rate", "onsets/s", ".2f", "onset rate", "onsets per second"),
          ("decay_db", "dB", ".1f", "decay", "median level drop 0.1-0.5 s after an onset"))),
), source="harness.evaluation.music:music_metrics", from_audio=True,
   reference="harness.evaluation.music:MusicReference", min_clip_seconds=_MUSIC_MIN_CLIP_S)

_HEAD_UNITS = "nats/sample with a mu-law head; MSE with a tanh head"
_BITS_CONDITION = "only with a mu-law head (a cross-entropy; an MSE has no bits)"
LIKELIHOOD = Family("likelihood", (
    _m("likelihood/teacher_loss", "nats/sample", "minimize",
       f"teacher-forced loss of the next held-out sample ({_HEAD_UNITS})",
       label="teacher loss", objective=True),
    _m("likelihood/baseline_marginal", "nats/sample", "none",
       f"loss of the held-out targets' own histogram, ignoring context ({_HEAD_UNITS})",
       label="marginal baseline"),
    _m("likelihood/baseline_linear", "nats/sample", "none",
       f"loss of linear prediction (LPC) on the same samples ({_HEAD_UNITS})",
       label="linear baseline"),
    _m("likelihood/gain_over_linear", "nats/sample", "maximize",
       "baseline_linear - teacher_loss; > 0: the net predicts better than linear prediction",
       label="gain over linear", fmt="+.4g", objective=True),
    _m("likelihood/gain_over_marginal", "nats/sample", "maximize",
       "baseline_marginal - teacher_loss", label="gain over marginal", fmt="+.4g"),
    _m("likelihood/lpc_order", "count", "none", "order of the linear predictor",
       label="LPC order", fmt=".0f"),
    _m("likelihood/teacher_loss_bits", "bits/sample", "minimize",
       "teacher_loss in bits per sample (nats / ln 2), the field's unit",
       label="teacher loss", fmt=".3f", objective=True, condition=_BITS_CONDITION),
    _m("likelihood/baseline_marginal_bits", "bits/sample", "none",
       "baseline_marginal in bits per sample", label="marginal baseline", fmt=".3f",
       condition=_BITS_CONDITION),
    _m("likelihood/baseline_linear_bits", "bits/sample", "none",
       "baseline_linear in bits per sample", label="linear baseline", fmt=".3f",
       condition=_BITS_CONDITION),
    _m("likelihood/gain_over_linear_bits", "bits/sample", "maximize",
       "gain_over_linear in bits per sample", label="gain over linear", fmt="+.3f",
       objective=True, condition=_BITS_CONDITION),
), source="harness.evaluation.likelihood:likelihood_metrics")

_DYNAMICS_SERIES = {"d_acc_real": ("share", "D accuracy on real"),
                    "d_acc_fake": ("share", "D accuracy on fake"),
                    "d_loss": ("loss", "D loss"), "g_loss": ("loss", "G loss"),
                    "g_grad_norm": ("norm", "G gradient norm"),
                    "d_grad_norm": ("norm", "D gradient norm")}
_WINDOW = "over the last `window` GAN steps"
DYNAMICS = Family("dynamics", (
    _m("dynamics/steps", "steps", "none", "GAN steps diagnosed", fmt=".0f"),
    _m("dynamics/window", "steps", "none", "steps of the recent window", fmt=".0f"),
    *(_m(f"dynamics/{name}_mean", unit, "none", f"mean {title} {_WINDOW}", label=title)
      for name, (unit, title) in _DYNAMICS_SERIES.items()),
    _m("dynamics/loss_ratio", "ratio", "none", "g_loss_mean / d_loss_mean",
       condition="only when d_loss_mean is not 0"),
    _m("dynamics/nonfinite_steps", "steps", "minimize", "steps with a NaN or infinite loss",
       fmt=".0f"),
    _m("dynamics/discriminator_won", "flag", "minimize",
       "both D accuracies stayed high for a sustained stretch", fmt=".0f"),
    _m("dynamics/discriminator_won_longest_run", "steps", "minimize",
       "longest stretch of both D accuracies high", fmt=".0f"),
    _m("dynamics/vanishing_gradients", "flag", "minimize",
       "G's gradient norm stayed tiny for a sustained stretch", fmt=".0f"),
    _m("dynamics/vanishing_gradients_longest_run", "steps", "minimize",
       "longest stretch of a tiny G gradient norm", fmt=".0f"),
), source="harness.evaluation.dynamics:diagnose_training")

SPEED = Family("speed", (
    _m("speed/generation_samples_per_s", "samples/s", "maximize",
       "generated samples per second, all clips of the batch together",
       label="generation", fmt=",.0f"),
), source="harness.training.events:Evaluation.metrics")

# Per-step series of the training phases (logged as means over windows of steps).
_PHASE_CONDITION = "per step of the phase, only when the phase runs"
TRAINING = tuple(Family(phase, tuple(
    _m(f"{phase}/{name}", unit, direction, description, condition=_PHASE_CONDITION)
    for name, unit, direction, description in series), source="harness.training.trainer:Trainer")
    for phase, series in (
        ("autoencoder", (("reconstruction_mse", "MSE", "minimize", "autoencoder reconstruction error"),)),
        ("pretrain", (("teacher_loss", "nats/sample", "minimize",
                       f"teacher-forced training loss ({_HEAD_UNITS})"),
                      ("grad_norm", "norm", "none", "generator gradient norm"),
                      ("heldout_loss", "nats/sample", "minimize",
                       f"likelihood/teacher_loss measured during teacher forcing ({_HEAD_UNITS})"))),
        ("gan", (("d_loss", "loss", "none", "discriminator loss"),
                 ("g_loss", "loss", "none", "generator loss"),
                 ("d_acc_real", "share", "none", "discriminator accuracy on real segments"),
                 ("d_acc_fake", "share", "none", "discriminator accuracy on generated segments"),
                 ("gradient_penalty", "loss", "none", "discriminator gradient penalty"),
                 ("g_grad_norm", "norm", "none", "generator gradient norm"),
                 ("d_grad_norm", "norm", "none", "discriminator gradient norm"),
                 ("fake_rms", "RMS", "none", "RMS level of the generated segments"))),
    ))

FAMILIES: tuple[Family, ...] = (EVAL, QUALITY, MUSIC, LIKELIHOOD, DYNAMICS, SPEED, *TRAINING)


def _index(families: Iterable[Family]) -> dict[str, Metric]:
    index: dict[str, Metric] = {}
    for family in families:
        for metric in family.metrics:
            if metric.family != family.name:
                raise ValueError(f"metric {metric.key} is listed under family {family.name}")
            if metric.key in index:
                raise ValueError(f"metric {metric.key} is declared twice")
            index[metric.key] = metric
    return index


CATALOGUE: dict[str, Metric] = _index(FAMILIES)
_PARTNERS = {partner: metric for metric in CATALOGUE.values() for partner in metric.partner_keys}


def metric(key: str) -> Metric:
    """The entry of an MLflow key (a floor partner key gives its metric's entry).

    Raises:
        KeyError: not a catalogued key; the message lists the families.
    """
    found = CATALOGUE.get(key) or _PARTNERS.get(key)
    if found is None:
        raise KeyError(f"{key!r} is not in the metric catalogue (families: "
                       f"{', '.join(f.name for f in FAMILIES)}); add an entry in "
                       "harness/evaluation/catalogue.py")
    return found


def family(name: str) -> Family:
    """The family whose keys start with ``<name>/``."""
    for candidate in FAMILIES:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no metric family {name!r}; families: {', '.join(f.name for f in FAMILIES)}")


def all_keys() -> tuple[str, ...]:
    """Every key the catalogue declares, floor partners included, in catalogue order."""
    return tuple(key for entry in CATALOGUE.values() for key in (entry.key, *entry.partner_keys))


def objective_metrics() -> tuple[Metric, ...]:
    """The entries a study may optimise."""
    return tuple(entry for entry in CATALOGUE.values() if entry.objective)


def floor_metrics(family_name: str | None = None) -> tuple[Metric, ...]:
    """The entries logged with a real-vs-real floor (of one family, or all)."""
    return tuple(entry for entry in CATALOGUE.values() if entry.floor
                 and (family_name is None or entry.family == family_name))


def audio_families() -> tuple[Family, ...]:
    """The families computed from audio alone (what `samplegan compare` prints)."""
    return tuple(candidate for candidate in FAMILIES if candidate.from_audio)


def keyed(family_name: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A family function's {name: value} as {MLflow key: value}."""
    return {f"{family_name}/{name}": value for name, value in values.items()}


def key_of(family_name: str, name: str) -> str:
    """The MLflow key of metric `name` of a family, checked against the catalogue."""
    return metric(f"{family(family_name).name}/{name}").key


def share_key(label: str) -> str:
    """``eval/share_<label>`` of a collapse label of `harness.evaluation.diagnostics.LABELS`."""
    return metric(f"{EVAL.name}/share_{label}").key


def bits(nats: float) -> float:
    """Nats converted to bits (divided by ln 2)."""
    return nats / NATS_PER_BIT


def floor_wording(entry: Metric, p95: float | None) -> str:
    """What a floor next to the metric means, so a large floor does not read as "the model
    beats real audio": "floor: real clips of the same count and length, p95 19.7 dB"."""
    text = "floor: real clips of the same count and length"
    return f"{text}, p95 {entry.format(p95)}" if p95 is not None else f"{text}; none drawn"


# Entries consumers name directly (their keys are spelled only above).
COLLAPSED_SHARE = metric("eval/collapsed_share")
SHARE_HEALTHY = metric(share_key("healthy"))
DIVERSITY = metric("eval/diversity_lsd_db")
MEAN_ONSET = metric("eval/mean_collapse_onset_over_n")
FRECHET = metric("quality/frechet_logmel")
MR_LSD = metric("quality/mr_lsd_db")
NOTES_SUMMARY = metric("music/notes_summary")
TEACHER_LOSS = metric("likelihood/teacher_loss")
BASELINE_MARGINAL = metric("likelihood/baseline_marginal")
BASELINE_LINEAR = metric("likelihood/baseline_linear")
GAIN_OVER_LINEAR = metric("likelihood/gain_over_linear")
TEACHER_LOSS_BITS = metric("likelihood/teacher_loss_bits")
GAIN_OVER_LINEAR_BITS = metric("likelihood/gain_over_linear_bits")
GENERATION_SPEED = metric("speed/generation_samples_per_s")
PRETRAIN_TEACHER_LOSS = metric("pretrain/teacher_loss")
PRETRAIN_HELDOUT_LOSS = metric("pretrain/heldout_loss")
# Which likelihood entries are the nats figures' bits counterparts (logged with a mu-law head).
BITS_OF = {metric(f"{entry.key}_bits").key: entry for entry in
           (TEACHER_LOSS, BASELINE_MARGINAL, BASELINE_LINEAR, GAIN_OVER_LINEAR)}
