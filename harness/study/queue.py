"""The study's cells as Optuna trials: create or resume the study, queue cells, claim them.

Every cell (grid point x replicate) is an enqueued Optuna trial (`enqueue_trial`), and
workers claim WAITING trials with the storage's atomic WAITING -> RUNNING transition,
the same way `Study.ask` pops its queue. Queueing happens under the storage's
exclusive lock and only for cells with no finished, running or waiting trial, so
every cell runs exactly once however many workers and launchers there are.
A cell's trial is re-queued when its worker died (stale) or was interrupted, or when
it raised (up to `budget.max_retries` times). Which cells are done, running or waiting,
to do or failed for good is `CellStates`, read from the trials in one go: the queue, the
plan, the launcher, the workers and `study status` all decide from it.
"""

from __future__ import annotations

import json
import math
import os
import socket
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import optuna
import psutil
from optuna.trial import TrialState

from harness.study.optuna_storage import StudyStorage
from harness.study.spec import Cell, StudySpec
from models.errors import SampleGanError

CELL_ATTR = "cell"
REPLICATE_ATTR = "replicate"
DONE_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
LIVE_STATES = (TrialState.RUNNING, TrialState.WAITING)
# psutil derives a start time from the kernel's boot time and clock ticks: a few ms of
# rounding at most, while a reused pid starts seconds or more after the dead worker did.
_CREATE_TIME_TOLERANCE_S = 0.05


def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    if "median" in spec.pruner.kind:
        return optuna.pruners.MedianPruner(n_startup_trials=2,
                                           n_warmup_steps=0, n_min_trials=2)
    return optuna.pruners.NopPruner()


def load_study(spec: StudySpec, storage: StudyStorage) -> optuna.Study:
    """Load the existing study of `spec` (it must exist)."""
    _quiet_optuna()
    return optuna.load_study(study_name=spec.name, storage=storage.optuna,
                             sampler=optuna.samplers.TPESampler(seed=spec.seed),
                             pruner=make_pruner(spec))


def create_or_resume(spec: StudySpec, storage: StudyStorage) -> tuple[optuna.Study, bool]:
    """The study of `spec`, created if new; refuses to resume a study made from another spec.

    Returns:
        (study, created). Call under `storage.exclusive(spec.name)`.
    """
    _quiet_optuna()
    existing = optuna.get_all_study_names(storage.optuna)
    if spec.name not in existing:
        study = optuna.create_study(study_name=spec.name, storage=storage.optuna,
                                    direction=spec.objective.direction,
                                    sampler=optuna.samplers.TPESampler(seed=spec.seed),
                                    pruner=make_pruner(spec))
        with warnings.catch_warnings():  # "experimental" since Optuna 3.2; still the only way
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([spec.objective.name])  # the dashboard's name for the values
        study.set_user_attr("spec_fingerprint", spec.fingerprint())
        study.set_user_attr("spec", json.dumps(spec.source, default=str))
        study.set_user_attr("cells", len(spec.cells()))
        study.set_user_attr("grid_axes", sorted(spec.grid))
        study.set_user_attr("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
        return study, True
    study = load_study(spec, storage)
    fingerprint = study.user_attrs.get("spec_fingerprint")
    if fingerprint != spec.fingerprint():
        raise SampleGanError(
            f"study {spec.name!r} already exists in {storage.display_url} with a different spec "
            f"(fingerprint {fingerprint} vs {spec.fingerprint()}); rename the study in the spec "
            "to start a new one — resuming would mix incomparable trials"
        )
    return study, False


# ------------------------------------------------------------------------ liveness
def process_create_time(pid: int) -> float | None:
    """When process `pid` started (seconds since the epoch, as psutil reports it), or None
    when it is gone: no such process, or one that exited and waits to be reaped (a zombie).
    A reused pid has a later start, so (pid, start) names one process for good; NaN when
    the start cannot be read (another user's process), which counts as alive."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return math.nan


def worker_identity() -> dict[str, str]:
    pid = os.getpid()
    created = process_create_time(pid)
    return {"worker.host": socket.gethostname(), "worker.pid": str(pid),
            "worker.create_time": "" if created is None else repr(created),
            "worker.cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "")}


def is_dead_local_worker(attrs: Mapping[str, Any]) -> bool:
    """True when a trial's worker (its `worker_identity` attributes) ran on this machine and
    that process is gone: its pid missing, a zombie, or taken by a process that started at
    another time."""
    if attrs.get("worker.host") != socket.gethostname() or "worker.pid" not in attrs:
        return False
    created = process_create_time(int(attrs["worker.pid"]))
    if created is None:
        return True
    try:
        recorded = float(attrs.get("worker.create_time", ""))
    except ValueError:  # recorded before create times were: the pid alone must do
        return False
    return not math.isnan(created) and abs(created - recorded) > _CREATE_TIME_TOLERANCE_S


def fail_stale_trials(study: optuna.Study, storage: StudyStorage) -> list[int]:
    """Fail RUNNING trials whose worker is gone (dead local process, or no heartbeat)."""
    failed = []
    if storage.heartbeat:
        before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        optuna.storages.fail_stale_trials(study)
        now_failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
        failed.extend(sorted(before & now_failed))
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if is_dead_local_worker(trial.user_attrs):
            try:
                # Say why before finishing it: a finished trial takes no more attributes.
                storage.optuna.set_trial_user_attr(trial._trial_id, "stale", "worker process died")
                if storage.optuna.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                    failed.append(trial.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue
    return failed


# ------------------------------------------------------------------ the cells' states
def cell_key(trial: optuna.trial.FrozenTrial) -> str:
    """The cell a trial ran (a trial queued without one stands for a cell of its own)."""
    return trial.user_attrs.get(CELL_ATTR, f"trial {trial.number}")


@dataclass(frozen=True)
class CellStates:
    """Where a study's cells stand, from one read of its trials: what the plan, the queue,
    the launcher, the workers and `study status` decide from.

    A cell is done once a trial of it completed or was pruned; failed for good when it is
    not done and more of its trials raised than `budget.max_retries` allows (interrupted
    trials and trials of dead workers do not count); to do otherwise, running or waiting
    while a trial of it is, and to queue when none is.
    """

    done: frozenset[str]  # keys of cells with a COMPLETE or PRUNED trial
    live: frozenset[str]  # keys of cells with a RUNNING or WAITING trial
    failures: Mapping[str, int]  # trials that raised, by cell key
    done_trials: int  # COMPLETE or PRUNED trials
    running_trials: int
    waiting_trials: int

    @classmethod
    def of(cls, trials: Sequence[optuna.trial.FrozenTrial]) -> CellStates:
        return cls(done=frozenset(cell_key(t) for t in trials if t.state in DONE_STATES),
                   live=frozenset(cell_key(t) for t in trials if t.state in LIVE_STATES),
                   failures=Counter(cell_key(t) for t in trials
                                    if t.state == TrialState.FAIL and "error" in t.user_attrs),
                   done_trials=sum(t.state in DONE_STATES for t in trials),
                   running_trials=sum(t.state == TrialState.RUNNING for t in trials),
                   waiting_trials=sum(t.state == TrialState.WAITING for t in trials))

    @classmethod
    def read(cls, study: optuna.Study) -> CellStates:
        """The states now: one read of the study's trials."""
        return cls.of(study.get_trials(deepcopy=False))

    @property
    def live_trials(self) -> int:
        """Trials running or waiting."""
        return self.running_trials + self.waiting_trials

    def failed_for_good(self, spec: StudySpec) -> list[Cell]:
        """Cells not done that raised more often than `budget.max_retries`: not run again."""
        return [cell for cell in spec.cells() if cell.key not in self.done
                and self.failures.get(cell.key, 0) > spec.budget.max_retries]

    def to_do(self, spec: StudySpec) -> list[Cell]:
        """Cells not done and not failed for good, running or waiting ones included, in queue
        order: what is left to run."""
        finished = self.done | {cell.key for cell in self.failed_for_good(spec)}
        return [cell for cell in spec.cells() if cell.key not in finished]

    def to_queue(self, spec: StudySpec) -> list[Cell]:
        """Cells to do with no trial running or waiting: each needs a (new) trial."""
        return [cell for cell in self.to_do(spec) if cell.key not in self.live]

    def left(self, spec: StudySpec) -> int:
        """Cells not done, failed for good included."""
        return sum(cell.key not in self.done for cell in spec.cells())


def read_cell_states(spec: StudySpec, storage: StudyStorage | None) -> CellStates:
    """The states of `spec`'s study in `storage`, read-only: no storage or no study yet is
    a study without trials (every cell to do)."""
    if storage is None:
        return CellStates.of([])
    _quiet_optuna()
    if spec.name not in optuna.get_all_study_names(storage.optuna):
        return CellStates.of([])
    return CellStates.read(load_study(spec, storage))


# --------------------------------------------------------------------------- queueing
def queue_missing_cells(study: optuna.Study, spec: StudySpec) -> list[str]:
    """Enqueue every cell to do with no running or waiting trial; return their keys.

    Call under `storage.exclusive(spec.name)` after `fail_stale_trials`.
    """
    queued = []
    for cell in CellStates.read(study).to_queue(spec):
        study.enqueue_trial(params=cell.params,
                            user_attrs={CELL_ATTR: cell.key, REPLICATE_ATTR: cell.replicate},
                            skip_if_exists=False)
        queued.append(cell.key)
    return queued


def reconcile(study: optuna.Study, spec: StudySpec, storage: StudyStorage) -> list[str]:
    """Fail stale trials and queue the cells that need a (new) trial, under the lock."""
    with storage.exclusive(spec.name):
        fail_stale_trials(study, storage)
        return queue_missing_cells(study, spec)


def claim_waiting_trial(study: optuna.Study, storage: StudyStorage) -> int | None:
    """Atomically take one WAITING trial (WAITING -> RUNNING); its trial id, or None."""
    for trial in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.optuna.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                return trial._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None
