"""`samplegan diagnose`: per-file results, a corrupt file among good ones, and the all-unreadable error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.data.audio import read_audio, resample, write_wav
from harness.evaluation.diagnose_files import diagnose_files, format_table

RATE_HZ = 16000
N = 500
FILE_KEYS = {"path", "label", "metrics", "error"}


def _samplegan() -> list[str]:
    script = Path(sys.executable).with_name("samplegan")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli.root import main; main()"]


@pytest.fixture(scope="module")
def files(music_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A healthy excerpt, the same frozen at sample n, a silent file and a corrupt one, as WAV."""
    path = music_dir / "brahms_hungarian_dance_5.ogg"
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    audio, rate = read_audio(path)
    excerpt = resample(audio, rate, RATE_HZ)[10 * RATE_HZ : 12 * RATE_HZ]
    frozen = excerpt.copy()
    frozen[N:] = 0.3
    folder = tmp_path_factory.mktemp("diagnose")
    written = {"healthy": folder / "healthy.wav", "frozen": folder / "frozen.wav", "silent": folder / "silent.wav",
               "trailing_silence": folder / "trailing_silence.wav"}
    write_wav(written["healthy"], excerpt, RATE_HZ)
    write_wav(written["trailing_silence"], np.concatenate([excerpt, np.zeros(RATE_HZ, np.float32)]),
              RATE_HZ)
    write_wav(written["frozen"], frozen, RATE_HZ)
    write_wav(written["silent"], np.zeros(RATE_HZ, np.float32), RATE_HZ)
    written["corrupt"] = folder / "corrupt.wav"
    written["corrupt"].write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 8)
    written["native"] = path
    return written


@pytest.mark.slow
def test_json_output_reports_each_file_and_the_corrupt_one_separately(files: dict[str, Path]) -> None:
    paths = [files["healthy"], files["corrupt"], files["frozen"], files["silent"]]
    completed = subprocess.run(
        [*_samplegan(), "diagnose", *map(str, paths), "--n", str(N), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert set(result) == {"files", "batch"}
    assert set(result["batch"]) == {"label", "metrics"}
    entries = result["files"]
    assert [entry["path"] for entry in entries] == [str(path) for path in paths]
    assert all(set(entry) == FILE_KEYS for entry in entries)
    healthy, corrupt, frozen, silent = entries

    assert corrupt["label"] is None and corrupt["metrics"] is None
    assert corrupt["error"] and "\n" not in corrupt["error"]
    assert healthy["label"] == "healthy" and healthy["error"] is None
    assert healthy["metrics"]["collapse_onset_sample"] is None  # JSON null
    assert frozen["label"] == "flat_collapse"
    assert abs(frozen["metrics"]["collapse_onset_sample"] - N) <= 0.010 * RATE_HZ
    assert silent["label"] == "silent" and silent["metrics"]["collapse_onset_sample"] == 0

    batch = result["batch"]["metrics"]
    assert result["batch"]["label"] == "diverse"
    assert batch["clips"] == 3 and batch["sample_rate_hz"] == RATE_HZ
    assert batch["collapsed_share"] == pytest.approx(2 / 3)


@pytest.mark.slow
def test_all_unreadable_files_exit_non_zero_with_one_line(files: dict[str, Path], tmp_path: Path) -> None:
    completed = subprocess.run(
        [*_samplegan(), "diagnose", str(files["corrupt"]), str(tmp_path / "missing.wav"), "--n", str(N)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode != 0
    assert completed.stderr.strip().splitlines() == ["error: no file could be read"]


def test_files_at_different_rates_form_one_batch_at_the_most_common_rate(files: dict[str, Path]) -> None:
    result = diagnose_files([files["native"], files["healthy"], files["frozen"]], n=N)
    native = result["files"][0]
    assert native["label"] == "healthy"
    assert native["metrics"]["duration_s"] == pytest.approx(45.84, abs=0.05)  # at its own 22.05 kHz
    assert result["batch"]["metrics"]["sample_rate_hz"] == RATE_HZ
    assert result["batch"]["metrics"]["clips"] == 3


def test_no_readable_file_gives_an_empty_batch(files: dict[str, Path]) -> None:
    result = diagnose_files([files["corrupt"]], n=N)
    assert result["batch"] == {"label": None, "metrics": None}
    assert "no readable file" in format_table(result)


def test_a_healthy_file_ending_in_digital_silence_reports_no_collapse_onset(
        files: dict[str, Path]) -> None:
    result = diagnose_files([files["trailing_silence"], files["healthy"]], n=N)
    tail = result["files"][0]
    assert tail["label"] == "healthy"
    assert tail["metrics"]["collapse_onset_over_n"] == pytest.approx(2 * RATE_HZ / N, abs=1)  # measured
    assert result["batch"]["metrics"]["mean_collapse_onset_over_n"] is None  # but no collapse
    row = format_table(result).splitlines()[1].split()
    assert row[0].endswith("trailing_silence.wav") and row[1] == "healthy"
    assert row[4:6] == ["-", "-"]  # onset, onset/n


def test_table_has_a_row_per_file_and_a_batch_line(files: dict[str, Path]) -> None:
    result = diagnose_files([files["healthy"], files["corrupt"], files["frozen"]], n=N)
    lines = format_table(result).splitlines()
    assert lines[0].split()[:3] == ["path", "label", "dur"]
    assert "healthy" in lines[1]
    assert "error:" in lines[2]
    assert "flat_collapse" in lines[3] and " 1.00 " in lines[3]  # onset/n of a freeze at n
    assert lines[4].startswith("batch (2 file(s) at 16000 Hz): ")
    assert len(lines) == 5
