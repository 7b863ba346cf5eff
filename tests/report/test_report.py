"""The ablation report: analysis on hand-built frames with known answers, then a real tiny study."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.evaluation import catalogue
from harness.evaluation.diagnostics import LABELS
from harness.report.ablation_figures import (
    color_limits,
    plot_effects,
    plot_label_shares,
    plot_objective_per_trial,
    plot_param_scatter,
)
from harness.report.answers import (
    caveat_line,
    collapse_answer,
    objective_answer,
    significance_answer,
    toy_sizes,
    training_audio_answer,
)
from harness.report.build import write_report
from harness.report.document import Document, inline_html
from harness.report.reading import collapsed_outcome, parse_cell_key, prune_kind, trials_frame
from harness.report.sections import run_link
from harness.report.stats import (
    best_cells,
    effect_verdict,
    interaction_size,
    interaction_table,
    label_shares,
    main_effects,
    paired_noise_sd,
    param_correlations,
    pooled_within_sd,
    rank_axes,
    untested_levels,
)
from harness.tracking.store import TRAINING_VIEW_QUERY
from models.errors import SampleGanError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEED_SHIFT = 10.0  # what replicate 1's seed adds at every grid point (cancels when paired)
A_EFFECT = 4.0
B_EFFECT = 0.2
WOBBLE = (0.1, -0.1, 0.1, -0.1)  # per grid point, +/- by replicate: the only unpaired noise


def _grid(replicates: int = 2) -> pd.DataFrame:
    """Axes A (lo/hi) x B (false/true) x replicates with exactly known effects and noise.

    objective = 10 + 4 [A=hi] + 0.2 [B] + 10 replicate + wobble(point) * (+1, -1)[replicate].
    The wobble sums to zero over points and cancels between replicates, so it changes no level
    mean and is exactly the residual of the additive model point + replicate.
    """
    rows = []
    points = [("lo", False), ("lo", True), ("hi", False), ("hi", True)]
    for index, (a, b) in enumerate(points):
        for replicate in range(replicates):
            sign = 1.0 if replicate == 0 else -1.0
            rows.append({
                "trial_number": len(rows), "cell": f"A={a},B={b}|rep={replicate}",
                "point": f"A={a}, B={b}", "A": a, "B": b, "replicate": replicate,
                "state": "COMPLETE",
                "objective": 10.0 + A_EFFECT * (a == "hi") + B_EFFECT * b
                + SEED_SHIFT * replicate + WOBBLE[index] * sign,
                "collapsed_outcome": 1.0 if a == "lo" else 0.25,
            })
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- reading
def test_cell_keys_parse_back_into_grid_points_and_replicates() -> None:
    assert parse_cell_key('generator="stateful",prefilter=false|rep=1') == (
        {"generator": "stateful", "prefilter": False}, 1)
    assert parse_cell_key('n=500,tag="a,b",feedback_noise=0.01|rep=0') == (
        {"n": 500, "tag": "a,b", "feedback_noise": 0.01}, 0)
    assert parse_cell_key("search|rep=7") == ({}, 7)
    assert parse_cell_key("trial 3") == ({}, None)
    assert parse_cell_key("n=oops|rep=0") == ({}, None)


def test_pruned_for_collapse_counts_as_collapsed_and_unfinished_counts_as_nothing() -> None:
    assert collapsed_outcome("PRUNED", "collapse", 0.75) == 1.0
    assert collapsed_outcome("PRUNED", "median", 0.25) == 0.25
    assert collapsed_outcome("COMPLETE", None, 0.5) == 0.5
    assert math.isnan(collapsed_outcome("FAIL", None, 1.0))
    assert math.isnan(collapsed_outcome("RUNNING", None, 1.0))


def test_the_prune_kind_is_read_from_the_trial_and_from_the_reason_of_older_studies() -> None:
    assert prune_kind({"prune_kind": "collapse", "prune_reason": "anything"}) == "collapse"
    assert prune_kind({"prune_kind": "median", "prune_reason": "collapsed-looking"}) == "median"
    # Recorded before workers stored the kind: the reason's wording says it.
    reason = "collapsed: 100% of clips collapsed (mostly silent) for 2 evaluations in a row"
    assert prune_kind({"prune_reason": reason}) == "collapse"
    assert prune_kind({}) == "collapse"  # the default pruner's
    assert prune_kind({"prune_reason": "median pruner: objective 3 at GAN step 10"}) == "median"


# ---------------------------------------------------------------------------- analysis
def test_pooled_within_sd_pools_the_variance_of_each_group() -> None:
    frame = pd.DataFrame({"point": ["p", "p", "q", "q", "r"], "v": [1.0, 3.0, 2.0, 6.0, 9.0]})
    sd, degrees = pooled_within_sd(frame, "point", "v")
    assert sd == pytest.approx(math.sqrt((2.0 + 8.0) / 2))  # variances 2 and 8; r has one value
    assert degrees == 2
    sd, degrees = pooled_within_sd(frame.drop_duplicates("point"), "point", "v")
    assert math.isnan(sd) and degrees == 0


def test_paired_noise_removes_what_a_replicate_seed_does_everywhere() -> None:
    additive = pd.DataFrame({"point": ["p", "p", "q", "q"], "rep": [0, 1, 0, 1],
                             "v": [0.0, 10.0, 1.0, 11.0]})
    assert paired_noise_sd(additive, "point", "rep", "v") == (pytest.approx(0.0), 1)
    bent = additive.assign(v=[0.0, 10.0, 1.0, 13.0])  # residuals +-0.5: SS 1 on 1 df
    assert paired_noise_sd(bent, "point", "rep", "v") == (pytest.approx(1.0), 1)
    incomplete = pd.concat([bent, pd.DataFrame({"point": ["x"], "rep": [0], "v": [99.0]})])
    assert paired_noise_sd(incomplete, "point", "rep", "v") == (pytest.approx(1.0), 1)
    sd, degrees = paired_noise_sd(bent[bent["rep"] == 0], "point", "rep", "v")
    assert math.isnan(sd) and degrees == 0


def test_main_effects_average_each_level_over_the_other_axis_and_replicates() -> None:
    effects = main_effects(_grid(), "A", "objective")
    assert list(effects.index) == ["lo", "hi"]
    assert effects.at["hi", "mean"] - effects.at["lo", "mean"] == pytest.approx(A_EFFECT)
    assert list(effects["count"]) == [4, 4]
    failed = _grid()
    failed.loc[0, ["state", "objective"]] = ["FAIL", math.nan]
    assert list(main_effects(failed, "A", "objective")["count"]) == [3, 4]


def test_the_axis_with_the_known_effect_ranks_first_and_beats_paired_seed_noise() -> None:
    ranking = rank_axes(_grid(), ["B", "A"], "objective")
    assert list(ranking["axis"]) == ["A", "B"]
    top, runner_up = ranking.iloc[0], ranking.iloc[1]
    assert top["effect"] == pytest.approx(A_EFFECT)
    assert (top["low_level"], top["high_level"]) == ("lo", "hi")
    assert runner_up["effect"] == pytest.approx(B_EFFECT)
    assert top["noise_kind"] == "paired" and top["noise_degrees"] == 3
    assert top["noise_sd"] == pytest.approx(math.sqrt(8 * 0.1**2 / 3))
    assert top["effect_over_se"] == pytest.approx(A_EFFECT / (top["noise_sd"] * math.sqrt(0.5)))
    assert top["verdict"] == "exceeds seed noise"
    assert runner_up["verdict"] == "within seed noise"  # 1.7 SE, below t(3 df) = 3.18


def test_unpaired_noise_includes_the_seed_shift_and_hides_the_effect() -> None:
    ranking = rank_axes(_grid(), ["A", "B"], "objective", block_column=None)
    top = ranking.iloc[0]
    spread = [SEED_SHIFT - 2 * wobble for wobble in WOBBLE]  # replicate difference per point
    expected = math.sqrt(np.mean([difference**2 / 2 for difference in spread]))
    assert top["noise_kind"] == "unpaired" and top["noise_degrees"] == 4
    assert top["noise_sd"] == pytest.approx(expected)
    assert top["verdict"] == "within seed noise"


def test_one_replicate_leaves_noise_unknown_and_ranks_by_effect() -> None:
    ranking = rank_axes(_grid(replicates=1), ["B", "A"], "objective")
    assert ranking.iloc[0]["axis"] == "A"
    assert math.isnan(ranking.iloc[0]["noise_sd"]) and ranking.iloc[0]["noise_kind"] is None
    assert ranking.iloc[0]["verdict"] == "noise unknown"


def test_all_collapsed_means_no_axis_has_an_effect_on_collapse() -> None:
    frame = _grid().assign(collapsed_outcome=1.0, state="PRUNED")
    ranking = rank_axes(frame, ["A", "B"], "collapsed_outcome")
    assert list(ranking["effect"]) == [0.0, 0.0]
    assert list(ranking["verdict"]) == ["no effect", "no effect"]
    answer = collapse_answer(frame, ranking)
    assert "every finished trial collapsed (8 of 8, 8 of them pruned" in answer


def test_levels_without_a_finished_trial_are_untested_and_no_claim_is_made_about_them() -> None:
    frame = _grid(replicates=1)
    frame.loc[frame["A"] == "hi", "state"] = "FAIL"  # only A=lo finished, at both levels of B
    frame.loc[frame["state"] == "FAIL", ["objective", "collapsed_outcome"]] = math.nan
    grid = {"A": ["lo", "hi", "mid"], "B": [False, True]}
    untested = untested_levels(frame, grid)
    assert untested == {"A": ["hi", "mid"]}
    ranking = rank_axes(frame, ["A", "B"], "collapsed_outcome")
    assert ranking.set_index("axis").at["A", "verdict"] == "untested"
    assert math.isnan(ranking.set_index("axis").at["A", "effect"])
    collapse = collapse_answer(frame, ranking, untested)
    assert "every finished trial collapsed (2 of 2)" in collapse
    assert "nothing in this design prevents" not in collapse
    assert collapse.endswith("Untested so far (no finished trial): `A`=hi, mid.")
    objective = objective_answer(frame, rank_axes(frame, ["A", "B"], "objective"), "minimize",
                                 "x", untested)
    # B's effect is exactly 0 at A=lo (the wobble cancels it): no claim about A beyond that
    assert objective == ("**Objective (x, minimize):** no tested axis changes it (mean 10.1 at "
                         "every tested level). Untested so far (no finished trial): `A`=hi, mid.")
    only_one = frame[~frame["B"].astype(bool)]
    ranking = rank_axes(only_one, ["A", "B"], "objective")
    assert list(ranking["verdict"]) == ["untested", "untested"]
    answer = objective_answer(only_one, ranking, "minimize", "x",
                              untested_levels(only_one, grid))
    assert "untested: no axis has finished trials at two of its levels" in answer
    assert "no axis changes" not in answer and "`B`=true" in answer


def test_a_share_is_coloured_on_its_own_range_even_when_every_value_is_one() -> None:
    ones = pd.Series([1.0, 1.0, 1.0])
    assert color_limits(ones, bounds=(0.0, 1.0)) == (0.0, 1.0)
    assert color_limits(ones) == (1.0, 2.0)  # unbounded and constant: still a scale
    assert color_limits(pd.Series([3.0, math.nan, 5.0])) == (3.0, 5.0)


def test_effect_verdict_demands_more_standard_errors_from_fewer_degrees_of_freedom() -> None:
    assert effect_verdict(1.0, 0.1, 12.0, 1) == "within seed noise"  # t(1 df) = 12.7
    assert effect_verdict(1.0, 0.1, 13.0, 1) == "exceeds seed noise"
    assert effect_verdict(1.0, 0.1, 2.1, 60) == "exceeds seed noise"  # t(60 df) = 2.0
    assert effect_verdict(1.0, 0.0, math.inf, 3) == "exceeds seed noise"
    assert effect_verdict(1.0, math.nan, math.nan, 0) == "noise unknown"
    assert effect_verdict(math.nan, 0.1, math.nan, 3) == "no data"


def test_interaction_is_zero_when_additive_and_a_quarter_of_a_lone_bump_in_two_by_two() -> None:
    table = interaction_table(_grid(), "A", "B", "objective")
    assert list(table.index) == ["lo", "hi"] and list(table.columns) == [False, True]
    assert table.at["hi", True] - table.at["lo", True] == pytest.approx(A_EFFECT)
    assert interaction_size(table) == pytest.approx(0.0, abs=1e-9)
    bumped = _grid()
    bumped.loc[(bumped["A"] == "hi") & bumped["B"], "objective"] += 0.8
    assert interaction_size(interaction_table(bumped, "A", "B", "objective")) == pytest.approx(0.2)
    assert math.isnan(interaction_size(table.iloc[:1]))


def test_label_shares_average_runs_with_measurements_per_point() -> None:
    frame = pd.DataFrame({
        "point": ["x", "x", "y", "y"],
        "share_healthy": [0.0, 0.5, 1.0, math.nan], "share_silent": [1.0, 0.5, 0.0, math.nan],
        "share_flat_collapse": [0.0, 0.0, 0.0, math.nan],
        "share_saturated": [0.0, 0.0, 0.0, math.nan], "share_noise": [0.0, 0.0, 0.0, math.nan],
        "share_loop": [0.0, 0.0, 0.0, math.nan],
    })
    shares = label_shares(frame, "point")
    assert shares.at["x", "share_silent"] == pytest.approx(0.75)
    assert shares.at["x", "share_healthy"] == pytest.approx(0.25)
    assert list(shares["runs"]) == [2, 1]  # the failed run of y has no shares


def test_best_cells_rank_completed_trials_before_pruned_ones_in_the_study_direction() -> None:
    frame = pd.DataFrame({"trial_number": [0, 1, 2, 3],
                          "state": ["COMPLETE", "COMPLETE", "PRUNED", "FAIL"],
                          "objective": [5.0, 3.0, 1.0, math.nan]})
    assert list(best_cells(frame, "minimize")["trial_number"]) == [1, 0, 2]
    assert list(best_cells(frame, "maximize")["trial_number"]) == [0, 1, 2]
    assert list(best_cells(frame, "minimize", count=1)["trial_number"]) == [1]


def test_searched_parameters_rank_by_spearman_correlation() -> None:
    frame = pd.DataFrame({"lr": [1e-4, 1e-3, 1e-2, 1e-1], "units": [64, 32, 16, 8],
                          "fixed": [1.0, 1.0, 1.0, 1.0], "objective": [1.0, 1.1, 5.0, 50.0]})
    table = param_correlations(frame, ["fixed", "units", "lr"], "objective")
    assert list(table["param"])[2] == "fixed" and math.isnan(table.iloc[2]["spearman"])
    rho = dict(zip(table["param"], table["spearman"], strict=True))
    assert rho["lr"] == pytest.approx(1.0) and rho["units"] == pytest.approx(-1.0)


def test_search_only_trials_have_no_noise_estimate() -> None:
    frame = pd.DataFrame({"cell": [f"search|rep={i}" for i in range(4)], "replicate": range(4),
                          "gan_loss": ["bce", "hinge", "bce", "hinge"],
                          "objective": [1.0, 3.0, 1.2, 3.2]})
    ranking = rank_axes(frame, ["gan_loss"], "objective", group_column="cell")
    assert ranking.iloc[0]["effect"] == pytest.approx(2.0)
    assert ranking.iloc[0]["verdict"] == "noise unknown"


# ------------------------------------------------------------------------------- words
def test_runs_measured_on_training_audio_are_called_out() -> None:
    frame = pd.DataFrame({"quality_reference": ["holdout", "train", None, "train"]})
    assert training_audio_answer(frame).startswith(
        "**Quality on training audio:** 2 of 4 runs used a dataset with nothing held out")
    assert training_audio_answer(frame.assign(quality_reference="holdout")) is None


def test_answers_name_the_axis_its_best_level_and_the_numbers() -> None:
    frame = _grid()
    collapse = collapse_answer(frame, rank_axes(frame, ["A", "B"], "collapsed_outcome"))
    assert "`A` matters most: 0.25 at A=hi vs 1.00 at A=lo (difference 0.75" in collapse
    ranking = rank_axes(frame, ["A", "B"], "objective")
    minimise = objective_answer(frame, ranking, "minimize", "mr_lsd_db")
    assert "`A` matters most: 15.1 at A=lo vs 19.1 at A=hi" in minimise
    assert "larger than seed noise" in minimise and "Next: `B`" in minimise
    maximise = objective_answer(frame, ranking, "maximize", "mr_lsd_db")
    assert "19.1 at A=hi vs 15.1 at A=lo" in maximise
    no_axes = rank_axes(frame, [], "collapsed_outcome")
    assert "no grid axis to compare" in collapse_answer(frame, no_axes)
    assert "best 10.1 over 8 trials" in objective_answer(frame, no_axes, "minimize", "x")
    nothing = frame.assign(collapsed_outcome=math.nan, objective=math.nan, state="FAIL")
    assert "no finished trial" in collapse_answer(nothing, rank_axes(nothing, ["A"],
                                                                      "collapsed_outcome"))


def test_significance_answer_names_significant_comparisons_or_the_closest_one() -> None:
    from harness.report.stats import significance_table

    frame = pd.DataFrame({"A": ["lo"] * 4 + ["hi"] * 4, "B": [False, True] * 4,
                          "objective": [1.0, 1.1, 0.9, 1.0, 5.0, 5.2, 4.9, 5.1],
                          "collapsed_outcome": [1.0] * 8})
    objective = significance_table(frame, ["A", "B"], "objective")
    collapse = significance_table(frame, ["A", "B"], "collapsed_outcome")
    answer = significance_answer(objective, collapse)
    assert answer.startswith("**Significant at 5 % (Welch; exact Mann-Whitney where both levels "
                             "are constant; Holm-corrected):** objective: `A` lo → hi")
    assert "`B`" not in answer.split("collapsed outcome")[0]  # B's comparison is not significant
    assert "collapsed outcome: nothing testable" in answer
    weak = significance_table(frame.assign(objective=[1.0, 2.0, 3.0, 1.5, 2.5, 1.0, 2.0, 3.0]),
                              ["A", "B"], "objective")
    assert "objective: none (strongest evidence: `" in significance_answer(weak, collapse)


def test_a_perfect_split_of_collapse_is_named_as_the_strongest_evidence_not_as_none() -> None:
    from harness.report.stats import significance_table

    # The smoke study's shape: B splits collapse perfectly (1 vs 0), A not at all.
    frame = pd.DataFrame({"A": ["lo", "hi"] * 4, "B": ["tanh"] * 4 + ["mulaw"] * 4,
                          "objective": [5.0, 5.1, 4.9, 5.2, 5.0, 5.3, 4.8, 5.1],
                          "collapsed_outcome": [1.0] * 4 + [0.0] * 4})
    collapse = significance_table(frame, ["A", "B"], "collapsed_outcome")
    objective = significance_table(frame, ["A", "B"], "objective")
    line = significance_answer(objective, collapse).split("collapsed outcome: ", 1)[1]
    assert line.startswith("none (strongest evidence: `B` tanh → mulaw (difference -1, exact "
                           "Mann-Whitney Holm p 0.057, rank-biserial r -1, a perfect split): ")
    assert "as clear as 4 + 4 trials can show (exact p ≥ 0.029 before correction)" in line
    doubled = pd.concat([frame, frame], ignore_index=True)  # 8 + 8 trials: unmistakable
    line = significance_answer(significance_table(doubled, ["A", "B"], "objective"),
                               significance_table(doubled, ["A", "B"], "collapsed_outcome"))
    assert "collapsed outcome: `B` tanh → mulaw (difference -1, exact Mann-Whitney Holm p " in line


def test_caveat_says_when_noise_is_unknown_and_lists_toy_sizes() -> None:
    sizes = {"n": (32, 500)}
    unknown = caveat_line(1, {"objective": math.nan}, False, sizes, searched=False)
    assert "seed noise is unknown" in unknown and "n=32 (paper variant 500)" in unknown
    known = caveat_line(2, {"objective": 0.3}, True, {}, searched=True)
    assert "objective 0.3" in known and "upper bound" in known and "Toy" not in known
    search_only = caveat_line(1, {"objective": math.nan}, False, {}, searched=True, gridded=False)
    assert "no grid" in search_only and "upper bound" not in search_only


def test_toy_sizes_compare_fixed_overrides_and_budget_with_the_paper_variant() -> None:
    spec = {"base_variant": "paper", "overrides": {"n": 32, "sample_rate": 16000, "batch_size": 64},
            "design": {"grid": {"lstm_units": [4, 8]}}, "budget": {"gan_steps": 2}}
    assert toy_sizes(spec) == {"sample_rate": (16000, 44100), "n": (32, 500),
                               "gan_steps": (2, 2000)}


def test_an_unused_autoencoder_is_no_toy_size() -> None:
    # collapse_cpu: real priming, so ae_steps = 0 trains nothing the trials use.
    spec = {"base_variant": "embedded-fix", "overrides": {"sample_rate": 16000, "ae_steps": 0},
            "design": {"grid": {"gan_steps": [0, 60]}}}
    assert toy_sizes(spec) == {"sample_rate": (16000, 44100)}
    encoded = {**spec, "overrides": {**spec["overrides"], "seed_source": "encoded"}}
    assert toy_sizes(encoded)["ae_steps"] == (0, 2000)


def test_inline_markdown_becomes_escaped_html() -> None:
    text = "**bold** `a<b` [run](http://h/?a=1&b=2) <script>"
    assert inline_html(text) == ('<b>bold</b> <code>a&lt;b</code> '
                                 '<a href="http://h/?a=1&amp;b=2">run</a> &lt;script&gt;')


def test_document_renders_markdown_tables_and_embeds_images_in_html(tmp_path: Path) -> None:
    (tmp_path / "plot.png").write_bytes(PNG_SIGNATURE + b"pixels")
    document = Document("Report")
    document.table(["cell", "value"], [["p=1|rep=0", "2"]])
    document.image("plot.png", "a plot")
    assert "| p=1\\|rep=0 | 2 |" in document.markdown()
    assert "![a plot](plot.png)" in document.markdown()
    page = document.html(tmp_path)
    assert "src='data:image/png;base64,iVBORw0KGgpwaXhlbHM='" in page
    assert "plot.png" not in page


def test_run_links_point_to_the_server_or_to_samplegan_ui_for_a_local_store() -> None:
    assert (run_link("http://mlflow.lab:5000/", "3", "abc")
            == "http://mlflow.lab:5000/#/experiments/3/runs/abc?workflowType=machine_learning")
    assert (run_link("sqlite:////tmp/mlflow.db", "3", "abc")
            == "http://127.0.0.1:5000/#/experiments/3/runs/abc?workflowType=machine_learning")
    assert run_link("https://mlflow.lab", None, "abc") is None


def test_plots_are_written_for_failed_cells_and_single_axes(tmp_path: Path) -> None:
    frame = _grid()
    frame.loc[0, ["state", "objective", "collapsed_outcome"]] = ["FAIL", math.nan, math.nan]
    frame["lr"] = np.geomspace(1e-5, 1e-2, len(frame))
    frame["gan_loss"] = ["bce", "hinge"] * 3 + [math.nan] * 2  # searched; last trials lack it
    for label in LABELS:
        frame[f"share_{label}"] = 0.2
    paths = [plot_effects(frame, ["A"], "objective", tmp_path / "effects.png"),
             plot_effects(frame, ["A", "gan_loss"], "objective", tmp_path / "both.png"),
             plot_label_shares(label_shares(frame, "point"), tmp_path / "shares.png"),
             plot_objective_per_trial(frame, "minimize", "objective", tmp_path / "trials.png"),
             plot_param_scatter(frame, ["lr"], "objective", tmp_path / "params.png")]
    for path in paths:
        assert path.read_bytes()[:8] == PNG_SIGNATURE


# ------------------------------------------- stores built by hand: retries, failures, search
def _hand_made_study(store: Path, name: str, spec: dict, trials: list,
                     cells: int | None = None) -> None:
    """An Optuna journal study with the attributes the launcher sets, and no MLflow runs."""
    import optuna

    from harness.study.optuna_storage import open_storage

    study = optuna.create_study(study_name=name, direction="minimize",
                                storage=open_storage(str(store / "optuna.journal")).optuna)
    study.set_user_attr("spec", json.dumps(spec))
    study.set_user_attr("grid_axes", sorted(spec["design"].get("grid", {})))
    if cells is not None:
        study.set_user_attr("cells", cells)
    for trial in trials:
        study.add_trial(trial)


def _trial(state: str, cell: str, params: dict, value: float | None = None,
           steps: dict | None = None, **attrs: str):
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    distributions = {key: FloatDistribution(1e-5, 1e-2, log=True) if key == "lr_generator"
                     else CategoricalDistribution([False, True] if isinstance(value_, bool)
                                                  else ["bce", "hinge"])
                     for key, value_ in params.items()}
    return create_trial(state=TrialState[state], value=value, params=params,
                        distributions=distributions, intermediate_values=steps or {},
                        user_attrs={"cell": cell, **attrs})


def test_retried_failed_and_waiting_cells_each_give_one_row_and_a_provisional_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = {"base_variant": "paper", "overrides": {"n": 64},
            "design": {"grid": {"prefilter": [False, True]}, "replicates": 3},
            "objective": {"metric": "quality/mr_lsd_db", "collapse_penalty": 50.0}}
    _hand_made_study(tmp_path / "mlruns", "hand", spec, [
        _trial("FAIL", "prefilter=false|rep=0", {"prefilter": False}, error="OSError: disk full"),
        _trial("PRUNED", "prefilter=false|rep=1", {"prefilter": False}, steps={2: 5.0, 4: 7.0},
               prune_reason="collapsed: 100% of clips collapsed (mostly silent)"),
        _trial("FAIL", "prefilter=true|rep=0", {"prefilter": True}, error="ValueError: bad"),
        _trial("COMPLETE", "prefilter=true|rep=1", {"prefilter": True}, value=9.0),
        _trial("WAITING", "prefilter=true|rep=2", {}),
        _trial("COMPLETE", "prefilter=false|rep=0", {"prefilter": False}, value=3.0),
        _trial("FAIL", "prefilter=true|rep=1", {"prefilter": True}, stale="worker process died"),
    ], cells=6)
    frame = trials_frame("hand")
    rows = frame.set_index("cell")
    assert list(frame["cell"]) == ["prefilter=false|rep=0", "prefilter=false|rep=1",
                                   "prefilter=true|rep=0", "prefilter=true|rep=1",
                                   "prefilter=true|rep=2"]
    assert rows.at["prefilter=false|rep=0", "state"] == "COMPLETE"  # the retry, not the failure
    assert rows.at["prefilter=false|rep=0", "attempts"] == 2
    assert rows.at["prefilter=true|rep=1", "objective"] == 9.0  # finished beats a later failure
    assert rows.at["prefilter=false|rep=1", "objective"] == 7.0  # last reported value
    assert rows.at["prefilter=false|rep=1", "objective_step"] == 4
    assert rows.at["prefilter=false|rep=1", "collapsed_outcome"] == 1.0
    assert rows.at["prefilter=true|rep=0", "error"] == "ValueError: bad"
    assert rows.at["prefilter=true|rep=2", "state"] == "WAITING"
    assert bool(rows.at["prefilter=true|rep=2", "prefilter"]) is True  # from the key, not params
    assert frame["collapsed_share"].isna().all()  # no MLflow runs at all

    markdown = write_report("hand", out=tmp_path / "report").with_name("report.md").read_text()
    assert "**Provisional:** 2 cell(s) have not finished" in markdown
    missing = markdown.split("**Missing from this report:**", 1)[1].split("\n\n", 2)[1]
    assert "1 cell(s) failed (see the reasons below): `prefilter=true|rep=0`" in missing
    assert "1 cell(s) wait for a worker: `prefilter=true|rep=2`" in missing
    assert "3 finished cell(s) have no final metrics in MLflow" in missing
    assert "1 of the design's 6 cells have no trial yet" in missing
    assert "ValueError: bad" in markdown and "OSError: disk full" in markdown
    assert "worker process died" in markdown
    assert "There is no MLflow store at" in markdown
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # a report creates no store


def test_status_and_report_agree_that_an_all_pruned_study_has_no_best(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.study.status import format_status, study_status

    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = {"base_variant": "paper", "design": {"grid": {"prefilter": [False, True]}},
            "objective": {"metric": "quality/mr_lsd_db", "collapse_penalty": 50.0}}
    reason = "collapsed: 100% of clips collapsed (mostly silent)"
    _hand_made_study(tmp_path / "mlruns", "pruned", spec, [
        _trial("PRUNED", "prefilter=false|rep=0", {"prefilter": False}, steps={2: 142.0},
               prune_reason=reason),
        _trial("PRUNED", "prefilter=true|rep=0", {"prefilter": True}, steps={2: 141.6},
               prune_reason=reason)], cells=2)
    status = study_status("pruned")
    assert status["best"] is None
    assert [point["pruned_values"] for point in status["points"]] == [[142.0], [141.6]]
    table = format_status(status)
    assert "142*" in table and "141.6*" in table
    assert "best so far: none (no trial completed" in table
    markdown = write_report("pruned", out=tmp_path / "report").with_name("report.md").read_text()
    assert "## Best cells" not in markdown
    assert "## Cells by last reported objective" in markdown and "no cell is best" in markdown


def test_tables_show_enough_digits_to_see_each_effect(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = {"base_variant": "paper", "design": {"grid": {"prefilter": [False, True]},
                                                "replicates": 2},
            "objective": {"metric": "quality/mr_lsd_db", "collapse_penalty": 50.0}}
    values = {(False, 0): 141.40, (False, 1): 141.52, (True, 0): 141.80, (True, 1): 141.92}
    _hand_made_study(tmp_path / "mlruns", "digits", spec, [
        _trial("COMPLETE", f"prefilter={str(level).lower()}|rep={replicate}",
               {"prefilter": level}, value=value)
        for (level, replicate), value in values.items()], cells=4)
    markdown = write_report("digits", out=tmp_path / "report").with_name("report.md").read_text()
    effect = markdown.split("### Main effect of `prefilter`", 1)[1]
    # a 0.4 difference at 141: three significant digits would read "141" on both levels
    assert "| false | 2 | 141.46 [" in effect and "| true | 2 | 141.86 [" in effect
    variants = markdown.split("## Variants", 1)[1].split("\n## ", 1)[0]
    assert "| 141.46 [" in variants and "| 141.86 [" in variants


def test_a_search_only_study_ranks_its_parameters_by_correlation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = {"base_variant": "paper", "design": {"search": {
        "lr_generator": {"low": 1e-5, "high": 1e-2, "log": True},
        "gan_loss": {"choices": ["bce", "hinge"]}}}, "budget": {"trials": 4}}
    _hand_made_study(tmp_path / "mlruns", "search", spec, [
        _trial("COMPLETE", f"search|rep={index}", {"lr_generator": lr, "gan_loss": loss},
               value=value)
        for index, (lr, loss, value) in enumerate([(1e-5, "bce", 9.0), (1e-4, "hinge", 7.0),
                                                   (1e-3, "bce", 4.0), (1e-2, "hinge", 1.0)])])
    report = write_report("search", out=tmp_path / "report")
    files = {path.name for path in report.parent.iterdir()}
    assert {"params.png", "effects.png"} <= files
    markdown = (report.parent / "report.md").read_text()
    assert "`lr_generator` correlates most (Spearman ρ = -1" in markdown
    assert "no grid, so no trial repeats another's settings" in markdown


# ------------------------------------------------------------------------ a real study
STUDY = "report-tiny"
TINY_SPEC = f"""
name = "{STUDY}"
description = "prefilter x feedback noise, two searched learning rates, microscopic sizes"
base_variant = "paper"

[dataset]
builtin = true
seconds = 6
pieces = 3

[overrides]
sample_rate = 16000
n = 32
generator = "stateful"  # cheaper to trace than stateless, which keeps this study in budget
lstm_units = 4
ae_levels = 1
ae_filters = 4
ae_steps = 2
batch_size = 4
prefilter_kernel = 3
prefilter_pool = 2
eval_every = 2
generation_xla = false
eval_clips = 2
eval_samples = 256

[design]
replicates = 1  # replicates and seed noise are covered by the pure-function tests above

[design.grid]
prefilter = [false, true]
feedback_noise = [0.0, 0.05]

[design.search]
lr_generator = {{ low = 1e-4, high = 1e-3, log = true }}
lr_discriminator = {{ low = 1e-4, high = 1e-3, log = true }}

[objective]
metric = "quality/mr_lsd_db"
collapse_penalty = 50.0

[budget]
gan_steps = 2

[pruner]
kind = "none"
"""
AXES = ("feedback_noise", "prefilter")  # sorted, as the study stores them
REPORT_FILES = {"index.html", "report.md", "report.json", "trials.csv", "effects.png",
                "interactions_objective.png", "interactions_collapse.png", "params.png",
                "label_shares.png", "objective_per_trial.png", "listen_best.png",
                "listen_paper.png", "listen_real.png", "listen_real.wav", "listen_best_00.wav",
                "listen_best_01.wav", "listen_paper_00.wav", "listen_paper_01.wav"}
OPTIONAL_FILES = {"onset_histogram.png"}  # drawn only when some clip settles to a constant


def _samplegan() -> list[str]:
    script = Path(sys.executable).with_name("samplegan")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli.root import main; main()"]


def _store_env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("SAMPLEGAN_STORAGE", "MLFLOW_TRACKING_URI")}
    return {**env, "SAMPLEGAN_STORE_DIR": str(folder / "mlruns"), "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2 x 2-point x 1-replicate study (4 trials, 1 worker, about a minute)."""
    folder = tmp_path_factory.mktemp("report-study")
    spec = folder / "tiny.toml"
    spec.write_text(TINY_SPEC)
    completed = subprocess.run(
        [*_samplegan(), "study", "run", str(spec), "--workers", "1"], cwd=folder,
        env=_store_env(folder), capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return folder


@pytest.fixture
def in_study_dir(study_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in _store_env(study_dir).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(study_dir)
    return study_dir


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def _report_files(folder: Path) -> set[str]:
    files = {path.name for path in folder.iterdir()}
    assert files >= REPORT_FILES and files - REPORT_FILES <= OPTIONAL_FILES, files ^ REPORT_FILES
    return files


@pytest.mark.slow
def test_report_of_a_real_study_holds_the_numbers_of_both_stores(in_study_dir: Path) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    from harness.study.optuna_storage import open_existing_study

    html_path = write_report(STUDY)
    folder = in_study_dir / "reports" / STUDY
    assert html_path == folder / "index.html"
    files = _report_files(folder)
    assert _leftovers(folder.parent) == []
    # The second listening pick is the grid point with the most of the paper's levels
    # (prefilter = false, feedback_noise = 0), the best excepted.
    markdown = (folder / "report.md").read_text()
    paper_pick = re.search(r"The variant closest to the paper \((\d) of 2 grid levels the "
                           r"paper's\): (.+)", markdown)
    assert paper_pick, markdown
    best = re.search(r"The best variant: (.+)", markdown)[1]
    paper_levels = ("feedback_noise=0.0" in best) + ("prefilter=false" in best)
    expected = 1 if paper_levels == 2 else 2
    assert int(paper_pick[1]) == expected and paper_pick[2] != best

    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == 4 and set(trials["state"]) == {"COMPLETE"}
    assert {"prefilter", "feedback_noise", "replicate", "objective", "collapsed_outcome",
            "collapsed_share", "share_silent", "mean_onset_over_n", "mr_lsd_db",
            "mr_lsd_db_real_vs_real", "generation_samples_per_s", "first_collapsed_step",
            "duration_s", "mlflow_run_id"} <= set(trials)
    assert trials["mlflow_run_id"].str.fullmatch("[0-9a-f]{32}").all()

    # Every number of a row is the one its Optuna trial and its MLflow run hold.
    client = MlflowClient(f"sqlite:///{in_study_dir / 'mlruns' / 'mlflow.db'}")
    _, study = open_existing_study(STUDY, None)
    by_number = {trial.number: trial for trial in study.get_trials(deepcopy=False)}
    for _, row in trials.iterrows():
        trial = by_number[row["trial_number"]]
        assert trial.user_attrs["cell"] == row["cell"]
        assert row["objective"] == pytest.approx(trial.value)
        run = client.get_run(row["mlflow_run_id"])
        metrics = run.data.metrics
        assert row["mr_lsd_db"] == pytest.approx(metrics["quality/mr_lsd_db"])
        # A p95 that a noise control lands within is withheld (not logged): no verdict.
        p95 = metrics.get("quality/mr_lsd_db_real_vs_real_p95")
        if p95 is None:
            assert np.isnan(row["mr_lsd_db_real_vs_real_p95"])
        else:
            assert row["mr_lsd_db_real_vs_real_p95"] == pytest.approx(p95)
        assert row["collapsed_share"] == pytest.approx(metrics["eval/collapsed_share"])
        assert row["generation_samples_per_s"] == pytest.approx(
            metrics["speed/generation_samples_per_s"])
        assert row["generation_samples_per_s"] > 0
        assert str(row["prefilter"]).lower() == run.data.params["config.prefilter"].lower()
        assert row["feedback_noise"] == pytest.approx(float(run.data.params["config.feedback_noise"]))
        assert run.data.params["host.cpus"] == str(os.cpu_count())
        history = client.get_metric_history(row["mlflow_run_id"], "eval/collapsed_share")
        collapsed = [metric.step for metric in history if metric.value >= 0.75]  # the default
        expected_step = min(collapsed) if collapsed else math.nan
        assert row["first_collapsed_step"] == pytest.approx(expected_step, nan_ok=True)

    summary = json.loads((folder / "report.json").read_text())
    variants = {row["variant"]: row for row in summary["variants"]}
    assert len(variants) == 4
    for variant, row in variants.items():
        members = trials[trials["point"] == variant]
        assert row["objective"] == pytest.approx(members["objective"].mean())
        assert row["mr_lsd_db"] == pytest.approx(members["mr_lsd_db"].mean())
        assert sorted(row["run_ids"]) == sorted(members["mlflow_run_id"])
        floor_p95 = members["mr_lsd_db_real_vs_real_p95"].mean()
        if np.isnan(floor_p95):  # withheld in every replicate: no verdict
            assert row["mr_lsd_db_floor_p95"] is None
        else:
            assert row["mr_lsd_db_floor_p95"] == pytest.approx(floor_p95)
    judged = [row for row in variants.values() if row["mr_lsd_db_floor_p95"] is not None]
    within = sum(row["mr_lsd_db"] <= row["mr_lsd_db_floor_p95"] for row in judged)
    [floors] = [answer for answer in summary["answers"] if "Against real audio" in answer]
    assert (f"MR log-spectral distance: {within} of {len(judged)} variants within the floor"
            if judged else "MR log-spectral distance: no floor (none logged") in floors
    assert "Fréchet log-mel: no floor (clip sets of at most 64 log-mel frames)" in floors

    # Optuna's importances for the searched parameters, by its default evaluator.
    expected = optuna.importance.get_param_importances(
        study, params=["lr_discriminator", "lr_generator"])
    assert summary["param_importances"] == pytest.approx(expected)

    markdown = (folder / "report.md").read_text()
    for axis in AXES:  # every axis has its main-effect section
        section = markdown.split(f"### Main effect of `{axis}`", 1)[1].split("###", 1)[0]
        assert "Welch t" in section and "[" in section  # tests and intervals
    assert "## Interactions of pairs of axes" in markdown and "## Listening" in markdown
    # Clips of 256 samples: the music section and the Answer say why there is no music, once.
    reason = ("runs say: clips of 0.016 s, under the 1 s minimum (raise eval_samples)")
    assert f"## Music structure\n\nNo music metrics: no variant logged them ({reason}).\n\n##" in markdown
    assert f"no variant logged music metrics ({reason})." in markdown
    experiment = client.get_experiment_by_name(STUDY).experiment_id
    for run_id in trials["mlflow_run_id"]:  # every row links to its run in the MLflow UI
        link = f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{run_id}"
        assert f"({link}?{TRAINING_VIEW_QUERY})" in markdown  # in the model-training view
    assert "Code commit: `" in markdown and "manifest SHA-256 `" in markdown
    assert f"{os.cpu_count()} CPUs" in markdown and "tensorflow `" in markdown

    page = html_path.read_text()
    images = sorted(name for name in files if name.endswith(".png"))
    assert page.count("<img ") == len(images) == page.count("src='data:image/png;base64,")
    clips = [name for name in files if name.endswith(".wav")]
    assert page.count("<audio ") == len(clips) == page.count("src='data:audio/wav;base64,")
    assert "table class='sortable'" in page and "<script>" in page

    logged = {item.path for item in client.list_artifacts(summary["mlflow_parent_run_id"],
                                                          "report")}
    assert {"report/index.html", "report/report.md", "report/trials.csv"} <= logged


@pytest.mark.slow
def test_a_real_report_opens_with_its_answer_and_players_and_puts_its_methods_after(
        in_study_dir: Path) -> None:
    """As a paper: the answer and the listening players first, then the variants; the
    provenance (stores, dataset, code, versions, hardware, spec) below them."""
    write_report(STUDY)
    folder = in_study_dir / "reports" / STUDY
    markdown = (folder / "report.md").read_text()
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[:5] == ["Answer", "Listening", "Variants", "Music structure", "Study"], headings
    variants_at = markdown.index("\n## Variants")
    for provenance in ("Generated ", "Code commit: `", "manifest SHA-256 `", "tensorflow `",
                       f"{os.cpu_count()} CPUs"):
        assert markdown.index(provenance) > variants_at, provenance
    page = (folder / "index.html").read_text()
    answer, first_player = page.index("<h2 id='answer'>"), page.index("<audio")
    variants, study = page.index("<h2 id='variants'>"), page.index("<h2 id='study'>")
    assert answer < first_player < variants < study < page.index("Code commit:")
    assert page.index("<h1>") < answer < page.index("Generated ")


@pytest.mark.slow
def test_report_statistics_agree_with_a_direct_scipy_computation(in_study_dir: Path,
                                                                 tmp_path: Path) -> None:
    import scipy.stats

    write_report(STUDY, out=tmp_path / "report")
    trials = pd.read_csv(tmp_path / "report" / "trials.csv")
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    tests = summary["objective_tests"]
    assert [row["axis"] for row in tests] == list(AXES)  # two levels each: one comparison
    raw = []
    for row in tests:
        column = trials[row["axis"]]
        a = trials.loc[column.astype(str) == str(row["level_a"]), "objective"].to_numpy()
        b = trials.loc[column.astype(str) == str(row["level_b"]), "objective"].to_numpy()
        assert len(a) == len(b) == 2
        welch = scipy.stats.ttest_ind(b, a, equal_var=False)
        assert row["welch_t"] == pytest.approx(welch.statistic)
        assert row["welch_p"] == pytest.approx(welch.pvalue)
        assert row["mannwhitney_p"] == pytest.approx(
            scipy.stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
        raw.append(welch.pvalue)
    smaller, larger = sorted(raw)  # Holm over the two comparisons, by hand
    holm = {smaller: min(1.0, 2 * smaller), larger: max(min(1.0, 2 * smaller), larger)}
    assert [row["welch_p_holm"] for row in tests] == pytest.approx([holm[p] for p in raw])
    for row in summary["variants"]:  # one replicate per point: no interval
        assert row["objective_low"] is None and row["objective_high"] is None
    level = trials.loc[trials["prefilter"].astype(str) == "True", "objective"]
    low, high = scipy.stats.t.interval(0.95, len(level) - 1, loc=level.mean(),
                                       scale=scipy.stats.sem(level))
    markdown = (tmp_path / "report" / "report.md").read_text()
    section = markdown.split("### Main effect of `prefilter`", 1)[1]
    # two significant digits of the spread of the level means the interval is compared with
    means = trials.groupby(trials["prefilter"].astype(str))["objective"].mean()
    decimals = max(0, 1 - math.floor(math.log10(means.max() - means.min())))
    assert f"[{low:.{decimals}f}, {high:.{decimals}f}]" in section


@pytest.mark.slow
def test_a_second_report_replaces_the_first_and_nothing_else(in_study_dir: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_report(STUDY, out=out)
    (out / "stale.txt").write_text("from an older report")
    first = json.loads((out / "report.json").read_text())["generated_at"]
    write_report(STUDY, out=out)
    assert not (out / "stale.txt").exists()
    _report_files(out)
    assert json.loads((out / "report.json").read_text())["generated_at"] >= first
    assert _leftovers(tmp_path) == []

    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    with pytest.raises(SampleGanError, match="not a report of study"):
        write_report(STUDY, out=foreign)
    assert (foreign / "mine.txt").read_text() == "keep me"
    assert sorted(p.name for p in foreign.iterdir()) == ["mine.txt"]
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_missing_mlflow_runs_leave_nan_metrics_not_a_crash(in_study_dir: Path,
                                                           tmp_path: Path) -> None:
    from harness.tracking.store import TrackingStore

    empty = TrackingStore.open(f"sqlite:///{tmp_path / 'empty.db'}").uri  # no experiment in it
    frame = trials_frame(STUDY, tracking_uri=empty)
    assert len(frame) == 4 and set(frame["state"]) == {"COMPLETE"}
    assert frame["objective"].notna().all()
    assert frame[["collapsed_share", "frechet_logmel", "collapsed_outcome"]].isna().all().all()


@pytest.mark.slow
def test_an_unknown_study_is_a_one_line_error_naming_the_known_ones(in_study_dir: Path) -> None:
    with pytest.raises(SampleGanError) as raised:
        write_report("nope")
    message = str(raised.value)
    assert "no study 'nope'" in message and STUDY in message and "\n" not in message
    assert not (in_study_dir / "reports" / "nope").exists()


@pytest.mark.slow
def test_cli_report_json_prints_one_object_with_the_report_s_numbers_and_path(
        in_study_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "json-report"
    completed = subprocess.run([*_samplegan(), "report", STUDY, "--out", str(out), "--json"],
                               cwd=in_study_dir, env=_store_env(in_study_dir),
                               capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert len(completed.stdout.strip().splitlines()) == 1  # one JSON object, nothing else
    printed = json.loads(completed.stdout)
    assert printed["report"] == str(out / "index.html") and Path(printed["report"]).is_file()
    assert printed["folder"] == str(out)
    written = json.loads((out / "report.json").read_text())
    assert {key: printed[key] for key in written} == written  # report.json plus the paths
    assert printed["study"] == STUDY and len(printed["variants"]) == 4
    trials = pd.read_csv(out / "trials.csv")
    assert [row["cell"] for row in printed["trials"]] == trials["cell"].tolist()
    assert [row["objective"] for row in printed["trials"]] == pytest.approx(
        trials["objective"].tolist())
    for row in printed["variants"]:
        assert row["objective"] == pytest.approx(
            trials.loc[trials["point"] == row["variant"], "objective"].mean())
    assert [row["axis"] for row in printed["collapse_tests"]] == list(AXES)
    assert {"test", "test_p_holm", "significant", "perfect_split"} <= set(
        printed["collapse_tests"][0])
    # The line names, per metric, the comparison with the strongest evidence of the report's.
    [line] = [answer for answer in printed["answers"] if answer.startswith("**Significant at 5 %")]
    for name, tests in (("objective", printed["objective_tests"]),
                        ("collapsed outcome", printed["collapse_tests"])):
        part = line.split(f" {name}: ", 1)[1]
        tested = [row for row in tests if row["test_p_holm"] is not None]
        if not tested:
            assert part.startswith("nothing testable")
            continue
        strongest = min(tested, key=lambda row: (row["test_p_holm"], row["test_p"]))
        assert part.startswith(("none (strongest evidence: `", "`"))
        assert part.split("`", 2)[1] == strongest["axis"], (part, strongest)


# A character of the report's sans-serif type is at most this wide (digits and most letters
# are about 0.5-0.55 em), so a table whose longest words fit at this width fits the page.
CHARACTER_EM = 0.6
PAGE_EM = 72.0  # the body's max-width in the report's CSS


@pytest.mark.slow
def test_the_variants_table_of_a_real_report_fits_the_page_without_scrolling(
        in_study_dir: Path, tmp_path: Path) -> None:
    import html as html_lib

    page = write_report(STUDY, out=tmp_path / "report").read_text()
    assert f"max-width: {PAGE_EM:g}em" in page
    assert "table.variants { font-size: 0.8em; }" in page
    assert "table.variants td, table.variants th { padding: 0.2em 0.35em; }" in page
    start = page.index("<table class='sortable variants'>", page.index("<h2 id='variants'>"))
    table = page[start:page.index("</table>", start)]
    rows = [[html_lib.unescape(re.sub("<[^>]+>", "", cell))
             for cell in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]
    assert len(rows) == 5 and {len(row) for row in rows} == {12}  # header + 4 variants
    # The narrowest a column can get is its longest word: the table cannot wrap below that.
    longest = [max(len(word) for cell in column for word in (cell.split() or [""]))
               for column in zip(*rows, strict=True)]
    minimum_em = 0.8 * (CHARACTER_EM * sum(longest) + 2 * 0.35 * len(longest))
    assert minimum_em <= PAGE_EM, (minimum_em, longest)
    header = rows[0]
    assert header[3] == f"{catalogue.FRECHET.heading}; floor (p95)" and header[7] == "label shares"
    assert all("floor" in row[4] for row in rows[1:])  # each distance carries its floor


@pytest.mark.slow
def test_cli_report_of_an_unknown_study_exits_2_with_one_error_line(tmp_path: Path) -> None:
    completed = subprocess.run([*_samplegan(), "report", "NOPE"], cwd=tmp_path,
                               env=_store_env(tmp_path), capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    assert completed.stdout == ""
    assert not (tmp_path / "mlruns").exists()  # a report never creates an empty store


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_report_page_renders_in_chromium_with_images_and_playable_audio(
        in_study_dir: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from ui_support import chromium_driver

    page = write_report(STUDY, out=tmp_path / "report")
    clips = sorted(path for path in page.parent.iterdir() if path.suffix == ".wav")
    with chromium_driver() as driver:
        driver.get(page.as_uri())
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == len(list(page.parent.glob("*.png")))
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return Array.from(document.images).every(i => i.complete)"))
        widths = driver.execute_script(
            "return Array.from(document.images).map(i => i.naturalWidth)")
        assert all(width > 100 for width in widths), widths  # every image decoded

        assert len(driver.find_elements(By.TAG_NAME, "audio")) == len(clips) == 5
        WebDriverWait(driver, 30).until(lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('audio'))"
            ".every(a => a.readyState >= 2 || a.error)"))
        states = driver.execute_script(
            "return Array.from(document.querySelectorAll('audio'))"
            ".map(a => [a.error && a.error.code, a.duration])")
        rate = 16000
        for (error, duration), clip in zip(states, clips, strict=True):
            assert error is None, f"{clip.name} does not decode (MediaError {error})"
            samples = (clip.stat().st_size - 44) // 2  # 16-bit mono PCM after a 44-byte header
            assert duration == pytest.approx(samples / rate, abs=0.01)
        played = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const audio = document.querySelector('audio');"
            "audio.play().then(() => setTimeout(() => done(audio.currentTime), 300),"
            "                  (error) => done(String(error)));")
        assert isinstance(played, float) and played > 0, played

        table = driver.find_element(By.CSS_SELECTOR, "table.sortable")
        header = table.find_elements(By.TAG_NAME, "th")[2]  # the objective column
        header.click()
        first = [row.find_elements(By.TAG_NAME, "td")[2].text
                 for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert [float(text.split()[0]) for text in first] == sorted(
            float(text.split()[0]) for text in first)
        header.click()
        second = [row.find_elements(By.TAG_NAME, "td")[2].text
                  for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
        assert second == first[::-1]

        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_a_study_tracked_on_an_mlflow_server_reports_through_it(tmp_path: Path) -> None:
    """The multi-machine path: runs, clips and the report itself go through `mlflow server`."""
    from mlflow.tracking import MlflowClient
    from ui_support import mlflow_server

    name = "report-server"
    spec = tmp_path / "server.toml"
    grid_and_search = TINY_SPEC[TINY_SPEC.index("[design.grid]"):TINY_SPEC.index("[objective]")]
    spec.write_text(TINY_SPEC.replace(f'name = "{STUDY}"', f'name = "{name}"')
                    .replace(grid_and_search, "[design.grid]\nprefilter = [false, true]\n\n"))
    env = _store_env(tmp_path)
    with mlflow_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "served") as uri:
        for command in (["study", "run", str(spec), "--workers", "1", "--tracking-uri", uri],
                        ["report", name, "--tracking-uri", uri, "--out", str(tmp_path / "out")]):
            completed = subprocess.run([*_samplegan(), *command], cwd=tmp_path, env=env,
                                       capture_output=True, text=True, timeout=300, check=False)
            assert completed.returncode == 0, completed.stderr[-3000:]
        folder = tmp_path / "out"
        trials = pd.read_csv(folder / "trials.csv")
        assert len(trials) == 2 and trials["mr_lsd_db"].notna().all()
        listened = {path.name for path in folder.iterdir()}  # clips fetched through the server
        assert {"listen_best_00.wav", "listen_real.wav"} <= listened
        # the other pick: prefilter = false (the paper's) unless that one is the best
        assert "listen_paper_00.wav" in listened or "listen_worst_00.wav" in listened
        markdown = (folder / "report.md").read_text()
        for run_id in trials["mlflow_run_id"]:
            assert f"({uri}/#/experiments/" in markdown and f"/runs/{run_id}?{TRAINING_VIEW_QUERY})" in markdown
        parent = json.loads((folder / "report.json").read_text())["mlflow_parent_run_id"]
        logged = {item.path for item in MlflowClient(uri).list_artifacts(parent, "report")}
        assert "report/index.html" in logged
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # nothing went to a local store


def test_paper_likeness_counts_the_paper_levels_of_each_grid_point():
    import pandas as pd

    from harness.report.listening import paper_likeness

    frame = pd.DataFrame({
        "point": ["raw/tanh/gan", "raw/tanh/nogan", "emb/mulaw/gan", "emb/mulaw/gan"],
        "sample_input": ["raw", "raw", "mulaw-embedding", "mulaw-embedding"],
        "output_head": ["tanh", "tanh", "mulaw", "mulaw"],
        "gan_steps": [100, 0, 100, 100],
    })
    likeness = paper_likeness(frame, "point", ["sample_input", "output_head", "gan_steps"])
    assert likeness == {"raw/tanh/gan": 3, "raw/tanh/nogan": 2, "emb/mulaw/gan": 1}


def test_cli_report_of_a_study_without_trials_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    env = _store_env(tmp_path)
    store = Path(env["SAMPLEGAN_STORE_DIR"])
    store.mkdir(parents=True, exist_ok=True)
    storage = JournalStorage(JournalFileBackend(str(store / "optuna.journal")))
    optuna.create_study(study_name="empty", storage=storage)
    completed = subprocess.run([*_samplegan(), "report", "empty"], cwd=tmp_path, env=env,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "has no trials yet" in lines[0], completed.stderr
    assert not (tmp_path / "reports").exists()


def test_the_likelihood_answer_names_each_gains_unit_and_counts_sure_ones() -> None:
    import pandas as pd

    from harness.report.answers import likelihood_answer

    variants = pd.DataFrame(
        {"gain_over_linear": [1.04, 6e-5, -0.08], "gain_over_linear_low": [0.85, 6e-5, -1.16]},
        index=["output_head=mulaw,sample_input=mulaw-embedding",
               "output_head=tanh,sample_input=mulaw-embedding", "output_head=mulaw,sample_input=raw"])
    line = likelihood_answer(variants)
    assert line.startswith("**Likelihood:** 2 of 3 measured variant(s)")
    assert "(1.04 nats)" in line and "MSE)" in line and "(-0.08 nats)" in line
    assert "Not better: `output_head=mulaw,sample_input=raw`" in line
    # A mean gain whose interval reaches 0 is not counted as beating linear prediction.
    variants.loc["output_head=tanh,sample_input=mulaw-embedding", "gain_over_linear_low"] = -2e-5
    line = likelihood_answer(variants)
    assert line.startswith("**Likelihood:** 1 of 3 measured variant(s)")
    assert ("within seed noise (interval reaching 0, or one replicate): "
            "`output_head=tanh,sample_input=mulaw-embedding` (6e-05 MSE)") in line


def test_the_paper_pick_may_be_a_variant_whose_every_trial_was_pruned() -> None:
    """collapse_cpu: the paper's corner (tanh, raw input, GAN on) was pruned as collapsed in
    every replicate; the listening section must still play it against the best variant."""
    from harness.report.listening import _picks

    completed = pd.DataFrame(index=["fix", "tanh_raw_gan_off"])  # ranked, best first
    finished = ["fix", "tanh_raw_gan_off", "tanh_raw_gan_on"]  # the last one only pruned
    paper_like = {"fix": 0, "tanh_raw_gan_off": 2, "tanh_raw_gan_on": 3}
    assert _picks(completed, ("best", "worst"), paper_like, finished) == [
        ("best", "fix"), ("paper", "tanh_raw_gan_on")]
    # Without the pruned variants, the closest completed one, as before.
    assert _picks(completed, ("best", "worst"), paper_like) == [
        ("best", "fix"), ("paper", "tanh_raw_gan_off")]
    # One completed variant and no paper-like one: nothing to contrast, no repeat of the best.
    assert _picks(completed.iloc[:1], ("best", "worst"), {"fix": 0, "x": 0}, ["fix", "x"]) == [
        ("best", "fix")]
