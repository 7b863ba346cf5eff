"""A study worker process: claim a queued cell, train it as a tracked child run, report back.

Started by the launcher (`python -m harness.study.worker`), one per GPU or per
`--workers`, with the storage URL in $SAMPLEGAN_STORAGE (never on the command line,
where a password would show in `ps`) and the GPU in $CUDA_VISIBLE_DEVICES.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from harness.common.quiet_tf import import_tensorflow_quietly, quiet_library_logging
from harness.common.redaction import redact_text
from harness.common.signals import Terminated, install_stop_handlers, raise_if_stop_requested
from harness.evaluation import catalogue
from harness.evaluation.diagnostics import COLLAPSED_LABELS
from harness.study.optuna_storage import StudyStorage, open_storage
from harness.study.prepared_data import dataset_dir
from harness.study.queue import (
    CELL_ATTR,
    CellStates,
    claim_waiting_trial,
    load_study,
    reconcile,
    worker_identity,
)
from harness.study.spec import Cell, Objective, StudySpec, load_spec
from harness.tracking.store import TrackingStore
from harness.training.events import Evaluation, StopTraining, TrainingObserver
from models.errors import SampleGanError

POLL_S = 2.0  # idle workers look for stale or re-queued trials this often
DEADLINE_ENV = "SAMPLEGAN_STUDY_DEADLINE"  # epoch seconds after which no new trial starts
PARENT_RUN_ATTR = "mlflow_parent_run_id"


def objective_value(objective: Objective, metrics: Mapping[str, float]) -> float | None:
    """The metric with collapsed outputs penalised, or None if the metric is missing."""
    value = metrics.get(objective.metric)
    if value is None:
        return None
    sign = 1.0 if objective.direction == "minimize" else -1.0
    return float(value) + sign * objective.collapse_penalty * float(
        metrics.get(catalogue.COLLAPSED_SHARE.key, 0.0))


class OptunaObserver(TrainingObserver):
    """Reports each evaluation to the trial and prunes collapsed (or median-beaten) trials."""

    def __init__(self, trial: optuna.Trial, spec: StudySpec, log=print):
        self.trial = trial
        self.spec = spec
        self.log = log
        self.evaluations = 0
        self.collapsed_streak = 0

    def on_evaluation(self, evaluation: Evaluation) -> None:
        pruner = self.spec.pruner
        metrics = evaluation.metrics()
        value = objective_value(self.spec.objective, metrics)
        if value is not None:
            self.trial.report(value, evaluation.step)
        self.evaluations += 1
        share = float(evaluation.diagnosis.metrics.get("collapsed_share") or 0.0)
        self.collapsed_streak = self.collapsed_streak + 1 if share >= pruner.collapsed_share else 0
        shown = "not computed" if value is None else f"{value:.6g}"
        self.log(f"trial {self.trial.number} step {evaluation.step}: "
                 f"{evaluation.diagnosis.label}, collapsed {share:.0%}, objective {shown}")
        if self.evaluations <= pruner.warmup_evaluations:
            return
        if "collapse" in pruner.kind and self.collapsed_streak >= pruner.patience:
            shares = {label: evaluation.diagnosis.metrics.get(f"share_{label}")
                      for label in COLLAPSED_LABELS}
            worst = max(shares, key=lambda label: shares[label] or 0.0)
            raise StopTraining(
                f"collapsed: {share:.0%} of clips collapsed (mostly {worst}) for "
                f"{self.collapsed_streak} evaluations in a row, at GAN step {evaluation.step}",
                kind="collapse")
        if "median" in pruner.kind and self.trial.should_prune():
            raise StopTraining(f"median pruner: objective {value} at GAN step {evaluation.step} "
                               "is worse than the median of earlier trials", kind="median")


class Heartbeat:
    """Records the trial's heartbeat every interval on storages that support it."""

    def __init__(self, storage: StudyStorage, trial_id: int, interval_s: float):
        self._stop = threading.Event()
        self._thread = None
        if storage.heartbeat:
            def beat() -> None:
                while True:
                    storage.optuna.record_heartbeat(trial_id)
                    if self._stop.wait(interval_s):
                        return

            self._thread = threading.Thread(target=beat, daemon=True, name="heartbeat")

    def __enter__(self) -> Heartbeat:
        if self._thread:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()


def _suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Grid values (fixed by the queue) and searched values, through Optuna's suggest API."""
    values = {axis: trial.suggest_categorical(axis, list(choices))
              for axis, choices in spec.grid.items()}
    for param in spec.search:
        if param.kind == "categorical":
            values[param.name] = trial.suggest_categorical(param.name, list(param.choices))
        elif param.kind == "int":
            values[param.name] = trial.suggest_int(param.name, int(param.low), int(param.high),
                                                   step=int(param.step or 1), log=param.log)
        else:
            values[param.name] = trial.suggest_float(param.name, param.low, param.high,
                                                     step=param.step, log=param.log)
    return values


def _previous_run_id(study: optuna.Study, cell_key: str, trial_number: int) -> str | None:
    """The MLflow run of an earlier, unfinished trial of the same cell (to resume it)."""
    earlier = [t for t in study.get_trials(deepcopy=False)
               if t.user_attrs.get(CELL_ATTR) == cell_key and t.number != trial_number
               and t.user_attrs.get("mlflow_run_id")]
    return earlier[-1].user_attrs["mlflow_run_id"] if earlier else None


def _cell_of(spec: StudySpec, trial: optuna.Trial) -> Cell:
    key = trial.user_attrs.get(CELL_ATTR)
    for cell in spec.cells():
        if cell.key == key:
            return cell
    raise SampleGanError(f"trial {trial.number} has cell {key!r}, which the spec does not define")


def _tell(study: optuna.Study, trial: optuna.Trial, log, attrs: Mapping[str, Any] | None = None,
          **outcome) -> None:
    """Set `attrs` and `study.tell`, unless another process already failed the trial as stale."""
    try:
        for key, value in (attrs or {}).items():
            trial.set_user_attr(key, value)
        study.tell(trial, **outcome)
    except optuna.exceptions.UpdateFinishedTrialError:
        log(f"trial {trial.number} was marked stale by another process meanwhile "
            "(missed heartbeats?); its cell will run again, its run stays in MLflow")


def run_trial(spec: StudySpec, study: optuna.Study, storage: StudyStorage,
              tracking: TrackingStore, trial_id: int, log=print) -> TrialState:
    """Train one claimed trial and tell Optuna how it ended."""
    from harness.runs.train import TrainRequest, tracked_training

    trial = optuna.Trial(study, trial_id)
    for key, value in worker_identity().items():
        trial.set_user_attr(key, value)
    started = time.monotonic()
    with Heartbeat(storage, trial_id, spec.storage.heartbeat_interval_s):
        try:
            cell = _cell_of(spec, trial)
            searched = _suggest(trial, spec)
            overrides = spec.trial_overrides(cell, searched)
            config = spec.config(cell, searched)
            log(f"trial {trial.number} started: {cell.key}")
            outcome = tracked_training(tracking, TrainRequest(
                experiment=spec.name, variant=spec.base_variant, overrides=overrides,
                dataset=dataset_dir(spec, config.sample_rate, config.n),
                seed=spec.trial_seed(cell), max_minutes=spec.budget.minutes_per_trial,
                resume_run_id=_previous_run_id(study, cell.key, trial.number),
                parent_run_id=study.user_attrs.get(PARENT_RUN_ATTR),
                tags={"samplegan.study": spec.name, "samplegan.cell": cell.key,
                      "optuna.study_name": spec.name, "optuna.trial_number": str(trial.number),
                      "samplegan.replicate": str(cell.replicate)},
                run_name=f"{spec.name} #{trial.number} {cell.key}", progress=False),
                extra_observer=OptunaObserver(trial, spec, log),
                on_run_started=lambda run_id: trial.set_user_attr("mlflow_run_id", run_id),
            )
            final = outcome.result.evaluations[-1].metrics()
            value = objective_value(spec.objective, final)
            if value is None:
                raise SampleGanError(f"objective metric {spec.objective.metric} was not computed")
            _tell(study, trial, log, values=value)
            log(f"trial {trial.number} COMPLETE: objective {value:.4g} "
                f"({time.monotonic() - started:.0f} s)")
            return TrialState.COMPLETE
        except StopTraining as stop:
            _tell(study, trial, log, {"prune_reason": stop.reason, "prune_kind": stop.kind},
                  state=TrialState.PRUNED)
            log(f"trial {trial.number} PRUNED: {stop.reason}")
            return TrialState.PRUNED
        except (KeyboardInterrupt, Terminated) as stop:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish the bookkeeping first
            _tell(study, trial, log, {"interrupted": type(stop).__name__}, state=TrialState.FAIL)
            log(f"trial {trial.number} interrupted ({type(stop).__name__})")
            raise
        except Exception as error:  # the study goes on; the error is on the trial and the run
            message = redact_text(f"{type(error).__name__}: {error}", storage.url, tracking.uri)
            first_line = message.splitlines()[0][:1000] if message else "error"
            _tell(study, trial, log, {"error": first_line}, state=TrialState.FAIL)
            log(f"trial {trial.number} FAIL: {message.splitlines()[0] if message else ''}")
            return TrialState.FAIL


def work(spec: StudySpec, storage: StudyStorage, tracking: TrackingStore, log=print,
         deadline: float | None = None) -> None:
    """Claim and run trials until every cell is done, failed for good, or the deadline passes."""
    study = load_study(spec, storage)
    while deadline is None or time.time() < deadline:
        raise_if_stop_requested()  # Ctrl-C between trials: take no new one
        trial_id = claim_waiting_trial(study, storage)
        if trial_id is not None:
            run_trial(spec, study, storage, tracking, trial_id, log)
            continue
        states = CellStates.read(study)
        if states.left(spec) == 0:
            return
        if not reconcile(study, spec, storage) and states.live_trials == 0:
            return  # nothing running, nothing to queue: remaining cells failed for good
        for _ in range(int(POLL_S / 0.1)):
            raise_if_stop_requested()
            time.sleep(0.1)
    log("study timeout reached; no new trials are started")


def _enable_gpu_memory_growth() -> None:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--worker-index", type=int, default=0)
    args = parser.parse_args(argv)
    prefix = f"[worker {args.worker_index}]"

    def log(message: str) -> None:
        print(f"{prefix} {message}", flush=True)

    install_stop_handlers()
    quiet_library_logging()
    import_tensorflow_quietly()
    try:
        spec = load_spec(args.spec)
        storage = open_storage(os.environ.get("SAMPLEGAN_STORAGE"), spec.storage)
        tracking = TrackingStore.open(os.environ.get("MLFLOW_TRACKING_URI"))
        _enable_gpu_memory_growth()
        deadline = float(os.environ[DEADLINE_ENV]) if os.environ.get(DEADLINE_ENV) else None
        log(f"started (CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '')!r})")
        work(spec, storage, tracking, log, deadline)
    except (KeyboardInterrupt, Terminated):
        log("stopped")
        return 130
    except SampleGanError as error:
        log(f"error: {error}")
        return 2
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
