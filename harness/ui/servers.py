"""`samplegan ui`: serve the MLflow UI and the Optuna dashboard on 127.0.0.1 until Ctrl-C.

Both servers run as child processes, each in its own session so that Ctrl-C in
the terminal reaches only this process, which then stops each child's whole
process group (the `mlflow server` launcher and its uvicorn worker alike): no
server outlives the command. Each runs under `harness.ui.process_guard`, which stops
its group when this process dies without that chance (SIGKILL, a crash). Their
output goes to log files under the store folder (`mlruns/logs/`), and the last
line of a log is quoted when a server fails.

With an http(s) tracking URI there is no MLflow UI to start: that server is the
UI, so its URL is printed and only the dashboard (if any) is served.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from harness.common.files import store_dir
from harness.common.redaction import redact_text
from harness.tracking.store import HOST, TrackingStore
from models.errors import SampleGanError

DASHBOARD_PORT = 8080
MLFLOW_UI = "MLflow UI"  # the server's name in messages
STARTUP_TIMEOUT_S = 120.0  # MLflow's server imports for ~15 s on a busy 2-core machine
STOP_TIMEOUT_S = 10.0  # grace period after SIGTERM before the group is killed
POLL_INTERVAL_S = 0.25
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: terminal closed
DASHBOARD_INSTALL_HINT = (
    "Optuna dashboard: not installed; `pip install -e '.[dashboard]'` to browse studies too"
)
TRAINING_VIEW_HINT = ('(if an experiment opens as GenAI "Evaluation runs", choose "Model '
                      'training" at the top of the sidebar; the browser remembers it)')


@dataclass
class _Server:
    """A started child server: what it is, where it answers and where it logs."""

    name: str
    url: str
    ready_path: str  # answers 200 once the server can serve pages
    detail: str  # the store it shows, for the start-up banner
    process: subprocess.Popen
    log_path: Path

    def last_log_line(self, *secrets: str | None) -> str:
        """The last non-empty line of the server's log, passwords of `secrets` removed."""
        with contextlib.suppress(OSError):
            lines = [line.strip() for line in self.log_path.read_text(errors="replace").splitlines()]
            lines = [line for line in lines if line]
            if lines:
                return redact_text(lines[-1], *secrets)[:300]
        return "no output"


def serve(*, port: int, dashboard_port: int, tracking_uri: str | None,
          storage: str | None) -> int:
    """Serve the MLflow UI and (where installed) the Optuna dashboard until a stop signal.

    Call from the main thread: SIGINT, SIGTERM and SIGHUP are caught while serving
    and end it cleanly.

    Args:
        port: TCP port of the MLflow UI on 127.0.0.1.
        dashboard_port: TCP port of the Optuna dashboard on 127.0.0.1.
        tracking_uri: MLflow tracking URI; None means $MLFLOW_TRACKING_URI or the
            SQLite store in ./mlruns, which must exist (browsing creates no store).
        storage: Optuna storage URL; None means $SAMPLEGAN_STORAGE or ./mlruns/optuna.journal;
            without a study there yet, the dashboard is not started.

    Returns:
        0 once stopped by a signal, or at once when there is nothing to serve.

    Raises:
        SampleGanError: a port is invalid or taken, there is no MLflow store or it cannot be
            opened, or a server failed to start or died (its log's last line is in the message).
    """
    for value, option in ((port, "--port"), (dashboard_port, "--dashboard-port")):
        if not 1 <= value <= 65535:
            raise SampleGanError(f"{option} {value} is not a TCP port (1-65535)")
    # Ports are checked before any store is opened, so a taken port leaves nothing behind.
    remote_ui = urlsplit(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "").scheme in (
        "http", "https")
    dashboard = _dashboard_installed()
    if not remote_ui and dashboard and port == dashboard_port:
        raise SampleGanError(f"--port and --dashboard-port are both {port}; pick two ports")
    needed = ([(port, "--port")] if not remote_ui else []) + (
        [(dashboard_port, "--dashboard-port")] if dashboard else [])
    _ensure_free(needed)
    store = TrackingStore.open(tracking_uri, create=False)  # browsing never creates a store
    study_storage = None
    if dashboard:
        from harness.study.optuna_storage import StorageMissing, open_storage

        try:
            study_storage = open_storage(storage, create=False)
        except StorageMissing as missing:
            click.echo(f"Optuna dashboard: not started, {missing}")
    else:
        click.echo(DASHBOARD_INSTALL_HINT)

    if remote_ui:
        click.echo(f"MLflow UI:        {store.display_uri}  (the tracking server itself; "
                   "nothing to start)")
        click.echo(f"{'':<18}{TRAINING_VIEW_HINT}")
    if remote_ui and study_storage is None:
        return 0
    secrets = (store.uri, study_storage.url if study_storage else None)
    # Beside the local store; for a store elsewhere, in a temporary folder rather than a new ./mlruns.
    log_dir = store_dir() / "logs" if store_dir().is_dir() else Path(
        tempfile.mkdtemp(prefix="samplegan-ui-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    return _serve_until_stopped(store, study_storage, remote_ui, port, dashboard_port, log_dir,
                                secrets)


def _serve_until_stopped(store: TrackingStore, study_storage, remote_ui: bool, port: int,
                         dashboard_port: int, log_dir: Path, secrets: tuple[str | None, ...]) -> int:
    """Start the servers, say where they answer, and watch them until a stop signal; every
    server's process group is stopped on the way out, whatever happened."""
    servers: list[_Server] = []
    with _stop_requested() as stop:
        try:
            if not remote_ui:
                servers.append(_start_mlflow(store, port, log_dir))
            if study_storage is not None:
                servers.append(_start_dashboard(study_storage.url, study_storage.display_url,
                                                dashboard_port, log_dir))
            click.echo(f"starting {' and '.join(s.name for s in servers)} "
                       f"(logs in {log_dir}) ...")
            if not _wait_until_ready(servers, stop, secrets):
                return 0
            for server in servers:
                click.echo(f"{server.name + ':':<17} {server.url}  ({server.detail})")
                if server.name == MLFLOW_UI:
                    click.echo(f"{'':<18}{TRAINING_VIEW_HINT}")
            click.echo("Press Ctrl-C to stop.")
            while not stop.wait(POLL_INTERVAL_S):
                for server in servers:
                    if server.process.poll() is not None:
                        raise SampleGanError(
                            f"{server.name} stopped unexpectedly: "
                            f"{server.last_log_line(*secrets)} (log: {server.log_path})")
            return 0
        finally:
            for server in servers:
                _stop_group(server.process)


def _dashboard_installed() -> bool:
    return importlib.util.find_spec("optuna_dashboard") is not None


def _is_free(port: int) -> bool:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # The servers set SO_REUSEADDR too, so a port in TIME_WAIT is free for them as well.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((HOST, port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def _ensure_free(ports: list[tuple[int, str]]) -> None:
    """Fail with one line naming every (port, option) whose port something already listens on."""
    taken = [(port, option) for port, option in ports if not _is_free(port)]
    if not taken:
        return
    listed = " and ".join(f"{port} ({option})" for port, option in taken)
    options = " and ".join(option for _, option in taken)
    noun = "port" if len(taken) == 1 else "ports"
    verb = "is" if len(taken) == 1 else "are"
    raise SampleGanError(f"{noun} {listed} on {HOST} {verb} in use (another `samplegan ui` or "
                         f"server?); pick another with {options}")


@contextlib.contextmanager
def _stop_requested() -> Iterator[threading.Event]:
    """An event set by SIGINT, SIGTERM or SIGHUP while the block runs; old handlers restored."""
    event = threading.Event()
    previous = {}
    for signum in STOP_SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous[signum] = signal.signal(signum, lambda *_: event.set())
    try:
        yield event
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _spawn(name: str, url: str, ready_path: str, detail: str, command: list[str],
           env: dict[str, str], log_path: Path) -> _Server:
    """Start `command` under `harness.ui.process_guard`, leading a process group of its own.

    Its stdin is the guard's lifeline: a pipe only this process holds, which the kernel
    closes when this process dies, even by SIGKILL; the guard then stops the group.
    """
    guarded = [sys.executable, "-m", "harness.ui.process_guard", *command]
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(guarded, env=env, stdin=subprocess.PIPE, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return _Server(name, url, ready_path, detail, process, log_path)


def _start_mlflow(store: TrackingStore, port: int, log_dir: Path) -> _Server:
    """`mlflow server` on the store; artifacts are read from the file root, not proxied."""
    env = {
        **os.environ,
        # Through the environment: `ps` would show a database password in an argument.
        "MLFLOW_BACKEND_STORE_URI": store.uri,
        # The job runner (GenAI judges) adds processes the UI of training runs never uses.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [sys.executable, "-m", "mlflow", "server", "--host", HOST, "--port", str(port),
               "--workers", "1", "--no-serve-artifacts"]
    if store.artifact_root:
        # Experiments created from the UI then put artifacts where `samplegan train` does.
        command += ["--default-artifact-root", store.artifact_root]
    return _spawn(MLFLOW_UI, f"http://{HOST}:{port}", "/health", f"store {store.display_uri}",
                  command, env, log_dir / "mlflow-ui.log")


def _start_dashboard(storage_url: str, display_url: str, port: int, log_dir: Path) -> _Server:
    """`harness.ui.dashboard` on the study storage (passed in the environment, see there)."""
    env = {**os.environ, "SAMPLEGAN_STORAGE": storage_url}
    command = [sys.executable, "-m", "harness.ui.dashboard", "--host", HOST, "--port", str(port)]
    return _spawn("Optuna dashboard", f"http://{HOST}:{port}", "/", f"storage {display_url}",
                  command, env, log_dir / "optuna-dashboard.log")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _wait_until_ready(servers: list[_Server], stop: threading.Event,
                      secrets: tuple[str | None, ...]) -> bool:
    """Poll until every server answers; False if a stop signal came first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    waiting = list(servers)
    while waiting:
        if stop.is_set():
            return False
        for server in list(waiting):
            if server.process.poll() is not None:
                raise SampleGanError(
                    f"{server.name} failed to start on {server.url}: "
                    f"{server.last_log_line(*secrets)} (log: {server.log_path})")
            if _answers(server.url + server.ready_path):
                waiting.remove(server)
        if waiting and time.monotonic() > deadline:
            names = " and ".join(server.name for server in waiting)
            raise SampleGanError(f"{names} did not answer within {STARTUP_TIMEOUT_S:.0f} s; "
                                 f"see the logs in {waiting[0].log_path.parent}")
        if waiting:
            stop.wait(POLL_INTERVAL_S)
    return True


def _group_alive(group_id: int) -> bool:
    try:
        os.killpg(group_id, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed user; it still exists
        return True
    return True


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM the child's process group, wait, then SIGKILL whatever is left."""
    group_id = process.pid  # start_new_session made the child its group's leader
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group_id, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline and (process.poll() is None or _group_alive(group_id)):
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group_id, signal.SIGKILL)
    process.wait()
    if process.stdin:
        process.stdin.close()  # the guard's lifeline, no longer needed

