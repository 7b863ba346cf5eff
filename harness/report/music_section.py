"""The report's music section and its Answer line: do the variants' clips hold notes?

Every number comes from the catalogue's ``music`` family (its entries with a floor: the
notes summary and each music distance), as `harness.report.stats.variant_table` averages
them over a variant's finished replicates. The Answer line judges the pitch metrics with a
rule stated beside it: a variant's clips are *within 2x the floor* on a metric when its mean
is at most twice the mean of that metric's real-vs-real floor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from harness.evaluation import catalogue
from harness.evaluation.music import MIN_CLIP_SECONDS
from harness.evaluation.quality import within_floor
from harness.report.document import Document

# The music family's entries with a floor: the notes summary first, then each distance.
MUSIC_FLOORED = catalogue.floor_metrics(catalogue.MUSIC.name)
# The pitch metrics the Answer line judges (both from pYIN).
PITCH_METRICS = tuple(catalogue.metric(catalogue.key_of(catalogue.MUSIC.name, name))
                      for name in ("voiced_share_gap", "voicing_confidence_gap"))
FLOOR_MULTIPLE = 2.0
PITCH_RULE = (f"within {FLOOR_MULTIPLE:g}x the floor: the variant's mean is at most "
              f"{FLOOR_MULTIPLE:g} x the mean of the real-vs-real floor")


def _number(value: Any) -> float:
    """A frame value as a float; None and non-numbers are NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def within_multiple(value: float, floor_mean: float, multiple: float = FLOOR_MULTIPLE) -> bool | None:
    """Whether `value` <= `multiple` x `floor_mean`; None when either is missing."""
    value, floor_mean = _number(value), _number(floor_mean)
    if math.isnan(value) or math.isnan(floor_mean):
        return None
    return value <= multiple * floor_mean


def has_music(variants: pd.DataFrame) -> pd.Series:
    """Per variant: whether any of its finished runs logged a music distance."""
    columns = [entry.name for entry in MUSIC_FLOORED if entry.name in variants]
    if not columns:
        return pd.Series(False, index=variants.index)
    return variants[columns].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)


def pitch_verdicts(variants: pd.DataFrame) -> dict[str, bool | None]:
    """Variant -> within `FLOOR_MULTIPLE` x the floor on every pitch metric (True), beyond on
    one (False), or None: the variant logged no music metrics or a pitch floor is missing."""
    verdicts: dict[str, bool | None] = {}
    measured = has_music(variants)
    for variant, row in variants.iterrows():
        if not measured[variant]:
            verdicts[variant] = None
            continue
        each = [within_multiple(row.get(entry.name), row.get(f"{entry.name}_floor"))
                for entry in PITCH_METRICS]
        verdicts[variant] = None if None in each else all(each)
    return verdicts


def _ratio_text(row: Mapping[str, Any]) -> str:
    parts = []
    for entry in PITCH_METRICS:
        value, floor = _number(row.get(entry.name)), _number(row.get(f"{entry.name}_floor"))
        ratio = value / floor if floor > 0 else math.nan
        parts.append(f"{entry.title} {entry.format(value)} = "
                     + (f"{ratio:.2g}x" if math.isfinite(ratio) else "–") + " floor")
    return ", ".join(parts)


def music_answer(variants: pd.DataFrame, reason: str = "") -> str:
    """The Answer's line: which variants' clips are within 2x the floor on the pitch metrics.

    Args:
        variants: `harness.report.stats.variant_table` (its music columns may be absent).
        reason: Why no run logged music metrics (`skip_reason`), said when none did.
    """
    pitch = " and ".join(entry.title for entry in PITCH_METRICS)
    title = f"**Pitch ({pitch}):**"
    verdicts = pitch_verdicts(variants)
    judged = {variant: verdict for variant, verdict in verdicts.items() if verdict is not None}
    if not judged:
        if not has_music(variants).any():
            return f"{title} no variant logged music metrics ({reason or no_music_reason(None)})."
        return f"{title} no variant has a floor for both pitch metrics, so none is judged."
    within = [variant for variant, verdict in judged.items() if verdict]
    rule = f" ({PITCH_RULE}, on both)"
    if within:
        listed = "; ".join(f"`{variant}` ({_ratio_text(variants.loc[variant])})" for variant in within)
        return (f"{title} {len(within)} of {len(judged)} variant(s) with music metrics hold "
                f"their clips within {FLOOR_MULTIPLE:g}x the floor{rule}: {listed}.")
    closest = min(judged, key=lambda variant: max(
        _number(variants.at[variant, entry.name]) / max(_number(variants.at[variant, f"{entry.name}_floor"]),
                                                         1e-12)
        for entry in PITCH_METRICS))
    return (f"{title} none of the {len(judged)} variant(s) with music metrics is within "
            f"{FLOOR_MULTIPLE:g}x the floor{rule}; closest: `{closest}` "
            f"({_ratio_text(variants.loc[closest])}).")


def no_music_reason(clip_seconds: float | None) -> str:
    """Why no run logged music metrics, in a clause, from the length of their clips."""
    if clip_seconds is not None and clip_seconds < MIN_CLIP_SECONDS:
        return (f"their clips last {clip_seconds:.3g} s, shorter than the {MIN_CLIP_SECONDS:g} s "
                "the music metrics need; raise `eval_samples`")
    return (f"clips shorter than {MIN_CLIP_SECONDS:g} s, or runs older than the music metrics")


def _cell(row: Mapping[str, Any], entry: catalogue.Metric) -> str:
    """``mean [low, high]; floor f (p95 p): within`` of one music distance of a variant."""
    name = entry.name

    def text(value: Any) -> str:
        value = _number(value)
        return "–" if math.isnan(value) else f"{value:{entry.fmt}}"

    cell = text(row.get(name))
    if not (math.isnan(_number(row.get(f"{name}_low"))) or math.isnan(_number(row.get(f"{name}_high")))):
        cell += f" [{text(row[f'{name}_low'])}, {text(row[f'{name}_high'])}]"
    floor = _number(row.get(f"{name}_floor"))
    if math.isnan(floor):
        return cell + "; no floor"
    p95 = _number(row.get(f"{name}_floor_p95"))
    verdict = within_floor(_number(row.get(name)), None if math.isnan(p95) else p95)
    cell += f"; floor {text(floor)} (p95 {text(p95)})"
    if math.isnan(_number(row.get(name))):
        return cell + ": no value (e.g. no onsets in the generated clips)"
    return cell + (f": {'within' if verdict else 'beyond'}" if verdict is not None else "")


def music_figures(variants: pd.DataFrame, reason: str = "") -> dict[str, Any]:
    """The music section's numbers for `samplegan report --json`.

    Returns:
        ``answer`` (the Answer's line), ``pitch_rule``, ``pitch_metrics`` (their MLflow keys),
        ``note`` (why there are no music metrics; None when some variant has them) and
        ``variants``: [{``variant``, ``within_2x_pitch`` (True, False or None), ``metrics``:
        {MLflow key: {``mean``, ``low``, ``high``, ``floor``, ``floor_p95``, ``verdict``
        ("within" / "beyond" the p95, or None), ``within_2x`` (mean <= 2 x floor mean, or
        None)}}}], one per variant with music metrics.
    """
    verdicts = pitch_verdicts(variants)
    measured = has_music(variants)
    rows = []
    for variant, row in variants[measured].iterrows():
        metrics = {}
        for entry in MUSIC_FLOORED:
            name = entry.name
            values = {part: _finite(row.get(column)) for part, column in (
                ("mean", name), ("low", f"{name}_low"), ("high", f"{name}_high"),
                ("floor", f"{name}_floor"), ("floor_p95", f"{name}_floor_p95"))}
            verdict = within_floor(values["mean"], values["floor_p95"])
            metrics[entry.key] = {**values, "verdict": None if verdict is None else
                                  ("within" if verdict else "beyond"),
                                  "within_2x": within_multiple(values["mean"], values["floor"])}
        rows.append({"variant": str(variant), "within_2x_pitch": verdicts[variant], "metrics": metrics})
    return {"answer": music_answer(variants, reason), "pitch_rule": PITCH_RULE,
            "pitch_metrics": [entry.key for entry in PITCH_METRICS],
            "note": None if measured.any() else f"no variant logged music metrics: {reason}",
            "variants": rows}


def _finite(value: Any) -> float | None:
    number = _number(value)
    return number if math.isfinite(number) else None


def clip_seconds(run_params: Mapping[str, Mapping[str, str]]) -> float | None:
    """The longest evaluation clip of the study's runs in seconds, from their MLflow params
    (``config.eval_samples``, 0 meaning 4 n); None without runs."""
    lengths = []
    for params in run_params.values():
        try:
            rate = int(params["config.sample_rate"])
            samples = int(params.get("config.eval_samples") or 0) or 4 * int(params["config.n"])
        except (KeyError, ValueError):
            continue
        lengths.append(samples / rate)
    return max(lengths) if lengths else None


def skip_reason(frame: pd.DataFrame, run_params: Mapping[str, Mapping[str, str]]) -> str:
    """Why the study's runs logged no music metrics: the reasons their runs give (the
    ``music_status`` column, "skipped: <why>"), else a guess from their clips' length."""
    statuses = frame["music_status"] if "music_status" in frame else pd.Series(dtype=object)
    reasons = sorted({status.removeprefix("skipped: ") for status in statuses
                      if isinstance(status, str) and status.startswith("skipped")})
    if reasons:
        return "runs say: " + "; ".join(reasons[:2]) + (" ..." if len(reasons) > 2 else "")
    return no_music_reason(clip_seconds(run_params))


def music_section(document: Document, variants: pd.DataFrame, reason: str) -> None:
    """The report's "Music structure" section: a variant's notes summary and music distances.

    Args:
        document: The report.
        variants: `harness.report.stats.variant_table`.
        reason: Why no run logged music metrics (`skip_reason`), the section's one line then.
    """
    document.heading("Music structure")
    measured = has_music(variants)
    if not measured.any():
        document.paragraph(f"No music metrics: no variant logged them ({reason}).")
        return
    document.paragraph(
        "Does a variant's audio hold notes? pYIN voicing, the harmonic share after "
        "harmonic-percussive separation, chroma, onsets and note decay of the final "
        "evaluation's clips against held-out audio (docs/music.md). Per variant, over its "
        "finished replicates: mean [95% interval]; floor: the same distance between real "
        "held-out sets as many and as long as the generated ones (mean, and p95); within: the "
        "mean is at most the p95. The notes summary folds the distances into one number: 1 = "
        f"as close to the held-out audio as real sets, 10 = no music structure. Pitch: {PITCH_RULE}."
        + (f" {int((~measured).sum())} variant(s) without music metrics are left out."
           if not measured.all() else ""))
    rows = [[str(variant), *(_cell(row, entry) for entry in MUSIC_FLOORED)]
            for variant, row in variants[measured].iterrows()]
    document.table(["variant", *(entry.heading for entry in MUSIC_FLOORED)], rows, sortable=True,
                   css_class="variants")
