"""Shared fixtures: the real recordings, and audio files in every supported format built from them."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from shared_music import find_music_dir, missing_music_reason

EXCERPT_S = 2  # seconds cut from a real recording; enough to hear, quick to encode
EXCERPT_RATE_HZ = 44100


@pytest.fixture(scope="session")
def music_dir() -> Path:
    """The folder of real recordings (.ogg); skips the test when there is none."""
    found = find_music_dir()
    if found is None:
        pytest.skip(missing_music_reason())
    return found


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """The ffmpeg executable the harness decodes with (used here to build fixtures)."""
    from harness.data.audio import ffmpeg_binary

    return ffmpeg_binary()


@pytest.fixture(scope="session")
def stereo_recording(music_dir: Path) -> Path:
    """A 44.1 kHz stereo Ogg Vorbis recording (the trumpet loop when present)."""
    preferred = music_dir / "trumpet_loop.hq.ogg"
    return preferred if preferred.is_file() else sorted(music_dir.glob("*.ogg"))[0]


@dataclass(frozen=True)
class AudioFixture:
    """One test file: where it is and what decoding it must give."""

    path: Path
    channels: int
    sample_rate_hz: int
    samples: int | None  # exact length at sample_rate_hz; None for the untouched recording
    lossless: bool  # holds exactly the 16-bit excerpt's values


# name -> (file name, ffmpeg output options, channels, lossless)
_FORMATS = {
    "wav_u8": ("u8.wav", ["-c:a", "pcm_u8"], 2, False),
    "wav_s16": ("s16.wav", ["-c:a", "pcm_s16le"], 2, True),
    "wav_s24": ("s24.wav", ["-c:a", "pcm_s24le"], 2, True),
    "wav_s32": ("s32.wav", ["-c:a", "pcm_s32le"], 2, True),
    "wav_f32": ("f32.wav", ["-c:a", "pcm_f32le"], 2, True),
    "wav_f32_5.1": ("f32_51.wav", ["-c:a", "pcm_f32le", "-ac", "6"], 6, False),
    "wav_s16_mono": ("s16_mono.wav", ["-c:a", "pcm_s16le", "-ac", "1"], 1, False),
    "flac": ("stereo.flac", ["-c:a", "flac"], 2, True),
    "flac_mono": ("mono.flac", ["-c:a", "flac", "-ac", "1"], 1, False),
    "mp3": ("stereo.mp3", ["-c:a", "libmp3lame", "-q:a", "4"], 2, False),
    "mp3_mono": ("mono.mp3", ["-c:a", "libmp3lame", "-q:a", "4", "-ac", "1"], 1, False),
}


@pytest.fixture(scope="session")
def excerpt_wav(tmp_path_factory: pytest.TempPathFactory, stereo_recording: Path,
                ffmpeg: str) -> Path:
    """The first EXCERPT_S seconds of the stereo recording as 16-bit 44.1 kHz WAV."""
    path = tmp_path_factory.mktemp("excerpt") / "excerpt.wav"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(stereo_recording),
         "-af", f"atrim=end_sample={EXCERPT_S * EXCERPT_RATE_HZ}",  # exact, unlike -t
         "-ar", str(EXCERPT_RATE_HZ), "-ac", "2", "-c:a", "pcm_s16le", str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="session")
def audio_formats(tmp_path_factory: pytest.TempPathFactory, excerpt_wav: Path, stereo_recording: Path,
                  music_dir: Path, ffmpeg: str) -> dict[str, AudioFixture]:
    """The excerpt in every supported format (one ffmpeg run), plus the recordings as they are."""
    folder = tmp_path_factory.mktemp("formats")
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", str(excerpt_wav)]
    for file_name, options, _, _ in _FORMATS.values():
        command += [*options, str(folder / file_name)]
    subprocess.run(command, check=True)
    samples = EXCERPT_S * EXCERPT_RATE_HZ
    fixtures = {
        name: AudioFixture(folder / file_name, channels, EXCERPT_RATE_HZ, samples, lossless)
        for name, (file_name, _, channels, lossless) in _FORMATS.items()
    }
    fixtures["ogg"] = AudioFixture(stereo_recording, 2, EXCERPT_RATE_HZ, None, False)
    mono_ogg = music_dir / "trumpet_loop.ogg"  # the same loop at 22.05 kHz, mono
    if mono_ogg.is_file():
        fixtures["ogg_mono_22k"] = AudioFixture(mono_ogg, 1, 22050, None, False)
    return fixtures


# --------------------------------------------------------------------------- training
# The smallest config that still exercises every phase: tests train dozens of these. Their
# clips are a few hundred samples, so the generation loop runs as a plain graph: compiling it
# with XLA costs more than it saves here (tests/models/test_models.py checks both paths).
TINY_TRAINING = {
    "sample_rate": 16000, "n": 32, "lstm_units": 4, "ae_levels": 1, "ae_filters": 4,
    "ae_kernel": 3, "ae_steps": 2, "gan_steps": 2, "batch_size": 4, "prefilter_filters": 2,
    "prefilter_kernel": 3, "prefilter_pool": 2, "grad_positions": 4, "eval_every": 2,
    "eval_clips": 2, "eval_samples": 256, "generation_xla": False,
}


@pytest.fixture(scope="session")
def tiny_training() -> dict:
    """Config overrides of a tiny training run (seconds on a 2-core CPU)."""
    return dict(TINY_TRAINING)


@pytest.fixture(scope="session")
def tiny_set_args() -> list[str]:
    """The same overrides as `samplegan train --set` arguments."""
    return [arg for key, value in TINY_TRAINING.items() for arg in ("--set", f"{key}={value}")]


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small built-in-corpus dataset matching TINY_TRAINING (16 kHz, n = 32)."""
    from harness.data.corpus import synthesize_dataset

    folder = tmp_path_factory.mktemp("corpus") / "tiny"
    synthesize_dataset(folder, seconds=6.0, sample_rate_hz=16000, n=32, pieces=3,
                       holdout_fraction=0.34, seed=0, force=False)
    return folder


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty local store (MLflow SQLite + Optuna journal) as ./mlruns in a temp folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAMPLEGAN_STORE_DIR", str(tmp_path / "mlruns"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SAMPLEGAN_STORAGE", raising=False)
    return tmp_path / "mlruns"


SAMPLEGAN = str(Path(__import__("sys").executable).with_name("samplegan"))


def run_cli(*args: str, timeout: float = 300, env: dict | None = None,
            check: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the real console script (so `main()` turns errors into one line and an exit code)."""
    completed = subprocess.run([SAMPLEGAN, *args], capture_output=True, text=True, timeout=timeout,
                               env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})},
                               cwd=cwd)
    if check and completed.returncode != 0:
        raise AssertionError(f"samplegan {' '.join(args)} failed ({completed.returncode}):\n"
                             f"{completed.stdout}\n{completed.stderr}")
    return completed


@pytest.fixture(scope="session")
def cli():
    return run_cli


# ------------------------------------------------------------------------- PostgreSQL
PG_SERVER = os.environ.get("SAMPLEGAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


def _pg_admin():
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/test", connect_timeout=3, autocommit=True)


@pytest.fixture
def pg_database():
    """A fresh, empty PostgreSQL database on the local server (dropped afterwards).

    Returns a factory: `pg_database("mlflow")` -> URL of a new database.
    """
    try:
        admin = _pg_admin()
    except Exception as exc:  # psycopg.OperationalError and friends
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER}/test ({str(exc).strip()[:120]}); "
                    "set SAMPLEGAN_TEST_PG to a server with trust or password auth")
    import uuid

    created = []

    def make(purpose: str) -> str:
        name = f"samplegan_{purpose}_{uuid.uuid4().hex[:10]}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{PG_SERVER}/{name}"

    yield make
    with admin.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()
