"""The report's statistics against direct SciPy computations and hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from harness.report.stats import hedges_g, holm, mean_ci, significance_table


def test_mean_ci_is_the_student_t_interval_of_the_mean() -> None:
    values = [3.0, 5.0, 4.0, 8.0]
    mean, low, high, count = mean_ci(values + [math.nan])  # NaN is left out
    expected = scipy.stats.t.interval(0.95, 3, loc=np.mean(values), scale=scipy.stats.sem(values))
    assert (mean, count) == (5.0, 4)
    assert (low, high) == pytest.approx(expected, rel=1e-12)


def test_mean_ci_needs_two_values_and_is_a_point_for_constant_values() -> None:
    assert mean_ci([2.0])[:3] == (2.0, *[pytest.approx(math.nan, nan_ok=True)] * 2)
    assert mean_ci([])[3] == 0 and math.isnan(mean_ci([])[0])
    assert mean_ci([1.5, 1.5, 1.5])[:3] == (1.5, 1.5, 1.5)


def test_holm_steps_down_and_stays_monotone() -> None:
    # sorted 0.01, 0.03, 0.04 of m = 3 tests: 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04)
    adjusted = holm([0.04, 0.01, math.nan, 0.03])
    assert adjusted[0] == pytest.approx(0.06) and adjusted[1] == pytest.approx(0.03)
    assert math.isnan(adjusted[2]) and adjusted[3] == pytest.approx(0.06)
    assert holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert holm([]) == []


def test_hedges_g_is_the_pooled_sd_difference_with_the_small_sample_correction() -> None:
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 6.0, 5.0, 7.0])
    pooled = math.sqrt((2 * np.var(a, ddof=1) + 3 * np.var(b, ddof=1)) / 5)
    assert hedges_g(a, b) == pytest.approx((b.mean() - a.mean()) / pooled * (1 - 3 / 19))
    assert math.isnan(hedges_g(a[:1], b))


def test_significance_table_agrees_with_scipy_for_every_pair_of_levels() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "n": np.repeat([500, 1000, 4410], 5),
        "prefilter": np.tile([False, True, False, True, False], 3),
        "objective": np.concatenate([rng.normal(mu, 1.0, 5) for mu in (10.0, 12.0, 16.0)]),
    })
    frame.loc[3, "objective"] = math.nan  # left out of its level
    table = significance_table(frame, ["n", "prefilter"], "objective")
    assert [tuple(row) for row in table[["axis", "level_a", "level_b"]].to_numpy()] == [
        ("n", 500, 1000), ("n", 500, 4410), ("n", 1000, 4410), ("prefilter", False, True)]
    for _, row in table.iterrows():
        valid = frame.dropna()
        a = valid.loc[valid[row["axis"]] == row["level_a"], "objective"].to_numpy()
        b = valid.loc[valid[row["axis"]] == row["level_b"], "objective"].to_numpy()
        welch = scipy.stats.ttest_ind(b, a, equal_var=False)
        mann = scipy.stats.mannwhitneyu(b, a, alternative="two-sided")
        assert (row["n_a"], row["n_b"]) == (len(a), len(b))
        assert row["difference"] == pytest.approx(b.mean() - a.mean())
        assert row["welch_t"] == pytest.approx(welch.statistic)
        assert row["welch_p"] == pytest.approx(welch.pvalue)
        assert row["mannwhitney_p"] == pytest.approx(mann.pvalue)
        assert row["rank_biserial"] == pytest.approx(2 * mann.statistic / (len(a) * len(b)) - 1)
    assert table["welch_p_holm"].tolist() == pytest.approx(holm(table["welch_p"].tolist()))
    assert table["test"].tolist() == ["Welch"] * 4  # Welch runs everywhere: it decides
    assert table["test_p_holm"].tolist() == pytest.approx(table["welch_p_holm"].tolist())
    assert table["significant"].tolist() == (table["welch_p_holm"] < 0.05).tolist()
    assert bool(table.iloc[1]["significant"])  # 10 vs 16 with SD 1: unmistakable


def test_untestable_comparisons_are_nan_and_not_counted_in_the_correction() -> None:
    frame = pd.DataFrame({"A": ["x", "x", "y", "z", "z"], "v": [1.0, 1.0, 2.0, 1.0, 1.0]})
    table = significance_table(frame, ["A"], "v").set_index(["level_a", "level_b"])
    assert math.isnan(table.at[("x", "y"), "welch_p"])  # one value of y
    assert math.isnan(table.at[("x", "z"), "welch_p"])  # no variation at all
    assert math.isnan(table.at[("x", "z"), "mannwhitney_p"])
    assert table.at[("x", "z"), "hedges_g"] == 0.0
    assert table["mannwhitney_p"].notna().sum() == 2  # x-y and y-z: Holm counts 2 tests, not 3
    raw = table.at[("x", "y"), "mannwhitney_p"]
    assert raw == pytest.approx(table.at[("y", "z"), "mannwhitney_p"])  # mirror images
    assert table.at[("x", "y"), "mannwhitney_p_holm"] == pytest.approx(min(1.0, 2 * raw))
    assert not table["significant"].any()


def test_a_perfect_split_of_constant_levels_is_decided_by_the_exact_mann_whitney_test() -> None:
    # The smoke study's shape: the tanh head collapsed in all 4 trials, the mu-law head in
    # none, whatever the LSTM mode. Welch cannot run (no variance on either side).
    frame = pd.DataFrame({"lstm_mode": ["stateless", "stateful"] * 4,
                          "output_head": ["tanh"] * 4 + ["mulaw"] * 4,
                          "collapsed": [1.0] * 4 + [0.0] * 4})
    table = significance_table(frame, ["lstm_mode", "output_head"], "collapsed").set_index("axis")
    head, mode = table.loc["output_head"], table.loc["lstm_mode"]
    assert math.isnan(head["welch_p"]) and bool(head["perfect_split"])
    exact = 2 / math.comb(8, 4)  # the observed arrangement and its mirror of 70
    assert head["mannwhitney_p"] == pytest.approx(exact)
    assert head["mannwhitney_p"] == pytest.approx(scipy.stats.mannwhitneyu(
        [0.0] * 4, [1.0] * 4, method="exact").pvalue)
    # Not SciPy's default here: with ties it takes the normal approximation, half as large.
    assert scipy.stats.mannwhitneyu([0.0] * 4, [1.0] * 4).pvalue < exact / 2
    assert head["test"] == "exact Mann-Whitney" and head["test_p"] == pytest.approx(exact)
    assert head["rank_biserial"] == -1.0
    assert mode["test"] == "Welch" and mode["welch_p"] == pytest.approx(1.0)
    assert not bool(mode["perfect_split"])
    # Holm over the two deciding p-values: 2 x 0.029 misses 5 %; with 6 + 6 trials it passes.
    assert head["test_p_holm"] == pytest.approx(2 * exact) and not head["significant"]
    more = pd.concat([frame, frame.iloc[[0, 1, 4, 5]]], ignore_index=True)
    larger = significance_table(more, ["lstm_mode", "output_head"], "collapsed").set_index("axis")
    assert larger.at["output_head", "test_p_holm"] == pytest.approx(2 * 2 / math.comb(12, 6))
    assert bool(larger.at["output_head", "significant"])


def test_a_perfect_split_with_variance_is_still_decided_by_welch() -> None:
    frame = pd.DataFrame({"A": ["x"] * 3 + ["y"] * 3, "v": [1.0, 1.2, 1.1, 5.0, 5.3, 5.1]})
    row = significance_table(frame, ["A"], "v").iloc[0]
    assert bool(row["perfect_split"]) and row["test"] == "Welch"
    assert row["test_p"] == pytest.approx(scipy.stats.ttest_ind(
        [5.0, 5.3, 5.1], [1.0, 1.2, 1.1], equal_var=False).pvalue)
