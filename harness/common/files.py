"""The local store folder and inter-process file locks.

`mlruns/` (or $SAMPLEGAN_STORE_DIR) holds the MLflow database, the Optuna journal,
prepared datasets and cached plan timings; every process that creates one of them
takes a lock first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

STORE_DIR_ENV = "SAMPLEGAN_STORE_DIR"


def store_dir() -> Path:
    """The local store folder: $SAMPLEGAN_STORE_DIR or ./mlruns."""
    return Path(os.environ.get(STORE_DIR_ENV, "mlruns")).resolve()


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive inter-process lock held for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
