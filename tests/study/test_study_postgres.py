"""Studies on PostgreSQL: a killed worker's trial retried by the other, heartbeats across
machines, and an unreachable server named without its password."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from optuna.trial import TrialState
from study_support import (
    SAMPLEGAN,
    launch,
    spec_with,
    trials_of,
    wait_for_running_trial,
    write_spec,
)

from harness.study.optuna_storage import open_storage
from harness.study.spec import parse_spec


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_two_workers_retry_the_trial_of_a_killed_worker(pg_database, tmp_path, store):
    # Two cells on two workers prove the claim: the survivor ends its own cell, then retries
    # the victim's (a third cell only made the survivor train once more). Three GAN steps
    # with an evaluation each still leave the victim seconds of training when it is killed.
    storage = pg_database("optuna")
    spec = write_spec(tmp_path, "pg", """
[design]
replicates = 2
[design.grid]
generator = ["stateful"]
[objective]
metric = "quality/mr_lsd_db"
[budget]
gan_steps = 3
[pruner]
kind = "none"
[storage]
heartbeat_interval_s = 1
grace_period_s = 3
""")
    process = launch(spec, "--workers", "2", "--storage", storage)
    victim = wait_for_running_trial("pg", process, storage)
    os.kill(int(victim.user_attrs["worker.pid"]), signal.SIGKILL)
    output = process.communicate(timeout=400)[0]
    assert process.returncode == 0, output  # the surviving worker finished every cell
    trials = trials_of("pg", storage)
    assert trials[victim.number].state == TrialState.FAIL
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["cell"] for t in done) == [
        f'generator="stateful"|rep={r}' for r in range(2)]
    retry = [t for t in done if t.user_attrs["cell"] == victim.user_attrs["cell"]]
    assert len(retry) == 1 and retry[0].user_attrs["mlflow_run_id"] == victim.user_attrs["mlflow_run_id"]


@pytest.mark.postgres
def test_a_silent_worker_on_another_machine_is_detected_by_heartbeat(pg_database):
    """No shared process table across machines: only the heartbeat can tell."""
    from harness.study.queue import (
        claim_waiting_trial,
        create_or_resume,
        fail_stale_trials,
        queue_missing_cells,
    )

    spec = parse_spec(spec_with(storage={"heartbeat_interval_s": 1, "grace_period_s": 2}))
    storage = open_storage(pg_database("heartbeat"), spec.storage)
    study, created = create_or_resume(spec, storage)
    assert created and len(queue_missing_cells(study, spec)) == 4
    trial_id = claim_waiting_trial(study, storage)
    storage.optuna.set_trial_user_attr(trial_id, "worker.host", "another-machine")
    storage.optuna.set_trial_user_attr(trial_id, "worker.pid", "1")
    storage.optuna.record_heartbeat(trial_id)
    assert fail_stale_trials(study, storage) == []  # still beating
    time.sleep(3.5)
    assert fail_stale_trials(study, storage) == [0]
    assert study.get_trials()[0].state == TrialState.FAIL
    assert queue_missing_cells(study, spec) == [study.get_trials()[0].user_attrs["cell"]]


def test_an_unreachable_storage_is_one_line_without_the_password(tmp_path):
    completed = subprocess.run(
        [SAMPLEGAN, "study", "status", "x", "--storage",
         "postgresql://bob:topsecret@127.0.0.1:1/optuna"], capture_output=True, text=True,
        timeout=60)
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open study storage "
                                                   "postgresql://bob:***@127.0.0.1:1/optuna")
    assert "topsecret" not in completed.stderr
