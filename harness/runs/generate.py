"""Audio from a tracked run: `samplegan generate` downloads the run's model and generates."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.common.quiet_tf import import_tensorflow_quietly
from harness.common.signals import install_stop_handlers
from harness.training.generation import generate_audio
from models.config import check_sampling_keys
from models.errors import SampleGanError
from models.registry import parse_overrides


def generate_command(*, run_id: str, seconds: float, out: Path, seed: int,
                     tracking_uri: str | None, assignments: list[str] | None = None) -> Path:
    """Download the run's model, generate `seconds` of audio, write 16-bit WAV to `out`.

    `assignments` ("KEY=VALUE", the CLI's --set) change the sampling keys only
    (`models.config.SAMPLING_KEYS`).
    """
    from harness.data.audio import write_wav
    from harness.tracking.store import TrackingStore, download_artifacts, get_run

    install_stop_handlers()
    sampling = parse_overrides(assignments or [])
    check_sampling_keys(sampling)
    if out.suffix.lower() != ".wav":
        raise SampleGanError(f"--out must be a .wav file, got {out}")
    if not out.parent.exists():
        raise SampleGanError(f"folder {out.parent} does not exist")
    store = TrackingStore.open(tracking_uri, create=False)  # read-only: never make a store
    get_run(store, run_id)
    model_dir = download_artifacts(store, run_id, "model")
    import_tensorflow_quietly()  # only once the inputs are known to be good
    from models.sample_gan import SampleGAN

    model, seed_bank = SampleGAN.load(model_dir, sampling)
    if len(seed_bank) == 0:
        raise SampleGanError(f"run {run_id} exported no seed segments")
    row = np.random.default_rng(seed).integers(len(seed_bank))
    samples = max(1, round(seconds * model.config.sample_rate))
    audio = generate_audio(model, seed_bank[row:row + 1], samples, seed=seed)[0]
    write_wav(out, audio, model.config.sample_rate)
    return out
