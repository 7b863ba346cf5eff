"""`samplegan train` as a user runs it: its time budget, its last lines, and how a run ends
when the process is stopped. Each test drives the real console script on a tiny corpus."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

import mlflow
import pytest

from harness.tracking.store import OUTCOME_TAG

pytestmark = pytest.mark.slow

RUN_ID = re.compile(r"[0-9a-f]{32}")


def _client(store) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")


def test_a_time_budget_stops_the_whole_run_says_so_and_resume_continues_it(
        cli, store, tiny_corpus, tiny_set_args):
    train = ["train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args]
    # A budget of 0 min runs out before the first autoencoder step: the whole run is budgeted.
    stopped = cli(*train, "--max-minutes", "0", check=True)
    run_id = stopped.stdout.strip()
    assert RUN_ID.fullmatch(run_id), stopped.stdout  # stdout holds the run id alone
    lines = stopped.stderr.strip().splitlines()
    assert lines[-1] == (f"time budget of 0 min reached at autoencoder step 0 of 2: MLflow run "
                         f"{run_id} is evaluated and FINISHED; continue it with the same "
                         f"arguments and --resume {run_id}")
    assert re.fullmatch(r"final evaluation at GAN step 0: \w+, \d+% of clips healthy; "
                        r"MR-LSD [\d.]+ dB \(real-vs-real floor [\d.]+ dB; lower is better\); "
                        r"music metrics skipped: clips of 0\.016 s, under the 1 s minimum "
                        r"\(raise eval_samples\); "
                        r"held-out gain over linear prediction [-+][\d.e-]+ MSE \(> 0: beats it\)",
                        lines[-2]), lines[-2]
    run = _client(store).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags[OUTCOME_TAG] == "stopped_early"
    assert run.data.tags["samplegan.stopped_early"].startswith("time budget of 0 min")
    # Tiny clips (256 samples): the music family is skipped, said once, and not logged.
    assert run.data.tags["samplegan.music"] == (
        "skipped: clips of 0.016 s, under the 1 s minimum (raise eval_samples)")
    assert not [key for key in run.data.metrics if key.startswith("music/")]

    resumed = cli(*train, "--resume", run_id, check=True)
    assert resumed.stdout.strip() == run_id
    assert resumed.stderr.strip().splitlines()[-1].startswith("final evaluation at GAN step 2: ")
    run = _client(store).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[OUTCOME_TAG] == "completed"
    assert "samplegan.stopped_early" not in run.data.tags  # the budget's stop is history
    assert len(run.inputs.dataset_inputs) == 1  # logged again on resume, recorded once
    evaluated = _client(store).get_metric_history(run_id, "quality/mr_lsd_db")
    assert sorted(point.step for point in evaluated) == [0, 2]

    again = cli(*train, "--resume", run_id)  # trained to its end: nothing left to resume
    assert (again.returncode, again.stderr) == (
        2, f"error: run {run_id} already FINISHED; there is nothing to resume\n")


@pytest.mark.parametrize(("signum", "exit_code", "killed_by"), [
    (signal.SIGTERM, 143, "Terminated"), (signal.SIGINT, 130, "KeyboardInterrupt")])
def test_a_stopped_train_ends_killed_with_outcome_interrupted(
        store, tiny_corpus, tiny_set_args, signum, exit_code, killed_by):
    from conftest import SAMPLEGAN

    process = subprocess.Popen(
        [SAMPLEGAN, "train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
         "--set", "ae_steps=100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.extend(iter(
        lambda: os.read(process.stderr.fileno(), 4096), b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while not re.search(rb"autoencoder: .*\| [1-9]\d*/100000", b"".join(errors)):  # training
        assert process.poll() is None and time.monotonic() < deadline, b"".join(errors)
        time.sleep(0.2)
    process.send_signal(signum)
    stdout = process.communicate(timeout=120)[0]
    reader.join(10)
    assert process.returncode == exit_code, b"".join(errors)
    assert stdout == b""  # no run id: the run did not end
    (run,) = _client(store).search_runs([_client(store).get_experiment_by_name(
        "samplegan").experiment_id])
    assert run.info.status == "KILLED"
    assert run.data.tags[OUTCOME_TAG] == "interrupted"
    assert run.data.tags["samplegan.killed_by"] == killed_by
    assert re.fullmatch(r"autoencoder step \d+", run.data.tags["samplegan.interrupted_at"])
