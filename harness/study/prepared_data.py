"""The datasets a study needs: one per (sample rate, n) its cells use, prepared once.

Built-in corpora and imports are cached under `mlruns/datasets/` by a hash of what
defines them, created by the launcher before any worker starts (under a file lock, so
two launchers on one machine do not race) and found again by the workers.
"""

from __future__ import annotations

import glob
import hashlib
import json
from pathlib import Path

from harness.common.files import file_lock, store_dir
from harness.data.dataset import MANIFEST_NAME
from harness.study.spec import StudySpec
from models.errors import SampleGanError


def data_shapes(spec: StudySpec) -> list[tuple[int, int]]:
    """The distinct (sample_rate_hz, n) pairs of the study's cells."""
    points = {cell.point: cell for cell in spec.cells()}  # replicates share their point's config
    configs = [spec.config(cell) for cell in points.values()]
    return sorted({(config.sample_rate, config.n) for config in configs})


def dataset_dir(spec: StudySpec, sample_rate_hz: int, n: int) -> Path:
    """Where the dataset of one (rate, n) lives (a given folder for `dataset.path`)."""
    if spec.dataset.path is not None:
        return Path(spec.dataset.path).expanduser().resolve()
    defining = {"dataset": spec.dataset.__dict__, "sample_rate": sample_rate_hz, "n": n,
                "seed": spec.seed}
    digest = hashlib.sha256(json.dumps(defining, sort_keys=True, default=str).encode()).hexdigest()
    kind = "builtin" if spec.dataset.builtin else "import"
    return store_dir() / "datasets" / f"{kind}-{sample_rate_hz}hz-n{n}-{digest[:12]}"


def _audio_sources(patterns: tuple[str, ...]) -> list[Path]:
    sources: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True))
        if not matches:
            raise SampleGanError(f"dataset.audio: {pattern!r} matches no file")
        sources.extend(Path(match) for match in matches)
    return sources


def prepare_datasets(spec: StudySpec, log=print) -> dict[tuple[int, int], Path]:
    """Create every dataset the study needs that does not exist yet."""
    from harness.data.corpus import synthesize_dataset
    from harness.data.importer import import_audio
    from harness.data.loader import load_dataset

    prepared = {}
    for sample_rate_hz, n in data_shapes(spec):
        folder = dataset_dir(spec, sample_rate_hz, n)
        if spec.dataset.path is None:
            with file_lock(folder.parent / f".{folder.name}.lock"):
                if not (folder / MANIFEST_NAME).exists():
                    log(f"preparing dataset {folder.name} ...")
                    if spec.dataset.builtin:
                        synthesize_dataset(folder, seconds=spec.dataset.seconds,
                                           sample_rate_hz=sample_rate_hz, n=n,
                                           pieces=spec.dataset.pieces,
                                           holdout_fraction=spec.dataset.holdout_fraction,
                                           seed=spec.seed, force=False)
                    else:
                        import_audio(_audio_sources(spec.dataset.audio), folder,
                                     sample_rate_hz=sample_rate_hz, n=n,
                                     stride=spec.dataset.stride,
                                     drop_silence_db=spec.dataset.drop_silence_db,
                                     holdout_fraction=spec.dataset.holdout_fraction,
                                     seed=spec.seed, force=False)
        dataset = load_dataset(folder)
        if (dataset.sample_rate, dataset.n) != (sample_rate_hz, n):
            raise SampleGanError(
                f"dataset.path {folder} has n={dataset.n} at {dataset.sample_rate} Hz, but the "
                f"study's cells need n={n} at {sample_rate_hz} Hz; use dataset.builtin or "
                "dataset.audio to let the study prepare one dataset per shape"
            )
        prepared[(sample_rate_hz, n)] = folder
    return prepared
