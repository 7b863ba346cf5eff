"""Publishing a file or folder atomically: readers see the old version or the whole new one.

Write under a hidden temporary name in the destination's folder (the same filesystem, so
a rename moves it), then `publish` it: an interrupted writer never leaves anything that
looks finished, and what it replaces goes only once the new version is in place.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


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
