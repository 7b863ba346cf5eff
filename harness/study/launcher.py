"""`samplegan study run`: validate, prepare, queue, start workers, wait, summarise.

Everything that could fail on bad input (spec, storage, tracking store, datasets)
happens before the first worker starts. The MLflow database and the Optuna storage
are created here, once, so workers never race to create them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from harness.common.signals import Terminated, install_termination_handler
from harness.study.optuna_storage import StudyStorage, open_storage
from harness.study.plan import PLAN_ATTR, StudyPlan, budget_refusal, plan_study
from harness.study.prepared_data import prepare_datasets
from harness.study.queue import (
    CellStates,
    create_or_resume,
    fail_stale_trials,
    queue_missing_cells,
)
from harness.study.spec import StudySpec, load_spec
from harness.study.status import format_status, status_of
from harness.study.worker import DEADLINE_ENV, PARENT_RUN_ATTR
from harness.tracking.store import (
    FAILED,
    FINISHED,
    KILLED,
    OUTCOME_TAG,
    RUNNING,
    TrackedRun,
    TrackingStore,
    retrying,
)
from models.errors import SampleGanError

STOP_GRACE_S = 300.0  # workers finish their current step (a paper-size CPU step: ~1 min)


def plan_workers(workers: int | None, gpus: str | None) -> list[dict[str, str]]:
    """Environment overrides of each worker: one per GPU, or `workers` on what there is."""
    if gpus is None:
        return [{} for _ in range(workers or 1)]
    if gpus.strip() == "all":
        ids = _visible_gpu_ids()
    else:
        ids = [part.strip() for part in gpus.split(",") if part.strip()]
        if not ids or not all(part.isdigit() for part in ids):
            raise SampleGanError(f"--gpus expects ids like 0,1 or 'all', got {gpus!r}")
        if len(set(ids)) != len(ids):
            raise SampleGanError(f"--gpus lists a GPU twice: {gpus!r}")
    if workers is not None and workers != len(ids):
        raise SampleGanError(f"--workers {workers} contradicts --gpus {gpus} ({len(ids)} GPUs): "
                             "there is one worker per GPU; drop --workers")
    return [{"CUDA_VISIBLE_DEVICES": gpu} for gpu in ids]


def _visible_gpu_ids() -> list[str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        raise SampleGanError("--gpus all: nvidia-smi is not available, so no GPU can be found; "
                             "pass ids (--gpus 0,1) or use --workers N")
    listing = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    ids = [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU ")]
    if not ids:
        raise SampleGanError("--gpus all: nvidia-smi lists no GPU; use --workers N")
    return ids


def _ensure_parent_run(spec: StudySpec, study, tracking: TrackingStore,
                       storage: StudyStorage) -> str:
    """The study's one parent MLflow run (found again on resume), marked RUNNING."""
    parent_id = study.user_attrs.get(PARENT_RUN_ATTR)
    if parent_id:
        run = TrackedRun.start(tracking, spec.name, resume_run_id=parent_id)
    else:
        run = TrackedRun.start(tracking, spec.name, run_name=f"study {spec.name}",
                               tags={"samplegan.study": spec.name, "samplegan.role": "study",
                                     "optuna.study_name": spec.name,
                                     "optuna.storage": storage.display_url})
        study.set_user_attr(PARENT_RUN_ATTR, run.run_id)
        run.log_params({"study.name": spec.name, "study.base_variant": spec.base_variant,
                        "study.cells": len(spec.cells()), "study.grid": dict(spec.grid),
                        "study.replicates": spec.replicates,
                        "study.objective": f"{spec.objective.direction} {spec.objective.metric}",
                        "study.spec_fingerprint": spec.fingerprint()})
        run.log_json(spec.source, "study_spec.json")
    return run.run_id


def _start_workers(spec_path: Path, plans: list[dict[str, str]], storage: StudyStorage,
                   tracking: TrackingStore, deadline: float | None) -> list[subprocess.Popen]:
    processes = []
    for index, extra in enumerate(plans):
        env = {**os.environ, **extra, "SAMPLEGAN_STORAGE": storage.url,
               "MLFLOW_TRACKING_URI": tracking.uri, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONUNBUFFERED": "1"}
        if deadline is not None:
            env[DEADLINE_ENV] = str(deadline)
        # Own session: a terminal's Ctrl-C reaches only the launcher, which then sends each
        # worker exactly one SIGINT (a second one could cut its bookkeeping short).
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "harness.study.worker", "--spec", str(spec_path),
             "--worker-index", str(index)], env=env, start_new_session=True))
    return processes


def _stop_workers(processes: list[subprocess.Popen], sig: int) -> None:
    """Ask workers to stop after their current step; a second Ctrl-C makes it immediate."""
    def signal_alive() -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(sig)

    def wait_all(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))

    signal_alive()
    try:
        wait_all(STOP_GRACE_S)
    except KeyboardInterrupt:
        print("second Ctrl-C: stopping the workers now", flush=True)
        signal_alive()  # a worker's second signal raises wherever it is
        wait_all(30.0)
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def _kill_runs_of_dead_workers(study, storage: StudyStorage, tracking: TrackingStore) -> None:
    """Trials whose worker died unannounced: FAIL in Optuna (stale), KILLED in MLflow."""
    with storage.exclusive(study.study_name):
        failed = fail_stale_trials(study, storage)
    trials = study.get_trials(deepcopy=False)
    for number in failed:
        run_id = trials[number].user_attrs.get("mlflow_run_id")
        if run_id:
            run = tracking.client().get_run(run_id)
            if run.info.status == RUNNING:
                retrying(tracking.client().set_tag, run_id, OUTCOME_TAG, "interrupted")
                retrying(tracking.client().set_terminated, run_id, status=KILLED)


def _check_plan(spec: StudySpec, spec_path: Path, plans: list[dict[str, str]],
                storage: StudyStorage, datasets: Mapping[tuple[int, int], Path],
                yes: bool) -> StudyPlan:
    """Print the plan's total; refuse a study over its budget unless `yes`."""
    plan = plan_study(spec, spec_path, plans, storage, datasets)
    trials = sum(point.trials for point in plan.points)
    slowest = max(plan.points, key=lambda point: point.trial_seconds, default=None)
    print(f"plan: {trials} trial(s) to do, predicted {plan.total_seconds / 60:.1f} min on "
          f"{plan.workers} worker(s)" + (f" (slowest: {slowest.point}, "
                                         f"{slowest.trial_seconds / 60:.1f} min per trial)"
                                         if slowest else "")
          + (f"; calibration took {plan.calibration_seconds:.0f} s"
             if plan.calibration_seconds else ""), flush=True)
    refusal = budget_refusal(spec, plan)
    if refusal and not yes:
        raise SampleGanError(f"{refusal}; reshape {spec_path} or pass --yes to start anyway")
    if refusal:
        print(f"warning: {refusal}; starting anyway (--yes)", flush=True)
    return plan


def _wait_for_workers(processes: list[subprocess.Popen]) -> bool:
    """Wait until every worker has ended; True if Ctrl-C or SIGTERM stopped them first."""
    try:
        while any(process.poll() is None for process in processes):
            time.sleep(0.5)
    except (KeyboardInterrupt, Terminated):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping workers after their current step (trials in flight are recorded as "
              "interrupted; Ctrl-C again to stop at once) ...", flush=True)
        _stop_workers(processes, signal.SIGINT)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return True
    return False


def _end_study(spec: StudySpec, study, study_storage: StudyStorage, tracking: TrackingStore,
               parent: TrackedRun, processes: list[subprocess.Popen], deadline: float | None,
               interrupted: bool) -> int:
    """Record how the workers ended: print the status, end the parent run unless trials run
    elsewhere; returns the cells left to do."""
    if any(process.returncode not in (0, 130, 2) for process in processes):
        _kill_runs_of_dead_workers(study, study_storage, tracking)
    status = status_of(study, study_storage)
    print(format_status(status), flush=True)
    left = CellStates.read(study).left(spec)
    running = status["trials"]["RUNNING"]
    parent.log_json(status, "study_status.json")
    timed_out = deadline is not None and time.time() >= deadline
    if running:  # workers of another launcher (another machine) are still at it
        print(f"{running} trial(s) still running elsewhere; the parent run stays RUNNING "
              "until the last launcher ends", flush=True)
    else:
        parent.end(FINISHED if left == 0 and not interrupted
                   else KILLED if interrupted or timed_out else FAILED)
    return left


def run_study(spec_path: Path, *, workers: int | None = None, gpus: str | None = None,
              storage: str | None = None, tracking_uri: str | None = None,
              yes: bool = False) -> int:
    """Launch or resume the study in `spec_path`; returns the process exit code.

    Refuses (before the study is created or resumed) a study whose plan exceeds its
    budget, unless `yes`.
    """
    spec = load_spec(spec_path)
    plans = plan_workers(workers, gpus)
    install_termination_handler()
    tracking = TrackingStore.open(tracking_uri)
    study_storage = open_storage(storage, spec.storage)
    print(f"study {spec.name}: {len(spec.cells())} cells "
          f"({' x '.join(f'{len(v)} {k}' for k, v in sorted(spec.grid.items())) or 'search'}"
          f" x {spec.replicates} replicate(s)); storage {study_storage.display_url}; "
          f"tracking {tracking.display_uri}", flush=True)
    datasets = prepare_datasets(spec, log=lambda message: print(message, flush=True))
    plan = _check_plan(spec, spec_path, plans, study_storage, datasets, yes)
    with study_storage.exclusive(spec.name):
        study, created = create_or_resume(spec, study_storage)
        study.set_user_attr(PLAN_ATTR, plan.summary())
        parent_run_id = _ensure_parent_run(spec, study, tracking, study_storage)
        fail_stale_trials(study, study_storage)
        queued = queue_missing_cells(study, spec)
    states = CellStates.read(study)
    print(f"{'created' if created else 'resuming'} study {spec.name}: {states.done_trials} trial(s) done, "
          f"{len(queued)} cell(s) queued now; MLflow parent run {parent_run_id}", flush=True)

    deadline = None
    if spec.budget.timeout_minutes is not None:
        deadline = time.time() + 60.0 * spec.budget.timeout_minutes
    processes = []
    if states.waiting_trials:
        processes = _start_workers(Path(spec_path).resolve(), plans, study_storage, tracking, deadline)
        print(f"started {len(processes)} worker(s): pids {', '.join(str(p.pid) for p in processes)}",
              flush=True)
    else:  # a worker would load TensorFlow (seconds) to find nothing to claim
        print("no trial waiting: started no worker", flush=True)
    parent = TrackedRun(tracking, parent_run_id)
    interrupted = False
    try:
        interrupted = _wait_for_workers(processes)
    finally:
        left = _end_study(spec, study, study_storage, tracking, parent, processes,
                          deadline, interrupted)
    if interrupted:
        return 130
    if any(process.returncode == 2 for process in processes):
        return 2
    if left:
        print(f"{left} cell(s) not done (failed for good or out of time); run the same command "
              "again to retry them", flush=True)
        return 1
    return 0
