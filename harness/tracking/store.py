"""MLflow stores and runs: where tracking goes, and runs whose status tells the truth.

Default store: a SQLite database `mlruns/mlflow.db` with artifacts under
`mlruns/artifacts/`, created once under a file lock (two processes creating a new
MLflow SQLite database at once crash one of them) and switched to WAL so several
local workers can write at the same time (`harness.tracking.sqlite_database`).
`--tracking-uri` / `MLFLOW_TRACKING_URI` select an `mlflow server` (http[s]://) or a
database URL (e.g. postgresql://) instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from harness.common.files import file_lock, store_dir
from harness.common.redaction import redact_text, redact_url
from harness.common.signals import Terminated
from harness.tracking.sqlite_database import initialise_sqlite, sqlite_path
from models.errors import SampleGanError

HOST = "127.0.0.1"
MLFLOW_PORT = 5000  # `samplegan ui` defaults, also where reports link a local store's runs
# MLflow 3.17's UI picks its GenAI or model-training pages by a switch at the top of its
# sidebar (kept per browser, GenAI by default), not by the experiment's kind tag; a page
# address can choose the view itself with this query.
TRAINING_VIEW_QUERY = "workflowType=machine_learning"
FLUSH_EVERY_METRICS = 500  # buffered metric values before a log_batch call
FLUSH_EVERY_S = 15.0  # ... or seconds since the last flush, whichever comes first
_RETRY_S = 120.0  # how long a write is retried while SQLite reports "database is locked"
# MLflow's declaration of what an experiment is for; without it, MLflow 3 UIs offer their
# GenAI pages (traces, "Evaluation runs") or ask which kind it is. Ours train models.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"



def experiment_page(base_url: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment's runs, or of one run, in the model-training view.

    Args:
        base_url: The UI's address, e.g. ``http://127.0.0.1:5000``.
        experiment_id: The experiment's id.
        run_id: A run of it; None for the experiment's table of runs.
    """
    page = f"{base_url.rstrip('/')}/#/experiments/{experiment_id}/runs"
    return f"{page}/{run_id}?{TRAINING_VIEW_QUERY}" if run_id else f"{page}?{TRAINING_VIEW_QUERY}"


def _check_http(uri: str) -> None:
    """GET /health of an MLflow server; user:password in the URL become a Basic auth header."""
    import base64

    parts = urlsplit(uri)
    request = urllib.request.Request(
        urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])).rstrip("/") + "/health")
    if parts.username:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = redact_text(str(getattr(exc, "reason", exc)), uri)
        raise SampleGanError(
            f"cannot reach the MLflow server at {redact_url(uri)} ({reason}); start it with "
            "`mlflow server ...` or pass another --tracking-uri"
        ) from None


def _check_database(uri: str) -> bool:
    """Connect once, quickly, so an unreachable database is an error in seconds.

    Returns:
        Whether the database holds an MLflow store (its `experiments` table).
    """
    import sqlalchemy

    connect_args = {"connect_timeout": 10} if uri.startswith("postgresql") else {}
    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool,
                                      connect_args=connect_args)
    try:
        with engine.connect() as connection:
            return sqlalchemy.inspect(connection).has_table("experiments")
    finally:
        engine.dispose()


class StoreMissing(SampleGanError):
    """A read-only command found no MLflow store where it looked (and created none)."""


def _missing(where: str) -> StoreMissing:
    return StoreMissing(
        f"no MLflow store at {where}: train a model or run a study first (`samplegan train`, "
        "`samplegan study run`), or point --tracking-uri or $SAMPLEGAN_STORE_DIR at an "
        "existing store")


class TrackingStore:
    """A resolved, reachable MLflow tracking store."""

    def __init__(self, uri: str, artifact_root: str | None):
        self.uri = uri
        self.artifact_root = artifact_root  # None: the server or store decides
        self._client = None

    @property
    def display_uri(self) -> str:
        return redact_url(self.uri) or ""

    @classmethod
    def open(cls, uri: str | None = None, create: bool = True) -> TrackingStore:
        """Resolve `uri` (or $MLFLOW_TRACKING_URI, or the local default) and make it usable.

        Args:
            uri: a tracking URI; None means $MLFLOW_TRACKING_URI, else ./mlruns/mlflow.db.
            create: make the store if it does not exist yet. Read-only commands pass False.

        Raises:
            StoreMissing: `create` is False and there is no store there (nothing is created).
            SampleGanError: the store cannot be reached or opened.
        """
        uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or None
        if uri is None:
            root = store_dir()
            uri = f"sqlite:///{root / 'mlflow.db'}"
            artifact_root = (root / "artifacts").as_uri()
        else:
            artifact_root = None
        store = cls(uri, artifact_root)
        store._initialise(create)
        return store

    def _initialise(self, create: bool) -> None:
        scheme = urlsplit(self.uri).scheme
        try:
            if scheme == "sqlite":
                db_path = sqlite_path(self.uri)
                if not create and not (db_path and db_path.is_file()):
                    raise _missing(str(db_path or self.uri))
                artifact_root = self.artifact_root or (db_path.parent / "artifacts").as_uri()
                self.artifact_root = artifact_root
                initialise_sqlite(self.uri, artifact_root)
            elif scheme in ("http", "https"):
                _check_http(self.uri)
            elif scheme.startswith(("postgresql", "mysql", "mssql")):
                from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

                # MLflow itself retries for minutes before failing: connect once first.
                exists = _check_database(self.uri)
                if not create and not exists:
                    raise _missing(self.display_uri)
                self.artifact_root = self.artifact_root or store_dir().joinpath("artifacts").as_uri()
                if create:  # a read-only command must not leave even the lock file behind
                    with file_lock(store_dir() / ".mlflow-db.lock"):
                        SqlAlchemyStore(self.uri, self.artifact_root).engine.dispose()
            elif scheme in ("file", ""):
                raise SampleGanError(
                    f"MLflow 3 no longer accepts a plain file store ({self.uri}); use "
                    "sqlite:///path/mlflow.db or leave --tracking-uri unset for ./mlruns/mlflow.db"
                )
        except SampleGanError:
            raise
        except Exception as exc:  # SQLAlchemy/psycopg2/MLflow errors: one line, no secrets
            message = redact_text(str(exc).strip().splitlines()[0] if str(exc).strip() else
                                  type(exc).__name__, self.uri)
            raise SampleGanError(
                f"cannot open the MLflow tracking store {self.display_uri}: {message}"
            ) from None

    def client(self):
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created (race-safely) if missing, marked as model
        training (`EXPERIMENT_KIND_TAG`) if it is not marked yet."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        experiment = retrying(client.get_experiment_by_name, name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                raise SampleGanError(
                    f"MLflow experiment {name!r} is deleted; restore it in the UI or pick another name"
                )
            self.mark_model_training(experiment)
            return experiment.experiment_id
        location = None
        if self.artifact_root:
            location = f"{self.artifact_root.rstrip('/')}/{_slug(name)}"
        try:
            return retrying(client.create_experiment, name, artifact_location=location,
                            tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})
        except MlflowException:
            experiment = retrying(client.get_experiment_by_name, name)  # another worker won
            if experiment is None:
                raise
            self.mark_model_training(experiment)
            return experiment.experiment_id

    def mark_model_training(self, experiment) -> None:
        """Tag an MLflow experiment made before the harness tagged its experiments (or by
        someone else) as model training; a kind already chosen is left alone."""
        if EXPERIMENT_KIND_TAG not in experiment.tags:
            retrying(self.client().set_experiment_tag, experiment.experiment_id,
                     EXPERIMENT_KIND_TAG, MODEL_TRAINING_KIND)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def retrying(function, *args, **kwargs):
    """Call an MLflow client method, retrying while SQLite reports a lock."""
    from mlflow.exceptions import MlflowException

    deadline = time.monotonic() + _RETRY_S
    delay = 0.05
    while True:
        try:
            return function(*args, **kwargs)
        except MlflowException as exc:
            locked = "database is locked" in str(exc) or "TEMPORARILY_UNAVAILABLE" in str(
                getattr(exc, "error_code", ""))
            if not locked or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


# -------------------------------------------------------------------------------- runs
RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
# Tags saying how an attempt ended; a resumed run drops them, as its new end will say again.
END_TAGS = ("samplegan.killed_by", "samplegan.interrupted_at", "samplegan.error",
            "samplegan.stopped_early")
OUTCOME_TAG = "samplegan.outcome"  # running, completed, pruned, stopped_early, interrupted, failed


class TrackedRun:
    """One MLflow run: batched metrics, params, artifacts, and an honest final status.

    Use as a context manager: leaving it normally marks the run FINISHED, through an
    exception FAILED (with the error as a tag and an `error.txt` artifact, `OUTCOME_TAG`
    failed), through Ctrl-C or SIGTERM KILLED (`OUTCOME_TAG` interrupted).

    Metric batches and `in_background` jobs (rendering and uploading evaluation
    artifacts) run in order on one writer thread, so training does not wait for the
    store; `sync` waits for them and re-raises the first error, and ending the run
    always syncs first.

    A resumed run keeps one point per step: an attempt that was killed may have logged
    steps beyond its last checkpoint, which the resumed attempt trains again, so points at
    or before a metric's last logged step are not logged twice.
    """

    def __init__(self, store: TrackingStore, run_id: str):
        self.store = store
        self.client = store.client()
        self.run_id = run_id
        self.name: str | None = None  # the MLflow run name, set by `start`
        self._metrics: list = []
        self._last_flush = time.monotonic()
        self.final_status: str | None = None
        self._jobs: queue.Queue = queue.Queue()
        self._writer: threading.Thread | None = None
        self._error: BaseException | None = None
        self._logged_until: dict[str, int] = {}  # metric -> last step an earlier attempt logged

    # --- the writer thread ------------------------------------------------------------
    def in_background(self, job, *args) -> None:
        """Run `job(*args)` on the writer thread, after everything queued before it."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._write, daemon=True,
                                            name=f"mlflow-writer-{self.run_id[:8]}")
            self._writer.start()
        self._jobs.put((job, args))

    def _write(self) -> None:
        # Lowest CPU priority for this thread alone (Linux schedules threads separately):
        # on a busy machine rendering and writing wait for training, not the reverse.
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        while True:
            job, args = self._jobs.get()
            try:
                if self._error is None:  # after a failure, drop the rest: the run will fail
                    job(*args)
            except BaseException as error:  # noqa: BLE001 - re-raised by sync()
                self._error = error
            finally:
                self._jobs.task_done()

    def sync(self) -> None:
        """Wait for queued writes; raise the first error one of them hit."""
        self._jobs.join()
        if self._error is not None:
            raise self._error  # kept: ending the run must see it too

    # --- creation -----------------------------------------------------------------
    @classmethod
    def start(cls, store: TrackingStore, experiment: str, run_name: str | None = None,
              tags: Mapping[str, str] | None = None, parent_run_id: str | None = None,
              resume_run_id: str | None = None) -> TrackedRun:
        """Create a run in `experiment` (nested under `parent_run_id`) or reopen one."""
        client = store.client()
        all_tags = {"samplegan.tracking_uri": store.display_uri, **(tags or {})}
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        if resume_run_id:
            existing = get_run(store, resume_run_id)
            store.mark_model_training(
                retrying(client.get_experiment, existing.info.experiment_id))
            retrying(client.update_run, existing.info.run_id, status=RUNNING)
            run = cls(store, existing.info.run_id)
            run.name = existing.info.run_name  # a resumed run keeps its name
            run._logged_until = {
                key: max(metric.step for metric in retrying(client.get_metric_history,
                                                            run.run_id, key))
                for key in existing.data.metrics}
            for key in END_TAGS:
                if key in existing.data.tags:
                    retrying(client.delete_tag, run.run_id, key)
            run.set_tags({"samplegan.resumed": "true", **all_tags})
            return run
        experiment_id = store.experiment_id(experiment)
        created = retrying(client.create_run, experiment_id, tags=all_tags, run_name=run_name)
        run = cls(store, created.info.run_id)
        run.name = created.info.run_name
        return run

    # --- logging --------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any], soft_keys: frozenset[str] = frozenset()) -> None:
        """Log params in batches; params already logged with the same value are skipped.

        A resumed run must have the same params, except `soft_keys` (provenance such as
        the git commit), whose new value is kept as a `samplegan.resumed_with.KEY` tag.
        """
        from mlflow.entities import Param

        existing = retrying(self.client.get_run, self.run_id).data.params
        fresh = []
        for key, value in params.items():
            text = param_text(value)
            if key in existing:
                if existing[key] != text and key in soft_keys:
                    self.set_tags({f"samplegan.resumed_with.{key}": text})
                elif existing[key] != text:
                    raise SampleGanError(
                        f"run {self.run_id} already has {key}={existing[key]!r}, not {text!r}; "
                        "resume with the same variant, overrides, data and seed"
                    )
                continue
            fresh.append(Param(key, text))
        for start in range(0, len(fresh), 100):
            retrying(self.client.log_batch, self.run_id, params=fresh[start:start + 100])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(key, str(value)[:8000]) for key, value in tags.items()]
        for start in range(0, len(items), 100):
            retrying(self.client.log_batch, self.run_id, tags=items[start:start + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        """Buffer metrics; they reach the store in batches (see `flush`).

        In a resumed run, a metric at or before the last step an earlier attempt logged for
        it is dropped: that attempt's point stands (resumed training repeats the same batches).
        """
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        self._metrics.extend(Metric(key, float(value), timestamp, int(step))
                             for key, value in metrics.items()
                             if step > self._logged_until.get(key, -1))
        if (len(self._metrics) >= FLUSH_EVERY_METRICS
                or time.monotonic() - self._last_flush >= FLUSH_EVERY_S):
            self.flush()

    def flush(self) -> None:
        """Hand the buffered metrics to the writer thread."""
        pending, self._metrics = self._metrics, []
        for start in range(0, len(pending), 1000):
            self.in_background(self._log_metric_batch, pending[start:start + 1000])
        self._last_flush = time.monotonic()

    def _log_metric_batch(self, metrics: list) -> None:
        retrying(self.client.log_batch, self.run_id, metrics=metrics)

    def metric_histories(self, prefix: str) -> dict[str, list[tuple[int, float]]]:
        """The run's metrics whose names start with `prefix`: key -> [(step, value), ...] by step.

        Reads the store, so call `flush` and `sync` first for what was just logged. A step
        logged twice (a resumed run evaluates its last step again) keeps the later value.
        """
        keys = [key for key in retrying(self.client.get_run, self.run_id).data.metrics
                if key.startswith(prefix)]
        histories = {}
        for key in sorted(keys):
            by_step = {}
            for metric in sorted(retrying(self.client.get_metric_history, self.run_id, key),
                                 key=lambda metric: metric.timestamp):
                by_step[metric.step] = metric.value
            histories[key] = sorted(by_step.items())
        return histories

    def log_dataset(self, name: str, digest: str, uri: str, profile: Mapping[str, Any],
                    context: str = "training") -> None:
        """Record a dataset as the run's input, which MLflow's run page lists under
        "Datasets" (MLflow keeps at most 36 characters of `digest`)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        dataset = Dataset(name=name, digest=digest[:36], source_type="local",
                          source=json.dumps({"uri": uri}), profile=json.dumps(dict(profile)))
        retrying(self.client.log_inputs, self.run_id, [DatasetInput(
            dataset, [InputTag("mlflow.data.context", context)])])

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        retrying(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def log_artifacts(self, directory: Path, artifact_path: str | None = None) -> None:
        retrying(self.client.log_artifacts, self.run_id, str(directory), artifact_path)

    def log_text(self, text: str, artifact_file: str) -> None:
        retrying(self.client.log_text, self.run_id, text, artifact_file)

    def log_json(self, payload: Any, artifact_file: str) -> None:
        self.log_text(json.dumps(payload, indent=2, default=_json_default), artifact_file)

    # --- ending ---------------------------------------------------------------------
    def end(self, status: str) -> None:
        """Write what is pending, then set the final status (FAILED if a write failed)."""
        try:
            self.flush()
            self.sync()
        except Exception as error:
            if status != FINISHED:
                raise
            self.fail(error)
            raise
        finally:
            if self.final_status is None:
                retrying(self.client.set_terminated, self.run_id, status=status)
                self.final_status = status

    def fail(self, error: BaseException) -> None:
        """Record `error` (one-line tag, full traceback artifact) and mark the run FAILED."""
        message = redact_text(f"{type(error).__name__}: {error}".strip(), self.store.uri)
        with contextlib.suppress(Exception):
            self.sync()  # earlier writes first; their own error is secondary now
        with contextlib.suppress(Exception):
            self.set_tags({"samplegan.error": message.splitlines()[0][:5000], OUTCOME_TAG: "failed"})
            text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            self.log_text(redact_text(text, self.store.uri), "error.txt")
        with contextlib.suppress(Exception):
            self.flush()
            self.sync()
        if self.final_status is None:
            retrying(self.client.set_terminated, self.run_id, status=FAILED)
            self.final_status = FAILED

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.end(FINISHED)  # a failed background write turns this into FAILED + raise
        elif isinstance(exc, KeyboardInterrupt | Terminated):
            with contextlib.suppress(Exception):
                self.set_tags({"samplegan.killed_by": type(exc).__name__,
                               OUTCOME_TAG: "interrupted"})
            self.end(KILLED)
        else:
            self.fail(exc)
        return False


def get_run(store: TrackingStore, run_id: str):
    """The MLflow run `run_id`, or a one-line error naming the store."""
    from mlflow.exceptions import MlflowException

    try:
        return retrying(store.client().get_run, run_id)
    except MlflowException:
        raise SampleGanError(
            f"no MLflow run {run_id!r} in {store.display_uri}; check the id or --tracking-uri"
        ) from None


def download_artifacts(store: TrackingStore, run_id: str, path: str) -> Path:
    """Download artifact folder `path` of a run into a temporary folder."""
    from mlflow.exceptions import MlflowException

    target = Path(tempfile.mkdtemp(prefix="samplegan-"))
    try:
        local = store.client().download_artifacts(run_id, path, str(target))
    except (MlflowException, OSError) as exc:
        raise SampleGanError(
            f"run {run_id} has no {path!r} artifact ({str(exc).splitlines()[0]}); was it trained "
            "to the end?"
        ) from None
    return Path(local)


def param_text(value: Any) -> str:
    """A param value as MLflow stores it (JSON for containers, at most 6000 characters)."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=_json_default)[:6000]
    return str(value)[:6000]


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
