"""The report's sections after the Answer: variants, effects, search, trials, MLflow links, study."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from harness.common.host import processor_name
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import LABELS
from harness.report.ablation_figures import (
    plot_effects,
    plot_interactions,
    plot_objective_per_trial,
    plot_param_scatter,
)
from harness.report.analysis import Analysis, finished_rows
from harness.report.answers import FLOOR_WORDS, cell_text, floor_text, num, num_at_scale, p_text
from harness.report.document import Document, level_text
from harness.report.reading import StudyData, spec_objective_name
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    NOISE_CONFIDENCE,
    OBJECTIVE,
    best_cells,
    interaction_size,
    interaction_table,
    main_effects,
    param_correlations,
)
from harness.tracking.store import HOST, MLFLOW_PORT, experiment_page

LOCAL_UI = f"http://{HOST}:{MLFLOW_PORT}"  # where `samplegan ui` serves a local store by default


def run_link(tracking_uri: str, experiment_id: str | None, run_id: str) -> str | None:
    """The MLflow UI page of a run.

    Args:
        tracking_uri: The store's URI with any password already redacted.
        experiment_id: The run's experiment id.
        run_id: The run id.

    Returns:
        The page, in the UI's model-training view, on the server for an http(s) store; for a
        local store, on `LOCAL_UI`, where `samplegan ui` serves it; None without an experiment.
    """
    if not experiment_id:
        return None
    base = tracking_uri if urlsplit(tracking_uri).scheme in ("http", "https") else LOCAL_UI
    return experiment_page(base, experiment_id, run_id)


def run_reference(data: StudyData, run_id: str | None, page: str = "") -> str:
    """A Markdown reference to a run: its id, its MLflow UI page and, locally, its artifacts."""
    if cell_text(run_id) == "–":
        return "–"
    if run_id not in data.artifact_uris:
        return f"`{run_id}` (not in MLflow)"
    parts = [f"`{run_id}`", f"[UI]({run_link(data.tracking_display, data.experiment_id, run_id)})"]
    artifacts = data.artifact_uris[run_id]
    if urlsplit(artifacts).scheme == "file":
        target = f"{artifacts.rstrip('/')}/{page}" if page else artifacts
        parts.append(f"[{page or 'artifacts'}]({target})")
    return " ".join(parts)


def _short_run_reference(data: StudyData, run_id: str) -> str:
    """A run's first 8 hex digits, linked to its MLflow UI page."""
    if run_id not in data.artifact_uris:
        return f"`{run_id[:8]}` (not in MLflow)"
    return f"[{run_id[:8]}]({run_link(data.tracking_display, data.experiment_id, run_id)})"


def _local_path(uri: str) -> str:
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else uri


def _ranking_rows(ranking: pd.DataFrame) -> list[list[str]]:
    rows = []
    for index, row in ranking.iterrows():
        levels = (f"{level_text(row['low_level'])} → {level_text(row['high_level'])}"
                  if row["effect"] > 0 else "–")
        noise = num(row["noise_sd"]) + (f" ({row['noise_kind']}, {row['noise_degrees']} df)"
                                          if row["noise_kind"] else "")
        rows.append([str(index + 1), f"`{row['axis']}`", num(row["effect"]), levels,
                     noise, num(row["effect_over_noise"], 2),
                     num(row["effect_over_se"], 2), row["verdict"]])
    return rows


def _interaction_section(document: Document, frame: pd.DataFrame, ranking: pd.DataFrame,
                         value: str, name: str) -> None:
    row_axis, column_axis = ranking["axis"].iloc[0], ranking["axis"].iloc[1]
    table = interaction_table(frame, row_axis, column_axis, value)
    spread_of_columns = table.max(axis=1) - table.min(axis=1)
    header = [f"{row_axis} \\ {column_axis}", *map(level_text, table.columns),
              f"effect of `{column_axis}`"]
    rows = [[level_text(level), *(num(v) for v in table.loc[level]),
             num(spread_of_columns[level])] for level in table.index]
    rows.append([f"effect of `{row_axis}`",
                 *(num(v) for v in table.max(axis=0) - table.min(axis=0)), ""])
    document.paragraph(f"Mean {name} for `{row_axis}` × `{column_axis}` (the two strongest axes "
                       f"for it). Non-additivity (largest departure of a cell from row effect + "
                       f"column effect): {num(interaction_size(table))}; 0 means the effect of "
                       "one axis does not depend on the other.")
    document.table(header, rows)


def _spec_bullets(data: StudyData) -> list[str]:
    spec = data.spec
    design = spec.get("design", {})

    def pairs(mapping: Mapping[str, Any]) -> str:
        return ", ".join(f"{key}={json.dumps(value)}" for key, value in mapping.items()) or "none"

    pruner = spec.get("pruner", {})
    return [
        f"Description: {spec.get('description') or '–'}",
        f"Base variant: `{spec.get('base_variant', 'paper')}`; seed {spec.get('seed', 0)}",
        f"Fixed overrides: {pairs(spec.get('overrides', {}))}",
        f"Grid: {pairs(design.get('grid', {}))}",
        f"Search: {pairs(design.get('search', {}))}",
        f"Replicates: {design.get('replicates', 1)}",
        f"Objective: {data.direction} {spec_objective_name(spec)}",
        f"Budget: {pairs(spec.get('budget', {}))}",
        f"Pruner: {pairs(pruner) if pruner else 'default (collapse)'}",
        f"Dataset: {pairs(spec.get('dataset', {}))}",
    ]


def _reason_rows(reasons: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    grouped: dict[tuple[str, str], list[int]] = {}
    for entry in reasons:
        grouped.setdefault((entry["state"], entry["reason"]), []).append(entry["trial"])
    shown = {"RERUN": "rerun (cell since finished)"}
    return [[shown.get(state, state), reason, str(len(trials)), ", ".join(map(str, trials))]
            for (state, reason), trials in grouped.items()]


HOW_TO_READ = (
    "How to read: a trial pruned as collapsed counts as fully collapsed (collapsed outcome 1); "
    "other finished trials contribute the share of collapsed clips (silent, flat collapse, "
    "loop, saturated) at their final evaluation. A pruned trial enters the objective with the last "
    "value it reported, from an earlier GAN step than completed trials. The effect of an axis is "
    "the spread of its level means over all other axes and replicates. Replicate r trains with "
    "the same seed at every grid point, so seed noise is the residual SD once grid-point and "
    "replicate effects are taken out ('paired'); where that cannot be estimated, the pooled SD of "
    "the replicates of a grid point ('unpaired'). An effect 'exceeds seed noise' when the "
    "difference between its extreme level means is beyond the two-sided "
    f"{NOISE_CONFIDENCE:.0%} Student-t limit for the noise estimate's degrees of freedom (df): "
    "12.7 standard errors with 1 df, 4.3 with 2, 3.2 with 3.")


def _spread(values: Sequence[float] | pd.Series) -> float:
    """max - min of the finite values; NaN with fewer than two."""
    finite = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    finite = finite[np.isfinite(finite)]
    return float(finite.max() - finite.min()) if len(finite) >= 2 else math.nan


def _interval(mean: float, low: float, high: float, scale: float = math.nan) -> str:
    """``mean [low, high]``; the mean alone when there is no interval.

    With the `scale` of the differences the table shows (the spread of its means), numbers
    carry two significant digits of it, so a 0.4 difference between 141.46 and 141.86 shows
    instead of reading "141" twice; else three significant digits.
    """
    def cell_text(value: float) -> str:
        return num(value) if math.isnan(value) else num_at_scale(value, scale)

    if math.isnan(low) or math.isnan(high):
        return cell_text(mean)
    return f"{cell_text(mean)} [{cell_text(low)}, {cell_text(high)}]"


def _axis_level_rows(frame: pd.DataFrame, axis: str,
                     untested: Sequence[Any] = ()) -> list[list[str]]:
    """One row per level with data, then one per `untested` level the frame does not hold."""
    tables = [main_effects(frame, axis, value) for value in _LEVEL_VALUES]
    finished = finished_rows(frame)
    rows = []
    scales = [_spread(t["mean"]) for t in tables]
    for level in tables[0].index:
        count = int((finished[axis] == level).sum())
        rows.append([level_text(level), str(count),
                     *(_interval(t.at[level, "mean"], t.at[level, "ci_low"], t.at[level, "ci_high"],
                                 scale) if count else "untested"
                       for t, scale in zip(tables, scales, strict=True))])
    shown = list(tables[0].index)
    rows += [[level_text(level), "0", *["untested"] * len(tables)]
             for level in untested if level not in shown]
    return rows


def _significance_rows(table: pd.DataFrame, axis: str, name: str) -> list[list[str]]:
    return [[name, f"{level_text(row['level_a'])} → {level_text(row['level_b'])}",
             f"{row['n_a']} / {row['n_b']}", num(row["difference"]),
             num(row["welch_t"], 3), p_text(row["welch_p"]), num(row["hedges_g"], 2),
             p_text(row["mannwhitney_p"]), num(row["rank_biserial"], 2),
             cell_text(row["test"]), p_text(row["test_p_holm"]),
             "**yes**" if row["significant"] else "no"]
            for _, row in table[table["axis"] == axis].iterrows()]


_LEVEL_VALUES = (OBJECTIVE, COLLAPSE, catalogue.FRECHET.name, catalogue.MR_LSD.name)


_SIGNIFICANCE_HEADER = ["metric", "levels a → b", "trials a / b", "mean b − a", "Welch t",
                        "Welch p", "Hedges' g", "Mann-Whitney p", "rank-biserial r",
                        "deciding test", "its p (Holm)", "significant"]


_HOW_TO_TEST = (
    "Significance: every pair of levels of every axis is compared with Welch's t-test "
    "(unequal variances) and the Mann-Whitney U test over the finished trials, treating "
    "replicates as independent. Welch's test decides; where it cannot run because both levels "
    "are constant yet differ (a perfect split, e.g. every trial of one level collapsed and none "
    "of the other), the exact Mann-Whitney test decides, whose p (2 / C(n_a + n_b, n_a)) is the "
    "smallest the trials allow. The deciding p-values of each metric are corrected together for "
    "multiple comparisons (Holm), and a difference is **significant** when its Holm-adjusted "
    "p is below 0.05. Effect sizes: Hedges' g (mean difference in pooled SDs, small-"
    "sample corrected; 0.2 small, 0.8 large) and the rank-biserial r (+1: every trial of b above "
    "every trial of a). Intervals are 95% Student-t intervals of the mean over trials.")


def effects_section(document: Document, data: StudyData, analysis: Analysis,
                     folder: Path) -> None:
    frame = analysis.frame
    document.heading("Effect of each axis")
    plot_effects(frame, analysis.factors, analysis.objective_name, folder / "effects.png",
                 "replicate" if data.axes else None)
    document.image("effects.png", "level means per axis with 95% intervals: objective and "
                   "collapsed outcome")
    header = ["rank", "axis", "effect", "lowest → highest level", "seed noise SD",
              "effect / noise", "effect / SE", "verdict"]
    document.paragraph(f"Ranking against seed noise, objective ({analysis.objective_name}, "
                       f"{data.direction}):")
    document.table(header, _ranking_rows(analysis.objective_ranking))
    document.paragraph("Collapsed outcome (0 = no clip collapsed, 1 = all, or pruned):")
    document.table(header, _ranking_rows(analysis.collapse_ranking))
    document.paragraph(_HOW_TO_TEST)
    for axis in analysis.factors:
        document.subheading(f"Main effect of `{axis}`")
        document.table(["level", "trials", "objective", "collapsed outcome",
                        catalogue.FRECHET.heading, catalogue.MR_LSD.heading],
                       _axis_level_rows(frame, axis, analysis.untested.get(axis, ())), sortable=True)
        rows = (_significance_rows(analysis.objective_tests, axis, "objective")
                + _significance_rows(analysis.collapse_tests, axis, "collapsed outcome"))
        if rows:
            document.table(_SIGNIFICANCE_HEADER, rows, sortable=True)
        else:
            document.paragraph("One level only: nothing to test.")
    if len(analysis.factors) < 2:
        document.paragraph("One axis: there is no interaction to show.")
        return
    document.heading("Interactions of pairs of axes")
    plot_interactions(frame, analysis.factors, OBJECTIVE, "objective",
                      folder / "interactions_objective.png")
    document.image("interactions_objective.png", "mean objective for each pair of axes")
    plot_interactions(frame, analysis.factors, COLLAPSE, "collapsed outcome",
                      folder / "interactions_collapse.png", bounds=(0.0, 1.0))
    document.image("interactions_collapse.png", "mean collapsed outcome for each pair of axes")
    _interaction_section(document, frame, analysis.objective_ranking, OBJECTIVE, "objective")
    _interaction_section(document, frame, analysis.collapse_ranking, COLLAPSE,
                         "collapsed outcome")


def search_section(document: Document, data: StudyData, analysis: Analysis,
                    folder: Path) -> None:
    document.heading("Searched parameters")
    if data.importances:
        document.paragraph("Parameter importance from Optuna (its default evaluator, over the "
                           "completed trials; importances sum to 1):")
        document.table(["parameter", "importance"],
                       [[f"`{name}`", f"{value:.3f}"] for name, value in data.importances.items()],
                       sortable=True)
    else:
        document.paragraph(f"No parameter importance: {data.importance_note}.")
    if not analysis.numeric_searched:
        return
    plot_param_scatter(analysis.frame, analysis.numeric_searched, analysis.objective_name,
                       folder / "params.png")
    document.image("params.png", "objective against each searched parameter")
    rows = []
    for value, name in ((OBJECTIVE, "objective"), (COLLAPSE, "collapsed outcome")):
        correlations = param_correlations(analysis.frame, analysis.numeric_searched, value)
        rows += [[f"`{row['param']}`", name, num(row["spearman"], 2), str(row["trials"])]
                 for _, row in correlations.iterrows()]
    document.table(["parameter", "against", "Spearman ρ", "trials"], rows)


def trials_section(document: Document, data: StudyData, analysis: Analysis,
                    folder: Path) -> None:
    frame = analysis.frame
    document.heading("Objective per trial")
    if frame[OBJECTIVE].notna().any():
        plot_objective_per_trial(frame, data.direction, analysis.objective_name,
                                 folder / "objective_per_trial.png")
        document.image("objective_per_trial.png", "objective of each trial")
    else:
        document.paragraph("No trial has an objective value yet.")
    if (frame["state"] == "COMPLETE").any():
        document.heading("Best cells")
    else:
        document.heading("Cells by last reported objective")
        document.paragraph("No trial completed, so no cell is best: pruned trials, ranked by the "
                           "last objective each reported before it was stopped.")
    rows = [[str(row["trial_number"]), str(row["point"]), num(row["replicate"]), row["state"],
             num(row[OBJECTIVE], 4), num(row["collapsed_share"]), cell_text(row["final_label"]),
             run_reference(data, row["mlflow_run_id"], "final/index.html")]
            for _, row in best_cells(frame, data.direction).iterrows()]
    document.table(["trial", "grid point", "replicate", "state", "objective", "collapsed share",
                    "batch label", "MLflow run"], rows or [["–"] * 8])


def mlflow_section(document: Document, data: StudyData) -> None:
    document.heading("MLflow runs")
    if data.tracking is None:
        document.paragraph(f"There is no MLflow store at `{data.tracking_display}`: every metric "
                           "above from MLflow is missing (NaN); pass --tracking-uri.")
    elif data.experiment_id is None:
        document.paragraph(f"MLflow `{data.tracking_display}` has no experiment "
                           f"`{data.name}`: every metric above from MLflow is missing (NaN).")
    else:
        local = data.artifact_location and urlsplit(data.artifact_location).scheme == "file"
        document.paragraph(
            f"Experiment `{data.name}` (id {data.experiment_id}) in `{data.tracking_display}`"
            + (f"; parent run {run_reference(data, data.parent_run_id)}, where this report is "
               "logged as artifacts `report/`" if data.parent_run_id else "")
            + ". Each cell's run holds `final/index.html` (clips to listen to), "
            "`training_curves.png` and per-evaluation folders `eval/step_NNNNNN/`"
            + (f", locally under `{_local_path(data.artifact_location)}/<run id>/artifacts/`."
               if local else "."))
    document.table(
        ["trial", "cell", "state", "objective", "collapsed outcome", "outcome", "MLflow run"],
        [[str(row["trial_number"]), str(row["cell"]), row["state"], num(row[OBJECTIVE], 4),
          num(row[COLLAPSE]), cell_text(row["outcome"]), run_reference(data, row["mlflow_run_id"])]
         for _, row in data.frame.iterrows()])


def variants_section(document: Document, data: StudyData, analysis: Analysis) -> None:
    document.heading("Variants")
    variants = analysis.variants
    document.paragraph(
        "One row per variant (grid point), over its finished replicates: mean [95% interval]. "
        f"{FLOOR_WORDS} Likelihood gain over linear: the linear predictor's held-out loss "
        "minus the generator's (nats per sample for mu-law heads, MSE for tanh heads; positive = "
        "the generator predicts the next sample better than linear prediction; for mu-law heads "
        "also in bits per sample, the unit the field reports, docs/likelihood.md). Collapse rate: mean collapsed outcome. Label shares: the mean share of "
        "each label among the clips of the final evaluation, labels absent left out. Training time: mean trial wall time. Generation: samples per second (all "
        "clips of the batch together) at the last evaluation. Click a header to sort.")
    floors = catalogue.floor_metrics(catalogue.QUALITY.name)
    scales = {name: _spread(variants[name]) for name in (OBJECTIVE, *(e.name for e in floors))}
    rows = []
    for variant, row in variants.iterrows():
        runs = " ".join(_short_run_reference(data, run) for run in row["run_ids"]) or "–"
        distances = []
        for entry in floors:
            name = entry.name
            distances.append(_interval(row[name], row[f"{name}_low"], row[f"{name}_high"],
                                       scales[name]) + f"; floor {floor_text(row, name)}")
        rows.append([
            str(variant), f"{row['finished']} / {row['cells']}",
            _interval(row[OBJECTIVE], row[f"{OBJECTIVE}_low"], row[f"{OBJECTIVE}_high"],
                      scales[OBJECTIVE]),
            *distances,
            "; ".join(_interval(row[entry.name], row[f"{entry.name}_low"], row[f"{entry.name}_high"])
                      for entry in _GAINS),
            num(row["collapse_rate"], 2), _shares_text(row),
            num(row["median_onset_over_n"], 3), num(row["duration_s"], 3),
            num(row["generation_samples_per_s"], 3), runs])
    # Columns that wrap (floors inside their distance's cell, both gains in one cell, the
    # label shares in one cell): the table fits the page instead of scrolling sideways.
    document.table(["variant", "finished / cells", "objective",
                    *(f"{entry.heading}; floor (p95)" for entry in floors),
                    f"likelihood gain over linear (nats; {_GAINS[1].unit})",
                    "collapse rate", "label shares", "median onset / n", "training time (s)",
                    "generation (samples/s)", "MLflow runs"],
                   rows, sortable=True, css_class="variants")


def _shares_text(row: Mapping[str, Any]) -> str:
    """The labels with a non-zero mean share at the final evaluation, largest first."""
    shares = sorted(((row[f"share_{label}"], label) for label in LABELS
                     if row[f"share_{label}"] > 0), reverse=True)
    return ", ".join(f"{label} {num(share, 2)}" for share, label in shares) or "–"


# The likelihood gain in the head's own loss, then in bits per sample (mu-law heads only).
_GAINS = (catalogue.GAIN_OVER_LINEAR, catalogue.GAIN_OVER_LINEAR_BITS)


def _unique(values: Sequence[str | None]) -> str:
    found = sorted({value for value in values if value})
    return ", ".join(f"`{value}`" for value in found) if found else "unknown (no MLflow run)"


def _header_bullets(data: StudyData) -> list[str]:
    params = list(data.run_params.values())

    def each(key: str) -> str:
        return _unique([p.get(key) for p in params])

    versions = sorted({key for p in params for key in p if key.startswith("version.")})
    segments = [(p.get("dataset.train_segments"), p.get("dataset.holdout_segments"),
                 p.get("config.n"), p.get("config.sample_rate")) for p in params]
    sizes = []
    for train, holdout, n, rate in sorted({s for s in segments if all(s)}):
        seconds = (int(train) + int(holdout)) * int(n) / int(rate)
        sizes.append(f"{train} train + {holdout} held-out segments of n={n} at {rate} Hz "
                     f"({seconds:.0f} s of audio)")
    dirty = {p.get("git_dirty") for p in params} - {None}
    hosts = sorted({f"{p.get('host.cpus', '?')} CPUs, {p.get('host.processor', '?')}, GPUs: "
                    f"{p.get('host.gpus', '?')} ({p.get('host.platform', '?')})"
                    for p in params if "host.cpus" in p})
    dates = "–"
    if data.started:
        dates = (f"{data.started:%Y-%m-%d %H:%M} to "
                 + (f"{data.finished:%Y-%m-%d %H:%M}" if data.finished else "now"))
    return [
        f"Study `{data.name}`; trials from {dates}; {data.trial_seconds:.0f} s of trial time",
        "Trials by state (retries included; rerun: failed or interrupted, its cell since run "
        "again and finished): " + (", ".join(
            f"{count} {state.lower()}" for state, count in data.trial_states.items() if count)
            or "none"),
        f"Dataset: {each('dataset.path')}, manifest SHA-256 {each('dataset.manifest_sha256')}"
        + (f"; {'; '.join(sizes)}" if sizes else ""),
        f"Code commit: {each('git_commit')}"
        + (" (uncommitted changes in some runs)" if "true" in dirty else ""),
        "Versions: " + ("; ".join(f"{key.removeprefix('version.')} {each(key)}"
                                   for key in versions) or "unknown (no MLflow run)"),
        "Hardware of the runs: " + ("; ".join(hosts) or "not recorded") + "; this report: "
        f"{os.cpu_count()} CPUs, {processor_name()}",
    ]


def missing_lines(data: StudyData) -> list[str]:
    """What a partial study lacks: cells never started, failed, running or waiting."""
    frame = data.frame
    lines = []
    if data.design_cells and len(frame) < data.design_cells:
        lines.append(f"{data.design_cells - len(frame)} of the design's {data.design_cells} cells "
                     "have no trial yet (run `samplegan study run` again to add them)")
    for state, words in (("FAIL", "failed (see the reasons below)"), ("RUNNING", "are running"),
                         ("WAITING", "wait for a worker")):
        cells = frame.loc[frame["state"] == state, "cell"].tolist()
        if cells:
            shown = ", ".join(f"`{cell}`" for cell in cells[:8])
            lines.append(f"{len(cells)} cell(s) {words}: {shown}"
                         + (f" and {len(cells) - 8} more" if len(cells) > 8 else ""))
    without_run = frame[frame["state"].isin(FINISHED_STATES) & frame["collapsed_share"].isna()]
    if len(without_run):
        lines.append(f"{len(without_run)} finished cell(s) have no final metrics in MLflow")
    return lines


def study_section(document: Document, data: StudyData, sources: str) -> None:
    """Provenance (stores, dataset, code, versions, hardware, spec) and what is missing: the
    report's methods, after its answer, players and variants."""
    document.heading("Study")
    document.paragraph(sources)
    document.bullets(_header_bullets(data) + _spec_bullets(data))
    missing = missing_lines(data)
    if missing:
        document.paragraph("**Missing from this report:**")
        document.bullets(missing)
    if data.reasons:
        document.paragraph("Why trials were pruned, failed or ran again:")
        document.table(["state", "reason", "trials", "trial numbers"], _reason_rows(data.reasons))
    else:
        document.paragraph("No trial was pruned or failed.")
