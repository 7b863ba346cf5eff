"""`samplegan study status`: trials by state per grid point, best so far, time used and left.

A trial that failed or was interrupted is no failure of the study once its cell has run
again and finished: it is counted as RERUN, not FAIL, here and in the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import TrialState

from harness.study.optuna_storage import StudyStorage, open_existing_study
from harness.study.plan import PLAN_ATTR, seconds_left
from harness.study.queue import CELL_ATTR, CellStates, cell_key

STATES = ("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL", "RERUN")


def trial_outcomes(trials: list[optuna.trial.FrozenTrial]) -> dict[int, str]:
    """Each trial's state for reporting, by trial number: Optuna's state name, except that a
    failed (or interrupted, or stale) trial of a done cell is "RERUN"."""
    done = CellStates.of(trials).done
    return {t.number: "RERUN" if t.state == TrialState.FAIL and cell_key(t) in done
            else t.state.name for t in trials}


def failure_reason(attrs: Mapping[str, Any]) -> str | None:
    """Why a trial failed, from the attribute its worker or the launcher left (see queue.py)."""
    return attrs.get("error") or attrs.get("interrupted") or attrs.get("stale")


def last_reported(trial: optuna.trial.FrozenTrial) -> float | None:
    """The objective a finished trial contributes: its value, or a pruned trial's last report."""
    if trial.state == TrialState.COMPLETE:
        return trial.value
    if trial.state == TrialState.PRUNED and trial.intermediate_values:
        return trial.intermediate_values[max(trial.intermediate_values)]
    return None


def _seconds(trial: optuna.trial.FrozenTrial, now: datetime) -> float:
    if trial.datetime_start is None:
        return 0.0
    end = trial.datetime_complete or now
    return max(0.0, (end - trial.datetime_start).total_seconds())


def _left(plan: dict[str, Any], trials: list[optuna.trial.FrozenTrial], now: datetime) -> float:
    """Seconds left by the launcher's plan: running trials finish, waiting ones run."""
    def predicted(trial: optuna.trial.FrozenTrial) -> float:
        point = trial.user_attrs.get(CELL_ATTR, "").split("|", 1)[0]
        return plan["trial_seconds"].get(point, 0.0)

    queued = [predicted(t) for t in trials if t.state == TrialState.WAITING]
    running = [(predicted(t), _seconds(t, now)) for t in trials if t.state == TrialState.RUNNING]
    return seconds_left(queued, running, plan["workers"])


def study_status(name: str, storage: str | None = None) -> dict[str, Any]:
    """Progress of study `name` in the storage at `storage` (opened read-only) as one
    JSON-ready object."""
    opened, study = open_existing_study(name, storage)
    return status_of(study, opened)


def status_of(study: optuna.Study, storage: StudyStorage) -> dict[str, Any]:
    """Progress of `study`, opened in `storage`, as `study_status` gives it."""
    trials = study.get_trials(deepcopy=False)
    outcomes = trial_outcomes(trials)
    now = datetime.now()
    points: dict[str, Counter] = defaultdict(Counter)
    values: dict[str, list[float]] = defaultdict(list)
    pruned_values: dict[str, list[float]] = defaultdict(list)
    for trial in trials:
        point = cell_key(trial).split("|", 1)[0]
        points[point][outcomes[trial.number]] += 1
        value = last_reported(trial)
        if value is not None:
            (values if trial.state == TrialState.COMPLETE else pruned_values)[point].append(value)
    cells_done = CellStates.of(trials).done
    complete = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    best = None
    if complete:
        pick = min if study.direction == optuna.study.StudyDirection.MINIMIZE else max
        trial = pick(complete, key=lambda t: t.value)
        best = {"trial": trial.number, "value": trial.value, "cell": trial.user_attrs.get(CELL_ATTR),
                "params": trial.params, "mlflow_run_id": trial.user_attrs.get("mlflow_run_id")}
    starts = [t.datetime_start for t in trials if t.datetime_start]
    plan = study.user_attrs.get(PLAN_ATTR)
    ends = [t.datetime_complete or now for t in trials if t.datetime_start]
    return {
        "study": study.study_name,
        "storage": storage.display_url,
        "direction": study.direction.name.lower(),
        "cells": study.user_attrs.get("cells", len(cells_done)),
        "cells_done": len(cells_done),
        "trials": {state: sum(outcome == state for outcome in outcomes.values())
                   for state in STATES},
        "points": [
            {"point": point, "states": {s: points[point].get(s, 0) for s in STATES},
             "values": values[point], "pruned_values": pruned_values[point]}
            for point in sorted(points)
        ],
        "best": best,
        "time": {
            "trial_seconds": round(sum(_seconds(t, now) for t in trials), 1),
            "wall_seconds": round((max(ends) - min(starts)).total_seconds(), 1) if starts else 0.0,
            "predicted_seconds_left": None if plan is None else round(_left(plan, trials, now), 1),
        },
        "failed": [{"trial": t.number, "cell": t.user_attrs.get(CELL_ATTR),
                    "reason": failure_reason(t.user_attrs) or "unknown"}
                   for t in trials if outcomes[t.number] == "FAIL"],
        "rerun": [{"trial": t.number, "cell": t.user_attrs.get(CELL_ATTR),
                   "reason": failure_reason(t.user_attrs) or "unknown"}
                  for t in trials if outcomes[t.number] == "RERUN"],
        "pruned": [{"trial": t.number, "cell": t.user_attrs.get(CELL_ATTR),
                    "reason": t.user_attrs.get("prune_reason")}
                   for t in trials if t.state == TrialState.PRUNED],
    }


def format_status(status: dict[str, Any]) -> str:
    """A readable table of `study_status`."""
    lines = [f"study {status['study']} ({status['storage']}): {status['cells_done']}/"
             f"{status['cells']} cells done; trials " +
             ", ".join(f"{count} {state.lower()}" for state, count in status["trials"].items()
                       if count)]
    width = max([len(p["point"]) for p in status["points"]] + [10])
    lines.append(f"{'grid point':<{width}}  " + "  ".join(f"{s[:8]:>8}" for s in STATES)
                 + "  mean objective")
    any_pruned = False
    for point in status["points"]:
        scored = point["values"] + point["pruned_values"]
        mean = f"{sum(scored) / len(scored):.6g}" if scored else ""
        if point["pruned_values"]:
            mean += "*"
            any_pruned = True
        lines.append(f"{point['point']:<{width}}  "
                     + "  ".join(f"{point['states'][s]:>8}" for s in STATES) + f"  {mean}")
    if any_pruned:
        lines.append("* with the last value pruned trials reported (from earlier steps), as the "
                     "report counts them")
    best = status["best"]
    if best:
        lines.append(f"best so far: trial {best['trial']} {best['cell']} -> {best['value']:.6g} "
                     f"({status['direction']}; MLflow run {best['mlflow_run_id']})")
    elif status["trials"]["PRUNED"]:
        lines.append("best so far: none (no trial completed; pruned trials stopped early, so "
                     "none of them is a best)")
    for failed in status["failed"]:
        lines.append(f"failed: trial {failed['trial']} {failed['cell']}: {failed['reason']}")
    for rerun in status["rerun"]:
        lines.append(f"re-run: trial {rerun['trial']} {rerun['cell']} ({rerun['reason']}); its "
                     "cell has since finished")
    for pruned in status["pruned"]:
        lines.append(f"pruned: trial {pruned['trial']} {pruned['cell']}: {pruned['reason']}")
    time_used = status["time"]
    left = time_used["predicted_seconds_left"]
    lines.append(f"time used: {time_used['trial_seconds']:.0f} s in trials, "
                 f"{time_used['wall_seconds']:.0f} s wall clock; predicted left: "
                 + ("unknown (launched before plans were recorded)" if left is None
                    else f"{left:.0f} s"))
    return "\n".join(lines)
