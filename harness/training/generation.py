"""Audio from a trained Sample-GAN: the compiled generation loop, in chunks.

Generation runs the compiled loop in chunks (same random numbers as one long call)
so a progress bar can show samples per second.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from harness.common.signals import raise_if_stop_requested

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


def evaluation_clips(model: SampleGAN, seed_segments: np.ndarray, samples: int,
                     seed: int) -> np.ndarray:
    """The clips an evaluation diagnoses: one compiled call from the seed segments.

    Args:
        model: a trained Sample-GAN.
        seed_segments: (clips, n) real segments the variant's seed source starts from.
        samples: samples per clip.
        seed: seed of the seed source and of sampling heads (a run evaluates with its own).

    Returns:
        (clips, samples) float32 in [-1, 1].
    """
    import tensorflow as tf

    window = model.seed_windows(seed_segments, [seed, 1])
    clips, _ = model.generator.generate(window, samples, tf.constant([seed, 2]))
    return np.clip(clips.numpy(), -1.0, 1.0).astype(np.float32)
