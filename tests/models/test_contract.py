"""The generator plug-in contract, checked for every generator the table registers.

A new family (one network module, one declaration, one line in `models.parts`) is picked
up here without naming it: teacher forcing and generation must agree, a generated clip
must equal a full recompute, carried chunks must score what one pass scores, its keys
must be checked, and its benchmark sizes must resolve to valid configs.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import tensorflow as tf

from harness.training.speed import BATCHES, family_overrides
from models.config import SampleGANConfig
from models.errors import SampleGanError
from models.parts import names, part
from models.registry import resolve
from models.sample_gan import SampleGAN, set_global_seed

GENERATORS = names("generator")
# n = 32 is a multiple of every step size below, so frames start at the sequence's start.
CONTRACT_SIZES = dict(n=32, lstm_units=6, sample_input="mulaw-embedding", input_embedding_dim=4,
                      frame_size=4, top_frame_size=8, sample_mlp_units=8, ae_levels=1,
                      ae_filters=2, ae_kernel=3)
CHUNKS = dict(teacher_warmup=0, pretrain_length=16, teacher_chunks=3)


@functools.cache
def moving_model(generator: str) -> SampleGAN:
    """A tiny model of `generator` whose weights (scaled by 1.5) keep its output moving:
    untrained weights settle on a constant, and two paths that both emit it agree
    whatever their bugs."""
    declared = part("generator", generator)
    set_global_seed(0)
    model = SampleGAN(resolve("paper", {**CONTRACT_SIZES, "generator": generator,
                                        **(CHUNKS if declared.carries_state else {})}))
    for weight in model.generator.weights:
        weight.assign(weight * 1.5)
    return model


def audio(length: int, seed: int = 3) -> tf.Tensor:
    return tf.random.stateless_uniform((2, length), [seed, 0], -0.8, 0.8)


@pytest.mark.parametrize("generator", GENERATORS)
def test_generation_steps_compute_the_teacher_forced_params_of_the_fed_audio(generator):
    network = moving_model(generator).generator
    sequence, steps = audio(32 + 20), 20
    teacher = network.params_at(sequence, tf.range(32, 32 + steps)).numpy()  # (B, 20, P)
    carry = network.start(sequence[:, :32])
    stepped = [carry[-1]]
    for position in range(32, 32 + steps - 1):  # feed the audio itself, sample by sample
        carry = network.advance(carry, sequence[:, position])
        stepped.append(carry[-1])
    np.testing.assert_allclose(np.stack(stepped, axis=1), teacher, rtol=1e-5, atol=1e-5)
    assert teacher.std(axis=1).mean() > 1e-3  # the params move from step to step


@pytest.mark.parametrize("generator", GENERATORS)
def test_a_generated_clip_equals_a_full_recompute_of_its_own_history(generator):
    network = moving_model(generator).generator
    seed_window = audio(32, seed=5)
    emitted, fed = network.generate(seed_window, 40, tf.constant([1, 2]))  # compiled loop
    history = tf.concat([seed_window, fed], axis=1)
    recomputed = network.params_at(history, tf.range(32, 72))
    np.testing.assert_allclose(network.head.sample(recomputed, None).numpy(), emitted.numpy(),
                               rtol=1e-5, atol=1e-5)
    _, relaxed = network.replay_relaxed(seed_window, fed, tf.constant([0, 0]))
    if relaxed.shape[1] == 40:  # families that replay every position (the paper's picks some)
        np.testing.assert_allclose(relaxed.numpy(), emitted.numpy(), atol=1e-5)
    assert float(tf.math.reduce_std(emitted[:, 20:])) > 1e-3


@pytest.mark.parametrize("generator", [g for g in GENERATORS if part("generator", g).carries_state])
def test_carried_chunks_score_what_one_pass_scores_and_the_warm_up_is_respected(generator):
    model = moving_model(generator)
    network, config = model.generator, model.config
    context, length = config.chunk_context, config.pretrain_length
    assert network.carry_context == context == part("generator", generator).step_size(config)
    excerpt = audio(config.teacher_length, seed=7)
    one_pass = network.params_at(excerpt, tf.range(context, config.teacher_length))
    state = network.zero_state(2)
    for chunk in range(config.teacher_chunks):
        piece = excerpt[:, chunk * length: (chunk + 1) * length + context]
        loss, state = network.carried_loss(piece, state)
        expected = network.head.teacher_loss(one_pass[:, chunk * length: (chunk + 1) * length],
                                             piece[:, context:])
        assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    # teacher_warmup = 0: every position a whole step precedes is scored
    expected = network.head.teacher_loss(one_pass, excerpt[:, context:])
    assert float(network.teacher_loss(excerpt, tf.constant([0, 0]))) == pytest.approx(
        float(expected), rel=1e-5)


@pytest.mark.parametrize("generator", GENERATORS)
def test_its_keys_are_config_fields_and_its_step_must_fit_the_window(generator):
    declared = part("generator", generator)
    fields = {field.name for field in dataclasses.fields(SampleGANConfig)}
    assert set(declared.keys) <= fields
    assert declared.step_key is None or declared.step_key in declared.keys
    config = resolve("paper", {**CONTRACT_SIZES, "generator": generator})
    assert declared.step_size(config) >= 1 and 32 % declared.step_size(config) == 0
    if declared.step_key:
        with pytest.raises(SampleGanError, match=f"{declared.step_key} must be at most n"):
            config.replace(**{"frame_size": 4, declared.step_key: 64})
    if not declared.carries_state:
        with pytest.raises(SampleGanError, match="needs a generator that carries its state"):
            config.replace(teacher_warmup=8)


@pytest.mark.parametrize("generator", GENERATORS)
@pytest.mark.parametrize("quick", [True, False])
def test_its_bench_sizes_exist_and_resolve(generator, quick):
    bench = part("generator", generator).bench
    samples = bench.quick_generation_samples if quick else bench.generation_samples
    assert set(samples) == set(BATCHES) and min(samples.values()) >= 1 and bench.train_steps >= 1
    assert set(bench.quick_overrides) <= set(part("generator", generator).keys)
    sizes = {"n": 32, "lstm_units": 8} if quick else {"n": 500, "lstm_units": 128}
    assert resolve("paper", {**family_overrides(generator, quick), **sizes}).generator == generator
