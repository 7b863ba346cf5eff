"""MLflow stores: a new SQLite store starts from the cached empty database, and is a full one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness.tracking.sqlite_database import template_path
from harness.tracking.store import TrackingStore


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _schema(db: Path) -> tuple[str, list[str]]:
    with sqlite3.connect(db) as connection:
        version = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        tables = sorted(row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
    return version, tables


def test_new_stores_copy_one_migrated_database_and_get_their_own_default_experiment(
        cache: Path, tmp_path: Path) -> None:
    first = TrackingStore.open(f"sqlite:///{tmp_path / 'a' / 'mlflow.db'}")
    template = template_path()
    assert template.is_file() and template.parent == cache / "samplegan"
    built = template.stat().st_mtime_ns
    second = TrackingStore.open(f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}")
    assert template.stat().st_mtime_ns == built  # built once, copied twice
    for store, folder in ((first, "a"), (second, "b")):
        client = store.client()
        # MLflow adds the default experiment on first open, under this store's artifact root.
        assert client.get_experiment("0").artifact_location == (tmp_path / folder / "artifacts" / "0").as_uri()
        run = client.create_run(store.experiment_id("copied"))
        client.log_metric(run.info.run_id, "quality/mr_lsd_db", 3.5)
        assert client.get_run(run.info.run_id).data.metrics == {"quality/mr_lsd_db": 3.5}
        with sqlite3.connect(tmp_path / folder / "mlflow.db") as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert _schema(tmp_path / "a" / "mlflow.db") == _schema(template)


def test_a_damaged_cached_database_is_built_again(
        cache: Path, tmp_path: Path) -> None:
    template = template_path()
    template.parent.mkdir(parents=True)
    template.write_bytes(b"not a database" * 100)
    store = TrackingStore.open(f"sqlite:///{tmp_path / 's' / 'mlflow.db'}")
    assert store.client().get_experiment("0").name == "Default"
    assert _schema(template) == _schema(tmp_path / "s" / "mlflow.db")


def test_an_unwritable_cache_falls_back_to_migrating_in_place(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    store = TrackingStore.open(f"sqlite:///{tmp_path / 's' / 'mlflow.db'}")
    assert store.client().get_experiment("0").name == "Default"
