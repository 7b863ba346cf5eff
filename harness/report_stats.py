"""Statistics of the ablation report: confidence intervals and significance of each axis.

Pure functions on the report's trial frame (one row per cell). Each axis is tested level
against level with Welch's t-test (means, unequal variances) and the Mann-Whitney U test
(ranks, no normality assumed); the p-values of one metric are corrected together with
Holm's step-down method, so "significant" means significant among every comparison the
report makes for that metric. Effect sizes: Hedges' g (standardised mean difference with
the small-sample correction) and the rank-biserial correlation.

These tests treat replicates as independent samples. Replicate r trains with the same seed
at every grid point, so they ignore a pairing that would make them sharper; the report's
paired seed-noise analysis (`harness.report.rank_axes`) uses it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

CONFIDENCE = 0.95
ALPHA = 0.05
SIGNIFICANCE_COLUMNS = [
    "axis", "level_a", "level_b", "n_a", "n_b", "mean_a", "mean_b", "difference",
    "welch_t", "welch_p", "welch_p_holm", "hedges_g",
    "mannwhitney_u", "mannwhitney_p", "mannwhitney_p_holm", "rank_biserial", "significant",
]


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
    if len(a) and len(b) and np.unique(np.concatenate([a, b])).size > 1:
        mann = scipy.stats.mannwhitneyu(b, a, alternative="two-sided")
        row.update(mannwhitney_u=float(mann.statistic), mannwhitney_p=float(mann.pvalue),
                   rank_biserial=2 * float(mann.statistic) / (len(a) * len(b)) - 1)
    return row


def significance_table(frame: pd.DataFrame, axes: Sequence[str], value: str,
                       alpha: float = ALPHA) -> pd.DataFrame:
    """Every pair of levels of every axis, tested on column `value` of the trials.

    Args:
        frame: One row per trial; NaN values are left out.
        axes: Columns whose levels are compared (levels in order of first appearance).
        value: Column tested.
        alpha: Significance level applied to the Holm-adjusted Welch p-value.

    Returns:
        One row per (axis, level a, level b) with `SIGNIFICANCE_COLUMNS`: counts and means,
        ``difference`` = mean b - mean a, Welch's t and p, Hedges' g, Mann-Whitney U (of b
        against a), its p and the rank-biserial correlation (+1: every b above every a); both
        p-values Holm-adjusted over all rows; ``significant`` when the adjusted Welch p is
        below `alpha`. Tests that cannot run (fewer than two values a side for Welch; no
        variation at all) give NaN and do not count in the correction.
    """
    rows = []
    with warnings.catch_warnings():  # near-identical samples: SciPy warns, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        for axis in axes:
            rows += _axis_rows(frame, axis, value)
    table = pd.DataFrame(rows, columns=[c for c in SIGNIFICANCE_COLUMNS
                                        if c not in ("welch_p_holm", "mannwhitney_p_holm",
                                                     "significant")])
    table["welch_p_holm"] = holm(table["welch_p"].tolist())
    table["mannwhitney_p_holm"] = holm(table["mannwhitney_p"].tolist())
    table["significant"] = table["welch_p_holm"] < alpha
    return table[SIGNIFICANCE_COLUMNS]


def _axis_rows(frame: pd.DataFrame, axis: str, value: str) -> list[dict]:
    valid = frame[[axis, value]].dropna()
    levels = list(frame[axis].dropna().unique())
    samples = {level: pd.to_numeric(valid.loc[valid[axis] == level, value]).to_numpy(float)
               for level in levels}
    return [_compare(axis, level_a, level_b, samples[level_a], samples[level_b])
            for level_a, level_b in itertools.combinations(levels, 2)]
