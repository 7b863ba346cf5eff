"""A new local SQLite MLflow database: made under a file lock from a cached empty one, in WAL.

Two processes creating a new MLflow SQLite database at once crash one of them, so creation
runs under a lock; a new database starts as a copy of an empty one at the schema's head,
built once per MLflow version (`template_path`), instead of running MLflow's migrations;
WAL lets several local workers write at the same time. `harness.tracking.store` opens it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

from harness.common.files import file_lock


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for any other URI."""
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def template_path() -> Path:
    """Where the empty, migrated MLflow database of this MLflow version is kept."""
    import mlflow

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "samplegan"
    return cache / f"mlflow-{mlflow.__version__}-empty.db"


def _is_mlflow_database(path: Path) -> bool:
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return connection.execute("SELECT version_num FROM alembic_version").fetchone() is not None
    except sqlite3.Error:
        return False


def _empty_database() -> Path | None:
    """An empty MLflow database at the schema's head, built once per MLflow version.

    A new store copies it instead of running MLflow's 60-odd migrations (about 2 s each
    time, and noisy on stderr). It holds no experiment: MLflow adds its default experiment,
    under the new store's artifact root, when the copy is first opened.

    Returns:
        Its path, or None where the cache folder cannot be written (then the store is
        created the usual way).
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    template = template_path()
    try:
        with file_lock(template.parent / ".mlflow-template.lock"):
            if template.is_file() and not _is_mlflow_database(template):
                template.unlink()  # damaged: build it again
            if not template.is_file():
                with tempfile.TemporaryDirectory(dir=template.parent) as folder:
                    built = Path(folder) / template.name
                    store = SqlAlchemyStore(f"sqlite:///{built}", Path(folder).as_uri())
                    store.engine.dispose()
                    with contextlib.closing(sqlite3.connect(built)) as connection, connection:
                        connection.execute("DELETE FROM experiments")
                    os.replace(built, template)
    except OSError:
        return None
    return template


def initialise_sqlite(uri: str, artifact_root: str) -> None:
    """Create the MLflow schema once (under a lock) and turn on WAL for concurrent writers.

    A new database starts as a copy of the cached empty one (`_empty_database`); MLflow
    checks its schema when it opens it, and migrates it if the copy is behind.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    db_path = sqlite_path(uri)
    assert db_path is not None
    with file_lock(db_path.parent / ".mlflow-db.lock"):
        template = None if db_path.exists() else _empty_database()
        if template is not None:
            copied = db_path.with_name(f".{db_path.name}.{os.getpid()}")
            shutil.copyfile(template, copied)
            os.replace(copied, db_path)
        store = SqlAlchemyStore(uri, artifact_root)  # runs migrations if needed
        store.engine.dispose()
        with sqlite3.connect(db_path, timeout=60) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
