"""Reading a study for its report: the Optuna study and its MLflow runs, joined into one frame.

`trials_frame` gives one row per cell (the cell's latest finished trial). A trial pruned
as collapsed counts as fully collapsed (`collapsed_outcome` = 1), and a pruned trial
enters the objective analysis with the last value it reported.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from harness.common.files import store_dir
from harness.common.redaction import redact_url
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import LABELS
from harness.report.document import level_text
from harness.report.media import (
    first_collapsed_step,
)
from harness.report.stats import (
    COLLAPSE,
    FINISHED_STATES,
    OBJECTIVE,
)
from harness.runs.train import MUSIC_TAG
from harness.study.spec import Objective, Pruner, objective_name
from harness.study.status import failure_reason, trial_outcomes
from harness.tracking.store import StoreMissing, TrackingStore, retrying
from models.config import canonical_key

# Frame columns filled from each run's latest metric values; NaN when the run or metric is
# missing. A column is the entry's name (`report_column`); a metric with a floor also fills
# ``<column>_real_vs_real`` and ``<column>_real_vs_real_p95``.
REPORTED_METRICS = (
    catalogue.COLLAPSED_SHARE, *(catalogue.metric(catalogue.share_key(label)) for label in LABELS),
    catalogue.MEAN_ONSET, catalogue.DIVERSITY, *catalogue.floor_metrics(),
    catalogue.GENERATION_SPEED, catalogue.TEACHER_LOSS, catalogue.BASELINE_LINEAR,
    catalogue.BASELINE_MARGINAL, catalogue.GAIN_OVER_LINEAR, catalogue.TEACHER_LOSS_BITS,
    catalogue.GAIN_OVER_LINEAR_BITS,
)
_COLUMN_NAMES = {catalogue.MEAN_ONSET.key: "mean_onset_over_n"}


def report_column(entry: catalogue.Metric) -> str:
    """The frame column of a catalogue entry: its name (a few are shorter)."""
    return _COLUMN_NAMES.get(entry.key, entry.name)


METRIC_COLUMNS = {
    column: key
    for entry in REPORTED_METRICS
    for column, key in ((report_column(entry), entry.key),
                        *(((report_column(entry) + catalogue.FLOOR_PARTS[part], entry.floor_key(part))
                           for part in ("mean", "p95")) if entry.floor else ()))
}


TAG_COLUMNS = {"outcome": "samplegan.outcome", "final_label": "samplegan.final_label",
               "quality_reference": "samplegan.quality_reference", "music_status": MUSIC_TAG}


TRIAL_STATES = ("COMPLETE", "PRUNED", "FAIL", "RERUN", "RUNNING", "WAITING")


# Studies recorded before workers stored `prune_kind` say why only in `prune_reason`, whose
# text for a collapse starts with this word (the median pruner's does not).
LEGACY_COLLAPSE_REASON_PREFIX = "collapsed"


def parse_cell_key(key: str) -> tuple[dict[str, Any], int | None]:
    """The grid point and replicate of a cell key.

    ``generator="stateful",prefilter=false|rep=1`` -> ({"generator": "stateful",
    "prefilter": False}, 1). An axis renamed since the study ran reads as its new name
    (``lstm_mode`` as ``generator``).

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
        point[canonical_key(axis)] = value
        if position < len(point_text):
            if point_text[position] != ",":
                return {}, None
            position += 1
    return point, int(replicate_text)


def with_current_keys(spec: dict[str, Any]) -> dict[str, Any]:
    """A stored spec whose config keys (grid and search axes, overrides) are renamed to
    their current names, so a study recorded under an old name (`lstm_mode`) groups as
    one recorded today."""
    renamed = dict(spec)
    design = dict(spec.get("design", {}))
    for table in ("grid", "search"):
        if table in design:
            design[table] = {canonical_key(key): value for key, value in design[table].items()}
    renamed["design"] = design
    if "overrides" in spec:
        renamed["overrides"] = {canonical_key(key): value for key, value in spec["overrides"].items()}
    return renamed


def prune_kind(attrs: Mapping[str, Any]) -> str:
    """Which rule pruned a trial: its `prune_kind` user attribute ("collapse", "median", ...).

    Trials of studies recorded before the worker stored it fall back on their `prune_reason`:
    "collapse" when the reason is missing (the default pruner) or starts with
    `LEGACY_COLLAPSE_REASON_PREFIX`, else "median" or "other".
    """
    kind = attrs.get("prune_kind")
    if kind:
        return str(kind)
    reason = attrs.get("prune_reason")
    if not reason or reason.startswith(LEGACY_COLLAPSE_REASON_PREFIX):
        return "collapse"
    return "median" if reason.startswith("median") else "other"


def collapsed_outcome(state: str, kind: str | None, collapsed_share: float) -> float:
    """The value a trial contributes to the collapse analysis.

    Args:
        state: Optuna trial state name.
        kind: For a pruned trial, the rule that pruned it (`prune_kind`).
        collapsed_share: Share of collapsed clips at the run's last evaluation (NaN if unknown).

    Returns:
        1.0 for a trial pruned as collapsed; the measured share for other finished trials,
        including median-pruned ones; NaN for trials that did not finish.
    """
    if state == "PRUNED" and kind == "collapse":
        return 1.0
    if state in FINISHED_STATES:
        return float(collapsed_share)
    return math.nan


@dataclass
class StudyData:
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
    from harness.study.optuna_storage import open_existing_study

    return open_existing_study(study_name, storage)


def _open_tracking(tracking_uri: str | None) -> tuple[str, TrackingStore | None]:
    """(display URI, store); no store when there is none there (none is created)."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or (
        f"sqlite:///{store_dir() / 'mlflow.db'}")
    try:
        store = TrackingStore.open(uri, create=False)
    except StoreMissing:
        return redact_url(uri) or uri, None
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
        "prune_kind": prune_kind(attrs) if state == "PRUNED" else None,
        "error": failure_reason(attrs),
        "attempts": attempts,
        "duration_s": trial.duration.total_seconds() if trial.duration else math.nan,
        "mlflow_run_id": attrs.get("mlflow_run_id"),
    }


def read_study(study_name: str, storage: str | None, tracking_uri: str | None) -> StudyData:
    opened, study = _open_study(study_name, storage)
    spec = with_current_keys(json.loads(study.user_attrs.get("spec", "{}")))
    axes = [canonical_key(axis) for axis in
            study.user_attrs.get("grid_axes", sorted(spec.get("design", {}).get("grid", {})))]
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
    for row in progress(rows, "report: reading runs"):
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
        row[COLLAPSE] = collapsed_outcome(row["state"], row.pop("prune_kind"),
                                          row["collapsed_share"])
    frame = pd.DataFrame(rows, columns=_frame_columns(axes, searched))
    importances, importance_note = _importances(study, searched)
    return StudyData(
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


def progress(items: Sequence, description: str):
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
        when the run's dataset held nothing out) and ``music_status`` ("computed: ..." or
        "skipped: <why>", the run's `samplegan.music` tag),
        ``prune_reason``, ``error``, ``attempts`` (trials of the cell),
        ``duration_s``, ``mlflow_run_id``, ``mlflow_status``. Metrics of a missing run are NaN.

    Raises:
        SampleGanError: no such study or storage, or an unusable tracking store.
    """
    return read_study(study_name, storage, tracking_uri).frame


def spec_objective_name(spec: Mapping[str, Any]) -> str:
    """What the trials' values are, named as the Optuna dashboard names them (`objective_name`)."""
    objective = spec.get("objective", {})
    return objective_name(objective.get("metric", Objective.metric),
                          objective.get("direction", Objective.direction),
                          float(objective.get("collapse_penalty", Objective.collapse_penalty)))


def study_factors(data: StudyData) -> list[str]:
    """Grid axes plus searched parameters with choices: everything with discrete levels."""
    search = data.spec.get("design", {}).get("search", {})
    return data.axes + [name for name in data.searched if "choices" in search.get(name, {})]


def numeric_searched(data: StudyData) -> list[str]:
    search = data.spec.get("design", {}).get("search", {})
    return [name for name in data.searched if "choices" not in search.get(name, {})]
