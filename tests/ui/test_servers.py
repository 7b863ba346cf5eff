"""`samplegan ui`: taken ports, servers that die at start, a remote tracking server, Ctrl-C."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from ui_support import SAMPLEGAN, UiProcess, alive, descendants, free_port, port_open, store_env

from harness.tracking.store import TrackingStore
from harness.ui import servers as ui
from models.errors import SampleGanError

DASHBOARD_INSTALLED = importlib.util.find_spec("optuna_dashboard") is not None


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


@pytest.mark.slow
def test_taken_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SAMPLEGAN, "ui", "--port", str(port), "--dashboard-port", str(free_port())],
            cwd=tmp_path, env=store_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {port} (--port) on 127.0.0.1 is in use" in result.stderr
    assert "pick another with --port" in result.stderr
    assert not (tmp_path / "mlruns" / "logs").exists()  # failed before starting anything


@pytest.mark.slow
def test_every_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as first, socket.socket() as second:
        for taken in (first, second):
            taken.bind(("127.0.0.1", 0))
            taken.listen()
        ports = [taken.getsockname()[1] for taken in (first, second)]
        result = subprocess.run(
            [SAMPLEGAN, "ui", "--port", str(ports[0]), "--dashboard-port", str(ports[1])],
            cwd=tmp_path, env=store_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert (f"ports {ports[0]} (--port) and {ports[1]} (--dashboard-port) on 127.0.0.1 are in "
            "use") in result.stderr


def test_server_dying_at_start_is_reported_from_its_log(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    secret_url = "postgresql://worker:hunter2@db/mlflow"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", f"print('starting'); print('cannot connect to {secret_url}')"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = ui._Server("MLflow UI", f"http://127.0.0.1:{free_port()}", "/health", "", process,
                        log_path)
    with pytest.raises(SampleGanError) as error:
        ui._wait_until_ready([server], threading.Event(), (secret_url,))
    message = str(error.value)
    assert "MLflow UI failed to start" in message
    assert "cannot connect to postgresql://worker:***@db/mlflow" in message
    assert "hunter2" not in message
    assert "\n" not in message


@pytest.fixture(scope="module")
def running_ui(tmp_path_factory: pytest.TempPathFactory):
    """One `samplegan ui` for the module (it takes ~15 s to start); a study is in its journal."""
    tmp_path = tmp_path_factory.mktemp("ui")
    TrackingStore.open(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")  # the UI creates none
    if DASHBOARD_INSTALLED:
        import optuna

        from harness.study.optuna_storage import open_storage

        journal = open_storage(str(tmp_path / "mlruns" / "optuna.journal")).optuna
        optuna.create_study(storage=journal, study_name="ui-test")
    ports = free_port(), free_port()
    started = UiProcess.start(tmp_path, *ports)
    try:
        started.wait_ready()
        yield started, ports
    finally:
        started.kill()


@pytest.mark.slow
def test_both_servers_answer_with_the_local_stores(running_ui) -> None:
    started, (port, dashboard_port) = running_ui
    assert _get(f"http://127.0.0.1:{port}/health") == b"OK"
    assert f"http://127.0.0.1:{port}" in started.output
    if DASHBOARD_INSTALLED:
        studies = json.loads(_get(f"http://127.0.0.1:{dashboard_port}/api/studies"))["study_summaries"]
        assert [study["study_name"] for study in studies] == ["ui-test"]
        assert f"http://127.0.0.1:{dashboard_port}" in started.output
    else:
        assert "pip install -e '.[dashboard]'" in started.output


@pytest.mark.slow
def test_remote_tracking_server_is_only_printed(running_ui, monkeypatch, capsys) -> None:
    _, (port, _) = running_ui
    monkeypatch.setattr(ui, "_dashboard_installed", lambda: False)
    url = f"http://127.0.0.1:{port}"
    assert ui.serve(port=free_port(), dashboard_port=free_port(), tracking_uri=url,
                    storage=None) == 0
    assert f"MLflow UI:        {url}  (the tracking server itself; nothing to start)" in (
        capsys.readouterr().out)


# A starter that runs a command under the guard (a child that starts a grandchild, both
# sleeping), prints the guard's pid and waits to be killed.
_STARTER = """
import subprocess, sys, time
grandchild = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"
guard = subprocess.Popen([sys.executable, "-m", "harness.ui.process_guard", sys.executable, "-c", grandchild],
                         stdin=subprocess.PIPE, start_new_session=True)
print(guard.pid, flush=True)
time.sleep(120)
"""


def test_the_guard_stops_its_command_and_the_commands_children_when_its_starter_dies() -> None:
    import psutil

    starter = subprocess.Popen([sys.executable, "-c", _STARTER], stdout=subprocess.PIPE, text=True)
    try:
        guard = psutil.Process(int(starter.stdout.readline()))
        deadline = time.monotonic() + 60
        while len(guard.children(recursive=True)) < 2:  # the command and its child
            assert time.monotonic() < deadline, "the guarded command never started its child"
            time.sleep(0.1)
        guarded = [guard, *guard.children(recursive=True)]
        starter.kill()
        starter.wait()
        _, survivors = psutil.wait_procs(guarded, timeout=30)
        assert survivors == []
    finally:
        starter.kill()
        starter.wait()


@pytest.mark.slow
def test_a_killed_ui_leaves_no_server_behind(tmp_path: Path) -> None:
    """SIGKILL gives `samplegan ui` no chance to stop its servers: their guards must."""
    import psutil

    TrackingStore.open(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    if DASHBOARD_INSTALLED:
        import optuna

        from harness.study.optuna_storage import open_storage

        optuna.create_study(storage=open_storage(str(tmp_path / "mlruns" / "optuna.journal")).optuna)
    ports = free_port(), free_port()
    started = UiProcess.start(tmp_path, *ports)
    try:
        started.wait_ready()
        servers = psutil.Process(started.process.pid).children(recursive=True)
        # guard + mlflow launcher + its uvicorn, guard + dashboard
        assert len(servers) >= (5 if DASHBOARD_INSTALLED else 3), servers
        started.kill_hard()
        _, survivors = psutil.wait_procs(servers, timeout=30)
        assert survivors == []
        assert not port_open(ports[0]) and not port_open(ports[1])
    finally:
        started.kill()


# Last in the module: it stops the shared `samplegan ui`.
@pytest.mark.slow
def test_sigint_stops_both_servers_and_frees_the_ports(running_ui) -> None:
    started, ports = running_ui
    servers = descendants(started.process.pid)
    # each under its guard: mlflow, its uvicorn, the dashboard
    assert len(servers) >= (5 if DASHBOARD_INSTALLED else 3)
    assert started.interrupt() == 0, started.output
    assert [pid for pid in servers if alive(pid)] == []
    assert not port_open(ports[0])
    assert not port_open(ports[1])
