"""Where the real recordings are, for the tests and the benchmarks alike.

$SAMPLEGAN_MUSIC_DIR when set; else the full shared folder ``../shared/data/music`` beside the
repository when it is there; else the few small recordings shipped in ``tests/data/music``
(see its README.md for what they are and their licences), so the tests that decode real
music run from any clone. The benchmarks import this module with the tests folder put on
`sys.path`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MUSIC_DIR_ENV = "SAMPLEGAN_MUSIC_DIR"
DEFAULT_MUSIC_DIR = REPO.parent / "shared" / "data" / "music"
SHIPPED_MUSIC_DIR = REPO / "tests" / "data" / "music"


def _has_recordings(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.ogg"))


def music_dir_candidate() -> Path:
    """The folder the recordings are looked for in: $SAMPLEGAN_MUSIC_DIR, else the shared
    folder when it holds recordings, else the shipped one."""
    configured = os.environ.get(MUSIC_DIR_ENV)
    if configured:
        return Path(configured)
    return DEFAULT_MUSIC_DIR if _has_recordings(DEFAULT_MUSIC_DIR) else SHIPPED_MUSIC_DIR


def find_music_dir() -> Path | None:
    """The folder of real recordings (it holds .ogg files), or None when there is none."""
    folder = music_dir_candidate()
    return folder if _has_recordings(folder) else None


def missing_music_reason() -> str:
    """Why there are no recordings, and how to provide them (a skip reason, an error)."""
    return (f"no real recordings (.ogg files) in {music_dir_candidate()}: set {MUSIC_DIR_ENV} "
            f"to such a folder, or restore {SHIPPED_MUSIC_DIR.relative_to(REPO)} from git")
