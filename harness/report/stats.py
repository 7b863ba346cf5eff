"""Statistics of the ablation report: pure functions on its trial frame (one row per cell).

Confidence intervals, the per-variant table, main effects, seed noise and the ranking of
axes against it, interactions, label shares, the best cells, rank correlations, and the
significance of each axis. Each axis is tested level
against level with Welch's t-test (means, unequal variances) and the Mann-Whitney U test
(ranks, no normality assumed). Welch's test decides; where it cannot run because both
levels are constant yet differ (e.g. every trial of one level collapsed and none of the
other), the exact Mann-Whitney test decides: such a perfect split is the strongest
evidence the trials can give, p = 2 / C(n_a + n_b, n_a), not "no effect". The deciding
p-values of one metric are corrected together with Holm's step-down method, so
"significant" means significant among every comparison the report makes for that metric.
Effect sizes: Hedges' g (standardised mean difference with the small-sample correction)
and the rank-biserial correlation.

These tests treat replicates as independent samples. Replicate r trains with the same seed
at every grid point, so they ignore a pairing that would make them sharper; the report's
paired seed-noise analysis (`rank_axes`) uses it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from harness.evaluation import catalogue
from harness.evaluation.catalogue import FLOOR_PARTS
from harness.evaluation.diagnostics import LABELS

CONFIDENCE = 0.95
ALPHA = 0.05

# The trial frame's columns and states (see `harness.report.reading.trials_frame`).
OBJECTIVE = "objective"
COLLAPSE = "collapsed_outcome"
FINISHED_STATES = ("COMPLETE", "PRUNED")
# Metrics the variant table gives a mean and 95% interval for (columns named by entry name).
INTERVAL_METRICS = (*catalogue.floor_metrics(), catalogue.GAIN_OVER_LINEAR,
                    catalogue.GAIN_OVER_LINEAR_BITS)
# Two-sided confidence with which an effect must exceed seed noise (see `effect_verdict`).
NOISE_CONFIDENCE = 0.95
BEST_CELLS = 5
SIGNIFICANCE_COLUMNS = [
    "axis", "level_a", "level_b", "n_a", "n_b", "mean_a", "mean_b", "difference",
    "welch_t", "welch_p", "welch_p_holm", "hedges_g",
    "mannwhitney_u", "mannwhitney_p", "mannwhitney_p_holm", "rank_biserial", "perfect_split",
    "test", "test_p", "test_p_holm", "significant",
]
WELCH = "Welch"
EXACT_MANN_WHITNEY = "exact Mann-Whitney"


def mean_ci(values: Sequence[float] | pd.Series,
            confidence: float = CONFIDENCE) -> tuple[float, float, float, int]:
    """Mean and Student-t confidence interval of the finite values.

    Returns:
        (mean, low, high, count); low = high = NaN with fewer than two values, and
        low = high = mean when every value is the same.
    """
    array = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)
    array = array[np.isfinite(array)]
    count = len(array)
    if count == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(array.mean())
    if count < 2:
        return mean, math.nan, math.nan, count
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2, count - 1)
                 * array.std(ddof=1) / math.sqrt(count))
    return mean, mean - half, mean + half, count


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test).

    The k-th smallest of m p-values becomes max over j <= k of min(1, (m - j + 1) p_(j)).
    """
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(values), math.nan)
    valid = np.flatnonzero(np.isfinite(values))
    order = valid[np.argsort(values[valid], kind="stable")]
    tests = len(order)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (tests - rank) * values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    """(mean b - mean a) / pooled SD, times the small-sample correction 1 - 3 / (4 df - 1)."""
    degrees = len(a) + len(b) - 2
    if len(a) < 2 or len(b) < 2:
        return math.nan
    pooled = math.sqrt(((len(a) - 1) * a.var(ddof=1) + (len(b) - 1) * b.var(ddof=1)) / degrees)
    difference = float(b.mean() - a.mean())
    if pooled == 0:
        return 0.0 if difference == 0 else math.copysign(math.inf, difference)
    return difference / pooled * (1 - 3 / (4 * degrees - 1))


def _compare(axis: str, level_a, level_b, a: np.ndarray, b: np.ndarray) -> dict:
    row = {"axis": axis, "level_a": level_a, "level_b": level_b, "n_a": len(a), "n_b": len(b),
           "mean_a": float(a.mean()) if len(a) else math.nan,
           "mean_b": float(b.mean()) if len(b) else math.nan,
           "welch_t": math.nan, "welch_p": math.nan, "hedges_g": math.nan,
           "mannwhitney_u": math.nan, "mannwhitney_p": math.nan, "rank_biserial": math.nan}
    row["difference"] = row["mean_b"] - row["mean_a"]
    if len(a) >= 2 and len(b) >= 2 and (a.var() > 0 or b.var() > 0):
        welch = scipy.stats.ttest_ind(b, a, equal_var=False)
        row.update(welch_t=float(welch.statistic), welch_p=float(welch.pvalue))
    if len(a) >= 2 and len(b) >= 2:
        row["hedges_g"] = hedges_g(a, b)
    row["perfect_split"] = bool(len(a) and len(b) and (a.max() < b.min() or b.max() < a.min()))
    if len(a) and len(b) and np.unique(np.concatenate([a, b])).size > 1:
        # A perfect split has no ties between the levels, so the exact distribution of U is
        # its permutation distribution even when values tie within a level; SciPy's default
        # would fall back to the normal approximation there, which is too small at few trials.
        mann = scipy.stats.mannwhitneyu(b, a, alternative="two-sided",
                                        method="exact" if row["perfect_split"] else "auto")
        row.update(mannwhitney_u=float(mann.statistic), mannwhitney_p=float(mann.pvalue),
                   rank_biserial=2 * float(mann.statistic) / (len(a) * len(b)) - 1)
    if not math.isnan(row["welch_p"]):
        row.update(test=WELCH, test_p=row["welch_p"])
    elif row["perfect_split"] and not math.isnan(row["mannwhitney_p"]):
        row.update(test=EXACT_MANN_WHITNEY, test_p=row["mannwhitney_p"])
    else:
        row.update(test=None, test_p=math.nan)
    return row


def significance_table(frame: pd.DataFrame, axes: Sequence[str], value: str,
                       alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of levels of every axis, tested on column `value` of the trials.

    Args:
        frame: One row per trial; NaN values are left out.
        axes: Columns whose levels are compared (levels in order of first appearance).
        value: Column tested.
        alpha: Significance level applied to the Holm-adjusted p-value of the deciding test.

    Returns:
        One row per (axis, level a, level b) with `SIGNIFICANCE_COLUMNS`: counts and means,
        ``difference`` = mean b - mean a, Welch's t and p, Hedges' g, Mann-Whitney U (of b
        against a), its p (exact for a perfect split) and the rank-biserial correlation (+1:
        every b above every a); both p-values Holm-adjusted over all rows; ``perfect_split``
        when every value of one level is below every value of the other; ``test`` the test
        that decides (`WELCH`; `EXACT_MANN_WHITNEY` where Welch cannot run on a perfect
        split; None when neither can), its p ``test_p`` and ``test_p_holm`` Holm-adjusted
        over the deciding p-values of all rows; ``significant`` when ``test_p_holm`` is below
        `alpha`. Tests that cannot run (fewer than two values a side for Welch; no variation
        at all) give NaN and do not count in the correction.
    """
    rows = []
    with warnings.catch_warnings():  # near-identical samples: SciPy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in axes:
            rows += _axis_rows(frame, axis, value)
    table = pd.DataFrame(rows, columns=[c for c in SIGNIFICANCE_COLUMNS
                                        if c not in ("welch_p_holm", "mannwhitney_p_holm",
                                                     "test_p_holm", "significant")])
    table["welch_p_holm"] = holm(table["welch_p"].tolist())
    table["mannwhitney_p_holm"] = holm(table["mannwhitney_p"].tolist())
    table["test_p_holm"] = holm(table["test_p"].tolist())
    table["significant"] = table["test_p_holm"] < alpha
    return table[SIGNIFICANCE_COLUMNS]


def _axis_rows(frame: pd.DataFrame, axis: str, value: str) -> list[dict]:
    valid = frame[[axis, value]].dropna()
    levels = list(frame[axis].dropna().unique())
    samples = {level: pd.to_numeric(valid.loc[valid[axis] == level, value]).to_numpy(float)
               for level in levels}
    return [_compare(axis, level_a, level_b, samples[level_a], samples[level_b])
            for level_a, level_b in itertools.combinations(levels, 2)]


def pooled_within_sd(frame: pd.DataFrame, group_column: str, value: str) -> tuple[float, int]:
    """Unpaired seed noise: the pooled standard deviation of `value` among replicates of a group.

    Args:
        frame: One row per trial.
        group_column: Column naming the grid point (replicates share it).
        value: Column to measure; NaN rows are left out.

    Returns:
        (sqrt(sum((k_i - 1) s_i^2) / sum(k_i - 1)), sum(k_i - 1)) over groups with k_i >= 2
        values; (NaN, 0) when no group has two values (one replicate: noise unknown).
    """
    valid = frame[[group_column, value]].dropna()
    grouped = valid.groupby(group_column, sort=False)[value]
    counts = grouped.count()
    variances = grouped.var(ddof=1)
    usable = counts >= 2
    degrees = int((counts[usable] - 1).sum())
    if degrees == 0:
        return math.nan, 0
    return math.sqrt(float(((counts[usable] - 1) * variances[usable]).sum()) / degrees), degrees


def paired_noise_sd(frame: pd.DataFrame, group_column: str, block_column: str,
                    value: str) -> tuple[float, int]:
    """Paired seed noise: the residual SD once grid-point and replicate effects are taken out.

    Replicate r trains with the same seed at every grid point, so whatever that seed does to
    all grid points alike cancels from every comparison of level means. The residual of the
    additive model (grid point + replicate), over the grid points where every replicate has a
    value, is the noise that does not cancel.

    Returns:
        (residual SD, (P - 1)(R - 1) degrees of freedom) over P such grid points and R
        replicates; (NaN, 0) when P < 2 or R < 2.
    """
    table = frame.groupby([group_column, block_column])[value].mean().unstack(block_column)
    values = table.dropna(axis=1, how="all").dropna(axis=0).to_numpy(dtype=float)
    if values.shape[0] < 2 or values.shape[1] < 2:
        return math.nan, 0
    residual = (values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True)
                + values.mean())
    degrees = (values.shape[0] - 1) * (values.shape[1] - 1)
    return math.sqrt(float((residual ** 2).sum()) / degrees), degrees


def main_effects(frame: pd.DataFrame, axis: str, value: str) -> pd.DataFrame:
    """Mean, SD and count of `value` per level of `axis`, pooled over other axes and replicates.

    Returns:
        Indexed by level in order of first appearance, columns ``mean``, ``std``, ``count``
        and the 95% Student-t interval of the mean ``ci_low``, ``ci_high`` (NaN below two
        values); a level whose trials all lack the value keeps a row with count 0.
    """
    grouped = frame.groupby(axis, sort=False)[value]
    table = pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1),
                          "count": grouped.count()})
    intervals = grouped.apply(lambda values: mean_ci(values)[1:3])
    table["ci_low"] = [interval[0] for interval in intervals.reindex(table.index)]
    table["ci_high"] = [interval[1] for interval in intervals.reindex(table.index)]
    return table


def variant_table(frame: pd.DataFrame, group_column: str = "point",
                  clip_onsets: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """One row per variant (grid point): the report's per-variant table.

    Args:
        frame: One row per cell (see `trials_frame`).
        group_column: Column naming the variant.
        clip_onsets: Variant -> collapse onset / n of each collapsed clip of its runs' final
            evaluations; without it the median is taken over the runs' mean onsets.

    Returns:
        Indexed by variant (order of first appearance): ``cells``, ``finished``, ``failed``,
        ``unfinished``; for `OBJECTIVE` and each of `INTERVAL_METRICS` (the catalogue's
        metrics with a floor, ``gain_over_linear`` and ``gain_over_linear_bits``) the mean over
        finished replicates with its 95% interval (``<name>_low``, ``<name>_high``); for the
        metrics with a floor also the mean of their floors (``<name>_floor``, from
        ``<name>_real_vs_real``) and of the floors' 95th percentiles (``<name>_floor_p95``);
        ``collapse_rate`` (mean collapsed outcome), the mean ``share_<label>`` of every label,
        ``median_onset_over_n``, ``first_collapsed_step`` (median over collapsed runs),
        ``duration_s`` and ``generation_samples_per_s`` (means) and ``run_ids``.
    """
    rows = {}
    for variant, group in frame.groupby(group_column, sort=False):
        finished = group[group["state"].isin(FINISHED_STATES)]
        row: dict[str, Any] = {
            "cells": len(group), "finished": len(finished),
            "failed": int((group["state"] == "FAIL").sum()),
            "unfinished": int((~group["state"].isin((*FINISHED_STATES, "FAIL"))).sum()),
        }
        for name in (OBJECTIVE, *(entry.name for entry in INTERVAL_METRICS)):
            mean, low, high, _ = mean_ci(finished[name])
            row.update({name: mean, f"{name}_low": low, f"{name}_high": high})
        for entry in catalogue.floor_metrics():
            row[f"{entry.name}_floor"] = float(finished[entry.name + FLOOR_PARTS["mean"]].mean())
            row[f"{entry.name}_floor_p95"] = float(finished[entry.name + FLOOR_PARTS["p95"]].mean())
        row["collapse_rate"] = float(finished[COLLAPSE].mean()) if len(finished) else math.nan
        for label in LABELS:
            row[f"share_{label}"] = float(finished[f"share_{label}"].mean())
        if clip_onsets is not None:
            onsets = [value for value in clip_onsets.get(variant, ()) if value is not None]
            row["median_onset_over_n"] = float(np.median(onsets)) if onsets else math.nan
        else:
            row["median_onset_over_n"] = float(finished["mean_onset_over_n"].median())
        row["first_collapsed_step"] = float(finished["first_collapsed_step"].median())
        row["duration_s"] = float(finished["duration_s"].mean())
        row["generation_samples_per_s"] = float(finished["generation_samples_per_s"].mean())
        row["run_ids"] = [run for run in group["mlflow_run_id"] if isinstance(run, str)]
        rows[variant] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    if denominator == 0:
        return math.inf if numerator > 0 else math.nan
    return numerator / denominator


def effect_verdict(effect: float, noise_sd: float, effect_over_se: float,
                   noise_degrees: int) -> str:
    """Whether an effect stands out from seed noise, in words.

    An effect exceeds seed noise when it is more standard errors than the two-sided
    `NOISE_CONFIDENCE` quantile of Student's t with the noise estimate's degrees of freedom
    (12.7 for one, 4.3 for two, 2.0 for sixty): few replicates demand a large effect.

    Returns:
        "no data", "no effect", "noise unknown", "exceeds seed noise" or "within seed noise"
        (`rank_axes` adds "untested" for an axis with values at fewer than two levels).
    """
    if math.isnan(effect):
        return "no data"
    if effect == 0:
        return "no effect"
    if math.isnan(noise_sd) or noise_degrees < 1:
        return "noise unknown"
    critical = float(scipy.stats.t.ppf(0.5 + NOISE_CONFIDENCE / 2, noise_degrees))
    return "exceeds seed noise" if effect_over_se >= critical else "within seed noise"


def rank_axes(frame: pd.DataFrame, axes: Sequence[str], value: str,
              group_column: str = "point", block_column: str | None = "replicate") -> pd.DataFrame:
    """Rank axes by their main effect on `value` relative to seed noise.

    The effect of an axis is the spread (max - min) of its level means. Seed noise is
    `paired_noise_sd` when replicates are paired by seed (`block_column`) and it can be
    estimated, else `pooled_within_sd`. The standard error of the difference of the two
    extreme levels is noise * sqrt(1/n_low + 1/n_high); `effect_verdict` judges it.

    Args:
        frame: One row per trial.
        axes: Columns whose levels are compared.
        value: Column analysed; NaN rows are left out.
        group_column: Column naming the grid point; give a column unique per row (e.g. ``cell``)
            when trials have no replicates.
        block_column: Column naming the replicate seed, or None for unpaired replicates.

    Returns:
        One row per axis, strongest first (by effect/noise, then effect; NaN last), columns
        ``axis``, ``levels``, ``effect``, ``low_level``, ``low_mean``, ``high_level``,
        ``high_mean``, ``noise_sd``, ``noise_degrees``, ``noise_kind`` ("paired", "unpaired"
        or None), ``unpaired_noise_sd``, ``effect_over_noise``, ``effect_over_se``, ``verdict``.
        An axis with values at fewer than two of its levels has no effect to measure: its
        effect is NaN and its verdict "untested".
    """
    unpaired, unpaired_degrees = pooled_within_sd(frame, group_column, value)
    paired, paired_degrees = (paired_noise_sd(frame, group_column, block_column, value)
                              if block_column else (math.nan, 0))
    if not math.isnan(paired):
        noise, degrees, kind = paired, paired_degrees, "paired"
    else:
        noise, degrees = unpaired, unpaired_degrees
        kind = None if math.isnan(unpaired) else "unpaired"
    rows = []
    for axis in axes:
        effects = main_effects(frame, axis, value).dropna(subset=["mean"])
        row: dict[str, Any] = {"axis": axis, "levels": int(frame[axis].nunique()),
                               "effect": math.nan, "low_level": None, "low_mean": math.nan,
                               "high_level": None, "high_mean": math.nan, "noise_sd": noise,
                               "noise_degrees": degrees, "noise_kind": kind,
                               "unpaired_noise_sd": unpaired, "effect_over_noise": math.nan,
                               "effect_over_se": math.nan}
        if len(effects) >= 2:
            low, high = effects["mean"].idxmin(), effects["mean"].idxmax()
            effect = float(effects.at[high, "mean"] - effects.at[low, "mean"])
            standard_error = noise * math.sqrt(1.0 / effects.at[low, "count"]
                                               + 1.0 / effects.at[high, "count"])
            row.update(effect=effect, low_level=low, low_mean=float(effects.at[low, "mean"]),
                       high_level=high, high_mean=float(effects.at[high, "mean"]),
                       effect_over_noise=_ratio(effect, noise),
                       effect_over_se=_ratio(effect, standard_error))
        row["verdict"] = ("untested" if len(effects) < 2 else
                          effect_verdict(row["effect"], noise, row["effect_over_se"], degrees))
        rows.append(row)
    columns = ["axis", "levels", "effect", "low_level", "low_mean", "high_level", "high_mean",
               "noise_sd", "noise_degrees", "noise_kind", "unpaired_noise_sd",
               "effect_over_noise", "effect_over_se", "verdict"]
    ranking = pd.DataFrame(rows, columns=columns)
    return ranking.sort_values(["effect_over_noise", "effect"], ascending=False,
                               na_position="last", kind="stable").reset_index(drop=True)


def untested_levels(frame: pd.DataFrame, grid: Mapping[str, Sequence[Any]]) -> dict[str, list]:
    """The levels of each grid axis that no finished trial has reached yet.

    Args:
        frame: One row per cell, with a ``state`` column and one column per axis.
        grid: The design: axis -> its levels (the spec's ``design.grid``).

    Returns:
        Axis -> its levels without a finished trial, in design order; axes with none left out.
    """
    finished = frame[frame["state"].isin(FINISHED_STATES)]
    missing = {axis: [level for level in levels if axis not in finished
                      or not (finished[axis] == level).any()]
               for axis, levels in grid.items()}
    return {axis: levels for axis, levels in missing.items() if levels}


def interaction_table(frame: pd.DataFrame, row_axis: str, column_axis: str,
                      value: str) -> pd.DataFrame:
    """Mean `value` at each combination of two axes (levels in order of first appearance)."""
    means = frame.groupby([row_axis, column_axis], sort=False)[value].mean().unstack(column_axis)
    return means.reindex(index=frame[row_axis].dropna().unique(),
                         columns=frame[column_axis].dropna().unique())


def interaction_size(table: pd.DataFrame) -> float:
    """How far a two-way table of means is from additive: max |m_ij - m_i. - m_.j + m_..|.

    Zero when the effect of one axis is the same at every level of the other; NaN when the
    table has a missing combination or fewer than two levels on a side.
    """
    values = table.to_numpy(dtype=float)
    if values.shape[0] < 2 or values.shape[1] < 2 or np.isnan(values).any():
        return math.nan
    residual = (values - values.mean(axis=1, keepdims=True) - values.mean(axis=0, keepdims=True)
                + values.mean())
    return float(np.abs(residual).max())


def label_shares(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean share of each clip label at the final evaluation, per value of column `by`.

    Returns:
        Indexed by `by` (order of first appearance), one ``share_<label>`` column per label in
        `harness.evaluation.diagnostics.LABELS` and ``runs`` (trials with measured shares).
    """
    columns = [f"share_{label}" for label in LABELS]
    measured = frame.dropna(subset=columns, how="all")
    grouped = measured.groupby(by, sort=False)
    shares = grouped[columns].mean()
    shares["runs"] = grouped.size()
    return shares


def best_cells(frame: pd.DataFrame, direction: str, count: int = BEST_CELLS) -> pd.DataFrame:
    """The `count` best cells by objective: completed trials first, pruned ones after.

    A pruned trial's value comes from an earlier step, so it only ranks among pruned trials.
    """
    scored = frame[frame[OBJECTIVE].notna() & frame["state"].isin(FINISHED_STATES)].copy()
    scored["_pruned"] = scored["state"] != "COMPLETE"
    ranked = scored.sort_values(["_pruned", OBJECTIVE], ascending=[True, direction == "minimize"],
                                kind="stable")
    return ranked.drop(columns="_pruned").head(count)


def param_correlations(frame: pd.DataFrame, params: Sequence[str], value: str) -> pd.DataFrame:
    """Spearman rank correlation of each numeric searched parameter with `value`.

    Returns:
        One row per parameter, strongest |rho| first, columns ``param``, ``spearman``,
        ``trials``; rho is NaN with fewer than three trials or a constant column.
    """
    rows = []
    for param in params:
        pair = frame[[param, value]].apply(pd.to_numeric, errors="coerce").dropna()
        rho = math.nan
        if len(pair) >= 3 and pair[param].nunique() > 1 and pair[value].nunique() > 1:
            ranks = pair.rank()
            rho = float(np.corrcoef(ranks[param], ranks[value])[0, 1])
        rows.append({"param": param, "spearman": rho, "trials": len(pair)})
    table = pd.DataFrame(rows, columns=["param", "spearman", "trials"])
    order = table["spearman"].abs().sort_values(ascending=False, na_position="last").index
    return table.loc[order].reset_index(drop=True)
