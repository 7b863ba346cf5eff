"""The music metrics of every class they must separate, against like-for-like floors.

For each reference (the built-in corpus, and ../shared/data/music-long when present) it
prepares a `MusicReference` of held-out clips and scores sets of 4 clips of 4 s at 16 kHz:
one real clip from each of 4 pieces outside the reference, the `frame-tier-fix` run's clips when they
are in tests/evaluation/data, shaped noise, a tone, a drone, a whistle over hiss, silence
and the paper's collapse. Prints one table per reference (docs/music.md quotes them). Usage:

    python benchmarks/music_margins.py [--frame-tier-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from harness.evaluation.music import DISTANCES, MusicReference, music_metrics
from harness.evaluation.quality import ReferenceSet, quality_metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from music_signals import corpus_clips, frame_tier_clips, recording_clips, synthetic_classes  # noqa: E402
from shared_music import REPO  # noqa: E402

RATE_HZ = 16000
CLIP_SAMPLES = 4 * RATE_HZ
COUNT = 4
MUSIC_LONG = REPO.parent / "shared" / "data" / "music-long"
CLIPS_PER_PIECE = 4
PIECES = 12  # the reference holds 8; the real set takes one clip from each of the other 4
REFERENCE_FILES = ("hr3-caves.ogg", "hr3-crossroads.ogg", "hr3-desert.ogg", "hr3-graveyard.ogg",
                   "hr3-hell.ogg", "hr3-jungle.ogg", "hr3-laboratory.ogg", "hr3-mirror.ogg")
REAL_FILES = ("hr3-icyland.ogg", "hr3-motion.ogg", "hr3-rlyeh.ogg")
SKIP_S = 10  # past each file's opening


def _corpus() -> tuple[np.ndarray, np.ndarray]:
    clips = corpus_clips(range(PIECES), CLIP_SAMPLES, CLIPS_PER_PIECE, RATE_HZ, corpus_pieces=PIECES)
    reference = clips[: 8 * CLIPS_PER_PIECE]
    return reference, clips.reshape(PIECES, CLIPS_PER_PIECE, -1)[8:, 0]


def _music_long() -> tuple[np.ndarray, np.ndarray] | None:
    if not all((MUSIC_LONG / name).is_file() for name in (*REFERENCE_FILES, *REAL_FILES)):
        return None
    from harness.data.audio import load_audio

    skip = SKIP_S * RATE_HZ
    reference = np.concatenate([recording_clips(load_audio(MUSIC_LONG / name, RATE_HZ), CLIP_SAMPLES,
                                                CLIPS_PER_PIECE, skip) for name in REFERENCE_FILES])
    # Four clips from three unseen files: two from the first, 20 s apart.
    real = [recording_clips(load_audio(MUSIC_LONG / name, RATE_HZ), CLIP_SAMPLES, 1, skip)[0]
            for name in REAL_FILES]
    real.append(recording_clips(load_audio(MUSIC_LONG / REAL_FILES[0], RATE_HZ), CLIP_SAMPLES, 1,
                                skip + 20 * RATE_HZ)[0])
    return reference, np.stack(real)


def score(reference_clips: np.ndarray, real: np.ndarray, frame_tier: np.ndarray | None) -> dict:
    """Every class's music metrics against one reference, and the seconds it took.

    The reference's clips come CLIPS_PER_PIECE at a time from one piece or file: its floors
    compare each drawn real set with the other pieces only (`MusicReference` sources).
    """
    started = time.perf_counter()
    sources = np.repeat(np.arange(reference_clips.shape[0] // CLIPS_PER_PIECE), CLIPS_PER_PIECE)
    reference = MusicReference(reference_clips, RATE_HZ, sources)
    prepared_s = time.perf_counter() - started
    classes = {"real (unseen pieces)": real}
    if frame_tier is not None:
        classes["frame-tier-fix run"] = frame_tier[:COUNT]
    classes.update(synthetic_classes(COUNT, CLIP_SAMPLES, RATE_HZ, reference.rms, seed=7))
    spectra = ReferenceSet(reference_clips, RATE_HZ, sources)
    results = {name: {**music_metrics(list(clips), reference, RATE_HZ),
                      **{f"quality_{key}": value for key, value in quality_metrics(list(clips), spectra, RATE_HZ).items()}}
               for name, clips in classes.items()}
    return {"reference_clips": reference.count, "prepare_s": prepared_s,
            "total_s": time.perf_counter() - started, "notes": reference.floor_notes(COUNT),
            "classes": results}


def _table(title: str, scored: dict) -> str:
    first = next(iter(scored["classes"].values()))
    names = ("quality_mr_lsd_db", "notes_summary", *DISTANCES)
    lines = [f"### {title} ({scored['reference_clips']} reference clips; {COUNT} clips of 4 s per set)", "",
             "MR-LSD (dB, `quality/mr_lsd_db`) for comparison; ✓ within the floor's p95, ✗ beyond.", "",
             "| class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
             "| floor mean (p95) | " + " | ".join(
                 f"{first[f'{n}_real_vs_real']:.3g} ({_fmt(first[f'{n}_real_vs_real_p95'])})" for n in names) + " |"]
    for name, metrics in scored["classes"].items():
        cells = []
        for metric in names:
            value, p95 = metrics[metric], metrics[f"{metric}_real_vs_real_p95"]
            mark = "" if value is None or p95 is None else (" ✓" if value <= p95 else " ✗")
            cells.append(_fmt(value) + mark)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for metric, reason in scored["notes"].items():
        lines.append(f"\n{metric}: {reason}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--frame-tier-dir", type=Path, default=None,
                        help="folder of a frame-tier-fix run's 4 s clips (*.wav, 16 kHz) to score too")
    args = parser.parse_args()
    frame_tier = None if args.frame_tier_dir is None else frame_tier_clips(CLIP_SAMPLES, args.frame_tier_dir, "*.wav")
    out = {"built-in corpus": score(*_corpus(), frame_tier)}
    music_long = _music_long()
    if music_long is not None:
        out["music-long"] = score(*music_long, frame_tier)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for title, scored in out.items():
        print(_table(title, scored))
        print(f"\n(prepared in {scored['prepare_s']:.1f} s, all classes in {scored['total_s']:.1f} s)\n")


if __name__ == "__main__":
    main()
