"""Audio from a trained run: `samplegan generate`.

Generation runs the compiled loop in chunks (same random numbers as one long call)
so a progress bar can show samples per second.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from harness.errors import SampleGanError
from harness.quiet_tf import import_tensorflow_quietly
from harness.stopping import install_stop_handlers, raise_if_stop_requested

if TYPE_CHECKING:
    from models.sample_gan import SampleGAN

CHUNK_SAMPLES = 4096


def generate_audio(model: SampleGAN, seed_segments: np.ndarray, samples: int, seed: int = 0,
                   progress: bool = True) -> np.ndarray:
    """Generate `samples` samples for each seed segment.

    Args:
        model: a trained Sample-GAN.
        seed_segments: (streams, n) real segments the variant's seed source starts from.
        samples: samples per stream.
        seed: seed of the seed source and of sampling heads.

    Returns:
        (streams, samples) float32 in [-1, 1].
    """
    import tensorflow as tf

    generator = model.generator
    window = model.seed_windows(seed_segments, [seed, 1])
    carry = generator.compiled_start(window)
    chunks = []
    with tqdm(total=samples, desc="generate", unit="sample", unit_scale=True, file=sys.stderr,
              disable=not progress, dynamic_ncols=True) as bar:
        done = 0
        while done < samples:
            raise_if_stop_requested()
            steps = min(CHUNK_SAMPLES, samples - done)
            carry, emitted, _ = generator.run(carry, steps, tf.constant([seed, 2]), done)
            chunks.append(emitted.numpy())
            done += steps
            bar.update(steps)
    return np.clip(np.concatenate(chunks, axis=1), -1.0, 1.0).astype(np.float32)


def generate_command(*, run_id: str, seconds: float, out: Path, seed: int,
                     tracking_uri: str | None) -> Path:
    """Download the run's model, generate `seconds` of audio, write 16-bit WAV to `out`."""
    from harness.audio import write_wav
    from harness.tracking import TrackingStore, download_artifacts, get_run

    install_stop_handlers()
    if out.suffix.lower() != ".wav":
        raise SampleGanError(f"--out must be a .wav file, got {out}")
    if not out.parent.exists():
        raise SampleGanError(f"folder {out.parent} does not exist")
    store = TrackingStore.open(tracking_uri, create=False)  # read-only: never make a store
    get_run(store, run_id)
    model_dir = download_artifacts(store, run_id, "model")
    import_tensorflow_quietly()  # only once the inputs are known to be good
    from models.sample_gan import SampleGAN

    model, seed_bank = SampleGAN.load(model_dir)
    if len(seed_bank) == 0:
        raise SampleGanError(f"run {run_id} exported no seed segments")
    row = np.random.default_rng(seed).integers(len(seed_bank))
    samples = max(1, round(seconds * model.config.sample_rate))
    audio = generate_audio(model, seed_bank[row:row + 1], samples, seed=seed)[0]
    write_wav(out, audio, model.config.sample_rate)
    return out
