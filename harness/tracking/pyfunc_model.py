"""A run's exported generator as an MLflow model, so MLflow lists it and its loaders read it.

The Keras flavours cannot stand in: the model is four Keras nets plus a seed bank, and audio
comes from `harness.training.generation`'s sample-by-sample loop, not from a `predict` of one
net. So the run's `model/` folder is wrapped in a small `mlflow.pyfunc.PythonModel` whose
`predict` generates audio as `samplegan generate` does.

    import mlflow, pandas as pd
    mlflow.set_tracking_uri("sqlite:///mlruns/mlflow.db")
    clips = mlflow.pyfunc.load_model("models:/MODEL_ID").predict(
        pd.DataFrame({"seconds": [2.0], "seed": [0]}))  # [float32 (32000,)] at 16 kHz

It is the MLflow form of a run's model, so it lives with the store, and it must stay at this
module path: a logged model holds `SampleGanGenerator` pickled by reference (module and class
name), so models already in a store load only while this path holds.
"""

from __future__ import annotations

import contextlib
import logging
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

MODEL_NAME = "generator"  # the logged model's name on the run page
MODEL_FOLDER = "model"  # the pyfunc artifact holding the `SampleGAN.save` folder


def generate_clip(model, seed_bank: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    """`seconds` of audio, float32 (samples,) in [-1, 1], seeded by seed-bank row and sampling
    seed both drawn from `seed` (what `samplegan generate` writes)."""
    from harness.training.generation import generate_audio

    row = np.random.default_rng(seed).integers(len(seed_bank))
    samples = max(1, round(seconds * model.config.sample_rate))
    return generate_audio(model, seed_bank[row:row + 1], samples, seed=seed)[0]


class SampleGanGenerator(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame, one row per clip, columns `seconds` (float) and `seed` (int,
    default 0). Output: one float32 array (samples,) in [-1, 1] per row, at the model's
    `sample_rate` (in the logged model's params)."""

    def load_context(self, context) -> None:
        from harness.common.quiet_tf import import_tensorflow_quietly

        import_tensorflow_quietly()
        from models.sample_gan import SampleGAN

        self.model, self.seed_bank = SampleGAN.load(Path(context.artifacts[MODEL_FOLDER]))

    def predict(self, context, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[np.ndarray]:
        seeds = model_input["seed"] if "seed" in model_input else [0] * len(model_input)
        return [generate_clip(self.model, self.seed_bank, float(seconds), int(seed))
                for seconds, seed in zip(model_input["seconds"], seeds, strict=True)]


def _requirements() -> list[str]:
    """What loading needs, pinned to this environment (so MLflow need not infer it by
    loading the model in a subprocess)."""
    pinned = []
    for package in ("samplegan-lab", "tensorflow", "keras", "numpy", "pandas", "mlflow"):
        try:
            pinned.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


@contextlib.contextmanager
def _quiet_save():
    """Without the note `save_model` logs at every run's end that the wrapper is pickled (it
    holds no state: its class is imported by name on load)."""
    logger = logging.getLogger("mlflow.pyfunc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def log_generator_model(client, experiment_id: str, run_id: str, model_dir: Path, step: int,
                        params: dict[str, str]) -> str:
    """Log `model_dir` (a `SampleGAN.save` folder) as run `run_id`'s MLflow model at GAN
    step `step`; returns the model id (`models:/ID` for `mlflow.pyfunc.load_model`)."""
    import tempfile

    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    from harness.tracking.store import retrying

    logged = retrying(client.create_logged_model, experiment_id, name=MODEL_NAME,
                      source_run_id=run_id, params=params, model_type="samplegan-generator")
    try:
        retrying(client.log_outputs, run_id, [LoggedModelOutput(logged.model_id, step=step)])
        with tempfile.TemporaryDirectory(prefix="samplegan-pyfunc-") as temp:
            local = Path(temp) / "pyfunc"
            with _quiet_save():
                mlflow.pyfunc.save_model(
                    str(local), python_model=SampleGanGenerator(),
                    artifacts={MODEL_FOLDER: str(model_dir)}, pip_requirements=_requirements(),
                    mlflow_model=Model(artifact_path=logged.artifact_location,
                                       model_uuid=logged.model_id, run_id=run_id,
                                       model_id=logged.model_id))
            retrying(client.log_model_artifacts, logged.model_id, str(local))
    except BaseException:
        retrying(client.finalize_logged_model, logged.model_id, LoggedModelStatus.FAILED)
        raise
    retrying(client.finalize_logged_model, logged.model_id, LoggedModelStatus.READY)
    return logged.model_id
