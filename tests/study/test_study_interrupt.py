"""A local study interrupted (Ctrl-C), its worker killed, then resumed: what each store
records at each stage, the partial report, and the resumed study's report and runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
from optuna.trial import TrialState
from study_support import (
    SAMPLEGAN,
    TINY_OVERRIDES,
    child_runs,
    launch,
    study_status,
    trials_of,
    wait_for_running_trial,
)

from harness.study.optuna_storage import open_storage
from harness.tracking.store import TrackingStore

PARTIAL_SPEC = """name = "partial"
base_variant = "paper"
[dataset]
builtin = true
seconds = 3.0
pieces = 2
""" + TINY_OVERRIDES.replace("eval_clips = 2", "eval_clips = 4") + """generator = "stateful"
[design]
replicates = 1
[design.grid]
feedback_noise = [0.0, 0.05]
[objective]
metric = "quality/mr_lsd_db"
[budget]
gan_steps = 3
[pruner]
kind = "none"
"""


def _complete_trials(name: str) -> int:
    try:
        return sum(t.state == TrialState.COMPLETE for t in trials_of(name))
    except Exception:  # the study may not exist yet
        return 0


@pytest.mark.slow
def test_ctrl_c_then_a_killed_worker_then_resume_reports_no_failure(tmp_path, store):
    """One study through every way a worker stops: Ctrl-C after a finished cell (a partial
    study, reported), SIGKILL of the worker, then resumed to the end.

    This merges two tests that each ran a study through Ctrl-C and resume: every assertion
    of both is kept, on this one study's real stores. Two cells of one axis are enough for
    each claim (one finished cell leaves a level untested; each retried cell reopens its
    run); the axis, feedback noise, does not change a step's cost, so one configuration is
    calibrated. Before, a 2 x 2 grid (prefilter x feedback noise) trained four cells.
    """
    from harness.report.build import write_report

    spec = tmp_path / "partial.toml"
    spec.write_text(PARTIAL_SPEC)
    client = lambda: TrackingStore.open().client()  # noqa: E731

    # 1. Ctrl-C while the second cell trains: that trial is FAIL (interrupted) in Optuna and
    #    KILLED in MLflow; the first cell is done.
    process = launch(spec, "--workers", "1")
    deadline = time.monotonic() + 300
    while not _complete_trials("partial"):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.3)
    first = wait_for_running_trial("partial", process)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=180)[0]
    assert process.returncode == 130, output
    interrupted = trials_of("partial")[first.number]
    assert interrupted.state == TrialState.FAIL
    assert interrupted.user_attrs["interrupted"] == "KeyboardInterrupt"
    assert client().get_run(first.user_attrs["mlflow_run_id"]).info.status == "KILLED"
    objectives = re.findall(r"objective (\S+)", output)
    assert objectives and all(len(value) <= 9 for value in objectives)  # 6 digits, not 14
    assert optuna.load_study(study_name="partial", storage=open_storage(
        None, create=False).optuna).metric_names == [  # the dashboard's name for the values
        "quality/mr_lsd_db + 100 × eval/collapsed_share"]

    # The partial report says nothing about levels no finished trial reached.
    markdown = write_report("partial", out=tmp_path / "first").with_name("report.md").read_text()
    trials = pd.read_csv(tmp_path / "first" / "trials.csv")
    finished = trials[trials["state"].isin(["COMPLETE", "PRUNED"])]
    assert len(finished) == 1  # the first cell; the second was interrupted
    answer = markdown.split("## Answer", 1)[1].split("\n## ", 1)[0]
    assert "nothing in this design prevents" not in answer and "no axis changes" not in answer
    untested = {"feedback_noise": {0.0, 0.05} - set(finished["feedback_noise"])}
    assert any(untested.values())  # one of the two cells finished
    for axis, levels in untested.items():
        for level in levels:
            assert re.search(rf"Untested so far \(no finished trial\):[^\n]*`{axis}`="
                             rf"[^;\n]*{str(level).lower()}", answer), (axis, level, answer)
        if len(levels) == 1:  # one level tested: no effect to report, in either ranking
            assert re.search(rf"\| `{axis}` \| – \| – \|[^\n]*\| untested \|", markdown)
    assert study_status("partial")["trials"]["FAIL"] == 1  # the interrupted cell is not done yet

    # 2. The worker dies without a word (SIGKILL): its trial is failed as stale, its run KILLED.
    process = launch(spec, "--workers", "1")
    second = wait_for_running_trial("partial", process)
    os.kill(int(second.user_attrs["worker.pid"]), signal.SIGKILL)
    output = process.communicate(timeout=180)[0]
    assert process.returncode == 1, output
    killed = trials_of("partial")[second.number]
    assert killed.state == TrialState.FAIL and killed.user_attrs["stale"] == "worker process died"
    assert client().get_run(second.user_attrs["mlflow_run_id"]).info.status == "KILLED"

    # 3. Resumed to the end: every cell ran to the end exactly once, and the interrupted and
    #    the killed trial are re-runs, not failures, everywhere.
    resumed = launch(spec, "--workers", "1")
    output = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, output
    trials = trials_of("partial")
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.user_attrs["cell"] for t in done) == sorted(
        f"feedback_noise={noise}|rep=0" for noise in ("0.0", "0.05"))
    status = study_status("partial")
    assert status["trials"]["COMPLETE"] == 2 and status["trials"]["FAIL"] == 0
    assert status["trials"]["RERUN"] == 2 and status["failed"] == []
    assert sorted(entry["reason"] for entry in status["rerun"]) == [
        "KeyboardInterrupt", "worker process died"]
    table = subprocess.run([SAMPLEGAN, "study", "status", "partial"], capture_output=True,
                           text=True, timeout=120, check=True).stdout
    assert "failed:" not in table and "2 rerun" in table
    report = write_report("partial", out=tmp_path / "second")
    markdown = report.with_name("report.md").read_text()
    assert "| FAIL |" not in markdown and "): 2 complete, 2 rerun\n" in markdown
    assert "| rerun (cell since finished) | KeyboardInterrupt | 1 |" in markdown
    assert "| rerun (cell since finished) | worker process died | 1 |" in markdown
    assert "Untested so far" not in markdown

    # Every clip the listening figures show has a player (eval_clips = 4).
    wavs = sorted(path.name for path in report.parent.glob("listen_*.wav"))
    assert [name for name in wavs if name.startswith("listen_best_")] == [
        f"listen_best_{index:02d}.wav" for index in range(4)]
    assert report.read_text().count("<audio ") == len(wavs)

    # Interrupted runs were continued from their checkpoints: one run per cell, reopened by
    # its retry, one point per step, ending at the last GAN step.
    parents, children = child_runs("partial")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 2  # retries reopened the cell's run instead of adding one
    assert {run.info.status for run in children} == {"FINISHED"}
    for run in children:  # each run's page names its grid point and overrides
        page = (Path(client().download_artifacts(run.info.run_id, "final", str(tmp_path)))
                / "index.html").read_text()
        assert f"<title>{run.info.run_name} — step 3</title>" in page
        overrides = re.search(r"<th>overrides</th><td>([^<]*)</td>", page)[1]
        assert "generator=stateful" in overrides and "feedback_noise=" in overrides
        assert run.info.run_name.startswith("partial #") and "|rep=0" in run.info.run_name
        for key in run.data.metrics:
            steps = [metric.step for metric in client().get_metric_history(run.info.run_id, key)]
            assert len(steps) == len(set(steps)), (key, sorted(steps))
        history = client().get_metric_history(run.info.run_id, "gan/d_loss")
        assert max(m.step for m in history) == 2  # gan_steps = 3, counted from 0
