"""Files shared by processes: the local store folder, inter-process locks, atomic publishing.

`mlruns/` (or $SAMPLEGAN_STORE_DIR) holds the MLflow database, the Optuna journal,
prepared datasets and cached plan timings; every process that creates one of them
takes a lock first. A file or folder is published atomically: written under a hidden
temporary name in the destination's folder (the same filesystem, so a rename moves it),
then `publish`ed, so that an interrupted writer never leaves anything that looks
finished, and what it replaces goes only once the new version is in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
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


def publish(built: Path, target: Path) -> None:
    """Rename the finished file or folder `built` to `target`, replacing what is there.

    A file replaces a file, and a folder a missing or empty folder, in one atomic rename.
    A folder with contents is first renamed aside (``.NAME.old-PID-NS``), and deleted only
    once `built` is in its place; if that rename fails, it is put back.

    Args:
        built: the finished file or folder, in `target`'s folder.
        target: where it belongs.
    """
    built, target = Path(built), Path(target)
    if not (built.is_dir() and target.is_dir() and any(target.iterdir())):
        os.replace(built, target)
        return
    retired = target.with_name(f".{target.name}.old-{os.getpid()}-{time.time_ns()}")
    target.rename(retired)
    try:
        built.rename(target)
    except BaseException:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
