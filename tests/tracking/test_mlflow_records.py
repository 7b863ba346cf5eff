"""What MLflow's own pages and loaders see of a run: its dataset input and its logged model."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import scipy.io.wavfile

from harness.data.loader import manifest_sha256

pytestmark = pytest.mark.slow


def test_a_run_records_its_dataset_and_a_model_mlflow_loads_and_generates_from(
        cli, store, tiny_corpus, tiny_set_args, monkeypatch):
    trained = cli("train", "--variant", "paper", "--data", str(tiny_corpus), *tiny_set_args,
                  check=True)
    run_id = trained.stdout.strip()
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
    wav = store.parent / "generated.wav"
    cli("generate", "--run", run_id, "--seconds", "0.02", "--seed", "3", "--out", str(wav),
        check=True)
    rate, written = scipy.io.wavfile.read(wav)
    assert rate == 16000
    np.testing.assert_allclose(clip, written / 32768.0, atol=1.0 / 32768 + 1e-6)
