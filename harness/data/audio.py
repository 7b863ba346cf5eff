"""Audio decoding and WAV output: files in, mono 16-bit-quantised float32 out.

Decoding goes through pydub and an ffmpeg binary: Debian's ``ffmpeg`` when it is
on PATH, else the one shipped by the ``imageio-ffmpeg`` wheel, so no apt step is
needed. There is no ``ffprobe`` in that wheel, so each file is probed with
``ffmpeg -i`` and pydub is told the container and codec (given a codec, pydub
does not call ffprobe).

Every decoded signal follows the paper's convention: mono (the mean of all
channels), quantised to 16 bits and divided by 32768, so values lie in [-1, 1).
"""

from __future__ import annotations

import functools
import math
import os
import re
import secrets
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.io import wavfile

from harness.common.files import publish
from models.errors import SampleGanError

FULL_SCALE_16BIT = 32768  # 2**15: int16 sample value of 1.0

# WAV codecs that pydub's own WAV reader turns into samples at C speed. It reads
# 24-bit data with a per-sample Python loop, and WAVE_FORMAT_EXTENSIBLE float
# data as if it were integers, so every other WAV codec is decoded by ffmpeg.
_PYDUB_NATIVE_WAV_CODECS = frozenset({"pcm_u8", "pcm_s16le", "pcm_s32le"})

# Integer full scale of the raw samples pydub hands back, by sample width in
# bytes. pydub has already made 8-bit WAV data signed (it is unsigned on disk).
_FULL_SCALE_BY_WIDTH = {1: 2**7, 2: 2**15, 4: 2**31}
_DTYPE_BY_WIDTH = {1: np.int8, 2: np.int16, 4: np.int32}

_INPUT_RE = re.compile(r"^Input #0, ([^ ]+), from ", re.MULTILINE)
_AUDIO_STREAM_RE = re.compile(r"^\s*Stream #0:\d+\S*: Audio: ([A-Za-z0-9_]+)", re.MULTILINE)


class AudioDecodeError(SampleGanError):
    """A file could not be decoded: missing, empty, corrupt or without audio.

    Attributes:
        path: the file.
        reason: one line saying what is wrong, without the path.
    """

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class DecodedAudio:
    """One decoded file at its native rate, before resampling and quantisation.

    Attributes:
        audio: float32 [samples], mean of all channels in [-1, 1].
        sample_rate_hz: the file's sample rate in Hz.
        channels: channel count of the file.
        container: ffmpeg's demuxer name, e.g. ``ogg``, ``wav``, ``mp3``, ``flac``.
        codec: ffmpeg's codec name, e.g. ``vorbis``, ``pcm_s24le``, ``pcm_f32le``.
    """

    audio: np.ndarray
    sample_rate_hz: int
    channels: int
    container: str
    codec: str

    @property
    def duration_s(self) -> float:
        """Length of the file in seconds."""
        return self.audio.shape[0] / self.sample_rate_hz


@functools.cache
def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable used for decoding.

    Returns:
        Debian's ``ffmpeg`` if it is on PATH, else the binary of ``imageio-ffmpeg``.

    Raises:
        AudioDecodeError: neither is available.
    """
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:
        raise AudioDecodeError(
            "ffmpeg", "not found: `pip install imageio-ffmpeg` or `apt-get install ffmpeg`"
        ) from exc


@functools.cache
def _audio_segment_class() -> Any:
    """pydub's AudioSegment, pointed at `ffmpeg_binary`.

    pydub looks for ffmpeg on PATH when it is imported and warns if it is not
    there; the binary is set here instead, so that warning is noise.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydub import AudioSegment
    AudioSegment.converter = ffmpeg_binary()
    return AudioSegment


def _last_ffmpeg_reason(stderr: str) -> str:
    """The cause of an ffmpeg failure as one short phrase, e.g. 'Invalid data found ...'."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "ffmpeg failed without a message"
    return lines[-1].rsplit(": ", 1)[-1]


def probe_container_and_codec(path: Path) -> tuple[str, str]:
    """Container and audio codec of a file, read from ``ffmpeg -i`` (there is no ffprobe).

    Args:
        path: an existing, non-empty file.

    Returns:
        (container, codec), e.g. ("ogg", "vorbis") or ("wav", "pcm_f32le").

    Raises:
        AudioDecodeError: ffmpeg cannot open the file or it has no audio stream.
    """
    # ffmpeg always exits non-zero here ("at least one output file must be
    # specified"); the stream description on stderr is what we want.
    completed = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace", check=False,
    )
    container = _INPUT_RE.search(completed.stderr)
    if container is None:
        raise AudioDecodeError(path, f"cannot decode ({_last_ffmpeg_reason(completed.stderr)})")
    codec = _AUDIO_STREAM_RE.search(completed.stderr)
    if codec is None:
        raise AudioDecodeError(path, "no audio stream")
    # A multi-format demuxer is listed as e.g. "mov,mp4,m4a"; `-f` takes one name.
    return container.group(1).split(",")[0], codec.group(1)


def _decode_with_pydub(path: Path, container: str, codec: str) -> Any:
    """An AudioSegment of the whole file, without pydub's slow or wrong WAV paths."""
    audio_segment = _audio_segment_class()
    if container == "wav" and codec in _PYDUB_NATIVE_WAV_CODECS:
        return audio_segment.from_file(str(path), format="wav", codec=codec)
    if container == "wav":
        # pydub parses anything named *.wav or given format="wav" itself; an open
        # file with no name and no format goes straight to ffmpeg, which
        # recognises WAV on its own and writes 16-bit PCM back.
        with path.open("rb") as handle:
            return audio_segment.from_file(handle, format=None, codec=codec)
    return audio_segment.from_file(str(path), format=container, codec=codec)


def interleaved_to_mono(samples: np.ndarray, channels: int, full_scale: int) -> np.ndarray:
    """Average interleaved integer channels into one float channel.

    Args:
        samples: integer [frames * channels], interleaved as in a WAV file.
        channels: number of channels (>= 1).
        full_scale: integer value that maps to 1.0 (32768 for 16-bit).

    Returns:
        float32 [frames], the mean of the channels divided by `full_scale`.
    """
    frames = samples.reshape(-1, channels)
    # One vectorised add per channel: several times faster than frames.sum(axis=1)
    # over a 2-wide axis. A float32 sum of up to 256 16-bit channels is exact.
    mono = frames[:, 0].astype(np.float32)
    for channel in range(1, channels):
        mono += frames[:, channel]
    mono *= np.float32(1.0 / (channels * full_scale))
    return mono


def decode_audio(path: Path | str) -> DecodedAudio:
    """Decode any file ffmpeg reads into one unquantised mono channel at its native rate.

    Args:
        path: an audio file (mp3, wav in 8/16/24/32-bit integer or 32-bit float,
            ogg, flac, or anything else ffmpeg decodes), any channel count.

    Returns:
        The decoded file; `DecodedAudio.audio` is the channel mean, float32 [samples].

    Raises:
        AudioDecodeError: missing, empty, corrupt, without audio, or zero samples long.
    """
    path = Path(path).resolve()  # absolute paths stop ffmpeg reading "a:b.mp3" as a protocol
    if not path.exists():
        raise AudioDecodeError(path, "file not found")
    if not path.is_file():
        raise AudioDecodeError(path, "not a file")
    if path.stat().st_size == 0:
        raise AudioDecodeError(path, "empty file (0 bytes)")
    container, codec = probe_container_and_codec(path)
    try:
        segment = _decode_with_pydub(path, container, codec)
    except Exception as exc:  # pydub raises many types; the caller needs one line, not a trace
        reason = _last_ffmpeg_reason(str(exc)) if str(exc).strip() else type(exc).__name__
        raise AudioDecodeError(path, f"cannot decode {container}/{codec} ({reason})") from exc
    width = segment.sample_width
    if width not in _DTYPE_BY_WIDTH:
        raise AudioDecodeError(path, f"unexpected {8 * width}-bit samples from the decoder")
    raw = segment.raw_data
    # A truncated WAV can end mid-frame; keep whole frames, as ffmpeg does.
    raw = raw[: len(raw) - len(raw) % segment.frame_width]
    samples = np.frombuffer(raw, dtype=_DTYPE_BY_WIDTH[width])
    if samples.size == 0:
        raise AudioDecodeError(path, "no audio samples")
    mono = interleaved_to_mono(samples, segment.channels, _FULL_SCALE_BY_WIDTH[width])
    return DecodedAudio(
        audio=mono, sample_rate_hz=int(segment.frame_rate), channels=int(segment.channels),
        container=container, codec=codec,
    )


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Quantise float audio to 16-bit integers, rounding to nearest and clipping.

    Args:
        audio: float [...] in [-1, 1]; values outside are clipped, NaN becomes 0
            (a diverged generator must still give a playable file).

    Returns:
        int16 [...] equal to round(audio * 32768), clipped to [-32768, 32767].
    """
    audio = np.asarray(audio)
    # float32 is enough (scaling by 2**15 is exact) and twice as fast as float64.
    working_dtype = np.float64 if audio.dtype == np.float64 else np.float32
    scaled = np.rint(audio.astype(working_dtype) * working_dtype(FULL_SCALE_16BIT))
    np.nan_to_num(scaled, copy=False, nan=0.0)
    np.clip(scaled, -FULL_SCALE_16BIT, FULL_SCALE_16BIT - 1, out=scaled)
    return scaled.astype(np.int16)


def quantize_16bit(audio: np.ndarray) -> np.ndarray:
    """Quantise to 16 bits and normalise by 32768, as the paper prepares its data.

    Args:
        audio: float [...] in [-1, 1].

    Returns:
        float32 [...] in [-1, 1): multiples of 1/32768.
    """
    return to_int16(audio).astype(np.float32) * np.float32(1.0 / FULL_SCALE_16BIT)


def resample(audio: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    """Change the sample rate with an anti-aliased polyphase filter.

    Uses `scipy.signal.resample_poly` with the reduced ratio to_hz/from_hz and its
    default Kaiser (beta 5) low-pass, whose cutoff is the lower of the two
    Nyquist frequencies.

    Args:
        audio: float [samples] at `from_hz`.
        from_hz: input rate in Hz.
        to_hz: output rate in Hz.

    Returns:
        float32 [ceil(samples * to_hz / from_hz)] at `to_hz`.
    """
    from scipy.signal import resample_poly  # imported here: scipy.signal loads slowly
    audio = np.asarray(audio, dtype=np.float32)
    if from_hz == to_hz:
        return audio.copy()
    divisor = math.gcd(int(from_hz), int(to_hz))
    return resample_poly(audio, int(to_hz) // divisor, int(from_hz) // divisor).astype(
        np.float32, copy=False
    )


def read_audio(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a file as mono 16-bit-quantised audio at its native rate.

    Args:
        path: any file `decode_audio` reads.

    Returns:
        (audio, sample_rate_hz): float32 [samples] in [-1, 1) (int16 / 32768), and
        the file's rate in Hz.

    Raises:
        AudioDecodeError: see `decode_audio`.
    """
    decoded = decode_audio(path)
    return quantize_16bit(decoded.audio), decoded.sample_rate_hz


def load_audio(path: Path | str, sample_rate_hz: int) -> np.ndarray:
    """Read a file as mono audio at `sample_rate_hz`, quantised after resampling.

    Args:
        path: any file `decode_audio` reads.
        sample_rate_hz: target rate in Hz.

    Returns:
        float32 [samples at sample_rate_hz] in [-1, 1) (int16 / 32768).

    Raises:
        AudioDecodeError: see `decode_audio`.
    """
    decoded = decode_audio(path)
    return quantize_16bit(resample(decoded.audio, decoded.sample_rate_hz, sample_rate_hz))


def write_wav(path: Path | str, audio: np.ndarray, sample_rate_hz: int) -> None:
    """Write 16-bit PCM WAV atomically: a reader sees the old file or the whole new one.

    Args:
        path: destination; its folder must exist.
        audio: float [samples] or [samples, channels] in [-1, 1]; clipped outside.
        sample_rate_hz: rate in Hz.
    """
    path = Path(path)
    # A fresh name in the same folder (same filesystem, so the rename is atomic);
    # open() rather than mkstemp() so the file gets the usual umask permissions.
    partial = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    try:
        with partial.open("xb") as handle:
            wavfile.write(handle, int(sample_rate_hz), to_int16(audio))
        publish(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
