"""A `TrainRequest` names its dataset once: a folder is loaded and checked against the variant
before any run exists; a dataset its caller already loaded and checked is used as it is."""

from __future__ import annotations

from dataclasses import replace

import pytest

import harness.runs.train as train
from harness.data.loader import load_dataset
from harness.runs.train import TrainRequest
from harness.tracking.store import TrackingStore
from models.errors import SampleGanError


def test_a_dataset_folder_is_loaded_and_checked_against_the_variant(tiny_corpus, tiny_training,
                                                                    store):
    tracking = TrackingStore.open()
    request = TrainRequest(experiment="e", variant="paper", overrides=tiny_training,
                           dataset=tiny_corpus)
    _, dataset, params, _, split = train._checked_inputs(tracking, request)
    assert dataset.path == tiny_corpus and split == "holdout"
    assert params["dataset.path"] == str(tiny_corpus.resolve())
    with pytest.raises(SampleGanError, match=r"n=32 at 16000 Hz but the variant needs n=64"):
        train._checked_inputs(tracking, replace(request, overrides={**tiny_training, "n": 64}))


def test_a_loaded_dataset_is_neither_loaded_nor_checked_again(tiny_corpus, tiny_training, store,
                                                               monkeypatch):
    loaded = load_dataset(tiny_corpus)

    def again(*args):
        raise AssertionError("the request's dataset was loaded or checked again")

    monkeypatch.setattr(train, "load_dataset", again)
    monkeypatch.setattr(train, "check_dataset", again)
    request = TrainRequest(experiment="e", variant="paper", overrides=tiny_training, dataset=loaded)
    _, dataset, *_ = train._checked_inputs(TrackingStore.open(), request)
    assert dataset is loaded
