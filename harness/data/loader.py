"""Reading a dataset folder: its arrays memory-mapped read-only, the manifest checked.

The format is described in `harness.data.dataset`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.dataset import (
    DATASET_FORMAT,
    MANIFEST_NAME,
    SPLITS,
    contiguous_chains,
    find_contiguous_pairs,
)
from models.errors import SampleGanError


# ------------------------------------------------------------------------- loader
@dataclass(frozen=True)
class Dataset:
    """A dataset folder, its arrays memory-mapped read-only.

    Attributes:
        path: the folder.
        manifest: the parsed manifest.json.
        train: float32 [segments, n].
        holdout: float32 [segments, n] (may have 0 rows).
        train_index: int64 [segments, 2] of (source, start sample).
        holdout_index: int64 [segments, 2].
    """

    path: Path
    manifest: dict[str, Any]
    train: np.ndarray
    holdout: np.ndarray
    train_index: np.ndarray
    holdout_index: np.ndarray

    @property
    def sample_rate(self) -> int:
        """Sample rate in Hz."""
        return int(self.manifest["sample_rate"])

    @property
    def n(self) -> int:
        """Segment length in samples."""
        return int(self.manifest["n"])

    @property
    def stride(self) -> int:
        """Hop between segment starts in samples."""
        return int(self.manifest["stride"])

    def contiguous_pairs(self, split: str = "train") -> np.ndarray:
        """Row pairs (i, j) of `split` whose concatenation is 2n contiguous samples.

        Args:
            split: "train" or "holdout".

        Returns:
            int64 [pairs, 2]; see `find_contiguous_pairs`.
        """
        if split not in SPLITS:
            raise SampleGanError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        return find_contiguous_pairs(getattr(self, f"{split}_index"), self.n)

    def crop_starts(self, split: str, length: int) -> list[tuple[np.ndarray, int]]:
        """Chains of adjacent segments of `split` with room for a `length`-sample crop.

        Returns:
            (rows of the chain, number of possible crop starts in it) per usable chain.
        """
        if split not in SPLITS:
            raise SampleGanError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        chains = contiguous_chains(getattr(self, f"{split}_index"), self.n)
        return [(chain, len(chain) * self.n - length + 1) for chain in chains
                if len(chain) * self.n >= length]

    def random_crops(self, split: str, length: int, count: int,
                     rng: np.random.Generator) -> np.ndarray:
        """`count` crops of `length` contiguous samples at uniformly random positions.

        Every possible start in every chain of adjacent segments is equally likely, so
        long sources give proportionally more crops.

        Returns:
            float32 [count, length]; raises SampleGanError when no chain is long enough.
        """
        chains = self.crop_starts(split, length)
        if not chains:
            raise SampleGanError(f"{self.path} has no {length} contiguous samples in {split}")
        weights = np.array([starts for _, starts in chains], np.float64)
        picks = rng.choice(len(chains), size=count, p=weights / weights.sum())
        segments = getattr(self, split)
        n = self.n
        crops = np.empty((count, length), np.float32)
        for row, pick in enumerate(picks):
            chain, starts = chains[pick]
            start = int(rng.integers(0, starts))
            rows = chain[start // n: -(-(start + length) // n)]
            audio = np.asarray(segments[rows], np.float32).reshape(-1)
            crops[row] = audio[start - (start // n) * n:][:length]
        return crops

    def contiguous_clips(self, split: str, length: int, max_clips: int) -> np.ndarray:
        """Clips of `length` contiguous samples rebuilt from chains of adjacent segments.

        Quality metrics compare generated clips with real audio of the same length; a
        lone n-sample segment can be shorter than one analysis frame.

        Args:
            split: "train" or "holdout".
            length: samples per clip.
            max_clips: at most this many clips, spread evenly over the available ones.

        Returns:
            float32 [clips, length]; 0 clips when no chain of segments is long enough.
        """
        picked = self._clip_picks(split, length, max_clips)
        n, segments = self.n, getattr(self, split)
        clips = np.empty((len(picked), length), np.float32)
        for row, (chain, clip) in enumerate(picked):
            start = clip * length  # sample offset in the chain; only its rows are read
            rows = chain[start // n: -(-(start + length) // n)]
            audio = np.asarray(segments[rows], np.float32).reshape(-1)
            clips[row] = audio[start - (start // n) * n:][:length]
        return clips

    def contiguous_clip_sources(self, split: str, length: int, max_clips: int) -> np.ndarray:
        """The source (file or piece) id of each clip `contiguous_clips` returns for the same
        arguments: int64 [clips]. Floors drawn piece-apart need them (docs/quality.md)."""
        index = getattr(self, f"{split}_index")
        return np.asarray([index[chain[0], 0] for chain, _ in self._clip_picks(split, length, max_clips)],
                          np.int64)

    def _clip_picks(self, split: str, length: int, max_clips: int) -> list[tuple[np.ndarray, int]]:
        """(chain rows, clip number in the chain) of the clips of `contiguous_clips`."""
        if split not in SPLITS:
            raise SampleGanError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        index = getattr(self, f"{split}_index")
        candidates = [(chain, clip) for chain in contiguous_chains(index, self.n)
                      for clip in range(len(chain) * self.n // length)]
        if not candidates:
            return []
        keep = np.unique(np.linspace(0, len(candidates) - 1,
                                     min(max_clips, len(candidates))).astype(int))
        return [candidates[pick] for pick in keep]


def _load_array(path: Path, dtype: type, shape: tuple[int, int]) -> np.ndarray:
    remedy = "re-create the dataset with `samplegan data import` or `samplegan data synth`"
    if not path.is_file():
        raise SampleGanError(f"{path.parent} is incomplete: {path.name} is missing; {remedy}")
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise SampleGanError(f"cannot read {path} ({exc}); {remedy}") from exc
    if array.dtype != dtype or array.shape != shape:
        raise SampleGanError(
            f"{path} holds {array.dtype} {array.shape}, the manifest says "
            f"{np.dtype(dtype)} {shape}; {remedy}"
        )
    return array


def load_dataset(path: Path | str) -> Dataset:
    """Open a dataset folder written by `write_dataset`.

    Args:
        path: the dataset folder.

    Returns:
        The dataset with its arrays memory-mapped read-only.

    Raises:
        SampleGanError: missing, not a dataset, incomplete or of an unknown format.
    """
    path = Path(path)
    create = "create one with `samplegan data import` or `samplegan data synth`"
    if not path.exists():
        raise SampleGanError(f"no dataset at {path}: {create}")
    if not (path / MANIFEST_NAME).is_file():
        raise SampleGanError(f"{path} is not a samplegan dataset (no {MANIFEST_NAME}); {create}")
    try:
        manifest = json.loads((path / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as exc:
        raise SampleGanError(f"cannot read {path / MANIFEST_NAME} ({exc}); {create}") from exc
    found_format = manifest.get("format") if isinstance(manifest, dict) else None
    if found_format != DATASET_FORMAT:
        raise SampleGanError(
            f"{path} has dataset format {found_format!r}; this version reads "
            f"{DATASET_FORMAT!r}: re-create it ({create})"
        )
    try:
        n = int(manifest["n"])
        rows = {split: int(manifest["splits"][split]["segments"]) for split in SPLITS}
        sizes = (int(manifest["sample_rate"]), int(manifest["stride"]), n)
    except KeyError as exc:
        raise SampleGanError(f"{path / MANIFEST_NAME} lacks {exc}; re-create the dataset") from exc
    except (TypeError, ValueError) as exc:
        raise SampleGanError(f"{path / MANIFEST_NAME} is malformed ({exc}); re-create it") from exc
    if min(sizes) < 1 or min(rows.values()) < 0:
        raise SampleGanError(f"{path / MANIFEST_NAME} has impossible sizes; re-create the dataset")
    arrays = {}
    for split in SPLITS:
        arrays[split] = _load_array(path / f"{split}.npy", np.float32, (rows[split], n))
        arrays[f"{split}_index"] = _load_array(
            path / f"{split}_index.npy", np.int64, (rows[split], 2)
        )
    return Dataset(path=path, manifest=manifest, **arrays)


def manifest_sha256(path: Path | str) -> str:
    """SHA-256 of a dataset's manifest.json bytes, to record which dataset a run used.

    Args:
        path: the dataset folder.

    Returns:
        Hex digest.

    Raises:
        SampleGanError: the folder has no manifest.json.
    """
    manifest_path = Path(path) / MANIFEST_NAME
    if not manifest_path.is_file():
        raise SampleGanError(f"{path} is not a samplegan dataset (no {MANIFEST_NAME})")
    return hashlib.sha256(manifest_path.read_bytes()).hexdigest()


def augment_crops(crops: np.ndarray, rng: np.random.Generator, polarity_flip: bool,
                  gain_db: float) -> np.ndarray:
    """Training crops negated with probability 1/2 and scaled by a gain uniform in +-`gain_db` dB.

    Each augmentation draws from `rng` only when it is on (one draw per crop), so a batch
    without augmentation is the same as before these existed. Scaled crops are clipped to
    [-1, 1], the range of the audio.

    Args:
        crops: float32 (count, length) crops, e.g. from `Dataset.random_crops`.
        rng: The batch's generator.
        polarity_flip: Negate each crop with probability 1/2.
        gain_db: Half-width of the gain range in dB; 0 = no gain.

    Returns:
        float32 (count, length); `crops` itself when neither is on.
    """
    if not polarity_flip and gain_db <= 0.0:
        return crops
    factors = np.ones(len(crops), np.float64)
    if polarity_flip:
        factors *= np.where(rng.random(len(crops)) < 0.5, -1.0, 1.0)
    if gain_db > 0.0:
        factors *= 10.0 ** (rng.uniform(-gain_db, gain_db, len(crops)) / 20.0)
    return np.clip(crops * factors[:, None].astype(np.float32), -1.0, 1.0)
