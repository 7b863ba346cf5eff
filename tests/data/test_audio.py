"""harness.data.audio: decoding every supported format, mono mixing, resampling, quantisation, WAV output."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from harness.data import audio
from harness.data.audio import (
    AudioDecodeError,
    decode_audio,
    load_audio,
    quantize_16bit,
    read_audio,
    resample,
    to_int16,
    write_wav,
)
from models.errors import SampleGanError

LSB = 1 / 32768
MP3_FRAME = 1152  # samples; an mp3 may decode up to one frame longer or shorter


def _sine(frequency_hz: float, seconds: float, rate_hz: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate_hz)) / rate_hz
    return amplitude * np.sin(2 * np.pi * frequency_hz * t)


def _rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def _ffmpeg_mono_length(ffmpeg: str, path: Path) -> int:
    """Length in samples as ffmpeg's own raw decode counts it, at the file's rate."""
    raw = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-ac", "1",
                          "-f", "s16le", "-"], capture_output=True, check=True).stdout
    return len(raw) // 2


def _mean_of_channels_from_scipy(path: Path) -> np.ndarray:
    """Ground truth by another reader: scipy's WAV parser, scaled to [-1, 1], channel mean."""
    _, data = wavfile.read(path)
    if data.dtype == np.uint8:
        scaled = (data.astype(np.float64) - 128) / 128
    elif data.dtype.kind == "i":
        scaled = data.astype(np.float64) / -float(np.iinfo(data.dtype).min)
    else:
        scaled = data.astype(np.float64)
    return scaled.reshape(scaled.shape[0], -1).mean(axis=1)


# ------------------------------------------------------------------------- decoding
FORMAT_NAMES = ["wav_u8", "wav_s16", "wav_s24", "wav_s32", "wav_f32", "wav_f32_5.1", "wav_s16_mono",
                "flac", "flac_mono", "mp3", "mp3_mono", "ogg", "ogg_mono_22k"]


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_every_format_decodes_to_mono_with_the_right_length(name, audio_formats, ffmpeg):
    if name not in audio_formats:
        pytest.skip(f"{name}: recording not present in the music folder")
    fixture = audio_formats[name]
    decoded = decode_audio(fixture.path)
    samples, rate_hz = read_audio(fixture.path)

    assert samples.ndim == 1 and samples.dtype == np.float32
    assert rate_hz == decoded.sample_rate_hz == fixture.sample_rate_hz
    assert decoded.channels == fixture.channels
    expected = fixture.samples or _ffmpeg_mono_length(ffmpeg, fixture.path)
    tolerance = MP3_FRAME if name.startswith("mp3") else 0
    assert abs(samples.shape[0] - expected) <= tolerance
    assert samples.min() >= -1.0 and samples.max() < 1.0
    np.testing.assert_array_equal(samples * 32768, np.rint(samples * 32768))  # 16-bit grid
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 0.01  # music, not silence


@pytest.mark.parametrize("name", ["wav_s16", "wav_s24", "wav_s32", "wav_f32", "flac"])
def test_lossless_formats_decode_to_the_same_samples(name, audio_formats):
    reference, _ = read_audio(audio_formats["wav_s16"].path)
    samples, _ = read_audio(audio_formats[name].path)
    # ffmpeg-decoded formats are mixed after a 16-bit step, so allow one step.
    assert np.max(np.abs(samples - reference)) <= LSB


@pytest.mark.parametrize("name", ["wav_u8", "wav_s16", "wav_s24", "wav_s32", "wav_f32", "wav_f32_5.1"])
def test_wav_mono_is_the_channel_mean_read_by_scipy(name, audio_formats):
    """Covers pydub's special cases: unsigned 8-bit, 24-bit and extensible float 5.1."""
    path = audio_formats[name].path
    samples, _ = read_audio(path)
    expected = _mean_of_channels_from_scipy(path)
    assert np.max(np.abs(samples - expected)) <= 1.5 * LSB


@pytest.mark.parametrize("name", ["mp3", "flac_mono", "mp3_mono"])
def test_lossy_and_mono_encodings_keep_the_music(name, audio_formats):
    reference, _ = read_audio(audio_formats["wav_s16"].path)
    samples, _ = read_audio(audio_formats[name].path)
    length = min(reference.shape[0], samples.shape[0])
    correlation = np.corrcoef(reference[:length], samples[:length])[0, 1]
    assert correlation > 0.98


def test_ogg_decodes_to_the_samples_it_was_excerpted_from(audio_formats, excerpt_wav):
    excerpt, _ = read_audio(excerpt_wav)
    whole, _ = read_audio(audio_formats["ogg"].path)
    assert np.max(np.abs(whole[: excerpt.shape[0]] - excerpt)) <= LSB


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_stereo_to_mono_is_the_average_of_left_and_right(tmp_path, dtype):
    rate_hz = 22050
    left = _sine(440, 0.5, rate_hz, 0.6)
    right = np.random.default_rng(0).uniform(-0.3, 0.3, left.shape[0])
    stereo = np.stack([left, right], axis=1)
    data = to_int16(stereo) if dtype == np.int16 else stereo.astype(np.float32)
    path = tmp_path / "lr.wav"
    wavfile.write(path, rate_hz, data)

    samples, read_rate_hz = read_audio(path)

    as_float = data / 32768.0 if dtype == np.int16 else data.astype(np.float64)
    assert read_rate_hz == rate_hz
    np.testing.assert_allclose(samples, as_float.mean(axis=1), atol=LSB)
    assert np.max(np.abs(samples - as_float[:, 0])) > 0.1  # not just the left channel


def test_8bit_wav_is_read_as_unsigned(tmp_path):
    path = tmp_path / "u8.wav"
    wavfile.write(path, 8000, np.array([128, 255, 0, 192], dtype=np.uint8))
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(samples, [0.0, 127 / 128, -1.0, 0.5])


def test_load_audio_resamples_to_the_target_rate(audio_formats):
    samples = load_audio(audio_formats["wav_s16"].path, 16000)
    assert samples.dtype == np.float32
    assert samples.shape[0] == 2 * 16000
    assert np.all(samples * 32768 == np.rint(samples * 32768))


# ---------------------------------------------------------------------- bad input
def _assert_one_line_decode_error(path: Path, expected_words: str) -> None:
    with pytest.raises(AudioDecodeError) as caught:
        read_audio(path)
    assert isinstance(caught.value, SampleGanError)
    assert "\n" not in str(caught.value)
    assert expected_words in caught.value.reason
    assert str(caught.value).startswith(f"{path.resolve()}: ")


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".wav", ".flac"])
def test_corrupt_bytes_raise_a_one_line_error(tmp_path, suffix):
    path = tmp_path / f"corrupt{suffix}"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    _assert_one_line_decode_error(path, "cannot decode")


def test_empty_missing_and_non_audio_files_raise_one_line_errors(tmp_path):
    (tmp_path / "empty.mp3").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not audio\n" * 100)
    _assert_one_line_decode_error(tmp_path / "empty.mp3", "empty file")
    _assert_one_line_decode_error(tmp_path / "missing.wav", "not found")
    _assert_one_line_decode_error(tmp_path / "notes.txt", "no audio stream")  # ffmpeg: a "tty" video
    _assert_one_line_decode_error(tmp_path, "not a file")


def test_a_wav_with_zero_samples_is_an_error(tmp_path):
    path = tmp_path / "zero.wav"
    wavfile.write(path, 16000, np.zeros(0, dtype=np.int16))
    _assert_one_line_decode_error(path, "no audio samples")


def test_truncated_wav_keeps_the_whole_frames(tmp_path):
    path = tmp_path / "cut.wav"
    wavfile.write(path, 8000, to_int16(np.full((100, 2), 0.25)))
    path.write_bytes(path.read_bytes()[:-3])  # ends inside the last frame
    samples, _ = read_audio(path)
    np.testing.assert_array_equal(samples, np.full(99, 0.25, dtype=np.float32))


# --------------------------------------------------------------------- resampling
@pytest.mark.parametrize(("from_hz", "to_hz"), [(44100, 16000), (22050, 44100), (16000, 44100),
                                                (44100, 22050), (48000, 44100)])
@pytest.mark.parametrize("frequency_hz", [440.0, 3000.0])
def test_resampling_keeps_frequency_and_level(from_hz, to_hz, frequency_hz):
    tone = _sine(frequency_hz, 1.0, from_hz)
    out = resample(tone, from_hz, to_hz)

    assert out.dtype == np.float32
    assert out.shape[0] == -(-tone.shape[0] * to_hz // from_hz)  # ceil
    middle = out[to_hz // 10 : -to_hz // 10]  # away from the filter's edge transients
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.shape[0])))
    peak_hz = np.fft.rfftfreq(middle.shape[0], 1 / to_hz)[np.argmax(spectrum)]
    assert abs(peak_hz - frequency_hz) <= to_hz / middle.shape[0]  # within one FFT bin
    assert abs(_rms_db(middle) - _rms_db(tone)) < 0.1


def test_downsampling_removes_what_would_alias():
    tone = _sine(12000, 1.0, 44100)  # above 8 kHz, the Nyquist frequency at 16 kHz
    out = resample(tone, 44100, 16000)[1600:-1600]
    assert _rms_db(out) - _rms_db(tone) < -40


def test_resampling_to_the_same_rate_is_a_copy():
    tone = _sine(440, 0.1, 16000).astype(np.float32)
    out = resample(tone, 16000, 16000)
    np.testing.assert_array_equal(out, tone)
    assert out is not tone


# ------------------------------------------------------------------- quantisation
def test_to_int16_rounds_and_clips():
    values = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 1.4 / 32768, 1.6 / 32768, np.nan])
    np.testing.assert_array_equal(
        to_int16(values), [0, 16384, -16384, 32767, -32768, 32767, -32768, 1, 2, 0]
    )
    assert to_int16(values).dtype == np.int16


def test_quantize_16bit_lands_on_the_16bit_grid_in_range():
    values = np.random.default_rng(2).uniform(-1.2, 1.2, 1000)
    quantized = quantize_16bit(values)
    assert quantized.dtype == np.float32
    assert quantized.min() == -1.0 and quantized.max() == 32767 / 32768
    np.testing.assert_array_equal(quantized * 32768, np.rint(quantized * 32768))
    inside = np.abs(values) < 0.99
    assert np.max(np.abs(quantized[inside] - values[inside])) <= LSB / 2


# ---------------------------------------------------------------------- WAV output
def test_write_wav_round_trips_through_read_audio(tmp_path):
    tone = _sine(440, 0.25, 16000)
    path = tmp_path / "tone.wav"
    write_wav(path, tone, 16000)
    samples, rate_hz = read_audio(path)
    assert rate_hz == 16000
    np.testing.assert_array_equal(samples, quantize_16bit(tone))
    assert os.listdir(tmp_path) == ["tone.wav"]


def test_write_wav_failure_keeps_the_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    write_wav(path, _sine(440, 0.1, 8000), 8000)
    before = path.read_bytes()

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(audio.wavfile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_wav(path, _sine(880, 0.1, 8000), 8000)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.wav"]


def test_ffmpeg_binary_runs():
    completed = subprocess.run([audio.ffmpeg_binary(), "-version"], capture_output=True, check=True)
    assert completed.stdout.startswith(b"ffmpeg version")
