"""`samplegan study plan` and the launcher's budget check: arithmetic, JSON, refusal, a real run.

No test asserts a timing: the figures depend on the machine. The arithmetic is checked
against hand-worked values, the real calibration only for its shape and consistency.
"""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import pytest

import harness.study.calibration as calibration
from harness.study.calibration import HELDOUT, PhaseTiming, PointTiming, code_digest, linear_at
from harness.study.plan import (
    BUSY_OTHERS_CORES,
    schedule_seconds,
    seconds_left,
    slowdown,
    trial_seconds,
)
from harness.training.schedule import evaluation_count, heldout_count, phase_totals
from models.registry import resolve

TIMING = PointTiming(
    build_s=2.0, render_s=0.5, finish_s=1.5, cores_busy=1.5,
    phases={"autoencoder": PhaseTiming(first_s=1.0, step_s=0.01),
            "gan": PhaseTiming(first_s=5.0, step_s=0.2),
            "evaluation": PhaseTiming(first_s=3.0, step_s=1.0)})
TOTALS = {"autoencoder": 101, "pretrain": 0, "gan": 50}


# ------------------------------------------------------------------------- arithmetic
def test_a_trial_is_set_up_plus_steps_plus_evaluations():
    # autoencoder 1 + 100 x 0.01 = 2; gan 5 + 49 x 0.2 = 14.8; evaluations 3 + 2 x 1 + 3 x 0.5
    # = 6.5; build and finish 3.5: 26.8 s alone.
    assert trial_seconds(TIMING, TOTALS, 3, 1.0, None) == pytest.approx(26.8)
    # Twice as slow when the cores are shared: everything doubles.
    assert trial_seconds(TIMING, TOTALS, 3, 2.0, None) == pytest.approx(53.6)


def test_a_trial_over_its_cap_stops_after_the_step_in_flight_and_one_evaluation():
    # Training (23.3 s) exceeds the 10 s cap: 10 + gan step 0.2 + evaluation 1 + render 0.5,
    # plus build and finish 3.5 (the cap starts once the model is built).
    assert trial_seconds(TIMING, TOTALS, 3, 1.0, 10.0) == pytest.approx(15.2)
    assert trial_seconds(TIMING, TOTALS, 3, 1.0, 60.0) == pytest.approx(26.8)


def test_teacher_forcing_pays_for_its_heldout_likelihood_measurements():
    timing = PointTiming(
        build_s=2.0, render_s=0.5, finish_s=1.5, cores_busy=1.0,
        phases={"pretrain": PhaseTiming(first_s=2.0, step_s=0.1),
                HELDOUT: PhaseTiming(first_s=1.5, step_s=0.25),
                "evaluation": PhaseTiming(first_s=3.0, step_s=1.0)})
    totals = {"autoencoder": 0, "pretrain": 61, "gan": 0}
    config = resolve("embedded-fix", {"pretrain_steps": 61, "eval_every": 30, "gan_steps": 0})
    assert heldout_count(config, totals) == 2  # after steps 30 and 60, as the trainer measures
    # pretrain 2 + 60 x 0.1 = 8; held-out 1.5 + 0.25 = 1.75; one evaluation 3 + 0.5 = 3.5;
    # build and finish 3.5: 16.75 s.
    assert trial_seconds(timing, totals, 1, 1.0, None, 2) == pytest.approx(16.75)
    assert trial_seconds(timing, totals, 1, 1.0, None) == pytest.approx(15.0)  # not measured


def test_a_quick_call_is_timed_twice_more_a_slow_one_once(monkeypatch):
    calls = []
    monkeypatch.setattr(calibration, "QUICK_CALL_S", 1e9)  # every call counts as quick
    timing, _, _ = calibration.time_function(lambda: calls.append(1), 2)
    assert len(calls) == 3 and timing.step_s <= timing.first_s + 1.0
    calls.clear()
    monkeypatch.setattr(calibration, "QUICK_CALL_S", 0.0)  # every call counts as slow
    calibration.time_function(lambda: calls.append(1), 2)
    assert len(calls) == 2  # the tracing call and one more


def test_the_timing_cache_survives_edits_to_code_no_step_runs(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    import shutil

    for package in ("models", "harness"):
        shutil.copytree(repo / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    before = code_digest(tmp_path)
    assert before == code_digest(repo)  # the same source, wherever it lies
    for untimed in (tmp_path / "harness" / "report" / "build.py",
                    tmp_path / "harness" / "cli" / "root.py",
                    tmp_path / "harness" / "study" / "spec.py",
                    tmp_path / "harness" / "study" / "plan.py"):
        untimed.write_text(untimed.read_text() + "\n# edited\n")
    assert code_digest(tmp_path) == before
    for timed in (tmp_path / "models" / "heads.py", tmp_path / "harness" / "training" / "trainer.py",
                  tmp_path / "harness" / "study" / "calibration.py"):
        text = timed.read_text()
        timed.write_text(text + "\n# edited\n")
        assert code_digest(tmp_path) != before, timed.name
        timed.write_text(text)


def test_workers_sharing_cores_slow_each_other_only_beyond_the_cores():
    assert slowdown(1.5, 1, 2, own_devices=False) == 1.0
    assert slowdown(1.5, 2, 2, own_devices=False) == pytest.approx(1.5)  # demand 3 on 2 cores
    assert slowdown(0.8, 2, 2, own_devices=False) == 1.0  # demand 1.6 fits
    assert slowdown(1.5, 4, 2, own_devices=True) == 1.0  # a GPU each


def test_the_schedule_gives_the_next_trial_to_the_first_free_worker():
    # Two workers free at 5 s: A 10 -> w0 until 15, B 4 -> w1 until 9, C 4 -> w1 until 13,
    # D 6 -> w1 until 19 (w0 is busy until 15).
    assert schedule_seconds([10, 4, 4, 6], 2, 5.0) == pytest.approx(19.0)
    assert schedule_seconds([10, 4, 4, 6], 1, 5.0) == pytest.approx(29.0)
    assert schedule_seconds([], 2, 5.0) == 0.0


def test_time_left_finishes_running_trials_then_runs_the_queue():
    # Running: 30 of 100 s done -> 70 left; 10 of 20 -> 10. Queue 50, 50: 10 + 50 on one worker,
    # 70 on the other, then 50 more on the first: 110.
    assert seconds_left([50, 50], [(100, 30), (20, 10)], 2) == pytest.approx(110.0)
    assert seconds_left([], [(100, 130)], 2) == 0.0


def test_lengths_extrapolate_along_the_line_through_the_two_probes():
    # 8 samples 2 s, 24 samples 4 s: 0.125 s per sample, so 500 samples 63.5 s.
    assert linear_at(500, 8, 2.0, 24, 4.0) == pytest.approx(63.5)
    assert linear_at(500, 8, 2.0, 8, 2.0) == 2.0
    assert linear_at(500, 8, 2.0, 24, 1.0) == 2.0  # noise that would slope down is ignored


def test_phase_totals_count_every_phase_the_trainer_runs(tiny_corpus):
    from harness.data.loader import load_dataset

    dataset = load_dataset(tiny_corpus)
    config = resolve("paper", {"sample_rate": 16000, "n": 32, "ae_levels": 1, "ae_steps": 7,
                               "gan_steps": 25, "eval_every": 10, "batch_size": 4})
    assert phase_totals(config, dataset) == {"autoencoder": 7, "pretrain": 0, "gan": 25}
    assert evaluation_count(config) == 3  # at 10, 20 and after 25
    teacher = config.replace(pretrain_epochs=2)  # an epoch predicts about the train split
    assert phase_totals(teacher, dataset)["pretrain"] == 2 * max(1, len(dataset.train) // 4)
    assert phase_totals(config.replace(pretrain_steps=13), dataset)["pretrain"] == 13
    assert evaluation_count(config.replace(gan_steps=20)) == 2
    assert evaluation_count(config.replace(gan_steps=0)) == 1


# -------------------------------------------------------------- a tiny real study
TINY = """
[overrides]
sample_rate = 16000
n = 32
lstm_units = 4
ae_levels = 1
ae_filters = 4
ae_kernel = 3
ae_steps = 3
pretrain_steps = 2
batch_size = 4
grad_positions = 4
eval_every = 2
eval_clips = 2
eval_samples = 128
generation_xla = false
[objective]
metric = "quality/mr_lsd_db"
[pruner]
kind = "none"
"""


GRID = 'generator = ["stateless", "stateful"]\nlr_generator = [0.0001, 0.001]\n'


def tiny_spec(folder: Path, name: str, budget: str, grid: str = GRID, gan_steps: int = 4) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\n[dataset]\nbuiltin = true\nseconds = 3.0\npieces = 2\n'
                    f"{TINY}[design.grid]\n{grid}[budget]\ngan_steps = {gan_steps}\n{budget}")
    return path


@pytest.fixture(scope="module")
def planned(tmp_path_factory, cli):
    """A tiny study planned once for two workers (two configurations timed)."""
    home = tmp_path_factory.mktemp("plan")
    env = {"SAMPLEGAN_STORE_DIR": str(home / "mlruns")}
    spec = tiny_spec(home, "tiny", "")
    completed = cli("study", "plan", str(spec), "--workers", "2", "--json", env=env)
    return home, env, spec, completed, cli


@pytest.mark.slow
def test_the_plan_json_has_the_contracts_keys(planned):
    _, _, spec, completed, _ = planned
    assert completed.returncode == 0, completed.stderr
    plan = json.loads(completed.stdout)
    assert list(plan) == ["spec", "workers", "hardware", "points", "total_minutes",
                          "calibration_seconds"]
    assert plan["spec"] == str(spec) and plan["workers"] == 2
    assert plan["hardware"]["cpus"] == len(os.sched_getaffinity(0))
    # Four grid points (the learning rate does not change a step's cost: timed once per mode).
    assert sorted(p["point"] for p in plan["points"]) == sorted(
        f'generator="{mode}",lr_generator={lr}' for lr in ("0.0001", "0.001")
        for mode in ("stateless", "stateful"))
    for point in plan["points"]:
        assert list(point) == ["point", "trials", "phase_seconds", "trial_minutes"]
        assert point["trials"] == 1
        assert set(point["phase_seconds"]) == {"autoencoder", "pretrain", "heldout", "gan",
                                               "evaluation", "setup"}
        assert all(value > 0 for value in point["phase_seconds"].values())
    by_point = {p["point"]: p for p in plan["points"]}
    for mode in ("stateless", "stateful"):
        low, high = (by_point[f'generator="{mode}",lr_generator={lr}'] for lr in ("0.0001", "0.001"))
        assert low["phase_seconds"] == high["phase_seconds"]
    assert plan["calibration_seconds"] > 0
    assert "plan: timing" in completed.stderr  # progress on stderr


@pytest.mark.slow
def test_the_plan_adds_up_and_is_reused_from_the_cache(planned):
    home, env, spec, first, run_cli = planned

    table = run_cli("study", "plan", str(spec), "--workers", "2", env=env)
    assert table.returncode == 0, table.stderr
    assert "calibration 0 s" in table.stdout and "plan: timing" not in table.stderr
    again = json.loads(run_cli("study", "plan", str(spec), "--workers", "2", "--json",
                               env=env).stdout)
    assert again["points"] == json.loads(first.stdout)["points"]
    for point in again["points"]:
        seconds = point["phase_seconds"]
        steps = (3 * seconds["autoencoder"] + 2 * seconds["pretrain"] + seconds["heldout"]
                 + 4 * seconds["gan"] + 2 * seconds["evaluation"])
        assert point["trial_minutes"] * 60 == pytest.approx(steps + seconds["setup"], abs=0.1)
    one_worker = json.loads(run_cli("study", "plan", str(spec), "--json", env=env).stdout)
    assert one_worker["workers"] == 1 and one_worker["calibration_seconds"] == 0
    assert one_worker["total_minutes"] >= again["total_minutes"]


def errors_of(completed) -> list[str]:
    """Its stderr without the plan's busy-machine warning: the suite's other worker keeps a
    core busy while these plans calibrate, and the warning says so (tested on its own below)."""
    return [line for line in completed.stderr.strip().splitlines()
            if not re.match(r"plan: \d+ configuration\(s\) were timed while", line)]


@pytest.mark.slow
def test_run_refuses_a_study_over_its_budget_unless_yes(planned):
    home, env, _, _, run_cli = planned

    # Two trials, timed already (the learning rate does not change a step's cost).
    # One GAN step: the claim is about starting (or not), not about training; step counts
    # do not change a step's cost, so the cached timings still serve.
    spec = tiny_spec(home, "tight", "max_hours = 0.0001\n",  # 0.36 s
                     grid='generator = ["stateless", "stateful"]\n', gan_steps=1)
    refused = run_cli("study", "run", str(spec), "--workers", "2", env=env)
    assert refused.returncode == 2
    lines = errors_of(refused)
    assert len(lines) == 1, refused.stderr
    assert re.match(r"error: predicted .* exceeds budget\.max_hours = 0\.0001; most of the time "
                    r"goes to generator=.* \d+%, .*; reshape .*tight\.toml or pass --yes", lines[0])
    status = run_cli("study", "status", "tight", env=env)
    assert status.returncode == 2 and "no study 'tight'" in status.stderr  # nothing was created

    started = run_cli("study", "run", str(spec), "--workers", "2", "--yes", env=env, timeout=600)
    assert started.returncode == 0, started.stdout + started.stderr
    assert re.search(r"plan: 2 trial\(s\) to do, predicted [\d.]+ min on 2 worker\(s\)",
                     started.stdout)
    assert "warning: predicted" in started.stdout and "starting anyway (--yes)" in started.stdout

    status = json.loads(run_cli("study", "status", "tight", "--json", env=env).stdout)
    assert "plan: timing" not in started.stderr  # the plan came from the cache
    assert status["cells_done"] == 2 and status["time"]["predicted_seconds_left"] == 0.0
    assert "predicted left: 0 s" in run_cli("study", "status", "tight", env=env).stdout
    done = json.loads(run_cli("study", "plan", str(spec), "--json", env=env).stdout)
    assert done["points"] == [] and done["total_minutes"] == 0.0  # only cells still to do


@pytest.mark.slow
def test_a_trial_over_minutes_per_trial_is_refused_naming_the_point(planned):
    home, env, _, _, run_cli = planned

    spec = tiny_spec(home, "short", "minutes_per_trial = 0.001\n")
    refused = run_cli("study", "run", str(spec), env=env)
    assert refused.returncode == 2
    assert re.match(r"error: 4 grid point\(s\) would be cut at budget\.minutes_per_trial = 0\.001 "
                    r"before their 4 GAN steps \(.* needs [\d.]+ min per trial\)",
                    "\n".join(errors_of(refused)))


def test_a_plan_reads_the_storage_it_is_given_and_prepares_nothing(tmp_path, store):
    """Cells done in the opened storage are not planned; the datasets are the caller's."""
    from optuna.trial import TrialState

    from harness.study.optuna_storage import open_storage
    from harness.study.plan import plan_study
    from harness.study.queue import claim_waiting_trial, create_or_resume, queue_missing_cells
    from harness.study.spec import load_spec

    spec_path = tiny_spec(tmp_path, "done", "")
    spec = load_spec(spec_path)
    storage = open_storage(None, spec.storage)
    study, _ = create_or_resume(spec, storage)
    queue_missing_cells(study, spec)
    while (trial_id := claim_waiting_trial(study, storage)) is not None:
        study.tell(storage.optuna.get_trial_number_from_id(trial_id), state=TrialState.PRUNED)

    plan = plan_study(spec, spec_path, [{}], storage, datasets={})
    assert plan.points == [] and plan.total_seconds == 0.0 and plan.calibration_seconds == 0.0
    assert not (store / "datasets").exists()  # preparing them is the launcher's, once


def test_plan_errors_are_one_line(tmp_path, store, cli):
    run_cli = cli
    missing = run_cli("study", "plan", str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and missing.stderr.strip().startswith("error: study spec")
    spec = tiny_spec(tmp_path, "x", "")
    both = run_cli("study", "plan", str(spec), "--workers", "3", "--gpus", "0,1")
    assert both.returncode == 2
    assert both.stderr.strip() == ("error: --workers 3 contradicts --gpus 0,1 (2 GPUs): there is "
                                   "one worker per GPU; drop --workers")
    assert not store.exists()


@pytest.mark.slow
@pytest.mark.parametrize(("command", "signum"), [
    ("plan", signal.SIGKILL), ("plan", signal.SIGTERM), ("run", signal.SIGTERM)])
def test_a_killed_plan_leaves_no_calibration_behind(tmp_path, command, signum):
    """`timeout` (SIGTERM) or SIGKILL give `study plan` no chance to stop its calibration
    process: the kernel ends it with its parent. `study run` stops on SIGTERM without waiting
    for the calibration to finish."""
    import subprocess
    import time

    import psutil
    from ui_support import SAMPLEGAN

    spec = tiny_spec(tmp_path, "orphan", "")
    planner = subprocess.Popen(
        [SAMPLEGAN, "study", command, str(spec)], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SAMPLEGAN_STORE_DIR": str(tmp_path / "mlruns"),
             "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        for line in planner.stderr:  # the calibration process prints this once it is timing
            if line.startswith("plan: timing generator="):
                break
        else:
            pytest.fail(f"study {command} ended before calibrating ({planner.wait()})")
        children = psutil.Process(planner.pid).children(recursive=True)
        assert children, "the calibration process is not a child of study plan"
        planner.send_signal(signum)
        stopped = time.monotonic()
        planner.wait(timeout=30)
        _, survivors = psutil.wait_procs(children, timeout=5)
        assert survivors == []
        assert time.monotonic() - stopped < 10  # not the rest of the calibration
    finally:
        planner.kill()
        planner.wait()


@pytest.mark.slow
def test_a_plan_timed_beside_busy_processes_says_so(tmp_path):
    """Timings taken while other processes keep the cores busy are flagged, in the cache and
    on stderr, with how to time them again."""
    import subprocess
    import sys

    from ui_support import SAMPLEGAN

    spec = tiny_spec(tmp_path, "busy", "", grid='generator = ["stateful"]\n')
    store = tmp_path / "mlruns"
    planner = subprocess.Popen(
        [SAMPLEGAN, "study", "plan", str(spec)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "SAMPLEGAN_STORE_DIR": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"})
    burners, stderr = [], []
    try:
        # The core is kept busy from the moment the calibration process starts on the
        # configuration (it prints this line first): the busy share is measured while a
        # configuration is built and timed, so a burner started before the planner only
        # spent a core on its imports and the calibration process's.
        for line in planner.stderr:
            stderr.append(line)
            if line.startswith("plan: timing generator=") and not burners:
                burners.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        planner.wait(timeout=600)
    finally:
        planner.kill()
        planner.wait()
        for burner in burners:
            burner.kill()
            burner.wait()
    completed = subprocess.CompletedProcess(planner.args, planner.returncode, "", "".join(stderr))
    assert burners and completed.returncode == 0, completed.stderr
    timings = json.loads((store / "plan_timings.json").read_text())["points"]
    assert [timing["others_busy"] > BUSY_OTHERS_CORES for timing in timings.values()] == [True]
    # One burner, plus whatever else runs beside the suite: never more cores than this one has.
    assert [timing["others_busy"] <= len(os.sched_getaffinity(0)) + 0.1
            for timing in timings.values()] == [True]
    assert re.search(r"1 configuration\(s\) were timed while other processes kept up to "
                     r"[\d.]+ of \d+ cores busy.*delete .*plan_timings\.json", completed.stderr)


def test_busy_cpu_counts_this_process_in_seconds_of_its_own_cores():
    """The machine's busy CPU seconds over a spin: at least the spin's own CPU time, at most
    every core this process may use for the whole wall time (a host-wide or mis-scaled count
    once flagged 60 of 2 cores busy)."""
    import time

    machine, own, began = calibration.busy_cpu_s(), time.process_time(), time.perf_counter()
    while time.process_time() - own < 0.3:
        pass
    busy, spun, wall = (calibration.busy_cpu_s() - machine, time.process_time() - own,
                        time.perf_counter() - began)
    tick = 2 / os.sysconf("SC_CLK_TCK")  # /proc/stat counts in clock ticks
    assert spun - tick <= busy <= len(os.sched_getaffinity(0)) * wall + tick
