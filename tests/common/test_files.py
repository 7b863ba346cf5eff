"""`harness.common.files.publish`: what a reader of the destination can ever see."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.common.files import publish


def _folder(path: Path, **files: str) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_a_file_replaces_a_file(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("old")
    (tmp_path / ".out.txt.partial").write_text("new")
    publish(tmp_path / ".out.txt.partial", tmp_path / "out.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert (tmp_path / "out.txt").read_text() == "new"


def test_a_folder_takes_the_place_of_a_missing_an_empty_or_a_full_one(tmp_path: Path) -> None:
    target = tmp_path / "report"
    publish(_folder(tmp_path / ".first", a="1"), target)
    assert (target / "a").read_text() == "1"
    publish(_folder(tmp_path / ".second", b="2"), target)  # the old one retired, then deleted
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert [p.name for p in target.iterdir()] == ["b"]
    for leftover in list(target.iterdir()):
        leftover.unlink()
    publish(_folder(tmp_path / ".third", c="3"), target)  # onto an empty folder
    assert [p.name for p in target.iterdir()] == ["c"]


def test_a_failed_publish_puts_the_old_folder_back(tmp_path: Path) -> None:
    """A folder built on another filesystem cannot be renamed into place (EXDEV)."""
    import errno
    import tempfile

    elsewhere = Path("/dev/shm")
    if not elsewhere.is_dir() or elsewhere.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another filesystem than the test's temporary folder")
    target = _folder(tmp_path / "report", a="old")
    with tempfile.TemporaryDirectory(dir=elsewhere) as other, pytest.raises(OSError) as error:
        publish(_folder(Path(other) / "built", a="new"), target)
    assert error.value.errno == errno.EXDEV
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    assert (target / "a").read_text() == "old"
