"""`samplegan study status`: trials by state per grid point, best so far, time used and left."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import TrialState

from harness.study.plan import PLAN_ATTR, seconds_left
from harness.study.queue import CELL_ATTR
from harness.study.storage import open_existing_study

STATES = ("COMPLETE", "PRUNED", "RUNNING", "WAITING", "FAIL")


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
    """Progress of study `name` as one JSON-ready object."""
    opened, study = open_existing_study(name, storage)
    trials = study.get_trials(deepcopy=False)
    now = datetime.now()
    points: dict[str, Counter] = defaultdict(Counter)
    values: dict[str, list[float]] = defaultdict(list)
    cells_done = set()
    for trial in trials:
        cell = trial.user_attrs.get(CELL_ATTR, f"trial {trial.number}")
        point = cell.split("|", 1)[0]
        points[point][trial.state.name] += 1
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            values[point].append(trial.value)
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            cells_done.add(cell)
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
        "study": name,
        "storage": opened.display_url,
        "direction": study.direction.name.lower(),
        "cells": study.user_attrs.get("cells", len(cells_done)),
        "cells_done": len(cells_done),
        "trials": {state: sum(t.state.name == state for t in trials) for state in STATES},
        "points": [
            {"point": point, "states": {s: points[point].get(s, 0) for s in STATES},
             "values": values[point]}
            for point in sorted(points)
        ],
        "best": best,
        "time": {
            "trial_seconds": round(sum(_seconds(t, now) for t in trials), 1),
            "wall_seconds": round((max(ends) - min(starts)).total_seconds(), 1) if starts else 0.0,
            "predicted_seconds_left": None if plan is None else round(_left(plan, trials, now), 1),
        },
        "failed": [{"trial": t.number, "cell": t.user_attrs.get(CELL_ATTR),
                    "reason": t.user_attrs.get("error") or t.user_attrs.get("interrupted")
                    or t.user_attrs.get("stale") or "unknown"}
                   for t in trials if t.state == TrialState.FAIL],
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
    for point in status["points"]:
        mean = (sum(point["values"]) / len(point["values"])) if point["values"] else None
        lines.append(f"{point['point']:<{width}}  "
                     + "  ".join(f"{point['states'][s]:>8}" for s in STATES)
                     + f"  {'' if mean is None else f'{mean:.4g}'}")
    best = status["best"]
    if best:
        lines.append(f"best so far: trial {best['trial']} {best['cell']} -> {best['value']:.4g} "
                     f"({status['direction']}; MLflow run {best['mlflow_run_id']})")
    for failed in status["failed"]:
        lines.append(f"failed: trial {failed['trial']} {failed['cell']}: {failed['reason']}")
    for pruned in status["pruned"]:
        lines.append(f"pruned: trial {pruned['trial']} {pruned['cell']}: {pruned['reason']}")
    time_used = status["time"]
    left = time_used["predicted_seconds_left"]
    lines.append(f"time used: {time_used['trial_seconds']:.0f} s in trials, "
                 f"{time_used['wall_seconds']:.0f} s wall clock; predicted left: "
                 + ("unknown (launched before plans were recorded)" if left is None
                    else f"{left:.0f} s"))
    return "\n".join(lines)
