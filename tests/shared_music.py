"""Where the shared real recordings are, for the tests and the benchmarks alike.

$SAMPLEGAN_MUSIC_DIR when set, else ``../shared/data/music`` relative to the repository
root. The benchmarks import this module with the tests folder put on `sys.path`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUSIC_DIR_ENV = "SAMPLEGAN_MUSIC_DIR"
DEFAULT_MUSIC_DIR = REPO.parent / "shared" / "data" / "music"


def music_dir_candidate() -> Path:
    """The folder the recordings are looked for in: $SAMPLEGAN_MUSIC_DIR, else the default."""
    configured = os.environ.get(MUSIC_DIR_ENV)
    return Path(configured) if configured else DEFAULT_MUSIC_DIR


def find_music_dir() -> Path | None:
    """The folder of real recordings (it holds .ogg files), or None when there is none."""
    folder = music_dir_candidate()
    return folder if folder.is_dir() and any(folder.glob("*.ogg")) else None


def missing_music_reason() -> str:
    """Why there are no recordings, and how to provide them (a skip reason, an error)."""
    return (f"no real recordings (.ogg files) in {music_dir_candidate()}: set {MUSIC_DIR_ENV} "
            "to such a folder, or put the shared recordings at ../shared/data/music beside "
            "the repository")
