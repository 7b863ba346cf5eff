"""Read-only commands never create a store: where there is none they say so and exit 2.

Each command runs as the real console script in an empty folder with the default stores
(./mlruns), and the folder must still be empty afterwards.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from ui_support import SAMPLEGAN, free_port

STORE_VARIABLES = ("MLFLOW_TRACKING_URI", "SAMPLEGAN_STORAGE", "SAMPLEGAN_STORE_DIR")
NO_MLFLOW_STORE = "no MLflow store at "
NO_STUDY_STORAGE = "no study storage at "


def _run_in(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in STORE_VARIABLES}
    return subprocess.run([SAMPLEGAN, *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _one_error_line(completed: subprocess.CompletedProcess) -> str:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), completed.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "expected"), [
    (["generate", "--run", "NO_SUCH_ID", "--seconds", "1", "--out", "x.wav"], NO_MLFLOW_STORE),
    (["evaluate", "--run", "NO_SUCH_ID"], NO_MLFLOW_STORE),
    (["report", "no-such-study"], NO_STUDY_STORAGE),
    (["study", "status", "no-such-study"], NO_STUDY_STORAGE),
    (["diagnose", "missing.wav", "--n", "500"], "no file could be read"),
], ids=["generate", "evaluate", "report", "study-status", "diagnose"])
def test_a_read_only_command_in_an_empty_folder_creates_nothing(tmp_path, args, expected):
    error = _one_error_line(_run_in(tmp_path, *args))
    assert expected in error
    if expected == NO_MLFLOW_STORE:
        assert str(tmp_path / "mlruns" / "mlflow.db") in error and "--tracking-uri" in error
    assert sorted(tmp_path.iterdir()) == []


def test_ui_without_a_store_starts_nothing_and_creates_nothing(tmp_path):
    completed = _run_in(tmp_path, "ui", "--port", str(free_port()),
                        "--dashboard-port", str(free_port()))
    assert NO_MLFLOW_STORE in _one_error_line(completed)
    assert sorted(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_generate_on_an_empty_database_leaves_it_empty(tmp_path, pg_database):
    import sqlalchemy

    url = pg_database("readonly")
    completed = _run_in(tmp_path, "generate", "--run", "NO_SUCH_ID", "--seconds", "1",
                        "--out", "x.wav", "--tracking-uri", url)
    assert f"{NO_MLFLOW_STORE}{url}" in _one_error_line(completed)
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            assert sqlalchemy.inspect(connection).get_table_names() == []
    finally:
        engine.dispose()
    assert sorted(tmp_path.iterdir()) == []
