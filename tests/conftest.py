"""Shared fixtures: the real recordings, and audio files in every supported format built from them."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXCERPT_S = 2  # seconds cut from a real recording; enough to hear, quick to encode
EXCERPT_RATE_HZ = 44100


def _find_music_dir() -> Path | None:
    candidates = (
        os.environ.get("SAMPLEGAN_MUSIC_DIR"),
        REPO.parent / "shared" / "data" / "music",
        "/work/shared/data/music",
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_dir() and any(Path(candidate).glob("*.ogg")):
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def music_dir() -> Path:
    """The folder of real recordings (.ogg); skips the test when there is none."""
    found = _find_music_dir()
    if found is None:
        pytest.skip(
            "no real recordings found: set SAMPLEGAN_MUSIC_DIR to a folder of .ogg files "
            "(looked in $SAMPLEGAN_MUSIC_DIR, ../shared/data/music, /work/shared/data/music)"
        )
    return found


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    """The ffmpeg executable the harness decodes with (used here to build fixtures)."""
    from harness.audio import ffmpeg_binary

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
