"""Optuna studies: specs, and a local study on two workers (exactly-once cells, pruning,
failure, status, running again). Interrupt, kill and resume: test_study_interrupt.py;
PostgreSQL: test_study_postgres.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from study_support import GOOD, REPO, SAMPLEGAN, child_runs, spec_with, trials_of, write_spec

from harness.study.optuna_storage import open_storage
from harness.study.spec import SpecError, load_spec, parse_spec
from harness.tracking.store import TrackingStore


# ------------------------------------------------------------------------------ specs
@pytest.mark.parametrize("name, cells", [("smoke", 8), ("paper_ablation", 72), ("collapse_hunt", 48),
                                         ("collapse_cpu", 24), ("tiers_cpu", 6),
                                         ("augment_music", 6), ("carry_cpu", 6),
                                         ("units_cpu", 6), ("notes_cpu", 12),
                                         ("notes_music", 12)])
def test_the_shipped_specs_are_valid(name, cells):
    spec = load_spec(REPO / "studies" / f"{name}.toml")
    assert spec.name == name and len(spec.cells()) == cells
    assert len({cell.key for cell in spec.cells()}) == cells


def test_the_paper_ablation_is_the_full_factorial_of_the_users_axes():
    spec = load_spec(REPO / "studies" / "paper_ablation.toml")
    assert spec.grid == {"prefilter": (False, True), "generator": ("stateless", "stateful"),
                         "n": (500, 1000, 4410), "sample_rate": (16000, 44100)}


def test_a_spec_that_still_says_lstm_mode_means_the_generator_axis():
    old = spec_with(design__grid={"lstm_mode": ["stateless", "stateful"]},
                    overrides={"lstm_mode": "frame-tier", "n": 64})
    spec = parse_spec(old)
    assert spec.grid == {"generator": ("stateless", "stateful")}
    assert spec.overrides == {"generator": "frame-tier", "n": 64}
    assert [cell.key for cell in spec.cells()][0] == 'generator="stateless"|rep=0'
    assert spec.trial_overrides(spec.cells()[-1], {})["generator"] == "stateful"


def test_a_good_spec_parses_into_cells():
    spec = parse_spec(GOOD)
    assert [cell.key for cell in spec.cells()] == [
        'generator="stateless"|rep=0', 'generator="stateless"|rep=1',
        'generator="stateful"|rep=0', 'generator="stateful"|rep=1']
    assert spec.trial_seed(spec.cells()[3]) == 1


def test_a_cells_config_is_the_variant_with_overrides_budget_point_and_searched_values():
    spec = parse_spec(spec_with(base_variant="embedded-fix", overrides={"n": 64, "lstm_units": 8},
                                budget={"gan_steps": 7},
                                design__search={"lr_generator": {"low": 1e-5, "high": 1e-3},
                                                "grad_positions": {"low": 4, "high": 16}}))
    stateful = spec.cells()[3]
    config = spec.config(stateful)
    assert config.generator == "stateful" and config.n == 64 and config.lstm_units == 8
    assert config.gan_steps == 7  # the budget's, not the variant's
    assert config.seed_source == "real"  # the base variant's, not the paper's
    assert (config.lr_generator, config.grad_positions) == (1e-5, 4)  # each search's low
    searched = spec.config(stateful, {"lr_generator": 3e-4, "grad_positions": 12})
    assert (searched.lr_generator, searched.grad_positions) == (3e-4, 12)
    assert searched.replace(lr_generator=1e-5, grad_positions=4) == config


def test_the_datasets_a_study_prepares_are_its_cells_shapes():
    from harness.study.prepared_data import data_shapes

    spec = parse_spec(spec_with(overrides={"sample_rate": 16000},
                                design__grid={"n": [64, 128], "sample_rate": [16000, 44100],
                                              "generator": ["stateless", "stateful"]}))
    assert data_shapes(spec) == [(16000, 64), (16000, 128), (44100, 64), (44100, 128)]
    assert data_shapes(parse_spec(spec_with(overrides={"n": 96}))) == [(44100, 96)]


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, r"unknown key colour"),
    ({"design__grid__generators": ["stateful"]}, r"unknown axis design\.grid\.generators"),
    ({"design__grid__generator": []}, r"design\.grid\.generator is empty"),
    ({"design__grid__generator": ["sideways"]}, r"generator must be one of"),
    ({"design__grid__n": ["500"]}, r"design\.grid\.n: .*n must be an int"),
    ({"design__grid__prefilter": [1, 0]}, r"design\.grid\.prefilter: .*must be a bool"),
    ({"design__replicates": 0}, r"design\.replicates must be > 0"),
    ({"design__grd": {}}, r"unknown key design\.grd"),
    ({"design__grid": None}, r"design\.grid is missing"),
    ({"budget__trials": 5}, r"budget\.trials is only for search-only designs"),
    ({"budget__minutes_per_trial": "ten"}, r"budget\.minutes_per_trial must be"),
    ({"budget__max_hours": 0}, r"budget\.max_hours must be > 0"),
    ({"objective__metric": "accuracy"}, r"objective\.metric 'accuracy' is unknown"),
    ({"objective__direction": "up"}, r"objective\.direction must be"),
    ({"pruner__kind": "hyperband"}, r"pruner\.kind must be one of"),
    ({"dataset": {"builtin": True, "path": "x"}}, r"dataset needs exactly one of"),
    ({"dataset__secs": 3}, r"unknown key dataset\.secs"),
    ({"base_variant": "nope"}, r"base_variant 'nope' is unknown"),
    ({"overrides__lstm_units": 0}, r"lstm_units must be at least 1"),
    ({"overrides__unit": 3}, r"unknown key overrides\.unit"),
    ({"design__search__lr_generator": {"low": 1e-3, "high": 1e-5}}, r"high must be above low"),
    ({"design__search__generator": {"choices": ["x"]}}, r"also a grid axis|generator must be one"),
    ({"design__grid__prefilter_kernel": [600]}, r"grid point .*prefilter_kernel=600: n must be"),
    ({"name": "has space"}, r"name must be"),
])
def test_a_bad_spec_is_rejected_naming_the_key(changes, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(spec_with(**changes))


def test_a_spec_whose_objective_cannot_be_computed_is_rejected():
    with pytest.raises(SpecError, match=r"frechet_logmel needs more audio per evaluation"):
        parse_spec(spec_with(objective__metric="quality/frechet_logmel",
                             overrides__eval_samples=256, overrides__sample_rate=16000))


def test_bad_specs_fail_from_the_command_line_before_anything_starts(tmp_path, store):
    (tmp_path / "bad.toml").write_text('name = "bad"\n[dataset]\nbuiltin = true\n'
                                       '[design.grid]\ngenerator = []\n')
    completed = subprocess.run([SAMPLEGAN, "study", "run", str(tmp_path / "bad.toml")],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stderr.strip() == "error: design.grid.generator is empty: the grid would have no points"
    assert not store.exists()
    missing = subprocess.run([SAMPLEGAN, "study", "run", str(tmp_path / "none.toml")],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_worker_plans_one_worker_per_gpu_and_refuses_contradictions():
    from harness.study.launcher import plan_workers
    from models.errors import SampleGanError

    assert plan_workers(None, None) == [{}]
    assert plan_workers(3, None) == [{}, {}, {}]
    assert plan_workers(None, "0,2") == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "2"}]
    with pytest.raises(SampleGanError, match="one worker per GPU"):
        plan_workers(3, "0,1")
    with pytest.raises(SampleGanError, match="ids like 0,1"):
        plan_workers(None, "zero")


# ------------------------------------------------------------------- a local study
@pytest.fixture(scope="module")
def mixed_study(tmp_path_factory):
    """Four cells on two 'GPUs': one collapses (pruned), one is healthy, two diverge (fail).

    A discriminator learning rate of 1e38 makes a loss infinite at GAN step 1, before the
    pruner (one evaluation of warm-up) may act at step 2.
    """
    home = tmp_path_factory.mktemp("mixed")
    spec = write_spec(home, "mixed", """
[design]
replicates = 1
[design.grid]
output_head = ["tanh", "mulaw"]
lr_discriminator = [0.0001, 1e38]
[objective]
metric = "quality/mr_lsd_db"
[budget]
gan_steps = 2
max_retries = 0
[pruner]
kind = "collapse"
patience = 1
warmup_evaluations = 1
collapsed_share = 0.5
""")
    env = {"SAMPLEGAN_STORE_DIR": str(home / "mlruns")}
    first = subprocess.run([SAMPLEGAN, "study", "run", str(spec), "--gpus", "0,1"], cwd=home,
                           capture_output=True, text=True, timeout=600,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})
    return home, spec, env, first


@pytest.fixture
def in_mixed_store(mixed_study, monkeypatch):
    home, spec, env, first = mixed_study
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", env["SAMPLEGAN_STORE_DIR"])
    monkeypatch.chdir(home)
    return mixed_study


def _by_cell(trials):
    return {tuple(sorted(t.params.items())): t for t in trials}


@pytest.mark.slow
def test_two_workers_run_every_cell_exactly_once(in_mixed_store):
    _, _, _, first = in_mixed_store
    assert first.returncode == 1, first.stdout + first.stderr  # two cells failed for good
    trials = trials_of("mixed")
    assert len(trials) == 4
    assert len({t.user_attrs["cell"] for t in trials}) == 4
    workers = set(re.findall(r"\[worker (\d)\] trial \d+ started", first.stdout))
    assert workers == {"0", "1"}
    assert "Warning" not in first.stdout + first.stderr  # e.g. Optuna's ExperimentalWarning


@pytest.mark.slow
def test_a_collapsing_trial_is_pruned_with_its_reason_in_both_stores(in_mixed_store):
    trial = _by_cell(trials_of("mixed"))[(("lr_discriminator", 0.0001), ("output_head", "tanh"))]
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["prune_kind"] == "collapse"
    assert trial.user_attrs["prune_reason"].startswith("collapsed: 100% of clips collapsed")
    assert list(trial.intermediate_values) == [1, 2]  # pruned at the first one after warm-up
    assert "at GAN step 2" in trial.user_attrs["prune_reason"]
    run = TrackingStore.open().client().get_run(trial.user_attrs["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["samplegan.outcome"] == "pruned"
    assert run.data.tags["samplegan.prune_reason"] == trial.user_attrs["prune_reason"]


@pytest.mark.slow
def test_a_healthy_trial_completes_with_the_penalised_objective(in_mixed_store):
    first = in_mixed_store[3]
    trial = _by_cell(trials_of("mixed"))[(("lr_discriminator", 0.0001), ("output_head", "mulaw"))]
    assert trial.state == TrialState.COMPLETE, (trial.user_attrs.get("error"), first.stdout[-3000:])
    metrics = TrackingStore.open().client().get_run(trial.user_attrs["mlflow_run_id"]).data.metrics
    expected = metrics["quality/mr_lsd_db"] + 100.0 * metrics["eval/collapsed_share"]
    assert trial.value == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_failing_trials_are_recorded_and_the_study_goes_on(in_mixed_store):
    trials = _by_cell(trials_of("mixed"))
    for head in ("tanh", "mulaw"):
        trial = trials[(("lr_discriminator", 1e38), ("output_head", head))]
        assert trial.state == TrialState.FAIL
        assert re.match(r"TrainingDiverged: [dg]_loss became (inf|nan)", trial.user_attrs["error"])
        run = TrackingStore.open().client().get_run(trial.user_attrs["mlflow_run_id"])
        assert run.info.status == "FAILED"
        assert run.data.tags["samplegan.error"].startswith("TrainingDiverged")


@pytest.mark.slow
def test_each_worker_sees_only_its_own_gpu(in_mixed_store):
    _, _, _, first = in_mixed_store
    assert "[worker 0] started (CUDA_VISIBLE_DEVICES='0')" in first.stdout
    assert "[worker 1] started (CUDA_VISIBLE_DEVICES='1')" in first.stdout
    by_trial = {number: worker for worker, number in
                re.findall(r"\[worker (\d)\] trial (\d+) started", first.stdout)}
    assert len(by_trial) == 4  # the log names who ran what
    for trial in trials_of("mixed"):
        assert trial.user_attrs["worker.cuda_visible_devices"] == by_trial[str(trial.number)]


@pytest.mark.slow
def test_trials_and_runs_point_at_each_other(in_mixed_store):
    trials = trials_of("mixed")
    parents, children = child_runs("mixed")
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    study = optuna.load_study(study_name="mixed", storage=open_storage(create=False).optuna)
    assert study.user_attrs["mlflow_parent_run_id"] == parent.info.run_id
    by_run = {run.info.run_id: run for run in children}
    for trial in trials:
        run = by_run[trial.user_attrs["mlflow_run_id"]]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["optuna.study_name"] == "mixed"
        assert run.data.tags["optuna.trial_number"] == str(trial.number)
        assert run.data.tags["samplegan.cell"] == trial.user_attrs["cell"]
    assert parent.info.status == "FAILED"  # two cells could not be done


@pytest.mark.slow
def test_study_status_reports_progress(in_mixed_store):
    completed = subprocess.run([SAMPLEGAN, "study", "status", "mixed", "--json"],
                               capture_output=True, text=True, timeout=60)
    status = json.loads(completed.stdout)
    assert status["cells"] == 4 and status["cells_done"] == 2
    assert status["trials"] == {"COMPLETE": 1, "PRUNED": 1, "RUNNING": 0, "WAITING": 0, "FAIL": 2,
                                "RERUN": 0}
    assert len(status["points"]) == 4 and status["best"]["trial"] is not None
    assert status["time"]["trial_seconds"] > 0
    table = subprocess.run([SAMPLEGAN, "study", "status", "mixed"], capture_output=True, text=True,
                           timeout=60).stdout
    assert "2/4 cells done" in table and "best so far" in table


@pytest.mark.slow
def test_running_again_duplicates_nothing(in_mixed_store):
    home, spec, env, _ = in_mixed_store
    again = subprocess.run([SAMPLEGAN, "study", "run", str(spec)], capture_output=True, text=True,
                           timeout=300, env={**os.environ, **env})
    assert "0 cell(s) queued now" in again.stdout
    assert "no trial waiting: started no worker" in again.stdout
    assert again.returncode == 1
    assert len(trials_of("mixed")) == 4
    parents, children = child_runs("mixed")
    assert len(parents) == 1 and len(children) == 4


# ------------------------------------------------------------- worker liveness
def _identity_of(process: subprocess.Popen) -> dict[str, str]:
    """The attributes a worker records about itself, as `process` would record them."""
    import socket

    import psutil

    return {"worker.host": socket.gethostname(), "worker.pid": str(process.pid),
            "worker.create_time": repr(psutil.Process(process.pid).create_time())}


def test_a_live_worker_is_alive_and_a_reaped_or_zombie_one_is_dead():
    from harness.study.queue import is_dead_local_worker, worker_identity

    assert not is_dead_local_worker(worker_identity())  # this very process
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        attrs = _identity_of(child)
        assert not is_dead_local_worker(attrs)
        child.kill()
        deadline = time.monotonic() + 30
        while not is_dead_local_worker(attrs):  # killed, not yet reaped: a zombie
            assert time.monotonic() < deadline, "a killed child still looks alive"
            time.sleep(0.05)
        assert child.poll() is not None  # no longer a zombie: reaped
        assert is_dead_local_worker(attrs)
    finally:
        child.kill()
        child.wait()


def test_a_reused_pid_does_not_keep_a_dead_worker_alive():
    """Same pid, another start time: another process, so the worker is dead."""
    from harness.study.queue import is_dead_local_worker

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        attrs = _identity_of(child)
        earlier = {**attrs, "worker.create_time": repr(float(attrs["worker.create_time"]) - 5)}
        assert is_dead_local_worker(earlier)
        legacy = {key: value for key, value in attrs.items() if key != "worker.create_time"}
        assert not is_dead_local_worker(legacy)  # recorded before create times: the pid decides
        assert not is_dead_local_worker({**attrs, "worker.host": "another-machine"})
    finally:
        child.kill()
        child.wait()


def test_the_dashboard_names_the_smoke_objective_with_its_collapse_penalty(store):
    from harness.report.reading import spec_objective_name
    from harness.study.queue import create_or_resume
    from harness.study.worker import objective_value

    spec = load_spec(Path(__file__).parents[2] / "studies" / "smoke.toml")
    storage = open_storage(None, spec.storage)
    study, created = create_or_resume(spec, storage)
    assert created
    # A trial valued as the worker values it: MR-LSD 90 dB, every clip collapsed.
    value = objective_value(spec.objective, {"quality/mr_lsd_db": 90.0,
                                             "eval/collapsed_share": 1.0})
    assert value == 140.0
    trial = study.ask()
    study.tell(trial, value)
    reloaded = optuna.load_study(study_name="smoke",
                                 storage=open_storage(None, create=False).optuna)
    assert reloaded.metric_names == ["quality/mr_lsd_db + 50 × eval/collapsed_share"]
    assert reloaded.best_value == 140.0  # = 90 + 50 × 1.0, as the name says
    assert spec_objective_name(spec.source) == reloaded.metric_names[0]  # the report's name


def test_the_music_answer_study_is_collapse_cpu_with_only_its_dataset_switched():
    studies = REPO / "studies"
    corpus = load_spec(studies / "collapse_cpu.toml")
    music = load_spec(studies / "collapse_cpu_music.toml")
    assert corpus.dataset.builtin and music.dataset.audio == ("../shared/data/music",)
    for field in ("base_variant", "overrides", "grid", "replicates", "objective",
                  "budget", "pruner"):
        assert getattr(music, field) == getattr(corpus, field), field
    # The seed differs on purpose: it picks the held-out pieces (a long one, for the floor).
    assert corpus.replicates >= 3 and corpus.grid["gan_steps"][0] == 0  # GAN off is a level
    assert len(corpus.cells()) == 8 * corpus.replicates
