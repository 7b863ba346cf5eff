"""`samplegan report`: the ablation report of one study, answering which choice matters.

The Optuna study holds the design and how every trial ended; MLflow holds each run's
parameters (provenance, dataset), final diagnosis and quality metrics, and its final
clips. `trials_frame` joins them into one row per cell (the cell's latest finished
trial). This module reads the stores and writes the report's sections in plain words; the
statistics on the frame live in `harness.report.stats`, the figures in
`harness.report.plots`, the clips and collapse histories in `harness.report.media` and the
Markdown/HTML rendering in `harness.report.document`. `write_report` writes Markdown with
PNG plots and .wav clips beside it, a self-contained `index.html` (images and clips as data
URIs, so it can be mailed and also renders inside the MLflow UI) and a CSV, built in a
temporary folder and renamed into place, and logs the folder to the study's parent MLflow
run as `report/`.

Two conventions shape every number: a trial pruned as collapsed counts as fully
collapsed (`collapsed_outcome` = 1), and a pruned trial enters the objective analysis
with the last value it reported (from an earlier step than the completed trials).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import pandas as pd

from harness.common.errors import SampleGanError
from harness.common.host import processor_name
from harness.data.audio import decode_audio, write_wav
from harness.evaluation.diagnostics import COLLAPSED_LABELS, LABELS
from harness.evaluation.quality import within_floor
from harness.report.document import Document, level_text
from harness.report.media import (
    LISTEN_CLIPS,
    RunFinal,
    fetch_final,
    first_collapsed_step,
    listening_length,
    real_clip,
)
from harness.report.plots import (
    plot_effects,
    plot_interactions,
    plot_label_shares,
    plot_objective_per_trial,
    plot_onset_histogram,
    plot_param_scatter,
)
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    NOISE_CONFIDENCE,
    OBJECTIVE,
    best_cells,
    interaction_size,
    interaction_table,
    label_shares,
    main_effects,
    param_correlations,
    rank_axes,
    significance_table,
    untested_levels,
    variant_table,
)
from harness.study.spec import Pruner
from harness.study.status import failure_reason, trial_outcomes
from harness.tracking.plots import plot_clips
from harness.tracking.store import (
    HOST,
    MLFLOW_PORT,
    TrackedRun,
    TrackingStore,
    file_lock,
    redact_url,
    retrying,
    store_dir,
)
from models.registry import resolve

logger = logging.getLogger(__name__)

# Frame columns filled from each run's latest metric values; NaN when the run or metric is missing.
METRIC_COLUMNS = {
    "collapsed_share": "eval/collapsed_share",
    **{f"share_{label}": f"eval/share_{label}" for label in LABELS},
    "mean_onset_over_n": "eval/mean_collapse_onset_over_n",
    "diversity_lsd_db": "eval/diversity_lsd_db",
    "frechet_logmel": "quality/frechet_logmel",
    "frechet_logmel_real_vs_real": "quality/frechet_logmel_real_vs_real",
    "frechet_logmel_real_vs_real_p95": "quality/frechet_logmel_real_vs_real_p95",
    "mr_lsd_db": "quality/mr_lsd_db",
    "mr_lsd_db_real_vs_real": "quality/mr_lsd_db_real_vs_real",
    "mr_lsd_db_real_vs_real_p95": "quality/mr_lsd_db_real_vs_real_p95",
    "generation_samples_per_s": "speed/generation_samples_per_s",
    "teacher_loss": "likelihood/teacher_loss",
    "baseline_linear": "likelihood/baseline_linear",
    "baseline_marginal": "likelihood/baseline_marginal",
    "gain_over_linear": "likelihood/gain_over_linear",
}
TAG_COLUMNS = {"outcome": "samplegan.outcome", "final_label": "samplegan.final_label",
               "quality_reference": "samplegan.quality_reference"}
TRIAL_STATES = ("COMPLETE", "PRUNED", "FAIL", "RERUN", "RUNNING", "WAITING")
# `OptunaObserver` starts the reason of a collapse prune with this word; the median pruner does not.
COLLAPSE_PRUNE_PREFIX = "collapsed"
# Config keys whose study values, when below the `paper` variant's, make a result a toy one.
SIZE_KEYS = ("sample_rate", "n", "lstm_units", "ae_levels", "ae_filters", "ae_steps", "batch_size",
             "gan_steps")
REPORT_MARKER = "report.json"  # names the study a report folder belongs to; only those are replaced


# ======================================================================= reading the stores
def parse_cell_key(key: str) -> tuple[dict[str, Any], int | None]:
    """The grid point and replicate of a cell key.

    ``lstm_mode="stateful",prefilter=false|rep=1`` -> ({"lstm_mode": "stateful",
    "prefilter": False}, 1).

    Args:
        key: A `harness.study.spec.Cell.key`; axis values are JSON, so a string may hold a comma.

    Returns:
        ({axis: value}, replicate); ({}, replicate) for a search-only cell ("search|rep=3");
        ({}, None) for text that is not a cell key.
    """
    point_text, separator, replicate_text = key.rpartition("|rep=")
    if not separator or not replicate_text.isdigit():
        return {}, None
    point: dict[str, Any] = {}
    if point_text == "search":
        return point, int(replicate_text)
    decoder = json.JSONDecoder()
    position = 0
    while position < len(point_text):
        equals = point_text.find("=", position)
        if equals <= position:
            return {}, None
        axis = point_text[position:equals]
        try:
            value, position = decoder.raw_decode(point_text, equals + 1)
        except json.JSONDecodeError:
            return {}, None
        point[axis] = value
        if position < len(point_text):
            if point_text[position] != ",":
                return {}, None
            position += 1
    return point, int(replicate_text)


def collapsed_outcome(state: str, prune_reason: str | None, collapsed_share: float,
                      prune_kind: str | None = None) -> float:
    """The value a trial contributes to the collapse analysis.

    Args:
        state: Optuna trial state name.
        prune_reason: The trial's `prune_reason` user attribute, if any.
        collapsed_share: Share of collapsed clips at the run's last evaluation (NaN if unknown).
        prune_kind: The trial's `prune_kind` user attribute ("collapse", "median"); trials
            recorded before it existed fall back to reading `prune_reason`.

    Returns:
        1.0 for a trial pruned as collapsed (a missing reason counts as collapse, the default
        pruner); the measured share for other finished trials, including median-pruned ones;
        NaN for trials that did not finish.
    """
    if state == "PRUNED":
        if prune_kind is not None:
            if prune_kind == "collapse":
                return 1.0
        elif not prune_reason or prune_reason.startswith(COLLAPSE_PRUNE_PREFIX):
            return 1.0
    if state in FINISHED_STATES:
        return float(collapsed_share)
    return math.nan


@dataclass
class _StudyData:
    """Everything the report needs from the two stores, read once."""

    name: str
    frame: pd.DataFrame
    spec: dict[str, Any]
    direction: str  # "minimize" | "maximize"
    axes: list[str]
    searched: list[str]
    trial_states: dict[str, int]  # every trial, retries included (see `trial_outcomes`)
    reasons: list[dict[str, Any]]  # one per FAIL, RERUN or PRUNED trial: trial, cell, state, reason
    trial_seconds: float
    storage_display: str
    tracking: TrackingStore | None  # None: the local MLflow store does not exist
    tracking_display: str
    experiment_id: str | None
    artifact_location: str | None  # the experiment's artifact root
    parent_run_id: str | None
    design_cells: int | None  # cells the spec defines (None for studies made elsewhere)
    artifact_uris: dict[str, str] = field(default_factory=dict)  # run id -> artifact URI
    run_params: dict[str, dict[str, str]] = field(default_factory=dict)  # run id -> params
    started: datetime | None = None  # the first trial's start
    finished: datetime | None = None  # the last trial's completion
    importances: dict[str, float] | None = None  # Optuna's, for searched parameters
    importance_note: str = ""  # why there are none
    # Share of collapsed clips that makes an evaluation collapsed: the study pruner's.
    collapsed_threshold: float = Pruner.collapsed_share


def _open_study(study_name: str, storage: str | None):
    from harness.study.storage import open_existing_study

    return open_existing_study(study_name, storage)


def _open_tracking(tracking_uri: str | None) -> tuple[str, TrackingStore | None]:
    """(display URI, store); no store when the local SQLite file is missing (opening creates it)."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or (
        f"sqlite:///{store_dir() / 'mlflow.db'}")
    if uri.startswith("sqlite:///") and not Path(uri[len("sqlite:///"):]).exists():
        return redact_url(uri) or uri, None
    store = TrackingStore.open(uri)
    return store.display_uri, store


def _read_runs(store: TrackingStore, study_name: str):
    """The study's MLflow experiment and its runs by id; (None, {}) without the experiment."""
    client = store.client()
    experiment = retrying(client.get_experiment_by_name, study_name)
    if experiment is None:
        return None, {}
    runs: dict[str, Any] = {}
    token = None
    while True:
        page = retrying(client.search_runs, [experiment.experiment_id],
                        filter_string=f"tags.`samplegan.study` = '{study_name}'",
                        max_results=1000, page_token=token)
        runs.update({run.info.run_id: run for run in page})
        token = page.token
        if not token:
            return experiment, runs


def _trial_row(trial, cell: str, attempts: int, axes: Sequence[str],
               searched: Sequence[str]) -> dict[str, Any]:
    point, replicate = parse_cell_key(cell)
    if replicate is None:
        replicate = trial.user_attrs.get("replicate")
    state = trial.state.name
    steps = trial.intermediate_values
    last_step = max(steps) if steps else None
    objective = math.nan
    if state == "COMPLETE" and trial.value is not None:
        objective = trial.value
    elif state == "PRUNED" and last_step is not None:
        objective = steps[last_step]
    attrs = trial.user_attrs
    return {
        "trial_number": trial.number,
        "cell": cell,
        "point": ", ".join(f"{axis}={level_text(point[axis])}" for axis in axes if axis in point)
        or "search",
        **{axis: point.get(axis, math.nan) for axis in axes},
        "replicate": replicate if replicate is not None else math.nan,
        **{name: trial.params.get(name, math.nan) for name in searched},
        "state": state,
        OBJECTIVE: float(objective),
        "objective_step": last_step if last_step is not None and state in FINISHED_STATES
        else math.nan,
        "prune_reason": attrs.get("prune_reason"),
        "prune_kind": attrs.get("prune_kind"),
        "error": failure_reason(attrs),
        "attempts": attempts,
        "duration_s": trial.duration.total_seconds() if trial.duration else math.nan,
        "mlflow_run_id": attrs.get("mlflow_run_id"),
    }


def _read_study(study_name: str, storage: str | None, tracking_uri: str | None) -> _StudyData:
    opened, study = _open_study(study_name, storage)
    spec = json.loads(study.user_attrs.get("spec", "{}"))
    axes = list(study.user_attrs.get("grid_axes", sorted(spec.get("design", {}).get("grid", {}))))
    searched = sorted(spec.get("design", {}).get("search", {}))
    collapsed_threshold = float(spec.get("pruner", {}).get("collapsed_share",
                                                           Pruner.collapsed_share))
    trials = sorted(study.get_trials(deepcopy=False), key=lambda trial: trial.number)
    outcomes = trial_outcomes(trials)
    by_cell: dict[str, list] = {}
    for trial in trials:
        by_cell.setdefault(trial.user_attrs.get("cell", f"trial {trial.number}"), []).append(trial)
    rows = []
    for cell, attempts in by_cell.items():
        finished = [t for t in attempts if t.state.name in FINISHED_STATES]
        rows.append(_trial_row((finished or attempts)[-1], cell, len(attempts), axes, searched))

    tracking_display, tracking = _open_tracking(tracking_uri)
    experiment, runs = _read_runs(tracking, study_name) if tracking else (None, {})
    for row in _progress(rows, "report: reading runs"):
        run = runs.get(row["mlflow_run_id"] or "")
        metrics = run.data.metrics if run else {}
        tags = run.data.tags if run else {}
        row.update({column: float(metrics.get(key, math.nan))
                    for column, key in METRIC_COLUMNS.items()})
        row.update({column: tags.get(key) for column, key in TAG_COLUMNS.items()})
        row["mlflow_status"] = run.info.status if run else None
        row["first_collapsed_step"] = (
            first_collapsed_step(tracking.client(), run.info.run_id, collapsed_threshold)
            if run and tracking else math.nan)
        row[COLLAPSE] = collapsed_outcome(row["state"], row["prune_reason"], row["collapsed_share"],
                                          row.pop("prune_kind", None))
    frame = pd.DataFrame(rows, columns=_frame_columns(axes, searched))
    importances, importance_note = _importances(study, searched)
    return _StudyData(
        name=study_name, frame=frame, spec=spec, direction=study.direction.name.lower(),
        axes=axes, searched=searched,
        trial_states={state: sum(outcome == state for outcome in outcomes.values())
                      for state in TRIAL_STATES},
        reasons=[{"trial": t.number, "cell": t.user_attrs.get("cell"), "state": outcomes[t.number],
                  "reason": t.user_attrs.get("prune_reason") or failure_reason(t.user_attrs)
                  or "unknown"} for t in trials
                 if outcomes[t.number] in ("FAIL", "RERUN", "PRUNED")],
        trial_seconds=sum(t.duration.total_seconds() for t in trials if t.duration),
        storage_display=opened.display_url, tracking=tracking, tracking_display=tracking_display,
        experiment_id=experiment.experiment_id if experiment else None,
        artifact_location=experiment.artifact_location if experiment else None,
        parent_run_id=study.user_attrs.get("mlflow_parent_run_id"),
        design_cells=study.user_attrs.get("cells"),
        artifact_uris={run_id: run.info.artifact_uri for run_id, run in runs.items()},
        run_params={run_id: dict(run.data.params) for run_id, run in runs.items()},
        started=min((t.datetime_start for t in trials if t.datetime_start), default=None),
        finished=max((t.datetime_complete for t in trials if t.datetime_complete), default=None),
        importances=importances, importance_note=importance_note,
        collapsed_threshold=collapsed_threshold,
    )


def _progress(items: Sequence, description: str):
    """`items` with a progress bar on stderr: a large study's runs take a while to read."""
    from tqdm import tqdm

    return tqdm(items, desc=description, unit="run", file=sys.stderr, leave=False,
                disable=len(items) < 2, dynamic_ncols=True)


def _importances(study, searched: Sequence[str]) -> tuple[dict[str, float] | None, str]:
    """Optuna's parameter importances (its default evaluator) for the searched parameters."""
    if not searched:
        return None, "the study searches no hyperparameter"
    from optuna.importance import get_param_importances

    try:
        return get_param_importances(study, params=list(searched)), ""
    except (ValueError, RuntimeError) as error:
        return None, f"Optuna could not compute them: {error}"


def _frame_columns(axes: Sequence[str], searched: Sequence[str]) -> list[str]:
    return ["trial_number", "cell", "point", *axes, "replicate", *searched, "state", OBJECTIVE,
            "objective_step", COLLAPSE, *METRIC_COLUMNS, *TAG_COLUMNS, "prune_reason", "error",
            "attempts", "duration_s", "first_collapsed_step", "mlflow_run_id", "mlflow_status"]


def trials_frame(study_name: str, storage: str | None = None,
                 tracking_uri: str | None = None) -> pd.DataFrame:
    """One row per cell of study `study_name`: its latest finished trial (or latest trial).

    Args:
        study_name: The study's name (the spec's `name`).
        storage: Optuna storage URL [default: $SAMPLEGAN_STORAGE or the journal in the store dir].
        tracking_uri: MLflow tracking URI [default: $MLFLOW_TRACKING_URI or the local SQLite store].

    Returns:
        Columns: ``trial_number``, ``cell``, ``point`` (readable grid point), one column per grid
        axis, ``replicate``, one per searched parameter, ``state``, ``objective`` (the value of a
        COMPLETE trial, the last reported value of a PRUNED one, else NaN), ``objective_step``,
        ``collapsed_outcome`` (see `collapsed_outcome`), the final metrics of the MLflow run
        (``collapsed_share``, ``share_<label>``, ``mean_onset_over_n``, ``diversity_lsd_db``,
        ``frechet_logmel``, ``mr_lsd_db``, their floors ``_real_vs_real`` and the floors'
        ``_real_vs_real_p95``), the tags ``outcome``, ``final_label`` (the last evaluation's
        batch label: diverse or mode_collapse) and ``quality_reference`` ("holdout", or "train"
        when the run's dataset held nothing out),
        ``prune_reason``, ``error``, ``attempts`` (trials of the cell),
        ``duration_s``, ``mlflow_run_id``, ``mlflow_status``. Metrics of a missing run are NaN.

    Raises:
        SampleGanError: no such study or storage, or an unusable tracking store.
    """
    return _read_study(study_name, storage, tracking_uri).frame


# ============================================================================ plain words
def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return str(value)
    return f"{float(value):.{digits}g}"


def _num_at_scale(value: float, scale: float) -> str:
    """`value` with two significant digits of `scale`, so a difference shows in its two ends."""
    if not math.isfinite(scale) or scale <= 0:
        return _num(value)
    return f"{value:.{max(0, 1 - math.floor(math.log10(scale)))}f}"


def _noise_phrase(row: Mapping[str, Any]) -> str:
    noise = row["noise_sd"]
    if math.isnan(noise):
        return "seed noise unknown: no grid point has two finished replicates"
    if noise == 0:
        return "replicates of every grid point agreed exactly (seed noise 0)"
    verdict = ("larger than seed noise" if row["verdict"] == "exceeds seed noise"
               else "within seed noise, so not a finding yet")
    kind = (f" paired by replicate seed (unpaired {_num(row['unpaired_noise_sd'])})"
            if row["noise_kind"] == "paired" else "")
    return (f"seed noise SD {_num(noise)}{kind}, so {_num(row['effect_over_noise'], 2)}× noise "
            f"or {_num(row['effect_over_se'], 2)} standard errors: {verdict}")


def _effect_sentence(title: str, ranking: pd.DataFrame, lower_is_better: bool) -> str:
    top = ranking.iloc[0]
    best, worst = ("low", "high") if lower_is_better else ("high", "low")
    axis = top["axis"]
    effect = top["effect"]
    claim = "matters most" if top["verdict"] == "exceeds seed noise" else "has the largest effect"
    sentence = (f"**{title}:** `{axis}` {claim}: {_num_at_scale(top[f'{best}_mean'], effect)}"
                f" at {axis}={level_text(top[f'{best}_level'])} vs "
                f"{_num_at_scale(top[f'{worst}_mean'], effect)} at "
                f"{axis}={level_text(top[f'{worst}_level'])} (difference {_num(top['effect'])}; "
                f"{_noise_phrase(top)}).")
    if len(ranking) > 1 and not math.isnan(ranking.iloc[1]["effect"]):
        runner_up = ranking.iloc[1]
        sentence += (f" Next: `{runner_up['axis']}` (difference {_num(runner_up['effect'])}, "
                     f"{_num(runner_up['effect_over_noise'], 2)}× noise).")
    return sentence


def untested_note(untested: Mapping[str, Sequence[Any]]) -> str:
    """`` Untested so far: `axis`=level, level; ...`` for levels no finished trial reached; "" if none."""
    if not untested:
        return ""
    listed = "; ".join(f"`{axis}`=" + ", ".join(level_text(level) for level in levels)
                       for axis, levels in untested.items())
    return f" Untested so far (no finished trial): {listed}."


def _all_untested(ranking: pd.DataFrame) -> bool:
    return bool(len(ranking)) and bool((ranking["verdict"] == "untested").all())


def collapse_answer(frame: pd.DataFrame, ranking: pd.DataFrame,
                    untested: Mapping[str, Sequence[Any]] | None = None) -> str:
    """One sentence: which axis matters most for collapse, or that none does.

    Args:
        frame: One row per cell.
        ranking: `rank_axes` of the collapsed outcome.
        untested: Grid levels without a finished trial (`untested_levels`): no claim is made
            about them.
    """
    untested = untested or {}
    values = frame[COLLAPSE].dropna()
    if values.empty:
        return "**Collapse:** no finished trial has a collapse measurement yet."
    pruned = int((frame.loc[values.index, "state"] == "PRUNED").sum())
    note = untested_note(untested)
    if (values == 1.0).all():
        pruned_note = f", {pruned} of them pruned for it" if pruned else ""
        if untested:
            return (f"**Collapse:** every finished trial collapsed ({len(values)} of "
                    f"{len(values)}{pruned_note}); whether the untested settings prevent it is "
                    f"unknown.{note}")
        return (f"**Collapse:** every finished trial collapsed ({len(values)} of {len(values)}"
                f"{pruned_note}), whatever its settings: nothing in this design prevents the "
                "collapse at these sizes.")
    if (values == 0.0).all():
        return f"**Collapse:** no finished trial collapsed ({len(values)} trials).{note}"
    if ranking.empty:
        return (f"**Collapse:** mean collapsed outcome {_num(values.mean())} over {len(values)} "
                "finished trials; no grid axis to compare.")
    if _all_untested(ranking):
        return (f"**Collapse:** untested: no axis has finished trials at two of its levels yet "
                f"(mean collapsed outcome {_num(values.mean())} over {len(values)} trials).{note}")
    if not ranking.iloc[0]["effect"] > 0:
        return (f"**Collapse:** no tested axis changes the collapsed outcome (mean "
                f"{_num(values.mean())} over {len(values)} trials at every tested level).{note}")
    return _effect_sentence("Collapse (collapsed outcome, lower is better)", ranking, True) + note


def objective_answer(frame: pd.DataFrame, ranking: pd.DataFrame, direction: str,
                     objective_name: str,
                     untested: Mapping[str, Sequence[Any]] | None = None) -> str:
    """One sentence: which axis matters most for the objective, or that none does.

    Args:
        frame: One row per cell.
        ranking: `rank_axes` of the objective.
        direction: "minimize" or "maximize".
        objective_name: How the objective is named.
        untested: Grid levels without a finished trial (`untested_levels`).
    """
    note = untested_note(untested or {})
    values = frame[OBJECTIVE].dropna()
    title = f"Objective ({objective_name}, {direction})"
    if values.empty:
        return f"**{title}:** no finished trial has an objective value yet."
    if ranking.empty:
        best = values.min() if direction == "minimize" else values.max()
        return (f"**{title}:** best {_num(best, 4)} over {len(values)} trials; no grid axis to "
                "compare.")
    if _all_untested(ranking):
        return (f"**{title}:** untested: no axis has finished trials at two of its levels yet "
                f"(mean {_num(values.mean(), 6)} over {len(values)} trials).{note}")
    if not ranking.iloc[0]["effect"] > 0:
        return (f"**{title}:** no tested axis changes it (mean {_num(values.mean(), 6)} at every "
                f"tested level).{note}")
    return _effect_sentence(title, ranking, direction == "minimize") + note


def correlation_answer(title: str, correlations: pd.DataFrame) -> str:
    """One sentence naming the searched parameter most rank-correlated with a value."""
    usable = correlations.dropna(subset=["spearman"])
    if usable.empty:
        return f"**{title}:** too few finished trials to correlate the searched parameters."
    top = usable.iloc[0]
    return (f"**{title}:** `{top['param']}` correlates most (Spearman ρ = "
            f"{_num(top['spearman'], 2)} over {top['trials']} trials; no replicates, so no "
            "noise reference).")


def toy_sizes(spec: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Size settings where the study is smaller than the `paper` variant: {key: (study, paper)}.

    Grid axes vary per cell and are left out; an unresolvable spec gives {}.
    """
    from models.registry import get_variant

    overrides = dict(spec.get("overrides", {}))
    if spec.get("budget", {}).get("gan_steps") is not None:
        overrides["gan_steps"] = spec["budget"]["gan_steps"]
    grid = spec.get("design", {}).get("grid", {})
    try:
        study = get_variant(spec.get("base_variant", "paper")).config(
            {key: value for key, value in overrides.items() if key not in grid})
    except SampleGanError:
        return {}
    paper = get_variant("paper").config()
    return {key: (getattr(study, key), getattr(paper, key)) for key in SIZE_KEYS
            if key not in grid and getattr(study, key) < getattr(paper, key)}


def caveat_line(replicates: int, noise_sds: Mapping[str, float], paired: bool,
                sizes: Mapping[str, tuple[Any, Any]], searched: bool, gridded: bool = True) -> str:
    """The caveat under the answer: replicates and seed noise, and how toy the sizes are.

    Args:
        replicates: Replicates per grid point in the design.
        noise_sds: Seed-noise SD per analysed quantity (NaN: unknown).
        paired: Whether the noise is the paired (replicate-seed blocked) estimate.
        sizes: `toy_sizes` of the study.
        searched: Whether the design searches hyperparameters.
        gridded: Whether the design has a grid (without one, no trial has a replicate).
    """
    noise = ", ".join(f"{name} {_num(sd)}" for name, sd in noise_sds.items() if not math.isnan(sd))
    if not gridded:
        text = ("**Caveat:** no grid, so no trial repeats another's settings and seed noise is "
                "unknown: any correlation above may be seed luck. ")
    elif replicates < 2:
        text = ("**Caveat:** one replicate per grid point, so seed noise is unknown: any "
                "difference above may be seed luck. ")
    elif not noise:
        text = ("**Caveat:** no grid point has two finished replicates yet, so seed noise is "
                "unknown: any difference above may be seed luck. ")
    else:
        how = ("residual SD once the seed shared by a replicate across grid points is taken out"
               if paired else "pooled SD of the replicates of a grid point")
        text = (f"**Caveat:** {replicates} replicates per grid point; seed noise ({how}): "
                f"{noise}; a rough estimate from so few seeds. ")
    if searched and gridded and noise:
        text += ("Replicates of a grid point also differ in the searched parameters, so this "
                 "noise is an upper bound. ")
    if sizes:
        listed = ", ".join(f"{key}={study} (paper variant {paper})"
                           for key, (study, paper) in sizes.items())
        text += (f"Toy sizes: {listed}; this points where to look and is not the paper's "
                 "result until rerun at full size.")
    else:
        text += ("No size is below the `paper` variant's (the paper itself gives only n and "
                 "the rate).")
    return text


# ========================================================================= the report
def _objective_name(spec: Mapping[str, Any]) -> str:
    objective = spec.get("objective", {})
    metric = objective.get("metric", "quality/frechet_logmel")
    penalty = float(objective.get("collapse_penalty", 100.0))
    sign = "-" if objective.get("direction", "minimize") == "maximize" else "+"
    return f"{metric} {sign} {penalty:g} × collapsed share" if penalty else metric


def _factors(data: _StudyData) -> list[str]:
    """Grid axes plus searched parameters with choices: everything with discrete levels."""
    search = data.spec.get("design", {}).get("search", {})
    return data.axes + [name for name in data.searched if "choices" in search.get(name, {})]


def _numeric_searched(data: _StudyData) -> list[str]:
    search = data.spec.get("design", {}).get("search", {})
    return [name for name in data.searched if "choices" not in search.get(name, {})]


LOCAL_UI = f"http://{HOST}:{MLFLOW_PORT}"  # where `samplegan ui` serves a local store by default


def run_link(tracking_uri: str, experiment_id: str | None, run_id: str) -> str | None:
    """The MLflow UI page of a run.

    Args:
        tracking_uri: The store's URI with any password already redacted.
        experiment_id: The run's experiment id.
        run_id: The run id.

    Returns:
        The page on the server for an http(s) store; for a local store, the page on
        `LOCAL_UI`, where `samplegan ui` serves it; None without an experiment.
    """
    if not experiment_id:
        return None
    base = tracking_uri if urlsplit(tracking_uri).scheme in ("http", "https") else LOCAL_UI
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def _run_reference(data: _StudyData, run_id: str | None, page: str = "") -> str:
    """A Markdown reference to a run: its id, its MLflow UI page and, locally, its artifacts."""
    if _text(run_id) == "–":
        return "–"
    if run_id not in data.artifact_uris:
        return f"`{run_id}` (not in MLflow)"
    parts = [f"`{run_id}`", f"[UI]({run_link(data.tracking_display, data.experiment_id, run_id)})"]
    artifacts = data.artifact_uris[run_id]
    if urlsplit(artifacts).scheme == "file":
        target = f"{artifacts.rstrip('/')}/{page}" if page else artifacts
        parts.append(f"[{page or 'artifacts'}]({target})")
    return " ".join(parts)


def _short_run_reference(data: _StudyData, run_id: str) -> str:
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
        noise = _num(row["noise_sd"]) + (f" ({row['noise_kind']}, {row['noise_degrees']} df)"
                                          if row["noise_kind"] else "")
        rows.append([str(index + 1), f"`{row['axis']}`", _num(row["effect"]), levels,
                     noise, _num(row["effect_over_noise"], 2),
                     _num(row["effect_over_se"], 2), row["verdict"]])
    return rows


def _interaction_section(document: Document, frame: pd.DataFrame, ranking: pd.DataFrame,
                         value: str, name: str) -> None:
    row_axis, column_axis = ranking["axis"].iloc[0], ranking["axis"].iloc[1]
    table = interaction_table(frame, row_axis, column_axis, value)
    spread_of_columns = table.max(axis=1) - table.min(axis=1)
    header = [f"{row_axis} \\ {column_axis}", *map(level_text, table.columns),
              f"effect of `{column_axis}`"]
    rows = [[level_text(level), *(_num(v) for v in table.loc[level]),
             _num(spread_of_columns[level])] for level in table.index]
    rows.append([f"effect of `{row_axis}`",
                 *(_num(v) for v in table.max(axis=0) - table.min(axis=0)), ""])
    document.paragraph(f"Mean {name} for `{row_axis}` × `{column_axis}` (the two strongest axes "
                       f"for it). Non-additivity (largest departure of a cell from row effect + "
                       f"column effect): {_num(interaction_size(table))}; 0 means the effect of "
                       "one axis does not depend on the other.")
    document.table(header, rows)


def _spec_bullets(data: _StudyData) -> list[str]:
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
        f"Objective: {data.direction} {_objective_name(spec)}",
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


@dataclass
class _Analysis:
    """What every section of the report draws on, computed once."""

    frame: pd.DataFrame
    factors: list[str]  # grid axes and searched parameters with choices
    numeric_searched: list[str]
    objective_name: str
    objective_ranking: pd.DataFrame
    collapse_ranking: pd.DataFrame
    objective_tests: pd.DataFrame  # `significance_table` of the objective over `factors`
    collapse_tests: pd.DataFrame
    group: str  # the column naming a variant: "point", or "cell" without a grid
    variants: pd.DataFrame  # `variant_table`
    untested: dict[str, list]  # grid axis -> its levels without a finished trial

    @classmethod
    def of(cls, data: _StudyData,
           clip_onsets: Mapping[str, Sequence[float]] | None = None) -> _Analysis:
        factors = _factors(data)
        # Without a grid every trial is its own point: no replicates, so no noise estimate.
        group = "point" if data.axes else "cell"
        return cls(frame=data.frame, factors=factors, numeric_searched=_numeric_searched(data),
                   group=group, variants=variant_table(data.frame, group, clip_onsets),
                   untested=untested_levels(data.frame,
                                            data.spec.get("design", {}).get("grid", {})),
                   objective_name=_objective_name(data.spec),
                   objective_ranking=rank_axes(data.frame, factors, OBJECTIVE, group),
                   collapse_ranking=rank_axes(data.frame, factors, COLLAPSE, group),
                   objective_tests=significance_table(_finished(data.frame), factors, OBJECTIVE),
                   collapse_tests=significance_table(_finished(data.frame), factors, COLLAPSE))


def _finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["state"].isin(FINISHED_STATES)]


def _text(value: Any) -> str:
    """A cell's text; a missing value (None or NaN, as pandas stores it) is a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return str(value)


def significance_answer(objective_tests: pd.DataFrame, collapse_tests: pd.DataFrame) -> str:
    """One line: which level comparisons are significant after Holm, else the closest one."""
    parts = []
    for name, tests in (("objective", objective_tests), ("collapsed outcome", collapse_tests)):
        tested = tests.dropna(subset=["welch_p_holm"])
        if tested.empty:
            parts.append(f"{name}: nothing testable (one trial per level, or no variation)")
            continue
        significant = tested[tested["significant"]]
        if not significant.empty:
            parts.append(f"{name}: " + "; ".join(
                f"`{row['axis']}` {level_text(row['level_a'])} → {level_text(row['level_b'])} "
                f"(difference {_num(row['difference'])}, Holm p {_p_text(row['welch_p_holm'])}, "
                f"g {_num(row['hedges_g'], 2)})" for _, row in significant.iterrows()))
        else:
            closest = tested.sort_values("welch_p_holm").iloc[0]
            parts.append(f"{name}: none (closest: `{closest['axis']}` "
                         f"{level_text(closest['level_a'])} → {level_text(closest['level_b'])}, "
                         f"Holm p {_p_text(closest['welch_p_holm'])})")
    return "**Significant at 5 % (Welch, Holm-corrected):** " + "; ".join(parts) + "."


def likelihood_answer(variants: pd.DataFrame) -> str:
    """One line: how many variants predict held-out audio better than linear prediction."""
    measured = variants.dropna(subset=["gain_over_linear"])
    if measured.empty:
        return ("**Likelihood:** not measured (no finished run logged `likelihood/gain_over_linear`: "
                "runs older than the measurement, or no contiguous audio to measure it on).")
    beating = measured[measured["gain_over_linear"] > 0]
    sure = beating[beating["gain_over_linear_low"] > 0]

    def listed(rows: pd.DataFrame) -> str:
        return ", ".join(f"`{variant}` ({_num(row['gain_over_linear'], 3)})"
                         for variant, row in rows.iterrows())

    line = (f"**Likelihood:** {len(beating)} of {len(measured)} measured variant(s) predict "
            "held-out audio better than linear prediction (mean gain over linear > 0)")
    if len(beating):
        line += f": {listed(beating)}; {len(sure)} of them with the 95% interval above 0"
    rest = measured.drop(beating.index)
    if len(rest):
        line += f". Not better: {listed(rest)}"
    return line + "."


def _answers(data: _StudyData, analysis: _Analysis) -> list[str]:
    frame = analysis.frame
    if not analysis.factors and not analysis.numeric_searched:
        answers = ["**No grid and no search:** nothing to compare."]
    else:
        answers = [collapse_answer(frame, analysis.collapse_ranking, analysis.untested),
                   objective_answer(frame, analysis.objective_ranking, data.direction,
                                    analysis.objective_name, analysis.untested)]
    answers.append(likelihood_answer(analysis.variants))
    if analysis.factors:
        answers.append(significance_answer(analysis.objective_tests, analysis.collapse_tests))
    answers.append(floor_answer(analysis.variants))
    on_training_audio = training_audio_answer(frame)
    if on_training_audio:
        answers.append(on_training_audio)
    if analysis.numeric_searched:
        answers.append(correlation_answer(
            "Searched parameters vs objective",
            param_correlations(frame, analysis.numeric_searched, OBJECTIVE)))
    rankings = {"objective": analysis.objective_ranking,
                "collapsed outcome": analysis.collapse_ranking}
    noise_sds = {name: ranking["noise_sd"].iloc[0] if analysis.factors else math.nan
                 for name, ranking in rankings.items()}
    paired = bool(analysis.factors) and analysis.objective_ranking["noise_kind"].iloc[0] == "paired"
    answers.append(caveat_line(int(data.spec.get("design", {}).get("replicates", 1)), noise_sds,
                               paired, toy_sizes(data.spec), bool(data.searched), bool(data.axes)))
    unfinished = int((~frame["state"].isin(FINISHED_STATES)).sum())
    if unfinished:
        answers.append(f"**Provisional:** {unfinished} cell(s) have not finished (failed, running "
                       "or waiting) and are left out of every number.")
    return answers


_HOW_TO_READ = (
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
    def text(value: float) -> str:
        return _num(value) if math.isnan(value) else _num_at_scale(value, scale)

    if math.isnan(low) or math.isnan(high):
        return text(mean)
    return f"{text(mean)} [{text(low)}, {text(high)}]"


def _axis_level_rows(frame: pd.DataFrame, axis: str,
                     untested: Sequence[Any] = ()) -> list[list[str]]:
    """One row per level with data, then one per `untested` level the frame does not hold."""
    tables = [main_effects(frame, axis, value) for value in _LEVEL_VALUES]
    finished = _finished(frame)
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


def _p_text(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _significance_rows(table: pd.DataFrame, axis: str, name: str) -> list[list[str]]:
    return [[name, f"{level_text(row['level_a'])} → {level_text(row['level_b'])}",
             f"{row['n_a']} / {row['n_b']}", _num(row["difference"]),
             _num(row["welch_t"], 3), _p_text(row["welch_p"]), _p_text(row["welch_p_holm"]),
             _num(row["hedges_g"], 2), _p_text(row["mannwhitney_p_holm"]),
             _num(row["rank_biserial"], 2), "**yes**" if row["significant"] else "no"]
            for _, row in table[table["axis"] == axis].iterrows()]


_LEVEL_VALUES = (OBJECTIVE, COLLAPSE, "frechet_logmel", "mr_lsd_db")
_SIGNIFICANCE_HEADER = ["metric", "levels a → b", "trials a / b", "mean b − a", "Welch t",
                        "p", "p (Holm)", "Hedges' g", "Mann-Whitney p (Holm)",
                        "rank-biserial r", "significant"]
_HOW_TO_TEST = (
    "Significance: every pair of levels of every axis is compared with Welch's t-test "
    "(unequal variances) and the Mann-Whitney U test over the finished trials, treating "
    "replicates as independent; the p-values of each metric are corrected together for "
    "multiple comparisons (Holm), and a difference is **significant** when its Holm-adjusted "
    "Welch p is below 0.05. Effect sizes: Hedges' g (mean difference in pooled SDs, small-"
    "sample corrected; 0.2 small, 0.8 large) and the rank-biserial r (+1: every trial of b above "
    "every trial of a). Intervals are 95% Student-t intervals of the mean over trials.")


def _effects_section(document: Document, data: _StudyData, analysis: _Analysis,
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
                        "Fréchet log-mel", "MR log-spectral distance (dB)"],
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


def _search_section(document: Document, data: _StudyData, analysis: _Analysis,
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
        rows += [[f"`{row['param']}`", name, _num(row["spearman"], 2), str(row["trials"])]
                 for _, row in correlations.iterrows()]
    document.table(["parameter", "against", "Spearman ρ", "trials"], rows)


def _trials_section(document: Document, data: _StudyData, analysis: _Analysis,
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
    rows = [[str(row["trial_number"]), str(row["point"]), _num(row["replicate"]), row["state"],
             _num(row[OBJECTIVE], 4), _num(row["collapsed_share"]), _text(row["final_label"]),
             _run_reference(data, row["mlflow_run_id"], "final/index.html")]
            for _, row in best_cells(frame, data.direction).iterrows()]
    document.table(["trial", "grid point", "replicate", "state", "objective", "collapsed share",
                    "batch label", "MLflow run"], rows or [["–"] * 8])


def _mlflow_section(document: Document, data: _StudyData) -> None:
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
            + (f"; parent run {_run_reference(data, data.parent_run_id)}, where this report is "
               "logged as artifacts `report/`" if data.parent_run_id else "")
            + ". Each cell's run holds `final/index.html` (clips to listen to), "
            "`training_curves.png` and per-evaluation folders `eval/step_NNNNNN/`"
            + (f", locally under `{_local_path(data.artifact_location)}/<run id>/artifacts/`."
               if local else "."))
    document.table(
        ["trial", "cell", "state", "objective", "collapsed outcome", "outcome", "MLflow run"],
        [[str(row["trial_number"]), str(row["cell"]), row["state"], _num(row[OBJECTIVE], 4),
          _num(row[COLLAPSE]), _text(row["outcome"]), _run_reference(data, row["mlflow_run_id"])]
         for _, row in data.frame.iterrows()])


@dataclass
class _Media:
    """Final evaluations of the study's runs, fetched from MLflow into a scratch folder."""

    finals: dict[str, RunFinal]  # run id -> its final evaluation
    clip_onsets: dict[str, list[float]]  # variant -> onset / n of its collapsed clips

    @classmethod
    def fetch(cls, data: _StudyData, scratch: Path, group: str) -> _Media:
        finals: dict[str, RunFinal] = {}
        onsets: dict[str, list[float]] = {}
        if data.tracking is None:
            return cls(finals, onsets)
        client = data.tracking.client()
        for _, row in _progress(list(data.frame.iterrows()), "report: final clips"):
            run_id = row["mlflow_run_id"]
            if not isinstance(run_id, str) or run_id not in data.artifact_uris:
                continue
            final = fetch_final(client, run_id, scratch, with_audio=False)
            finals[run_id] = final
            onsets.setdefault(row[group], []).extend(
                value for value in final.onsets_over_n if value is not None)
        return cls(finals, onsets)


def _collapse_section(document: Document, data: _StudyData, analysis: _Analysis,
                      media: _Media, folder: Path) -> None:
    document.heading("Collapse")
    shares = label_shares(data.frame, analysis.group)
    if shares.empty:
        document.paragraph("No run has a final evaluation in MLflow yet.")
        return
    plot_label_shares(shares, folder / "label_shares.png")
    document.image("label_shares.png", "clip label shares per variant")
    document.paragraph("Mean share of clips with each label at the final evaluation (a pruned "
                       "run's last evaluation), over the runs of each variant.")
    onsets = {name: values for name, values in media.clip_onsets.items() if values}
    if onsets:
        plot_onset_histogram(onsets, folder / "onset_histogram.png")
        document.image("onset_histogram.png", "collapse onset / n of every collapsed clip")
        document.paragraph(
            "Collapse onset / n of every clip that settles to a constant, at the final "
            "evaluation: near 1 is the paper's failure (the seed has just left the window).")
    else:
        document.paragraph("No clip of any final evaluation settles to a constant: there is "
                           "no collapse onset to show.")
    variants = analysis.variants
    collapsing = variants[variants["collapse_rate"] > 0].sort_values("collapse_rate",
                                                                     ascending=False)
    document.paragraph(
        f"Which variants collapse and when ({len(collapsing)} of {len(variants)} variants have "
        "collapsed clips). A run collapses at the first evaluation with at least "
        f"{data.collapsed_threshold:.0%} of its clips collapsed (the study pruner's threshold); "
        "a trial pruned as collapsed is wholly "
        "collapsed.")
    rows = []
    for variant, row in collapsing.iterrows():
        members = analysis.frame[analysis.frame[analysis.group] == variant]
        runs_collapsed = int((members[COLLAPSE] >= data.collapsed_threshold).sum())
        rows.append([str(variant), _num(row["collapse_rate"], 2),
                     f"{runs_collapsed} of {int(row['finished'])}",
                     _num(row["first_collapsed_step"]), _num(row["median_onset_over_n"], 3),
                     *(f"{row[f'share_{label}']:.2f}" for label in LABELS)])
    document.table(["variant", "collapse rate", "runs collapsed", "first collapsed step "
                    "(median)", "median onset / n", *LABELS], rows or [["none"] + ["–"] * (4 + len(LABELS))],
                   sortable=True)


def paper_likeness(frame: pd.DataFrame, group: str, axes: Sequence[str]) -> dict[str, int]:
    """Variant -> how many of its grid levels are the `paper` variant's.

    A `gan_steps` level counts as the paper's when it trains a GAN at all (the paper's
    budget is ours to choose); the other axes compare the value itself.
    """
    paper = resolve("paper").to_dict()
    likeness = {}
    for variant, rows in frame.groupby(group, sort=False):
        first = rows.iloc[0]
        likeness[variant] = sum(
            (first[axis] > 0) if axis == "gan_steps" else (first[axis] == paper[axis])
            for axis in axes if axis in paper and axis in first.index)
    return likeness


def _pick_run(frame: pd.DataFrame, media: _Media) -> pd.Series | None:
    """The variant's typical run: finished, with final clips, objective nearest the median."""
    candidates = frame[frame["state"].isin(FINISHED_STATES)
                       & frame["mlflow_run_id"].isin(list(media.finals))].copy()
    if candidates.empty:
        return None
    median = candidates[OBJECTIVE].median()
    candidates["_distance"] = (candidates[OBJECTIVE] - median).abs()
    return candidates.sort_values(["_distance", "trial_number"], na_position="last").iloc[0]


def _listening_section(document: Document, data: _StudyData, analysis: _Analysis,
                       media: _Media, folder: Path, scratch: Path) -> None:
    document.heading("Listening")
    ranked = analysis.variants.dropna(subset=[OBJECTIVE]).sort_values(
        OBJECTIVE, ascending=data.direction == "minimize")
    if ranked.empty or data.tracking is None:
        document.paragraph("No finished run with clips in MLflow yet: nothing to listen to.")
        return
    frame = analysis.frame
    completed = set(frame.loc[frame["state"] == "COMPLETE", analysis.group])
    if completed:  # a variant with only pruned trials was stopped early: it is neither
        ranked = ranked[ranked.index.isin(completed)]
        roles = ("best", "worst")
    else:
        document.paragraph(
            "No trial completed (every finished trial was pruned), so no variant is best or "
            "worst: here are the variants with the lowest and the highest last reported "
            "objective, values from the GAN step where each trial was pruned.")
        ranked = ranked.sort_values(OBJECTIVE)
        roles = ("lowest", "highest")
    picks = [(roles[0], ranked.index[0])]
    if len(ranked) > 1:
        paper_like = paper_likeness(analysis.frame, analysis.group, data.axes)
        closest = [variant for variant in reversed(ranked.index)
                   if variant != ranked.index[0] and paper_like.get(variant, 0) > 0]
        if closest:  # the grid point with the most of the paper's parts, worst first on ties
            top = max(paper_like[variant] for variant in closest)
            picks.append(("paper",
                          next(variant for variant in closest if paper_like[variant] == top)))
        else:
            picks.append((roles[1], ranked.index[-1]))
    client = data.tracking.client()
    clip_length = rate = window_n = None
    for role, variant in picks:
        run = _pick_run(analysis.frame[analysis.frame[analysis.group] == variant], media)
        if role == "paper":
            document.subheading(f"The variant closest to the paper ({paper_like[variant]} of "
                                f"{len(data.axes)} grid levels the paper's): {variant}")
        else:
            document.subheading(f"The {role} variant: {variant}" if completed
                                else f"The variant with the {role} objective: {variant}")
        if run is None:
            document.paragraph("None of its runs has final clips in MLflow.")
            continue
        final = fetch_final(client, run["mlflow_run_id"], scratch / role, with_audio=True)
        window_n = int(data.run_params.get(run["mlflow_run_id"], {}).get("config.n", 0)) or None
        document.paragraph(
            f"Mean objective {_num(analysis.variants.at[variant, OBJECTIVE])}; clips of its "
            f"replicate {_num(run['replicate'])} (objective {_num(run[OBJECTIVE])}, nearest the "
            f"variant's median), MLflow run {_run_reference(data, run['mlflow_run_id'])}.")
        labels = [final.clip_labels[index] if index < len(final.clip_labels) else "?"
                  for index in range(len(final.wavs))]
        # The first pick's healthy clips first, the other's collapsed ones: the contrast.
        wanted = ("healthy",) if role == roles[0] else COLLAPSED_LABELS
        shown = range(min(len(final.wavs), LISTEN_CLIPS))  # the clips its figure shows
        for index in sorted(shown, key=lambda index: labels[index] not in wanted):
            decoded = decode_audio(final.wavs[index])
            audio, rate = decoded.audio, decoded.sample_rate_hz
            clip_length = listening_length(rate, len(audio))
            name = f"listen_{role}_{index:02d}.wav"
            write_wav(folder / name, audio[:clip_length], rate)
            document.audio(name, f"{role} · clip {index} · {labels[index]}")
        if final.clips_png is not None:
            shutil.copy2(final.clips_png, folder / f"listen_{role}.png")
            document.image(f"listen_{role}.png", f"waveforms and spectrograms, {role} variant")
    document.subheading("Real held-out audio")
    dataset_paths = {params.get("dataset.path") for params in data.run_params.values()}
    dataset_path = sorted(path for path in dataset_paths if path)[:1]
    if clip_length is None or rate is None:
        document.paragraph("No generated clip to match in length.")
        return
    clip, source = real_clip(dataset_path[0] if dataset_path else None, clip_length)
    if clip is None:
        document.paragraph(f"No real clip: {source}.")
        return
    write_wav(folder / "listen_real.wav", clip, rate)
    document.audio("listen_real.wav", f"real · {clip_length} samples from the {source}")
    plot_clips([clip], rate, window_n or clip_length, None, folder / "listen_real.png")
    document.image("listen_real.png", "waveform and spectrogram of the real clip")


def _variants_section(document: Document, data: _StudyData, analysis: _Analysis) -> None:
    document.heading("Variants")
    variants = analysis.variants
    document.paragraph(
        "One row per variant (grid point), over its finished replicates: mean [95% interval]. "
        f"{_FLOOR_WORDS} Likelihood gain over linear: the linear predictor's held-out loss "
        "minus the generator's (nats per sample for mu-law heads, MSE for tanh heads; positive = "
        "the generator predicts the next sample better than linear prediction). Collapse rate: mean collapsed outcome. Label shares at the final "
        "evaluation. Training time: mean trial wall time. Generation: samples per second (all "
        "clips of the batch together) at the last evaluation. Click a header to sort.")
    scales = {name: _spread(variants[name]) for name in (OBJECTIVE, "frechet_logmel", "mr_lsd_db")}
    rows = []
    for variant, row in variants.iterrows():
        runs = " ".join(_short_run_reference(data, run) for run in row["run_ids"]) or "–"
        rows.append([
            str(variant), f"{row['finished']} / {row['cells']}",
            _interval(row[OBJECTIVE], row[f"{OBJECTIVE}_low"], row[f"{OBJECTIVE}_high"],
                      scales[OBJECTIVE]),
            _interval(row["frechet_logmel"], row["frechet_logmel_low"], row["frechet_logmel_high"],
                      scales["frechet_logmel"]),
            _floor_text(row, "frechet_logmel"),
            _interval(row["mr_lsd_db"], row["mr_lsd_db_low"], row["mr_lsd_db_high"],
                      scales["mr_lsd_db"]),
            _floor_text(row, "mr_lsd_db"),
            _interval(row["gain_over_linear"], row["gain_over_linear_low"],
                      row["gain_over_linear_high"]),
            _num(row["collapse_rate"], 2),
            *(_num(row[f"share_{label}"], 2) for label in LABELS),
            _num(row["median_onset_over_n"], 3), _num(row["duration_s"], 3),
            _num(row["generation_samples_per_s"], 3), runs])
    document.table(["variant", "finished / cells", "objective", "Fréchet log-mel",
                    "its floor (p95)", "MR log-spectral distance (dB)", "its floor (p95)",
                    "likelihood gain over linear",
                    "collapse rate",
                    *(f"share {label}" for label in LABELS), "median onset / n",
                    "training time (s)", "generation (samples/s)", "MLflow runs"],
                   rows, sortable=True)


_FLOOR_WORDS = (
    "A distance's floor is the same distance for real held-out clip sets of the same count and "
    "length as the run's generated clips (mean over random draws, and its 95th percentile, p95); "
    "a variant is within the floor when its mean distance is at most the p95, i.e. as close to "
    "the held-out audio as real audio of that size gets (docs/quality.md).")


def _floor_verdict(row: Mapping[str, Any], name: str) -> str | None:
    """"within" or "beyond" the floor for distance `name` of a variant row; None: no floor."""
    verdict = within_floor(row[name], row[f"{name}_floor_p95"])
    return None if verdict is None else ("within" if verdict else "beyond")


def _floor_text(row: Mapping[str, Any], name: str) -> str:
    verdict = _floor_verdict(row, name)
    if math.isnan(row[f"{name}_floor"]):
        return "–"
    text = f"{_num(row[f'{name}_floor'])} ({_num(row[f'{name}_floor_p95'])})"
    return f"{text}: {verdict}" if verdict else text


def floor_answer(variants: pd.DataFrame) -> str:
    """One sentence per distance: how many variants are within their like-for-like floor."""
    parts = []
    for name, title in (("mr_lsd_db", "MR log-spectral distance"),
                        ("frechet_logmel", "Fréchet log-mel")):
        verdicts = {variant: _floor_verdict(row, name) for variant, row in variants.iterrows()}
        judged = {variant: verdict for variant, verdict in verdicts.items() if verdict}
        if not judged:
            missing = ("clip sets of at most 64 log-mel frames" if name == "frechet_logmel"
                       else "no finished run logged one")
            parts.append(f"{title}: no floor ({missing})")
            continue
        within = [variant for variant, verdict in judged.items() if verdict == "within"]
        parts.append(f"{title}: {len(within)} of {len(judged)} variants within the floor"
                     + (f" ({', '.join(f'`{v}`' for v in within[:4])}"
                        + (" ..." if len(within) > 4 else "") + ")" if within else ""))
    return ("**Against real audio:** " + "; ".join(parts) + ". The floor is the distance of "
            "real held-out clip sets as many and as long as the generated ones, so a variant "
            "within it is as close to the held-out audio as real audio of that size.")


def training_audio_answer(frame: pd.DataFrame) -> str | None:
    """A warning when some runs measured quality on their training audio; None when none did."""
    on_train = int((frame["quality_reference"] == "train").sum())
    if not on_train:
        return None
    return (f"**Quality on training audio:** {on_train} of {len(frame)} runs used a dataset with "
            "nothing held out, so their Fréchet and log-spectral distances compare the generator "
            "with the audio it trained on and flatter it.")


def _unique(values: Sequence[str | None]) -> str:
    found = sorted({value for value in values if value})
    return ", ".join(f"`{value}`" for value in found) if found else "unknown (no MLflow run)"


def _header_bullets(data: _StudyData) -> list[str]:
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


def _missing_lines(data: _StudyData) -> list[str]:
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


def _study_section(document: Document, data: _StudyData) -> None:
    document.heading("Study")
    document.bullets(_header_bullets(data) + _spec_bullets(data))
    missing = _missing_lines(data)
    if missing:
        document.paragraph("**Missing from this report:**")
        document.bullets(missing)
    if data.reasons:
        document.paragraph("Why trials were pruned, failed or ran again:")
        document.table(["state", "reason", "trials", "trial numbers"], _reason_rows(data.reasons))
    else:
        document.paragraph("No trial was pruned or failed.")


def _build_report(data: _StudyData, folder: Path) -> dict[str, Any]:
    """Write index.html, report.md, the PNGs and clips, trials.csv and report.json into `folder`.

    Returns:
        The summary written to report.json.
    """
    group = "point" if data.axes else "cell"
    with tempfile.TemporaryDirectory(prefix="samplegan-report-") as temp:
        scratch = Path(temp)
        media = _Media.fetch(data, scratch, group)
        analysis = _Analysis.of(data, media.clip_onsets)
        frame = analysis.frame
        frame.to_csv(folder / "trials.csv", index=False)
        finished = int(frame["state"].isin(FINISHED_STATES).sum())
        document = Document(f"Ablation report: study `{data.name}`")
        document.paragraph(
            f"Generated {datetime.now(UTC).isoformat(timespec='seconds')} from Optuna storage "
            f"`{data.storage_display}` and MLflow `{data.tracking_display}`; {finished} of "
            f"{len(frame)} cells with a trial finished"
            + (f" ({data.design_cells} in the design)." if data.design_cells else "."))
        _study_section(document, data)
        document.heading("Answer")
        answers = _answers(data, analysis)
        document.bullets(answers)
        document.paragraph(_HOW_TO_READ)
        _variants_section(document, data, analysis)
        if analysis.factors:
            _effects_section(document, data, analysis, folder)
        if data.searched:
            _search_section(document, data, analysis, folder)
        _collapse_section(document, data, analysis, media, folder)
        _listening_section(document, data, analysis, media, folder, scratch)
        _trials_section(document, data, analysis, folder)
        _mlflow_section(document, data)
    document.paragraph("Files: `index.html` (self-contained: images and clips embedded), "
                       "`report.md` with the PNG plots and .wav clips beside it, `trials.csv` "
                       "(one row per cell, the numbers above), `report.json` (this summary for "
                       "programs).")

    (folder / "report.md").write_text(document.markdown())
    (folder / "index.html").write_text(document.html(folder))
    summary = {
        "study": data.name,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cells": len(frame),
        "cells_finished": finished,
        "trial_states": data.trial_states,
        "missing": _missing_lines(data),
        "answers": answers,
        "variants": _json_ready(analysis.variants.reset_index(names="variant")),
        "collapse_ranking": _json_ready(analysis.collapse_ranking),
        "objective_ranking": _json_ready(analysis.objective_ranking),
        "objective_tests": _json_ready(analysis.objective_tests),
        "collapse_tests": _json_ready(analysis.collapse_tests),
        "param_importances": data.importances,
        "mlflow_parent_run_id": data.parent_run_id,
    }
    (folder / REPORT_MARKER).write_text(json.dumps(summary, indent=2, default=_json_default))
    return summary


def _json_default(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else str(value)


def _json_ready(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{key: (None if isinstance(value, float) and not math.isfinite(value) else value)
             for key, value in row.items()} for row in table.to_dict(orient="records")]


def _check_replaceable(folder: Path, study_name: str) -> None:
    """Refuse to replace anything but an empty folder or an earlier report of this study."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise SampleGanError(f"{folder} exists and is not a folder; choose another --out")
    if not any(folder.iterdir()):
        return
    try:
        owner = json.loads((folder / REPORT_MARKER).read_text()).get("study")
    except (OSError, ValueError, AttributeError):
        owner = None
    if owner != study_name:
        raise SampleGanError(f"{folder} exists and is not a report of study {study_name!r}; "
                             "choose another --out or remove that folder")


def _move_into_place(building: Path, folder: Path) -> None:
    """Rename `building` to `folder`, retiring an earlier report only once the new one is whole."""
    if not folder.exists():
        building.rename(folder)
        return
    retired = folder.with_name(f".{folder.name}.old-{os.getpid()}-{time.time_ns()}")
    folder.rename(retired)
    try:
        building.rename(folder)
    except BaseException:
        retired.rename(folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def write_report(study_name: str, out: Path | None = None, storage: str | None = None,
                 tracking_uri: str | None = None) -> Path:
    """Write the ablation report of a study and log it to the study's parent MLflow run.

    The folder is built under a hidden temporary name beside `out` and renamed into place,
    so an interrupted report never looks complete; an existing `out` is replaced only if it
    is empty or an earlier report of the same study.

    Args:
        study_name: The study's name.
        out: Report folder [default: ``reports/<study>`` in the current directory].
        storage: Optuna storage URL (see `trials_frame`).
        tracking_uri: MLflow tracking URI (see `trials_frame`).

    Returns:
        The absolute path of ``index.html`` (self-contained: opens anywhere). Beside it:
        ``report.md``, ``trials.csv``, ``report.json`` (summary) and the PNG plots.

    Raises:
        SampleGanError: unknown study or storage, or `out` holds something else.
    """
    data = _read_study(study_name, storage, tracking_uri)
    folder = (Path(out) if out is not None else Path("reports") / study_name).absolute()
    _check_replaceable(folder, study_name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}.partial-", dir=folder.parent))
    try:
        _build_report(data, building)
        building.chmod(0o755)  # mkdtemp's 0700 would hide the report from other users
        with file_lock(folder.parent / f".{folder.name}.lock"):
            _check_replaceable(folder, study_name)
            _move_into_place(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    if data.tracking and data.parent_run_id:
        from mlflow.exceptions import MlflowException

        try:
            TrackedRun(data.tracking, data.parent_run_id).log_artifacts(folder, "report")
        except (MlflowException, OSError) as error:
            logger.warning("report written to %s but not logged to MLflow run %s: %s", folder,
                           data.parent_run_id, str(error).splitlines()[0] if str(error) else error)
    return folder / "index.html"
