"""One finished tiny run, read back: `samplegan evaluate` repeats its evaluation from its model
and redraws it; MLflow's own pages and loaders see its dataset input and its logged model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.io.wavfile
from conftest import SAMPLEGAN

from harness.data.loader import manifest_sha256
from harness.runs.evaluate import redraw_rows


def test_draw_zero_is_the_runs_own_rows_and_the_others_are_distinct_and_repeatable():
    np.testing.assert_array_equal(redraw_rows(3, 0, 256, 4), [0, 1, 2, 3])
    drawn = [tuple(redraw_rows(3, draw, 256, 4)) for draw in range(1, 9)]
    assert all(len(set(rows)) == 4 and max(rows) < 256 for rows in drawn)
    assert len(set(drawn)) == 8  # every draw seeds from other segments
    assert drawn == [tuple(redraw_rows(3, draw, 256, 4)) for draw in range(1, 9)]
    assert tuple(redraw_rows(4, 1, 256, 4)) != drawn[0]  # another run seed, other rows
    assert len(redraw_rows(3, 2, 3, 4)) == 3  # a pool smaller than the clips: all of it


def _metric_rows(store) -> int:
    with sqlite3.connect(store / "mlflow.db") as connection:
        return connection.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_corpus, tiny_set_args):
    """A tiny embedded-fix run (teacher forcing, then 2 GAN steps; clips of 600 samples) in a
    store of its own: (store folder, run id, what `train` printed)."""
    store = tmp_path_factory.mktemp("finished") / "mlruns"
    env = {key: value for key, value in os.environ.items()
           if key not in ("SAMPLEGAN_STORAGE", "MLFLOW_TRACKING_URI")}
    trained = subprocess.run(
        [SAMPLEGAN, "train", "--variant", "embedded-fix", "--data", str(tiny_corpus),
         *tiny_set_args, "--set", "pretrain_steps=2", "--set", "eval_samples=600"],
        capture_output=True, text=True, timeout=300, cwd=store.parent,
        env={**env, "SAMPLEGAN_STORE_DIR": str(store), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert trained.returncode == 0, trained.stdout + trained.stderr
    return store, trained.stdout.strip().splitlines()[-1], trained


@pytest.fixture
def in_store(finished_run, monkeypatch):
    store, _, _ = finished_run
    monkeypatch.chdir(store.parent)
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(store))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    return finished_run


@pytest.mark.slow
def test_a_real_run_is_repeated_exactly_then_redrawn_without_writing_anything(
        cli, in_store, tmp_path):
    store, run_id, _ = in_store
    client = mlflow.MlflowClient(f"sqlite:///{store / 'mlflow.db'}")
    logged = client.get_run(run_id).data.metrics
    metrics_before = _metric_rows(store)

    report = json.loads(cli("evaluate", "--run", run_id, "--draws", "2", "--json",
                            check=True).stdout)
    assert report["run_id"] == run_id and report["clips"] == 2 and len(report["draws"]) == 3
    own, *others = report["draws"]
    # Draw 0 is the run's final evaluation, from its exported model: the logged figures.
    assert own["mr_lsd_db"] == pytest.approx(logged["quality/mr_lsd_db"], rel=1e-6)
    assert own["mr_lsd_db_real_vs_real"] == pytest.approx(
        logged["quality/mr_lsd_db_real_vs_real"], rel=1e-6)
    assert own["share_healthy"] == pytest.approx(logged["eval/share_healthy"])
    assert own["rows"] == [0, 1] and own["sampling_seed"] == 0
    # 600-sample clips are under the music minimum: no music figures (docs/music.md).
    assert report["music"].startswith("skipped: clips of 0.0375 s")
    assert all(draw["music"] is None and draw["notes_summary"] is None for draw in report["draws"])
    for draw in report["draws"]:
        assert draw["ratio"] == pytest.approx(draw["mr_lsd_db"] / draw["mr_lsd_db_real_vs_real"])
        assert len(draw["labels"]) == 2 and 0.0 <= draw["rms"] <= 1.0
    assert {tuple(draw["rows"]) for draw in others} != {(0, 1)}
    assert len({draw["mr_lsd_db"] for draw in report["draws"]}) == 3  # other clips, other figures
    values = [draw["mr_lsd_db"] for draw in report["draws"]]
    assert report["summary"]["mr_lsd_db"]["mean"] == pytest.approx(np.mean(values))
    assert report["summary"]["mr_lsd_db"]["sd"] == pytest.approx(np.std(values, ddof=1))
    assert _metric_rows(store) == metrics_before  # read-only: nothing logged to the run

    text = cli("evaluate", "--run", run_id, "--draws", "0", check=True).stdout
    assert f"MR-LSD {own['mr_lsd_db']:.3f} dB (logged {logged['quality/mr_lsd_db']:.3f})" in text

    # The same model, segments and seed, sampled colder: other clips, nothing logged.
    cooler = json.loads(cli("evaluate", "--run", run_id, "--draws", "0", "--json",
                            "--set", "mulaw_temperature=0.3", check=True).stdout)
    assert cooler["sampling"] == {"mulaw_temperature": 0.3}
    assert cooler["draws"][0]["rows"] == own["rows"]
    assert cooler["draws"][0]["rms"] != pytest.approx(own["rms"], rel=1e-6)
    fixed = cli("evaluate", "--run", run_id, "--set", "n=64")
    assert fixed.returncode == 2 and "fixed by the trained weights" in fixed.stderr

    # Bad input: one line, exit 2, nothing written.
    unknown = cli("evaluate", "--run", "0" * 32)
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines()[-1].startswith("error: no MLflow run")
    not_a_dataset = cli("evaluate", "--run", run_id, "--data", str(tmp_path))
    assert not_a_dataset.returncode == 2
    assert not_a_dataset.stderr.strip().splitlines()[-1] == (
        f"error: --data {tmp_path} is not a samplegan dataset (no manifest.json)")
    other = tmp_path / "other"
    cli("data", "synth", "--out", str(other), "--seconds", "6", "--sample-rate", "16000", "--n",
        "32", "--pieces", "3", "--seed", "1", check=True)
    wrong = cli("evaluate", "--run", run_id, "--data", str(other))
    assert wrong.returncode == 2 and "is not the one run" in wrong.stderr.strip().splitlines()[-1]
    assert _metric_rows(store) == metrics_before


@pytest.mark.slow
def test_a_run_records_its_dataset_and_a_model_mlflow_loads_and_generates_from(
        cli, in_store, tiny_corpus, tmp_path, monkeypatch):
    store, run_id, trained = in_store
    assert "CloudPickle" not in trained.stderr and "type hints" not in trained.stderr
    uri = f"sqlite:///{store / 'mlflow.db'}"
    run = mlflow.MlflowClient(uri).get_run(run_id)

    (dataset_input,) = run.inputs.dataset_inputs  # the run page's "Datasets"
    assert dataset_input.dataset.name == tiny_corpus.name
    assert dataset_input.dataset.digest == manifest_sha256(tiny_corpus)[:36]
    assert [(tag.key, tag.value) for tag in dataset_input.tags] == [
        ("mlflow.data.context", "training")]

    (output,) = run.outputs.model_outputs  # the run page's "Logged models"
    model_id = run.data.tags["samplegan.model_id"]
    assert output.model_id == model_id and output.step == 2
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    assert mlflow.get_logged_model(model_id).status.to_proto() == 2  # READY
    loaded = mlflow.pyfunc.load_model(f"models:/{model_id}")
    (clip,) = loaded.predict(pd.DataFrame({"seconds": [0.02], "seed": [3]}))
    assert clip.dtype == np.float32 and clip.shape == (320,)  # 0.02 s at 16 kHz

    # The same audio as `samplegan generate` writes from the run's `model/` artifact.
    wav = tmp_path / "generated.wav"
    cli("generate", "--run", run_id, "--seconds", "0.02", "--seed", "3", "--out", str(wav),
        check=True)
    rate, written = scipy.io.wavfile.read(wav)
    assert rate == 16000
    np.testing.assert_allclose(clip, written / 32768.0, atol=1.0 / 32768 + 1e-6)
