"""End to end in headless Chromium: a trained run's .wav artifact is listed in `samplegan ui`,
and its experiment opens in MLflow's model-training view.

Needs the Debian packages `chromium` and `chromium-driver` (or $CHROMIUM_BIN and
$CHROMEDRIVER_BIN); skipped without them. Run with `pytest -m browser`.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import pytest
from ui_support import (
    SAMPLEGAN,
    UiProcess,
    alive,
    browser_binaries,
    chromium_driver,
    descendants,
    free_port,
    port_open,
    store_env,
)

from harness.data.corpus import synthesize_dataset
from harness.tracking.store import (
    EXPERIMENT_KIND_TAG,
    MODEL_TRAINING_KIND,
    TrackingStore,
    experiment_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

# The smallest training that still ends with a full set of artifacts (final clips,
# an evaluation, the model): about 30 s on 2 cores, mostly TensorFlow start-up and tracing.
TINY_TRAINING = [
    "sample_rate=16000", "n=32", "lstm_units=4", "ae_levels=1", "ae_filters=4", "ae_steps=2",
    "gan_steps=2", "batch_size=4", "prefilter_kernel=3", "prefilter_pool=2", "eval_every=2",
    "eval_clips=2", "eval_samples=256", "generation_xla=false",
]
WAV_ARTIFACT = "final/clip_00.wav"


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _start_training(tmp_path: Path) -> subprocess.Popen:
    synthesize_dataset(tmp_path / "data", seconds=4, sample_rate_hz=16000, n=32, pieces=2,
                       holdout_fraction=0.25, seed=0, force=False)  # the CLI's defaults
    command = [SAMPLEGAN, "train", "--variant", "paper", "--data", str(tmp_path / "data")]
    for setting in TINY_TRAINING:
        command += ["--set", setting]
    return subprocess.Popen(command, cwd=tmp_path, env=store_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _visible(driver, text: str) -> list:
    from selenium.webdriver.common.by import By

    elements = driver.find_elements(By.XPATH, f"//*[normalize-space(text())='{text}']")
    return [element for element in elements if element.is_displayed()]


def _show_artifact(url: str, screenshot: Path) -> str:
    """Open `url`, expand the artifact's folder and return the listed name's visible text."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    folder, name = WAV_ARTIFACT.split("/")
    with chromium_driver() as driver:
        try:
            driver.get(url)
            # React re-renders the tree while it loads: retry on stale elements.
            wait = WebDriverWait(driver, 45, ignored_exceptions=(StaleElementReferenceException,))
            wait.until(lambda d: _visible(d, folder) or _visible(d, name))
            if not _visible(driver, name):
                wait.until(lambda d: _visible(d, folder)[0].click() or True)
            listed = wait.until(lambda d: _visible(d, name))
            return listed[0].text
        except (WebDriverException, AssertionError):
            driver.save_screenshot(str(screenshot))
            raise


def _body_once_shown(driver, url: str, text: str) -> str:
    """Open `url`, wait until `text` is visible and return the page's whole text."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    wait = WebDriverWait(driver, 45, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda d: _visible(d, text))
    return driver.find_element(By.TAG_NAME, "body").text


def _check_training_view(base: str, experiment_id: str, run_name: str, screenshot: Path) -> None:
    """The harness's link opens the experiment's runs in the model-training view; so does its
    plain address once "Model training" is chosen in the sidebar, as `samplegan ui` advises."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium_driver() as driver:
        try:
            shown = _body_once_shown(driver, experiment_page(base, experiment_id), run_name)
            assert "Evaluation runs" not in shown and "Training runs" not in shown, shown
            assert "Model registry" in shown  # the model-training sidebar
            plain = f"{base}/#/experiments/{experiment_id}"
            driver.get(plain)
            # The GenAI page opens with a popover over it, and redirects while it loads: click
            # through the page's own event handling, and again should the element be replaced.
            WebDriverWait(driver, 45, ignored_exceptions=(StaleElementReferenceException,)).until(
                lambda d: d.execute_script("arguments[0].click(); return true;",
                                           _visible(d, "Model training")[0]))
            shown = _body_once_shown(driver, plain, run_name)
            assert "Evaluation runs" not in shown and "Model registry" in shown, shown
        except (WebDriverException, AssertionError):
            driver.save_screenshot(str(screenshot))
            raise


def test_a_trained_run_is_listed_served_and_shown_in_the_training_view(tmp_path: Path) -> None:
    browser_binaries()  # skip early, before training, without Chromium
    # `samplegan ui` browses only an existing store: make it, then start the UI while the
    # model trains, which keeps the test near a minute on 2 cores.
    TrackingStore.open(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    training = _start_training(tmp_path)
    port, dashboard_port = free_port(), free_port()
    ui = UiProcess.start(tmp_path, port, dashboard_port)
    try:
        stdout, stderr = training.communicate(timeout=240)
        assert training.returncode == 0, stderr[-3000:]
        run_id = stdout.strip().splitlines()[-1]
        ui.wait_ready()

        base = f"http://127.0.0.1:{port}"
        run = json.loads(_get(f"{base}/api/2.0/mlflow/runs/get?run_id={run_id}"))["run"]
        assert run["info"]["status"] == "FINISHED"
        wav = _get(f"{base}/get-artifact?path={WAV_ARTIFACT}&run_uuid={run_id}")
        assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"  # downloadable, not just listed

        experiment_id = run["info"]["experiment_id"]
        page = f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts"
        shown = _show_artifact(page, tmp_path / "mlflow-artifacts.png")
        assert shown == WAV_ARTIFACT.split("/")[1]

        experiment = json.loads(_get(
            f"{base}/api/2.0/mlflow/experiments/get?experiment_id={experiment_id}"))["experiment"]
        assert {"key": EXPERIMENT_KIND_TAG, "value": MODEL_TRAINING_KIND} in experiment["tags"]
        _check_training_view(base, experiment_id, run["info"]["run_name"],
                             tmp_path / "mlflow-experiment.png")

        servers = descendants(ui.process.pid)
        assert ui.interrupt() == 0, ui.output
        assert [pid for pid in servers if alive(pid)] == []
        assert not port_open(port)
        assert not port_open(dashboard_port)
    finally:
        if training.poll() is None:
            training.kill()
            training.wait()
        ui.kill()
