"""Models: shapes of every part and variant, generation paths against step-by-step references, mu-law."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from harness.training.generation import generate_audio
from harness.training.speed import paper_predict_loop
from models.autoencoder import code_length
from models.errors import SampleGanError
from models.heads import nucleus
from models.mulaw import mulaw_decode, mulaw_encode, mulaw_levels
from models.parts import part
from models.registry import VARIANTS, resolve
from models.sample_gan import SampleGAN, set_global_seed
from models.seeds import NoiseSeed, RealSeed

TINY = dict(n=32, lstm_units=6, ae_levels=2, ae_filters=4, ae_kernel=5, prefilter_filters=3,
            prefilter_kernel=5, prefilter_pool=2, mulaw_channels=256, eval_clips=2)
# The smallest sizes every part accepts: the per-variant test builds fifteen models.
SHAPE_SIZES = dict(n=16, lstm_units=4, ae_levels=1, ae_filters=2, ae_kernel=3, prefilter_filters=2,
                   prefilter_kernel=3, prefilter_pool=2, train_gen_length=8, frame_size=4,
                   top_frame_size=8)


def tiny(variant: str = "paper", **overrides) -> SampleGAN:
    set_global_seed(0)
    return SampleGAN(resolve(variant, {**TINY, **overrides}))


@pytest.fixture
def eager_functions():
    """Run tf.functions eagerly: shape checks need no compiled (slow-to-build) loops."""
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(False)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_builds_with_the_right_shapes(variant, eager_functions):
    set_global_seed(0)
    model = SampleGAN(resolve(variant, SHAPE_SIZES))
    config, batch = model.config, 3
    real = tf.random.uniform((batch, config.n), -0.5, 0.5, seed=1)
    code = model.encoder(real)
    assert code.shape == (batch, code_length(config))
    assert model.autoencode(real).shape == (batch, config.n)
    window = model.seed_windows(real, [0, 1])
    assert window.shape == (batch, config.n)
    params = model.generator(window)
    assert params.shape == (batch, model.generator.head.params_dim)
    emitted, fed = model.generator.generate(window, 8, tf.constant([1, 2]))
    assert emitted.shape == fed.shape == (batch, 8)
    assert np.all(np.abs(emitted.numpy()) <= 1.0)
    assert model.discriminator(emitted).shape == (batch,)
    positions, relaxed = model.generator.replay_relaxed(window, fed, tf.constant([3, 4]))
    assert relaxed.shape == (batch, positions.shape[0])
    # the parts are the ones the variant names
    assert part("generator", config.generator).network.endswith(":" + type(model.generator).__name__)
    assert type(model.generator.prefilter).__name__ == ("ConvPrefilter" if config.prefilter
                                                        else "NoPrefilter")
    assert type(model.generator.head).__name__ == {"tanh": "TanhHead",
                                                   "mulaw": "MulawHead"}[config.output_head]
    assert type(model.seed_source).__name__ == {"encoded": "EncodedSeed", "noise": "NoiseSeed",
                                                "real": "RealSeed"}[config.seed_source]
    assert type(model.loss).__name__ == {"bce": "BceLoss", "hinge": "HingeLoss",
                                         "wgan-gp": "WganGpLoss"}[config.gan_loss]


def test_the_registry_variants_keep_their_axes():
    assert resolve("n4410").n == 4410 and resolve("n1000").n == 1000
    assert resolve("paper-16k").sample_rate == 16000 and resolve("paper").sample_rate == 44100
    augmented, fix = resolve("augmented-fix"), resolve("embedded-fix")
    assert augmented.teacher_polarity_flip and augmented.teacher_gain_db == 6.0
    assert augmented.replace(teacher_polarity_flip=False, teacher_gain_db=0.0) == fix


def test_prefilter_compresses_the_stateless_window_but_not_the_stateful_stream():
    stateless = tiny("prefilter").generator
    stateful = tiny("prefilter", generator="stateful").generator
    waveform = tf.random.normal((2, 32))
    assert stateless.frames(waveform).shape == (2, 16, 3)  # n / pool frames
    assert stateful.frames(waveform).shape == (2, 32, 3)  # one frame per sample


def test_embedded_input_looks_up_each_samples_mulaw_class():
    generator = tiny("embedded-input", input_embedding_dim=5).generator
    waveform = tf.constant([[0.0, 0.5, -0.5, 0.5]])
    features = generator.sample_input(waveform).numpy()
    assert features.shape == (1, 4, 5)
    np.testing.assert_array_equal(features[0, 1], features[0, 3])  # same class, same vector
    assert not np.allclose(features[0, 1], features[0, 2])
    table = generator.sample_input.table.embeddings.numpy()
    np.testing.assert_array_equal(features[0, 0], table[mulaw_encode(tf.constant(0.0)).numpy()])


def test_companded_input_is_the_mulaw_curve():
    generator = tiny("paper", sample_input="mulaw-companded").generator
    features = generator.sample_input(tf.constant([[0.0, 1.0, -1.0, 0.01]])).numpy()[0, :, 0]
    expected = np.log1p(255 * 0.01) / np.log(256)  # hand-worked: 0.1695
    np.testing.assert_allclose(features, [0.0, 1.0, -1.0, expected], rtol=1e-5)
    # companded values decode back to the samples the mu-law head would emit
    np.testing.assert_allclose(
        mulaw_decode(tf.round((features + 1) / 2 * 255)).numpy(),
        mulaw_decode(mulaw_encode(tf.constant([0.0, 1.0, -1.0, 0.01]))).numpy())


@pytest.mark.parametrize("family", ["stateless", "stateful"])
@pytest.mark.parametrize("sample_input", ["raw", "mulaw-companded", "mulaw-embedding"])
def test_loss_at_positions_equals_the_window_by_window_loss(family, sample_input):
    generator = tiny("mulaw", generator=family, sample_input=sample_input).generator
    audio = tf.random.uniform((2, 80), -0.5, 0.5, seed=3)
    positions = tf.constant([32, 50, 79])
    expected = [generator.head.teacher_loss(generator.window_params(audio[:, p - 32:p]),
                                            audio[:, p]) for p in (32, 50, 79)]
    if family == "stateful":  # the carried state has seen every sample since the start
        params = generator.sequence_params(audio)
        expected = [generator.head.teacher_loss(params[:, p - 1], audio[:, p]) for p in (32, 50, 79)]
    np.testing.assert_allclose(float(generator.loss_at(audio, positions)),
                               float(tf.reduce_mean(expected)), rtol=1e-5)


@pytest.mark.parametrize("teacher_warmup,first", [(-1, 32), (32, 32), (10, 10), (0, 1)])
def test_stateful_teacher_loss_scores_every_sample_after_the_warm_up(teacher_warmup, first):
    model = tiny("mulaw", generator="stateful", sample_input="mulaw-embedding",
                 teacher_warmup=teacher_warmup, pretrain_length=16)
    generator = model.generator
    assert model.config.teacher_length == first + 16
    audio = tf.random.uniform((2, 60), -0.5, 0.5, seed=4)
    params = generator.sequence_params(audio)  # params[:, t] predicts audio[:, t + 1]
    per_position = [float(generator.head.teacher_loss(params[:, p - 1], audio[:, p]))
                    for p in range(first, 60)]  # hand-indexed: every sample from `first` on
    np.testing.assert_allclose(float(generator.teacher_loss(audio, tf.constant([0, 0]))),
                               np.mean(per_position), rtol=1e-5)


@pytest.mark.parametrize("overrides,message", [
    (dict(teacher_warmup=33), "teacher_warmup must be -1"),
    (dict(teacher_warmup=-2), "teacher_warmup must be -1"),
    (dict(teacher_warmup=8, generator="stateless"), "needs a generator that carries its state"),
])
def test_teacher_warmup_is_checked(overrides, message):
    with pytest.raises(SampleGanError, match=message):
        resolve("mulaw", {**TINY, **overrides})


@pytest.mark.parametrize("prefilter,sample_input", [(False, "raw"), (True, "raw"),
                                                    (True, "mulaw-embedding")])
def test_stateful_step_loop_equals_the_lstm_over_the_full_sequence(prefilter, sample_input):
    model = tiny("stateful", prefilter=prefilter, sample_input=sample_input)
    generator = model.generator
    seed_window = tf.random.uniform((3, 32), -0.8, 0.8, seed=2)
    emitted, fed = generator.generate(seed_window, 40, tf.constant([5, 6]))
    history = tf.concat([seed_window, fed[:, :-1]], axis=1)
    replayed = tf.tanh(generator.sequence_params(history)[:, 31:, 0])  # predicts every step
    np.testing.assert_allclose(replayed.numpy(), emitted.numpy(), atol=1e-5)
    assert float(tf.math.reduce_std(emitted)) > 1e-4  # the comparison is not between zeros


def test_stateful_sampled_head_follows_the_full_sequence_logits():
    # With a vanishing temperature the Gumbel-max sample is the argmax of the logits.
    model = tiny("stateful", output_head="mulaw", mulaw_temperature=1e-6)
    generator = model.generator
    seed_window = tf.random.uniform((2, 32), -0.8, 0.8, seed=3)
    emitted, fed = generator.generate(seed_window, 30, tf.constant([1, 1]))
    logits = generator.sequence_params(tf.concat([seed_window, fed[:, :-1]], axis=1))[:, 31:]
    expected = tf.gather(mulaw_levels(256), tf.argmax(logits, axis=-1))
    np.testing.assert_allclose(expected.numpy(), emitted.numpy(), atol=1e-6)


def numpy_nucleus(logits: np.ndarray, top_p: float) -> np.ndarray:
    """Boolean mask (..., C) of the classes in the top-p nucleus, by sorting in NumPy."""
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    order = np.argsort(-probabilities, axis=-1, kind="stable")
    ordered = np.take_along_axis(probabilities, order, -1)
    before = np.cumsum(ordered, -1) - ordered
    keep_ordered = before < top_p
    mask = np.zeros_like(keep_ordered)
    np.put_along_axis(mask, order, keep_ordered, -1)
    return mask


def test_nucleus_keeps_the_smallest_set_of_likely_classes_reaching_top_p():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05], [0.05, 0.15, 0.3, 0.5]], np.float32))
    for top_p, kept in ((0.4, 1), (0.7, 2), (0.85, 3), (1.0, 4)):
        masked = nucleus(tf.constant(logits), top_p).numpy()
        assert (np.isfinite(masked).sum(-1) == kept).all(), top_p
        np.testing.assert_array_equal(masked[0, :kept], logits[0, :kept])  # kept ones unchanged
    rng = np.random.default_rng(0)
    many = rng.normal(0.0, 3.0, (64, 256)).astype(np.float32)
    for top_p in (0.1, 0.5, 0.9, 0.99):
        np.testing.assert_array_equal(np.isfinite(nucleus(tf.constant(many), top_p).numpy()),
                                      numpy_nucleus(many, top_p))


def test_top_p_generation_draws_only_from_the_nucleus():
    model = tiny("stateful", output_head="mulaw", mulaw_top_p=0.3)
    for weight in model.generator.head_layer.weights:  # sharper logits: a nucleus of a few
        weight.assign(weight * 20.0)
    generator = model.generator
    seed_window = tf.random.uniform((2, 32), -0.8, 0.8, seed=3)
    emitted, fed = generator.generate(seed_window, 60, tf.constant([1, 1]))
    logits = generator.sequence_params(tf.concat([seed_window, fed[:, :-1]], axis=1))[:, 31:]
    inside = numpy_nucleus(logits.numpy(), 0.3)
    classes = mulaw_encode(emitted, 256).numpy()
    assert np.take_along_axis(inside, classes[..., None], -1).all()
    assert inside.sum(-1).max() < 256 and len(np.unique(classes)) > 1  # a real restriction


@pytest.mark.parametrize("top_p", [0.0, -0.1, 1.5])
def test_top_p_outside_0_1_is_refused(top_p):
    with pytest.raises(SampleGanError, match="mulaw_top_p"):
        resolve("mulaw", {**TINY, "mulaw_top_p": top_p})


@pytest.mark.parametrize("sample_input,frame_size", [("raw", 4), ("mulaw-embedding", 4),
                                                      ("mulaw-embedding", 5)])
def test_frame_tier_generation_follows_its_teacher_forced_params(sample_input, frame_size):
    # n = 30: frames of 4 start at offset 2 (30 mod 4), frames of 5 at 0.
    model = tiny("stateful", n=30, generator="frame-tier", frame_size=frame_size,
                 sample_mlp_units=8, sample_input=sample_input)
    generator = model.generator
    for weight in generator.weights:  # untrained weights settle on a constant; these move
        weight.assign(weight * 3.0)
    seed_window = tf.random.uniform((2, 30), -0.8, 0.8, seed=3)
    emitted, fed = generator.generate(seed_window, 50, tf.constant([1, 1]))
    history = tf.concat([seed_window, fed], axis=1)
    params = generator.params_at(history, tf.range(30, 80))  # the held-out likelihood's path
    np.testing.assert_allclose(tf.tanh(params[..., 0]).numpy(), emitted.numpy(), atol=1e-5)
    _, relaxed = generator.replay_relaxed(seed_window, fed, tf.constant([0, 0]))  # the GAN's
    np.testing.assert_allclose(relaxed.numpy(), emitted.numpy(), atol=1e-5)
    np.testing.assert_allclose(generator(seed_window).numpy(), params[:, 0].numpy(), atol=1e-5)
    assert float(tf.math.reduce_std(emitted[:, 10:])) > 1e-3  # not a constant past 2 frames


def test_frame_tier_sampled_head_follows_the_teacher_forced_logits():
    model = tiny("stateful", n=30, generator="frame-tier", frame_size=4, sample_mlp_units=8,
                 output_head="mulaw", mulaw_temperature=1e-6, sample_input="mulaw-embedding")
    generator = model.generator
    for weight in generator.weights:
        weight.assign(weight * 3.0)
    seed_window = tf.random.uniform((2, 30), -0.8, 0.8, seed=3)
    emitted, fed = generator.generate(seed_window, 50, tf.constant([1, 1]))
    logits = generator.params_at(tf.concat([seed_window, fed], axis=1), tf.range(30, 80)).numpy()
    top_two = np.sort(logits, axis=-1)[..., -2:]
    clear = top_two[..., 1] - top_two[..., 0] > 1e-3  # ReLU units can tie classes exactly
    expected = mulaw_levels(256).numpy()[logits.argmax(-1)]
    assert clear.mean() > 0.8
    np.testing.assert_allclose(expected[clear], emitted.numpy()[clear], atol=1e-6)
    assert len(np.unique(emitted.numpy())) > 5


def test_frame_tier_teacher_loss_scores_from_the_warmup_on():
    model = tiny("stateful", n=30, generator="frame-tier", frame_size=4, sample_mlp_units=8,
                 output_head="mulaw", sample_input="mulaw-embedding", teacher_warmup=0)
    generator = model.generator
    audio = tf.random.uniform((2, 61), -0.5, 0.5, seed=4)
    first = 30 % 4 + 4  # the first position a whole frame precedes
    expected = generator.head.teacher_loss(generator.params_at(audio, tf.range(first, 61)),
                                           audio[:, first:])
    assert float(generator.teacher_loss(audio, tf.constant([0, 0]))) == pytest.approx(
        float(expected), rel=1e-5)


@pytest.mark.parametrize("overrides,message", [
    ({"frame_size": 40}, "frame_size must be at most n"),
    ({"prefilter": True}, "takes no prefilter"),
])
def test_frame_tier_refuses_what_it_cannot_build(overrides, message):
    with pytest.raises(SampleGanError, match=message):
        resolve("frame-tier-fix", {**TINY, **overrides})


@pytest.mark.parametrize("family", ["stateful", "frame-tier"])
def test_carried_chunks_score_what_one_pass_over_the_excerpt_scores(family):
    model = tiny("stateful", n=30, generator=family, frame_size=4, sample_mlp_units=8,
                 output_head="mulaw", sample_input="mulaw-embedding", teacher_warmup=0,
                 pretrain_length=12, teacher_chunks=3)
    generator, config = model.generator, model.config
    for weight in generator.weights:  # untrained weights barely use the state; these do
        weight.assign(weight * 3.0)
    context, length = config.chunk_context, 12
    assert generator.carry_context == context == (4 if family == "frame-tier" else 1)
    assert config.teacher_length == context + 3 * length and config.teacher_predicted == length
    excerpt = tf.random.uniform((2, config.teacher_length), -0.5, 0.5, seed=5)
    if family == "frame-tier":  # one pass, frames from the excerpt's first sample
        whole = generator._params(excerpt, 0)
    else:
        whole = generator.sequence_params(excerpt[:, :-1])
    state = generator.zero_state(2)
    for chunk in range(3):
        audio = excerpt[:, chunk * length: (chunk + 1) * length + context]
        fresh, _ = generator.carried_loss(audio, generator.zero_state(2))
        loss, state = generator.carried_loss(audio, state)
        expected = generator.head.teacher_loss(whole[:, chunk * length: (chunk + 1) * length],
                                               excerpt[:, context + chunk * length:
                                                       context + (chunk + 1) * length])
        assert float(loss) == pytest.approx(float(expected), rel=1e-5)
        if chunk:  # the carried state, not a fresh one, is what matches the one pass
            assert abs(float(fresh) - float(loss)) > 1e-3


@pytest.mark.parametrize("overrides,message", [
    (dict(generator="stateless"), "needs a generator that carries its state"),
    (dict(prefilter=True), "without prefilter"),
    (dict(teacher_warmup=-1), "needs teacher_warmup = 0"),
    (dict(pretrain_length=0), "pretrain_length > 0"),
    (dict(generator="frame-tier", pretrain_length=14), "a multiple of frame_size"),
    (dict(teacher_chunks=0), "teacher_chunks must be at least 1"),
])
def test_teacher_chunks_are_checked(overrides, message):
    values = dict(generator="stateful", teacher_warmup=0, pretrain_length=16, frame_size=4,
                  teacher_chunks=4)
    with pytest.raises(SampleGanError, match=message):
        resolve("mulaw", {**TINY, **values, **overrides})


REFERENCE_STEPS = 300  # samples per stream: long after the seed has left the n = 32 window


def oscillating(variant: str, **overrides) -> SampleGAN:
    """A tiny untrained model whose generator keeps moving after the seed has left the window.

    Untrained weights settle on a constant within a few dozen samples, and two paths
    that both emit a constant agree whatever their bugs; weights scaled by 1.5 oscillate.
    """
    model = tiny(variant, lstm_units=8, seed_source="real", **overrides)
    for weight in model.generator.weights:
        weight.assign(weight * 1.5)
    return model


def fast_paths(model: SampleGAN, seed_segments: np.ndarray) -> dict[str, np.ndarray]:
    """(B, REFERENCE_STEPS) samples of the compiled paths of evaluations and `samplegan generate`."""
    window = model.seed_windows(seed_segments, [0, 1])
    evaluation, _ = model.generator.generate(window, REFERENCE_STEPS, tf.constant([0, 2]))
    return {"evaluation": evaluation.numpy(),
            "samplegan generate": generate_audio(model, seed_segments, REFERENCE_STEPS,
                                                 progress=False)}


def cells_step_by_step(generator, seed_window: np.ndarray, steps: int) -> np.ndarray:
    """The stateful reference: both LSTM cells applied sample by sample from a zero state.

    Each sample's frame is cut from the prefilter over the whole history so far, not from
    the short buffer the compiled loop keeps. Returns the generated samples (B, steps).
    """
    @tf.function(reduce_retracing=True)  # a graph, not XLA: only to spare Python's overhead
    def step(history, state1, state2):
        frame = generator.frames(history)[:, -1]  # (B, C): the newest sample's frame
        out1, state1 = generator.lstm1.cell(frame, state1)
        out2, state2 = generator.lstm2.cell(out1, state2)
        return generator.head_layer(out2), state1, state2

    batch, n = seed_window.shape
    history = tf.constant(seed_window)
    state1 = state2 = [tf.zeros((batch, generator.units))] * 2
    for t in range(n + steps - 1):
        params, state1, state2 = step(history[:, :t + 1], state1, state2)
        if t >= n - 1:  # the window is full: predict the next sample and feed it back
            sample = generator.head.sample(params, tf.constant([0, t]))
            history = tf.concat([history, sample[:, None]], axis=1)
    return history[:, n:].numpy()


@pytest.mark.parametrize("prefilter", [False, True])
def test_stateless_generation_equals_one_keras_call_per_shifted_window(prefilter):
    model = oscillating("paper", prefilter=prefilter)
    segments = np.random.default_rng(4).uniform(-0.8, 0.8, (3, 32)).astype(np.float32)
    expected = paper_predict_loop(model.generator.predict_on_batch, model.generator.head,
                                  segments, REFERENCE_STEPS)
    assert np.ptp(expected[:, 32:], axis=1).min() > 0.05  # still moving once the seed is gone
    for path, emitted in fast_paths(model, segments).items():
        np.testing.assert_allclose(emitted, expected, atol=1e-4, rtol=0, err_msg=path)


@pytest.mark.parametrize("prefilter", [False, True])
def test_stateful_generation_equals_the_cells_applied_step_by_step(prefilter):
    model = oscillating("stateful", prefilter=prefilter)
    segments = np.random.default_rng(5).uniform(-0.8, 0.8, (3, 32)).astype(np.float32)
    expected = cells_step_by_step(model.generator, segments, REFERENCE_STEPS)
    assert np.ptp(expected[:, 32:], axis=1).min() > 0.05
    for path, emitted in fast_paths(model, segments).items():
        np.testing.assert_allclose(emitted, expected, atol=1e-4, rtol=0, err_msg=path)


def test_feedback_noise_reaches_the_window_but_not_the_output():
    model = tiny("stateful")
    window = tf.random.uniform((2, 32), -0.5, 0.5, seed=5)
    emitted, fed = model.generator.generate(window, 20, tf.constant([1, 2]), feedback_noise=0.05)
    noise = (fed - emitted).numpy()
    assert 0.02 < noise.std() < 0.08
    clean, _ = model.generator.generate(window, 20, tf.constant([1, 2]))
    assert np.abs(clean.numpy()[:, 1:] - emitted.numpy()[:, 1:]).max() > 1e-5  # it was fed back


def test_chunked_generation_draws_the_same_samples_as_one_call():
    model = tiny("stateful", output_head="mulaw")
    generator = model.generator
    window = tf.random.uniform((2, 32), -0.5, 0.5, seed=6)
    whole, _ = generator.generate(window, 30, tf.constant([7, 8]))
    carry = generator.start(window)
    carry, first, _ = generator.run(carry, 15, tf.constant([7, 8]), 0)
    _, second, _ = generator.run(carry, 15, tf.constant([7, 8]), 15)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole.numpy(), atol=1e-6)


def test_stateless_replay_uses_the_configured_number_of_positions():
    model = tiny("paper", grad_positions=5)
    window = tf.random.uniform((2, 32), -0.5, 0.5, seed=7)
    emitted, fed = model.generator.generate(window, 20, tf.constant([1, 2]))
    positions, relaxed = model.generator.replay_relaxed(window, fed, tf.constant([9, 9]))
    assert sorted(set(positions.numpy())) == sorted(positions.numpy()) and len(positions) == 5
    np.testing.assert_allclose(relaxed.numpy(), tf.gather(emitted, positions, axis=1).numpy(),
                               atol=1e-5)


def test_encoded_seed_fills_the_window_with_the_stretched_code():
    model = tiny("paper")
    real = tf.random.uniform((2, 32), -0.5, 0.5, seed=8)
    window = model.seed_windows(real, [0, 0]).numpy()
    code = model.encoder(real).numpy()
    assert window[:, 0] == pytest.approx(code[:, 0], abs=1e-6)
    assert window[:, -1] == pytest.approx(code[:, -1], abs=1e-6)
    assert np.all(window.min(axis=1) >= code.min(axis=1) - 1e-6)


def test_noise_and_real_seeds():
    real = tf.random.uniform((4, 32), -0.5, 0.5, seed=9)
    config = resolve("paper", {**TINY, "seed_noise_std": 0.2})
    np.testing.assert_array_equal(RealSeed(config, None).window(real, [0, 0]).numpy(), real.numpy())
    noise = NoiseSeed(config, None).window(real, tf.constant([0, 0])).numpy()
    assert noise.std() == pytest.approx(0.2, rel=0.3)
    other = NoiseSeed(config, None).window(real, tf.constant([0, 1])).numpy()
    assert not np.allclose(noise, other)


def test_mulaw_round_trip():
    levels = mulaw_levels(256)
    np.testing.assert_array_equal(mulaw_encode(levels).numpy(), np.arange(256))
    np.testing.assert_allclose(mulaw_decode(mulaw_encode(levels)).numpy(), levels.numpy(), atol=1e-6)
    audio = np.linspace(-1, 1, 10001, dtype=np.float32)
    decoded = mulaw_decode(mulaw_encode(audio)).numpy()
    # mu-law steps grow with level: at most ~3% of full scale near the rails, tiny near zero
    assert np.abs(decoded - audio).max() < 0.035
    quiet = np.abs(audio) < 0.01
    assert np.abs(decoded - audio)[quiet].max() < 5e-4


def test_save_and_load_restore_every_weight(tmp_path):
    model = tiny("stateful", prefilter=True)
    bank = np.random.default_rng(0).uniform(-1, 1, (5, 32)).astype(np.float32)
    model.save(tmp_path / "model", bank)
    loaded, loaded_bank = SampleGAN.load(tmp_path / "model")
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded_bank, bank)
    for name in ("encoder", "decoder", "generator", "discriminator"):
        for a, b in zip(getattr(model, name).weights, getattr(loaded, name).weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
