"""The dilated-convolution family: queued generation against the full net, receptive field, training."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from harness.data.loader import load_dataset
from harness.training.events import RunOptions
from harness.training.generation import generate_audio
from harness.training.trainer import Trainer
from models.dilated import dilations, receptive_field
from models.errors import SampleGanError
from models.generator import _step_seed
from models.registry import resolve
from models.sample_gan import SampleGAN, set_global_seed

# 4 layers x 2 stacks: dilations 1, 2, 4, 8, 1, 2, 4, 8; receptive field 31 samples.
TINY = dict(n=32, dilated_layers=4, dilated_stacks=2, dilated_channels=6,
            dilated_skip_channels=8, input_embedding_dim=5, ae_levels=2, ae_filters=4,
            ae_kernel=5, eval_clips=2)


def tiny(**overrides) -> SampleGAN:
    set_global_seed(0)
    model = SampleGAN(resolve("dilated-fix", {**TINY, **overrides}))
    for weight in model.generator.weights:  # larger than Keras' initial weights: outputs that
        weight.assign(weight * 1.5)  # move, so that a wrong queue slot shows
    return model


def audio(batch: int, length: int, seed: int) -> np.ndarray:
    """Random audio spread over many mu-law classes: (batch, length) float32."""
    return np.random.default_rng(seed).uniform(-0.8, 0.8, (batch, length)).astype(np.float32)


def test_the_default_stack_reaches_1024_samples():
    assert dilations(10, 1) == tuple(2**k for k in range(10))
    assert receptive_field(10, 1) == 1024 and receptive_field(4, 2) == 31
    config = resolve("dilated-fix")
    assert receptive_field(config.dilated_layers, config.dilated_stacks) == 1024 == config.n
    assert config.warmup_samples == 1024  # every scored prediction sees a whole receptive field


def test_each_prediction_depends_on_exactly_the_declared_receptive_field():
    generator = tiny().generator
    field = generator.receptive_field
    assert field == 31
    clip = audio(1, 80, 1)
    last = 79  # params[:, last] predict the sample after clip[:, last]
    reference = generator.sequence_params(tf.constant(clip))[:, last].numpy()
    for moved, inside in ((last - field + 1, True), (last - field, False), (0, False)):
        changed = clip.copy()
        changed[0, moved] = -changed[0, moved]
        params = generator.sequence_params(tf.constant(changed))[:, last].numpy()
        assert (np.abs(params - reference).max() > 1e-4) == inside, moved


@pytest.mark.parametrize("window", [32, 5])  # 5: shorter than the largest dilation, 8
def test_queued_generation_computes_the_full_nets_params_for_a_fed_sequence(window):
    generator = tiny().generator
    clip = tf.constant(audio(3, 70, 2))
    full = generator.sequence_params(clip)  # (B, 70, P): the whole sequence at once

    start = tf.function(generator.start, jit_compile=True)  # compiled as generation runs them
    advance = tf.function(generator.advance, jit_compile=True)
    carry = start(clip[:, :window])
    queued = [carry[-1]]
    for t in range(window, 70):
        carry = advance(carry, clip[:, t])
        queued.append(carry[-1])
    np.testing.assert_allclose(tf.stack(queued, axis=1).numpy(), full[:, window - 1:].numpy(),
                               atol=1e-5)


def recomputed(generator, seed_window: np.ndarray, steps: int, seed: list[int]) -> np.ndarray:
    """The reference: each sample drawn from the full net rerun over the whole history.

    Compiled with XLA like the generation loop, whose stateless random numbers differ
    without it; the history is padded to its final length (zeros past the newest
    sample, which a causal net does not read), so that it compiles once.
    """
    batch, width = seed_window.shape

    @tf.function(jit_compile=True)
    def draw(history, step):
        params = tf.gather(generator.sequence_params(history), width - 1 + step, axis=1)
        return generator.head.sample(params, _step_seed(tf.constant(seed), step, 0))

    history = np.concatenate([seed_window, np.zeros((batch, steps), np.float32)], axis=1)
    for step in range(steps):
        history[:, width + step] = draw(tf.constant(history), tf.constant(step)).numpy()
    return history[:, width:]


def test_a_short_clip_generated_with_queues_equals_a_full_recompute():
    model = tiny()
    segments = audio(2, 32, 3)
    window = model.seed_windows(segments, [0, 1]).numpy()
    expected = recomputed(model.generator, window, 48, [0, 2])
    assert len(np.unique(expected)) > 10  # sampled mu-law levels, not a constant
    emitted, _ = model.generator.generate(window, 48, tf.constant([0, 2]))
    np.testing.assert_array_equal(emitted.numpy(), expected)
    chunked = generate_audio(model, segments, 48, progress=False)  # `samplegan generate`
    np.testing.assert_array_equal(chunked, expected)


def test_the_gan_replay_reproduces_what_generation_computed():
    generator = tiny(output_head="tanh").generator  # deterministic: relaxed = sample
    window = tf.constant(audio(2, 32, 4))
    emitted, fed = generator.generate(window, 20, tf.constant([1, 2]))
    positions, relaxed = generator.replay_relaxed(window, fed, tf.constant([3, 4]))
    np.testing.assert_array_equal(positions.numpy(), np.arange(20))
    np.testing.assert_allclose(relaxed.numpy(), emitted.numpy(), atol=1e-5)


def test_save_and_load_restore_every_layers_weights(tmp_path):
    model = tiny()
    model.save(tmp_path / "model", audio(2, 32, 5))
    loaded, _ = SampleGAN.load(tmp_path / "model")
    saved = {w.path: w.numpy() for w in model.generator.weights}
    restored = {w.path: w.numpy() for w in loaded.generator.weights}
    # the embedding table; kernel and bias of the input projection, 8 gates, 7 residuals,
    # the skip projection, its hidden layer and the head
    assert len(saved) == 1 + 2 * (1 + 8 + 7 + 3)
    assert saved.keys() == restored.keys()
    for path, value in saved.items():
        np.testing.assert_array_equal(restored[path], value, err_msg=path)


@pytest.mark.parametrize("overrides,message", [
    (dict(dilated_layers=0), "dilated_layers must be at least 1"),
    (dict(dilated_layers=17), "dilated_layers must be at most 16"),
    (dict(dilated_channels=0), "dilated_channels must be at least 1"),
    (dict(prefilter=True), "takes no prefilter"),
    (dict(teacher_warmup=0, pretrain_length=16, teacher_chunks=2), "carries its state"),
])
def test_dilated_refuses_what_it_cannot_build(overrides, message):
    with pytest.raises(SampleGanError, match=message):
        resolve("dilated-fix", {**TINY, **overrides})


@pytest.mark.slow
def test_a_few_teacher_forced_steps_through_the_trainer_lower_the_loss(tiny_training, tiny_corpus,
                                                                        tmp_path):
    # A rate 10x the variant's: forty steps must move the logits measurably.
    config = resolve("dilated-fix", {**tiny_training, **TINY, "ae_steps": 0, "gan_steps": 0,
                                     "pretrain_steps": 40, "lr_pretrain": 0.02, "eval_every": 100})
    trainer = Trainer(config, load_dataset(tiny_corpus), tmp_path, options=RunOptions(
        seed=1, progress=False, checkpoint_every_s=0))
    before = trainer.heldout_likelihood()["teacher_loss"]
    result = trainer.run()
    losses = result.history["pretrain/teacher_loss"]
    assert result.steps["pretrain"] == 40 and len(losses) == 40
    # nats per sample; each step scores only 4 x 32 samples, hence means of ten
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.15
    assert trainer.heldout_likelihood()["teacher_loss"] < before - 0.2  # 5.55 -> 5.21 seen
