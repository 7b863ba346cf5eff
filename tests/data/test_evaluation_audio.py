"""harness.data.evaluation_audio: the real audio a run's evaluations draw, from the dataset alone."""

from __future__ import annotations

import numpy as np

from harness.data.corpus import synthesize_dataset
from harness.data.evaluation_audio import evaluation_segments, evaluation_split, reference_clips
from harness.data.loader import load_dataset


def test_a_runs_seed_picks_its_evaluation_segments_from_the_held_out_split(tiny_corpus):
    dataset = load_dataset(tiny_corpus)
    assert evaluation_split(dataset) == "holdout"
    segments = evaluation_segments(dataset, seed=3)
    assert segments.dtype == np.float32 and segments.shape[1] == dataset.n
    assert len(segments) == min(len(dataset.holdout), 256)
    held_out = {row.tobytes() for row in np.asarray(dataset.holdout, np.float32)}
    assert all(row.tobytes() in held_out for row in segments)
    np.testing.assert_array_equal(segments, evaluation_segments(dataset, seed=3))


def test_without_a_held_out_split_the_training_audio_is_the_reference(tmp_path):
    synthesize_dataset(tmp_path / "all", seconds=2.0, sample_rate_hz=16000, n=32, pieces=1,
                       holdout_fraction=0.0, seed=0, force=False)
    dataset = load_dataset(tmp_path / "all")
    assert evaluation_split(dataset) == "train"
    segments = evaluation_segments(dataset, seed=0)
    clips = reference_clips(dataset, 4 * dataset.n, segments)
    assert clips.shape[1] == 4 * dataset.n and len(clips) >= 2  # rebuilt from adjacent segments
    too_long = reference_clips(dataset, 10 * 16000, segments)
    assert too_long is segments  # no source that long: the evaluation segments stand in
