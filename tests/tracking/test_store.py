"""MLflow tracking against real stores: what a run records, and a status that tells the truth."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from scipy.io import wavfile
from ui_support import mlflow_server

from harness.common.errors import SampleGanError
from harness.common.redaction import redact_text, redact_url
from harness.evaluation.diagnostics import LABELS
from harness.tracking.plots import (
    CURVE_PANELS,
    LEARNING_CURVE_TITLE,
    panels_drawn,
    plot_training_curves,
)
from harness.tracking.store import TrackedRun, TrackingStore


def client_for(store_dir: Path):
    # Through TrackingStore: it waits on the lock a concurrently starting `samplegan train`
    # holds while it creates the database.
    return TrackingStore.open(f"sqlite:///{store_dir / 'mlflow.db'}").client()


def artifact_paths(client, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for entry in client.list_artifacts(run_id, path):
        if entry.is_dir:
            found |= artifact_paths(client, run_id, entry.path)
        else:
            found.add(entry.path)
    return found


# ------------------------------------------------------------------------- redaction
def test_redact_url_hides_only_the_password():
    assert redact_url("postgresql://alice:s3cret@db:5432/optuna") == "postgresql://alice:***@db:5432/optuna"
    assert redact_url("postgresql://alice@db/optuna") == "postgresql://alice@db/optuna"
    assert redact_url("http://u:p@host:5000") == "http://u:***@host:5000"
    assert redact_url("mlruns/optuna.journal") == "mlruns/optuna.journal"
    assert redact_text("failed for s3cret@db", "postgresql://alice:s3cret@db/x") == "failed for ***@db"


# ------------------------------------------------------------------ a finished run
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_corpus, tiny_set_args, cli):
    """`samplegan train` of the paper variant, in its own store: (store dir, run id, result)."""
    home = tmp_path_factory.mktemp("tracked")
    env = {"SAMPLEGAN_STORE_DIR": str(home / "mlruns")}
    completed = cli("train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
                    "--seed", "4", env=env, check=True)
    run_id = completed.stdout.strip().splitlines()[-1]
    return home / "mlruns", run_id, completed


@pytest.mark.slow
def test_train_prints_the_run_id_last_and_shows_progress(finished_run):
    store_dir, run_id, completed = finished_run
    assert len(run_id) == 32 and all(ch in "0123456789abcdef" for ch in run_id)
    assert "gan" in completed.stderr and "autoencoder" in completed.stderr  # progress bars


@pytest.mark.slow
def test_a_run_records_params_for_reproduction(finished_run, tiny_corpus):
    store_dir, run_id, _ = finished_run
    run = client_for(store_dir).get_run(run_id)
    params = run.data.params
    assert run.info.status == "FINISHED"
    assert params["variant"] == "paper"
    assert json.loads(params["overrides"])["n"] == 32
    assert params["config.n"] == "32" and params["config.lstm_mode"] == "stateless"
    assert params["config.seed_source"] == "encoded" and params["config.output_head"] == "tanh"
    assert params["seed"] == "4"
    assert params["dataset.path"] == str(tiny_corpus)
    assert len(params["dataset.manifest_sha256"]) == 64
    assert len(params["git_commit"]) in (40, len("unknown"))
    assert params["git_dirty"] in ("true", "false", "unknown")
    for package in ("tensorflow", "keras", "mlflow", "optuna"):
        assert params[f"version.{package}"][0].isdigit()
    assert run.data.tags["samplegan.outcome"] == "completed"


@pytest.mark.slow
def test_a_run_records_metrics_with_steps(finished_run):
    store_dir, run_id, _ = finished_run
    client = client_for(store_dir)
    # two steps per phase: one partial window each, its mean logged at its last step
    d_loss = client.get_metric_history(run_id, "gan/d_loss")
    assert [m.step for m in d_loss] == [1]
    assert [m.step for m in client.get_metric_history(run_id, "autoencoder/reconstruction_mse")] == [1]
    metrics = client.get_run(run_id).data.metrics
    for key in ("gan/g_loss", "gan/d_acc_real", "gan/d_acc_fake", "gan/g_grad_norm",
                "gan/d_grad_norm", "eval/collapsed_share", "eval/share_silent",
                "quality/mr_lsd_db", "quality/mr_lsd_db_real_vs_real",
                "quality/mr_lsd_db_real_vs_real_std", "quality/mr_lsd_db_real_vs_real_p95",
                "dynamics/steps"):
        assert key in metrics, key
    # 2 clips of 256 samples: 2 log-mel frames, so no Fréchet distance and no floor for it
    assert not any(key.startswith("quality/frechet_logmel") for key in metrics)
    assert [m.step for m in client.get_metric_history(run_id, "eval/collapsed_share")] == [2]


@pytest.mark.slow
def test_a_run_records_audio_plots_diagnostics_page_config_and_model(finished_run):
    store_dir, run_id, _ = finished_run
    client = client_for(store_dir)
    paths = artifact_paths(client, run_id)
    expected = {"config.json", "dynamics.json", "training_curves.png", "final/clip_00.wav",
                "final/clip_01.wav", "final/clips.png", "final/diagnostics.json",
                "final/index.html", "eval/step_000002/clip_00.wav", "eval/step_000002/clips.png",
                "model/config.json", "model/generator.weights.h5", "model/encoder.weights.h5",
                "model/seed_bank.npy"}
    assert expected <= paths
    local = Path(client.download_artifacts(run_id, "final"))
    rate, audio = wavfile.read(local / "clip_00.wav")
    assert rate == 16000 and audio.dtype.name == "int16" and len(audio) == 256
    page = (local / "index.html").read_text()
    assert page.count("<audio") == 2 and "data:audio/wav;base64," in page
    assert "<title>paper — step 2</title>" in page
    assert "<th>steps</th><td>autoencoder 2, pretrain 0, gan 2</td>" in page
    assert "<th>overrides</th><td>sample_rate=16000, n=32, lstm_units=4," in page
    assert "<th>AC level dBFS</th>" in page and "<th>quality/mr_lsd_db</th>" in page
    assert "data:image/png;base64," in page
    diagnostics = json.loads((local / "diagnostics.json").read_text())
    assert diagnostics["batch"]["clips"][0]["label"] in LABELS


@pytest.mark.slow
def test_the_training_curves_show_every_phase_the_run_had_and_the_page_embeds_them(finished_run):
    store_dir, run_id, _ = finished_run
    client = client_for(store_dir)
    params = client.get_run(run_id).data.params
    assert params["config.pretrain_epochs"] == "0"  # paper: autoencoder and GAN only
    png = Path(client.download_artifacts(run_id, "training_curves.png"))
    panels = panels_drawn(png)
    # The trainer's own per-step history, saved with its checkpoints.
    history = json.loads((store_dir / "work" / run_id / "history.json").read_text())
    ae_steps, gan_steps = int(params["config.ae_steps"]), int(params["config.gan_steps"])
    for title, keys, *_ in CURVE_PANELS:
        expected = ae_steps if title.startswith("autoencoder") else (
            gan_steps if title.startswith("GAN") else 0)
        if expected:
            assert panels[title] == {key: expected for key in keys}, title
            assert all(len(history[key]) == expected for key in keys)
        else:
            assert panels[title] == {}, title  # a phase the run did not have says so
    likelihood = client.get_metric_history(run_id, "likelihood/teacher_loss")
    if likelihood:  # the learning curve shows every evaluation that logged one
        assert panels[LEARNING_CURVE_TITLE]["likelihood/teacher_loss"] == len(likelihood)
    else:
        assert panels[LEARNING_CURVE_TITLE] == {}
    page = Path(client.download_artifacts(run_id, "final/index.html")).read_text()
    section = page.split("<h2>Training curves</h2>", 1)[1]
    embedded = re.search(r"src='data:image/png;base64,([^']+)'", section).group(1)
    assert base64.b64decode(embedded) == png.read_bytes()  # the page shows the same figure


def test_metric_histories_come_back_by_step_for_the_learning_curve(store, tmp_path):
    tracking = TrackingStore.open()
    with TrackedRun.start(tracking, "curves", run_name="curves") as run:
        for step, loss in ((2, 5.3), (4, 5.0), (6, 4.6)):
            run.log_metrics({"likelihood/teacher_loss": loss, "likelihood/baseline_linear": 3.6,
                             "likelihood/baseline_marginal": 5.3, "eval/collapsed_share": 1.0}, step)
        time.sleep(0.01)  # a later timestamp: a resumed run evaluates step 6 again
        run.log_metrics({"likelihood/teacher_loss": 4.5}, 6)
        run.flush()
        run.sync()
        histories = run.metric_histories("likelihood/")
    assert histories["likelihood/teacher_loss"] == [(2, 5.3), (4, 5.0), (6, 4.5)]
    assert histories["likelihood/baseline_linear"] == [(2, 3.6), (4, 3.6), (6, 3.6)]
    assert set(histories) == {"likelihood/teacher_loss", "likelihood/baseline_linear",
                              "likelihood/baseline_marginal"}
    curves = plot_training_curves({}, tmp_path / "curves.png", histories)
    assert curves.panels[LEARNING_CURVE_TITLE] == {"likelihood/teacher_loss": 3,
                                                   "likelihood/baseline_linear": 1,
                                                   "likelihood/baseline_marginal": 1}


@pytest.mark.slow
def test_without_a_held_out_split_the_run_says_quality_is_on_training_audio(
        finished_run, store, tiny_set_args, tmp_path, cli):
    store_dir, run_id, completed = finished_run
    client = client_for(store_dir)
    assert client.get_run(run_id).data.tags["samplegan.quality_reference"] == "holdout"
    assert "TRAINING audio" not in completed.stderr
    page = (Path(client.download_artifacts(run_id, "final")) / "index.html").read_text()
    assert "held-out audio" in page and "TRAINING audio" not in page

    from harness.data.corpus import synthesize_dataset

    synthesize_dataset(tmp_path / "all-train", seconds=4.0, sample_rate_hz=16000, n=32, pieces=2,
                       holdout_fraction=0.0, seed=0, force=False)
    trained = cli("train", "--variant", "paper", "--data", "all-train",  # relative to the cwd
                  *tiny_set_args, check=True)
    [warning] = [line for line in trained.stderr.splitlines() if "TRAINING audio" in line]
    assert warning.startswith("warning: all-train: quality is measured against")
    train_run = trained.stdout.strip().splitlines()[-1]
    client = client_for(store)
    run = client.get_run(train_run)
    assert run.data.tags["samplegan.quality_reference"] == "train"
    assert run.data.params["dataset.path"] == str(tmp_path / "all-train")  # logged absolute
    assert run.data.params["host.gpus"] != "unknown"  # TensorFlow was asked, as in study trials
    page = (Path(client.download_artifacts(train_run, "final")) / "index.html").read_text()
    assert "quality is measured against the TRAINING audio" in page


@pytest.mark.slow
def test_generate_writes_playable_16bit_audio_at_the_variant_rate(finished_run, tmp_path, cli):
    store_dir, run_id, _ = finished_run
    out = tmp_path / "one.wav"
    completed = cli("generate", "--run", run_id, "--seconds", "0.05", "--out", str(out),
                    env={"SAMPLEGAN_STORE_DIR": str(store_dir)}, check=True)
    assert completed.stdout.strip().splitlines()[-1] == str(out)
    rate, audio = wavfile.read(out)
    assert rate == 16000 and audio.dtype.name == "int16" and len(audio) == 800


@pytest.mark.slow
def test_generate_from_an_unknown_run_is_one_line(finished_run, tmp_path, cli):
    store_dir, _, _ = finished_run
    completed = cli("generate", "--run", "0" * 32, "--seconds", "1", "--out", str(tmp_path / "x.wav"),
                    env={"SAMPLEGAN_STORE_DIR": str(store_dir)})
    assert completed.returncode == 2
    assert completed.stderr.strip().splitlines()[-1].startswith("error: no MLflow run")
    assert not (tmp_path / "x.wav").exists()


# ------------------------------------------------------------------ failure paths
@pytest.mark.slow
def test_a_diverging_run_is_failed_with_its_error(store, tiny_corpus, tiny_set_args, cli):
    completed = cli("train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
                    "--set", "lr_discriminator=1e38")
    assert completed.returncode == 2
    last = completed.stderr.strip().splitlines()[-1]
    assert re.match(r"error: [dg]_loss became inf at gan step \d+ \(MLflow run \w+ marked FAILED\)$",
                    last), last
    client = client_for(store)
    (run,) = client.search_runs([client.get_experiment_by_name("samplegan").experiment_id])
    assert run.info.status == "FAILED"
    assert re.match(r"TrainingDiverged: [dg]_loss became inf", run.data.tags["samplegan.error"])
    error_text = Path(client.download_artifacts(run.info.run_id, "error.txt")).read_text()
    assert "Traceback" in error_text and "TrainingDiverged" in error_text


def test_bad_input_fails_before_any_run_exists(store, tiny_corpus, cli):
    unknown = cli("train", "--variant", "nope", "--data", str(tiny_corpus))
    assert unknown.returncode == 2 and "known variants: paper" in unknown.stderr
    bad_key = cli("train", "--variant", "paper", "--data", str(tiny_corpus), "--set", "units=3")
    assert bad_key.returncode == 2 and "valid keys:" in bad_key.stderr
    mismatch = cli("train", "--variant", "paper", "--data", str(tiny_corpus))
    assert mismatch.returncode == 2
    assert mismatch.stderr.strip().splitlines()[-1].startswith("error: dataset")
    assert "--n 500 --sample-rate 44100" in mismatch.stderr
    suggested = re.search(r"train at the dataset's with ((?:--set \S+ ?)+)", mismatch.stderr)[1]
    assert suggested.split() == ["--set", "n=32", "--set", "sample_rate=16000"]
    from models.registry import parse_overrides, resolve

    config = resolve("paper", parse_overrides(suggested.split()[1::2]))  # accepted as given
    assert (config.n, config.sample_rate) == (32, 16000)
    for completed in (unknown, bad_key, mismatch):
        assert "Traceback" not in completed.stderr
    if (store / "mlflow.db").exists():
        client = client_for(store)
        experiment = client.get_experiment_by_name("samplegan")
        assert experiment is None or not client.search_runs([experiment.experiment_id])


def test_help_names_the_store_the_command_would_use(tmp_path, cli):
    elsewhere = tmp_path / "elsewhere"
    for command in (["train"], ["report"], ["study", "run"]):
        completed = cli(*command, "--help", env={"SAMPLEGAN_STORE_DIR": str(elsewhere)},
                        check=True)
        help_text = "".join(completed.stdout.split())  # click wraps even inside long paths
        assert f"theSQLitestore{elsewhere / 'mlflow.db'}" in help_text, command
        if command != ["train"]:
            assert f"thejournalfile{elsewhere / 'optuna.journal'}" in help_text, command


def _wait_for_running_run(store: Path, process: subprocess.Popen, timeout: float = 120) -> str:
    """The run id once `samplegan train` has started its run and logged its params."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if (store / "mlflow.db").exists():
            client = client_for(store)
            experiment = client.get_experiment_by_name("samplegan")
            runs = client.search_runs([experiment.experiment_id]) if experiment else []
            if runs and "config.n" in runs[0].data.params:
                assert runs[0].info.status == "RUNNING"
                return runs[0].info.run_id
        time.sleep(0.3)
    raise AssertionError("training never started its run")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_run_is_killed_never_left_running(sig, store, tiny_corpus, tiny_set_args):
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("samplegan")), "train", "--variant", "paper",
         "--data", str(tiny_corpus), *tiny_set_args, "--set", "ae_steps=1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        run_id = _wait_for_running_run(store, process)
        time.sleep(1.0)
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    expected = "error: terminated" if sig == signal.SIGTERM else "error: interrupted"
    assert expected in stderr.splitlines(), stderr[-3000:]
    run = client_for(store).get_run(run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["samplegan.killed_by"] in ("Terminated", "KeyboardInterrupt")
    assert f"--resume {run_id}" in stderr


def _gan_steps_done(stderr_lines: list[str]) -> int:
    """The GAN progress bar's latest count in what `samplegan train` wrote to stderr so far."""
    counts = [int(match) for line in stderr_lines
              for match in re.findall(r"gan:\s+\d+%\|[^|]*\|\s*(\d+)/", line)]
    return max(counts, default=0)


@pytest.mark.slow
def test_an_interrupted_run_resumes_where_it_stopped_with_one_point_per_step(
        store, tiny_corpus, tiny_set_args, cli):
    args = ["train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
            "--set", "gan_steps=100000", "--set", "eval_every=25"]
    process = subprocess.Popen([str(Path(sys.executable).with_name("samplegan")), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    stderr: list[str] = []
    reader = threading.Thread(target=lambda: stderr.extend(iter(process.stderr.readline, "")))
    reader.start()
    try:
        run_id = _wait_for_running_run(store, process)
        deadline = time.monotonic() + 300
        while _gan_steps_done(stderr) < 30:  # past an evaluation, into the GAN phase
            assert time.monotonic() < deadline and process.poll() is None, "".join(stderr)
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
        reader.join()
    finally:
        process.kill()
    [message] = [line for line in stderr if line.startswith("interrupted at gan step ")]
    stopped_at = int(re.match(r"interrupted at gan step (\d+), checkpoint saved", message)[1])
    assert f"and --resume {run_id}" in message
    client = client_for(store)
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["samplegan.killed_by"] == "KeyboardInterrupt"
    assert run.data.tags["samplegan.interrupted_at"] == f"gan step {stopped_at}"

    # --max-minutes is how long to run, not what to train: it may differ from the first call
    resumed = cli(*args, "--resume", run_id, "--max-minutes", "0.5", check=True)
    assert resumed.stdout.strip().splitlines()[-1] == run_id
    assert (f"resuming MLflow run {run_id} from its checkpoint at gan step {stopped_at}"
            in resumed.stderr)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["samplegan.resumed"] == "true"
    assert run.data.tags["samplegan.outcome"] == "stopped_early"
    assert not {"samplegan.killed_by", "samplegan.interrupted_at"} & set(run.data.tags)
    for key in run.data.metrics:  # one point per step, for every metric
        steps = [metric.step for metric in client.get_metric_history(run_id, key)]
        assert len(steps) == len(set(steps)), (key, sorted(steps))
    assert len(client.get_metric_history(run_id, "autoencoder/reconstruction_mse")) == 1
    steps = sorted(m.step for m in client.get_metric_history(run_id, "gan/d_loss"))
    # windows of ten steps, and partial ones at each checkpoint: every evaluation (every 25
    # steps), where the first call stopped and where the second ended
    assert stopped_at - 1 in steps and max(steps) >= stopped_at
    assert all(step % 10 == 9 or (step + 1) % 25 == 0 for step in steps[:-1]
               if step != stopped_at - 1), steps
    evaluations = sorted(m.step for m in client.get_metric_history(run_id, "eval/collapsed_share"))
    assert evaluations[:-1] == list(range(25, max(evaluations), 25))
    finished = cli(*args, "--resume", run_id)
    assert finished.returncode == 2 and "already FINISHED" in finished.stderr


@pytest.mark.slow
def test_a_resumed_run_keeps_the_points_an_earlier_attempt_logged(store):
    tracking = TrackingStore.open()
    first = TrackedRun.start(tracking, "resume-points")
    with pytest.raises(KeyboardInterrupt), first:
        for step in range(10):
            first.log_metrics({"loss": float(step)}, step)
        raise KeyboardInterrupt
    client = tracking.client()
    assert client.get_run(first.run_id).data.tags["samplegan.killed_by"] == "KeyboardInterrupt"
    # A crash after step 9 was logged, but the last checkpoint was at step 6: resumed
    # training repeats steps 6-9 and must not log them again.
    with TrackedRun.start(tracking, "resume-points", resume_run_id=first.run_id) as resumed:
        for step in range(6, 14):
            resumed.log_metrics({"loss": 100.0 + step, "fresh": float(step)}, step)
    loss = sorted((m.step, m.value) for m in client.get_metric_history(first.run_id, "loss"))
    assert loss == [(step, float(step)) for step in range(10)] + [
        (step, 100.0 + step) for step in range(10, 14)]
    assert sorted(m.step for m in client.get_metric_history(first.run_id, "fresh")) == list(
        range(6, 14))
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED" and "samplegan.killed_by" not in run.data.tags


# ---------------------------------------------------------------------- the stores
_WRITER = """
import sys, time
from harness.tracking.store import TrackedRun, TrackingStore
store = TrackingStore.open()
run = TrackedRun.start(store, "concurrency", run_name=f"writer {sys.argv[1]}")
with run:
    run.log_params({f"p{i}": i for i in range(120)})
    for step in range(40):
        run.log_metrics({f"m{k}": step * k for k in range(30)}, step)
        run.flush()
        run.set_tags({"last_step": step})
print(run.run_id)
"""


@pytest.mark.slow
def test_concurrent_writers_on_a_new_sqlite_store_never_fail(store):
    """Six processes create the same new database at once and then write batches together."""
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(i)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in range(6)]
    outputs = [writer.communicate(timeout=240) for writer in writers]
    for writer, (_, stderr) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, stderr[-2000:]
        assert "database is locked" not in stderr
    client = client_for(store)
    runs = client.search_runs([client.get_experiment_by_name("concurrency").experiment_id])
    assert len(runs) == 6 and {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        assert len(client.get_metric_history(run.info.run_id, "m29")) == 40
        assert len(run.data.params) == 120


def test_a_failed_background_write_fails_the_run(store):
    tracking = TrackingStore.open()
    run = TrackedRun.start(tracking, "writer", run_name="writer")
    with pytest.raises(ZeroDivisionError), run:
        run.log_metrics({"x": 1.0}, step=0)
        run.in_background(lambda: 1 / 0)
    stored = tracking.client().get_run(run.run_id)
    assert stored.info.status == "FAILED"
    assert stored.data.tags["samplegan.error"].startswith("ZeroDivisionError")


def test_an_unreachable_tracking_server_is_one_line_without_the_password():
    with pytest.raises(SampleGanError) as raised:
        TrackingStore.open("http://alice:hunter2@127.0.0.1:9/")
    message = str(raised.value)
    assert "cannot reach the MLflow server at http://alice:***@127.0.0.1:9/" in message
    assert "hunter2" not in message and "\n" not in message


def test_a_plain_file_store_is_refused_with_what_to_use_instead(tmp_path):
    with pytest.raises(SampleGanError, match="sqlite:///"):
        TrackingStore.open(f"file://{tmp_path}/mlruns")


@pytest.mark.postgres
def test_a_postgresql_backend_store_records_runs_and_redacts_its_password(pg_database, store):
    url = pg_database("mlflow").replace("postgresql://postgres@", "postgresql://postgres:pa55word@")
    tracking = TrackingStore.open(url)
    run = TrackedRun.start(tracking, "pg-experiment", run_name="pg")
    with run:
        run.log_params({"a": 1})
        run.log_metrics({"x": 1.5}, step=3)
    stored = tracking.client().get_run(run.run_id)
    assert stored.info.status == "FINISHED" and stored.data.metrics["x"] == 1.5
    assert stored.data.tags["samplegan.tracking_uri"].startswith("postgresql://postgres:***@")
    everything = json.dumps([stored.data.params, stored.data.tags])
    assert "pa55word" not in everything
    bad = url.replace(":5432/", ":1/")
    with pytest.raises(SampleGanError) as raised:
        TrackingStore.open(bad)
    assert "pa55word" not in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.slow
@pytest.mark.postgres
def test_the_multi_machine_setup_an_mlflow_server_on_postgresql(
        pg_database, tmp_path, tiny_corpus, tiny_set_args, cli):
    """Training and generation through `mlflow server` with a PostgreSQL backend store."""
    with mlflow_server(pg_database("server"), tmp_path / "shared-artifacts") as uri:
        env = {"MLFLOW_TRACKING_URI": uri, "SAMPLEGAN_STORE_DIR": str(tmp_path / "local")}
        completed = cli("train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
                        env=env, check=True)
        run_id = completed.stdout.strip().splitlines()[-1]
        run = TrackingStore.open(uri).client().get_run(run_id)
        assert run.info.status == "FINISHED"
        assert list((tmp_path / "shared-artifacts").rglob("clip_00.wav"))  # via the server
        cli("generate", "--run", run_id, "--seconds", "0.01", "--out", str(tmp_path / "g.wav"),
            env=env, check=True)
        assert wavfile.read(tmp_path / "g.wav")[0] == 16000
