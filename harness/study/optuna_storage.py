"""Optuna storage for studies: a local journal file by default, PostgreSQL for many machines.

* Default: `mlruns/optuna.journal` (Optuna's `JournalFileBackend`), which several local
  worker processes share through file locks: no "database is locked". It has no
  heartbeat, so a trial whose worker died is found by checking that worker's process
  on this machine (the only machine that can use a local file).
* `postgresql://...` (or `sqlite:///...`): `RDBStorage` with heartbeats; a trial whose
  worker stopped beating for `grace_period_s` is failed and its cell re-queued.

`exclusive(study)` is a mutex around the few writes that must not race between
launchers and workers (creating the study, queueing cells): a file lock for local
storages, a PostgreSQL advisory lock for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from harness.common.files import file_lock, store_dir
from harness.common.redaction import redact_text, redact_url
from harness.study.spec import StorageSettings
from models.errors import SampleGanError

JOURNAL_SUFFIXES = (".journal", ".log")


class StorageMissing(SampleGanError):
    """A read-only command found no study storage where it looked (and created none)."""


class StudyStorage:
    """An opened Optuna storage and how to lock and check liveness on it."""

    def __init__(self, url: str, optuna_storage, lock_path: Path | None, heartbeat: bool):
        self.url = url
        self.optuna = optuna_storage
        self.lock_path = lock_path
        self.heartbeat = heartbeat

    @property
    def display_url(self) -> str:
        return redact_url(self.url) or ""

    @contextlib.contextmanager
    def exclusive(self, study_name: str) -> Iterator[None]:
        """Hold a lock shared by every process using this storage for `study_name`."""
        if self.lock_path is not None:
            with file_lock(self.lock_path.with_name(f"{self.lock_path.name}.{study_name}.lock")):
                yield
            return
        import sqlalchemy

        key = int.from_bytes(hashlib.sha256(f"samplegan:{study_name}".encode()).digest()[:8],
                             "big", signed=True)
        engine = sqlalchemy.create_engine(self.url, poolclass=sqlalchemy.pool.NullPool)
        try:
            with engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                                       {"key": key})
        finally:
            engine.dispose()


def default_storage_url() -> str:
    return str(store_dir() / "optuna.journal")


def _journal(path: Path):
    import optuna

    path.parent.mkdir(parents=True, exist_ok=True)
    backend = optuna.storages.journal.JournalFileBackend(
        str(path), lock_obj=optuna.storages.journal.JournalFileOpenLock(str(path)))
    return optuna.storages.JournalStorage(backend)


def open_storage(url: str | None = None, settings: StorageSettings | None = None,
                 create: bool = True) -> StudyStorage:
    """Open the study storage at `url`; one-line errors when unusable.

    With `create=False` (status, reports) a missing journal file is an error, not a new file.
    """
    url = url or os.environ.get("SAMPLEGAN_STORAGE") or default_storage_url()
    settings = settings or StorageSettings()
    scheme = urlsplit(url).scheme if "://" in url else ""
    try:
        if scheme == "" or scheme == "file" or url.endswith(JOURNAL_SUFFIXES):
            path = Path(url[len("file://"):] if scheme == "file" else url).expanduser().resolve()
            if path.suffix not in JOURNAL_SUFFIXES:
                raise SampleGanError(
                    f"storage {url} is neither a database URL nor a journal file (*.journal); "
                    "use e.g. postgresql://host/db or mlruns/optuna.journal"
                )
            if not create and not path.exists():
                raise StorageMissing(f"no study storage at {path}: run `samplegan study run SPEC` "
                                     "first, or pass --storage")
            return StudyStorage(str(path), _journal(path), path, heartbeat=False)
        if scheme.startswith(("postgresql", "sqlite", "mysql")):
            import optuna

            # Heartbeats are "experimental" in Optuna's terms, stable in ours: no warning.
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True} if not scheme.startswith("sqlite") else {},
                heartbeat_interval=settings.heartbeat_interval_s,
                grace_period=settings.grace_period_s,
            )
            lock = None
            if scheme.startswith("sqlite"):
                lock = Path(url[len("sqlite:///"):]).resolve()
            elif not scheme.startswith("postgresql"):
                raise SampleGanError(f"storage {redact_url(url)}: only PostgreSQL, SQLite and "
                                     "journal files are supported")
            return StudyStorage(url, storage, lock, heartbeat=True)
        raise SampleGanError(f"unsupported storage URL {redact_url(url)}; use postgresql://..., "
                             "sqlite:///... or a *.journal file")
    except SampleGanError:
        raise
    except Exception as exc:  # SQLAlchemy / psycopg2 / OS errors: one line, no password
        lines = str(exc).strip().splitlines()
        reason = redact_text(lines[0] if lines else type(exc).__name__, url)
        raise SampleGanError(f"cannot open study storage {redact_url(url)}: {reason}") from None


def open_storage_to_read(url: str | None = None,
                         settings: StorageSettings | None = None) -> StudyStorage | None:
    """The storage at `url` for a command that only reads it, or None where there is none
    yet (nothing is created)."""
    try:
        return open_storage(url, settings, create=False)
    except StorageMissing:
        return None


def open_existing_study(name: str, url: str | None = None):
    """(storage, study) of an existing study, read-only: nothing is created when absent.

    Raises:
        SampleGanError: no storage there, or no study of that name (the known ones listed).
    """
    import optuna

    opened = open_storage(url, create=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = optuna.get_all_study_names(opened.optuna)
    if name not in names:
        raise SampleGanError(f"no study {name!r} in {opened.display_url} (studies there: "
                             f"{', '.join(names) or 'none'}); check the name or --storage")
    return opened, optuna.load_study(study_name=name, storage=opened.optuna)
