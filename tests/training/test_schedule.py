"""harness.training.schedule: which phases a run trains, and whether it gets music metrics."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from harness.data.loader import load_dataset
from harness.training.events import RunOptions
from harness.training.schedule import ENCODER_SEED_SOURCES, music_plan, phase_totals
from models.parts import names, part
from models.registry import resolve


class EncoderCalled(Exception):  # noqa: N818 - a probe, not an error
    pass


def _encoder_that_must_not_run(*args, **kwargs):
    raise EncoderCalled


@pytest.mark.parametrize("source", names("seed_source"))
def test_only_the_seed_sources_named_as_encoder_readers_read_the_encoder(source):
    """`ENCODER_SEED_SOURCES` decides whether the autoencoder trains: it must name exactly the
    seed sources whose window calls the encoder."""
    config = resolve("paper", {"seed_source": source, "sample_rate": 16000, "n": 32})
    seeds = part("seed_source", source)(config, _encoder_that_must_not_run)
    segments = np.zeros((2, 32), np.float32)
    if source in ENCODER_SEED_SOURCES:
        with pytest.raises(EncoderCalled):
            seeds.window(segments, np.array([0, 1]))
    else:
        assert tuple(seeds.window(segments, np.array([0, 1])).shape) == (2, 32)


def test_real_priming_skips_the_autoencoder_it_never_uses(tiny_corpus, tiny_training, tmp_path):
    from harness.training.trainer import Trainer

    dataset = load_dataset(tiny_corpus)
    fix = resolve("embedded-fix", {**tiny_training, "ae_steps": 50, "gan_steps": 0,
                                   "pretrain_steps": 0})  # real priming, as frame-tier-fix
    assert phase_totals(fix, dataset) == {"autoencoder": 0, "pretrain": 0, "gan": 0}
    assert phase_totals(fix.replace(seed_source="noise"), dataset)["autoencoder"] == 0
    assert phase_totals(fix.replace(seed_source="encoded"), dataset)["autoencoder"] == 50

    trainer = Trainer(fix, dataset, tmp_path, options=RunOptions(progress=False))
    encoder = [weight.numpy().copy() for weight in trainer.model.encoder.weights]
    result = trainer.run()
    assert result.steps["autoencoder"] == 0
    assert not any(key.startswith("autoencoder/") for key in result.history)
    assert all(np.array_equal(before, after.numpy())
               for before, after in zip(encoder, trainer.model.encoder.weights, strict=True))
    assert len(result.evaluations) == 1  # the run still ends with its evaluation


def test_short_evaluation_clips_skip_music_without_importing_librosa(tiny_corpus):
    """A tiny config's clips (4 n = 128 samples at 16 kHz) get no music metrics, and the run's
    process never imports librosa (a subprocess: this one may have imported it already)."""
    script = f"""
import sys
import numpy as np
from harness.data.loader import load_dataset
from harness.training.schedule import music_plan
from models.registry import resolve
plan = music_plan(resolve("paper", {{"sample_rate": 16000, "n": 32}}), load_dataset({str(tiny_corpus)!r}), 0)
assert plan.measure(np.zeros((4, 128), np.float32)) == ({{}}, {{}})
assert "librosa" not in sys.modules
print(plan.status)
"""
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               check=False, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "skipped: clips of 0.008 s, under the 1 s minimum (raise eval_samples)"


def test_music_needs_twice_the_clips_in_held_out_audio_and_goes_piece_blind_on_one_piece(tiny_corpus):
    dataset = load_dataset(tiny_corpus)  # 6 s in 3 pieces, 1 held out: 2 clips of 1 s
    plan = music_plan(resolve("paper", {"sample_rate": 16000, "n": 32, "eval_samples": 16000,
                                        "eval_clips": 1}), dataset, 0)
    assert plan.enabled and plan.sources is None and plan.clips.shape == (2, 16000)
    assert plan.status == ("computed: 1 clips of 1 s against 2 clips of held-out audio, piece-blind "
                           "floors: 1 piece(s) cannot leave 1 clips of other pieces in every draw")
    short = music_plan(resolve("paper", {"sample_rate": 16000, "n": 32, "eval_samples": 16000}),
                       dataset, 0)
    assert short.status == ("skipped: the holdout split holds 2 contiguous clips of 1 s; a floor "
                            "for 4 clips needs 8")
