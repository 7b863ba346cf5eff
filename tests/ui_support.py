"""Helpers shared by the UI and browser tests: free ports, `samplegan ui` as a child, Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SAMPLEGAN = str(Path(sys.executable).with_name("samplegan"))
READY_LINE = "Press Ctrl-C to stop."
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
    "--autoplay-policy=no-user-gesture-required",
]


def browser_binaries() -> tuple[str, str]:
    """Chromium and chromedriver executables, or skip the test."""
    import pytest

    chromium = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
    chromedriver = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
    missing = [path for path in (chromium, chromedriver) if not shutil.which(path)]
    if missing:
        pytest.skip(f"chromium/chromedriver not installed ({', '.join(missing)} missing): "
                    "apt-get install chromium chromium-driver, or set CHROMIUM_BIN and "
                    "CHROMEDRIVER_BIN")
    return chromium, chromedriver


@contextlib.contextmanager
def chromium_driver() -> Iterator:
    """A headless Chromium WebDriver that records the page's console; skips without Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def store_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a command using a fresh local store in `tmp_path/mlruns`."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("MLFLOW_TRACKING_URI", "SAMPLEGAN_STORAGE")}
    env["SAMPLEGAN_STORE_DIR"] = str(tmp_path / "mlruns")
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children in other sessions included)."""
    import psutil

    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def alive(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class UiProcess:
    """`samplegan ui` running as a child, its stdout collected line by line."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, tmp_path: Path, port: int, dashboard_port: int) -> UiProcess:
        process = subprocess.Popen(
            [SAMPLEGAN, "ui", "--port", str(port), "--dashboard-port", str(dashboard_port)],
            cwd=tmp_path, env=store_env(tmp_path), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        ui = cls(process)
        threading.Thread(target=ui._collect, daemon=True).start()
        return ui

    def _collect(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Block until the command says its servers answer; fail with its output if not."""
        deadline = time.monotonic() + timeout_s
        while READY_LINE not in self.lines:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"`samplegan ui` did not become ready:\n{self.output}")
            time.sleep(0.2)

    def kill_hard(self) -> None:
        """SIGKILL the command itself, as the OOM killer or `kill -9` would; nothing else."""
        self.process.kill()
        self.process.wait()

    def interrupt(self, timeout_s: float = 30.0) -> int:
        """Send SIGINT as Ctrl-C would and return the exit status."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout_s)

    def kill(self) -> None:
        """Last-resort clean-up after a failed test: the command and every server below it."""
        if self.process.poll() is None:
            servers = descendants(self.process.pid)
            self.process.kill()
            for pid in servers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait()


@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, artifacts: Path) -> Iterator[str]:
    """`mlflow server` on 127.0.0.1 serving `artifacts` (proxied), as the multi-machine set-up.

    Yields:
        Its http URL once it answers; the server is stopped on exit.
    """
    from harness.tracking.store import TrackingStore
    from models.errors import SampleGanError

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server",
         "--backend-store-uri", backend_store_uri, "--artifacts-destination", str(artifacts),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        # As `samplegan ui` does: the GenAI job runner's four consumer processes do nothing here.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                TrackingStore.open(uri)
                break
            except SampleGanError:
                assert time.monotonic() < deadline and server.poll() is None, "mlflow server died"
                time.sleep(1)
        yield uri
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
