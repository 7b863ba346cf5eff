"""Speed of `samplegan data import` on real recordings, as a multiple of real time.

Builds a long 44.1 kHz stereo input from the recordings in the music folder
(concatenated and looped to --seconds) as Ogg Vorbis and as 16-bit WAV with
ffmpeg, then times `harness.data.importer.import_audio` to 16 kHz and to 44.1 kHz.
The target is at least 50x real time for 44.1 kHz stereo input.

    python benchmarks/bench_import.py [--json] [--seconds 180] [--repeats 3]

The music folder is $SAMPLEGAN_MUSIC_DIR, else ../shared/data/music beside the
repository (tests/shared_music.py). Exits 1 when a case is below target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.data.audio import ffmpeg_binary
from harness.data.importer import import_audio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from shared_music import find_music_dir, missing_music_reason  # noqa: E402

TARGET_X_REALTIME = 50.0
INPUT_RATE_HZ = 44100
N = 500


def music_folder() -> Path:
    folder = find_music_dir()
    if folder is None:
        sys.exit(f"error: {missing_music_reason()}")
    return folder


def build_inputs(music_dir: Path, seconds: float, folder: Path) -> dict[str, Path]:
    """One long 44.1 kHz stereo recording, as .ogg and .wav."""
    recordings = sorted(music_dir.glob("*.hq.ogg")) or sorted(music_dir.glob("*.ogg"))
    ffmpeg = ffmpeg_binary()
    one_pass = folder / "one_pass.wav"
    chain = "".join(f"[{i}:a]" for i in range(len(recordings)))
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error",
         *(arg for path in recordings for arg in ("-i", str(path))),
         "-filter_complex", f"{chain}concat=n={len(recordings)}:v=0:a=1,"
         f"aresample={INPUT_RATE_HZ},aformat=channel_layouts=stereo",
         "-c:a", "pcm_s16le", str(one_pass)],
        check=True,
    )
    total_samples = round(seconds * INPUT_RATE_HZ)
    inputs = {"ogg": folder / "long.ogg", "wav": folder / "long.wav"}
    codecs = {"ogg": ["-c:a", "libvorbis", "-q:a", "5"], "wav": ["-c:a", "pcm_s16le"]}
    for name, path in inputs.items():
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-stream_loop", "-1", "-i", str(one_pass),
             "-af", f"atrim=end_sample={total_samples}", *codecs[name], str(path)],
            check=True,
        )
    return inputs


def time_import(source: Path, target_rate_hz: int, out: Path, repeats: int) -> tuple[list[float], dict]:
    """Wall-clock seconds of each import, and the manifest (which says what was decoded)."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        manifest = import_audio([source], out, sample_rate_hz=target_rate_hz, n=N, stride=None,
                                drop_silence_db=None, holdout_fraction=0.0, seed=0, force=True)
        timings.append(time.perf_counter() - started)
    return timings, manifest


def run(seconds: float, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_import_") as temp:
        folder = Path(temp)
        inputs = build_inputs(music_folder(), seconds, folder)
        cases = []
        for name, path in inputs.items():
            for target_rate_hz in (16000, 44100):
                timings, manifest = time_import(path, target_rate_hz, folder / "dataset", repeats)
                [source] = manifest["sources"]
                median_s = statistics.median(timings)
                cases.append({
                    "input": f"{name}, {source['channels_in']} channels, "
                             f"{source['sample_rate_in']} Hz",
                    "input_mb": round(path.stat().st_size / 1e6, 1),
                    "target_rate_hz": target_rate_hz,
                    "audio_s": source["duration_s"],
                    "segments": manifest["segments"],
                    "median_s": round(median_s, 3),
                    "best_s": round(min(timings), 3),
                    "x_realtime": round(source["duration_s"] / median_s, 1),
                })
    return {
        "benchmark": "data import",
        "cpus": os.cpu_count(),
        "repeats": repeats,
        "target_x_realtime": TARGET_X_REALTIME,
        "cases": cases,
        "ok": all(case["x_realtime"] >= TARGET_X_REALTIME for case in cases),
    }


def format_result(result: dict) -> str:
    lines = [f"samplegan data import: median of {result['repeats']} on {result['cpus']} CPUs "
             f"(target >= {result['target_x_realtime']:g}x real time)"]
    for case in result["cases"]:
        lines.append(
            f"  {case['input']:<28} -> {case['target_rate_hz']:>5} Hz: "
            f"{case['audio_s']:.0f} s of audio in {case['median_s']:.2f} s "
            f"= {case['x_realtime']:.0f}x real time"
        )
    lines.append("ok" if result["ok"] else "BELOW TARGET")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=180.0, help="length of the input")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    args = parser.parse_args()
    result = run(args.seconds, args.repeats)
    print(json.dumps(result) if args.json else format_result(result))
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
