"""What the study tests share: tiny specs, the stores they write, and starting `study run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.trial import TrialState

from harness.study.optuna_storage import open_storage
from harness.tracking.store import TrackingStore

REPO = Path(__file__).resolve().parents[2]
SAMPLEGAN = str(Path(sys.executable).with_name("samplegan"))

TINY_OVERRIDES = """
[overrides]
sample_rate = 16000
n = 32
lstm_units = 4
ae_levels = 1
ae_filters = 4
ae_kernel = 3
ae_steps = 2
batch_size = 4
prefilter_filters = 2
prefilter_kernel = 3
prefilter_pool = 2
grad_positions = 4
eval_every = 1
eval_clips = 2
eval_samples = 256
generation_xla = false
"""


def write_spec(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'name = "{name}"\nbase_variant = "paper"\n'
                    "[dataset]\nbuiltin = true\nseconds = 3.0\npieces = 2\n"
                    f"{TINY_OVERRIDES}{body}")
    return path


def trials_of(name: str, storage: str | None = None) -> list[optuna.trial.FrozenTrial]:
    opened = open_storage(storage, create=False)
    return optuna.load_study(study_name=name, storage=opened.optuna).get_trials(deepcopy=True)


def child_runs(name: str, tracking_uri: str | None = None):
    client = TrackingStore.open(tracking_uri).client()
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("samplegan.role") == "study"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def _interruptible() -> None:
    """In the child before exec: Ctrl-C does what it does in a terminal, even when pytest runs
    as a background job (`cmd &`, nohup), which starts its children with SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def launch(spec: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([SAMPLEGAN, "study", "run", str(spec), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=_interruptible,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})


def wait_for_running_trial(name: str, process: subprocess.Popen, storage: str | None = None,
                           timeout: float = 180) -> optuna.trial.FrozenTrial:
    """A RUNNING trial that already has its MLflow run and worker identity."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            for trial in trials_of(name, storage):
                attrs = trial.user_attrs
                if trial.state == TrialState.RUNNING and "mlflow_run_id" in attrs \
                        and "worker.pid" in attrs:
                    return trial
        except Exception:  # the study may not exist yet
            pass
        time.sleep(0.5)
    raise AssertionError("no trial started")



GOOD = {
    "name": "ok", "base_variant": "paper",
    "dataset": {"builtin": True},
    "design": {"grid": {"generator": ["stateless", "stateful"]}, "replicates": 2},
    "objective": {"metric": "quality/mr_lsd_db"},
}


def spec_with(**changes) -> dict:
    data = json.loads(json.dumps(GOOD))
    for dotted, value in changes.items():
        table = data
        *parents, key = dotted.split("__")
        for parent in parents:
            table = table.setdefault(parent, {})
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return data


def study_status(name: str) -> dict:
    """`samplegan study status NAME --json`, parsed."""
    completed = subprocess.run([SAMPLEGAN, "study", "status", name, "--json"],
                               capture_output=True, text=True, timeout=120, check=True)
    return json.loads(completed.stdout)
