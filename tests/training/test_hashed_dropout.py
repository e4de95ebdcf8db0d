"""Dropout masks of the JAX loop's programs (`recsearch.training.hashed_dropout`): Keras's dropout semantics,
and masks that behave as independent Bernoulli draws within a call, across a layer's calls and across seeds.
The checks are deterministic (fixed seeds); their bounds are 5 standard deviations of an ideal generator."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from recsearch.training.hashed_dropout import hashed_dropout, hashed_dropout_while_tracing  # noqa: E402

SHAPE = (512, 128)


def _kept(rate, seed: int, call: int, shape=SHAPE) -> np.ndarray:
    out = hashed_dropout(jnp.ones(shape, jnp.float32), rate, seed=jnp.array([seed, call], jnp.uint32))
    return np.asarray(out) != 0


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.3, 0.5, 0.9])
def test_each_element_is_kept_with_probability_one_minus_rate(rate):
    kept = np.stack([_kept(rate, 7, c) for c in range(8)])
    sd = np.sqrt(rate * (1 - rate) / kept.size)
    assert abs(kept.mean() - (1 - rate)) < 5 * sd


def test_kept_values_are_scaled_like_keras_and_traced_rates_work_per_member():
    """The loop feeds each member's rate as a traced value (`_TracedRate`) under vmap: each member keeps its
    own fraction, and kept values are divided by the keep probability as Keras's dropout does."""
    from recsearch.training.jax_loop import _TracedRate

    x = jnp.full(SHAPE, 2.0, jnp.float32)
    rates = jnp.array([0.1, 0.5], jnp.float32)
    seeds = jnp.array([[3, 0], [4, 0]], jnp.uint32)
    out = np.asarray(jax.jit(jax.vmap(lambda r, s: hashed_dropout(x, _TracedRate(r), seed=s)))(rates, seeds))
    alone = [np.asarray(hashed_dropout(x, r, seed=jnp.array(s, jnp.uint32))) for r, s in ([0.1, [3, 0]], [0.5, [4, 0]])]
    np.testing.assert_array_equal(out, np.stack(alone))  # each member's own seed and rate
    for member, rate in enumerate([0.1, 0.5]):
        values = np.unique(out[member])
        np.testing.assert_allclose(values, [0.0, 2.0 / (1 - rate)], rtol=1e-6)
        assert abs((out[member] != 0).mean() - (1 - rate)) < 5 * np.sqrt(rate * (1 - rate) / out[member].size)


def test_masks_are_uncorrelated_across_calls_seeds_and_neighbours():
    bound = 5 / np.sqrt(np.prod(SHAPE))
    calls = [_kept(0.3, 11, c) for c in range(12)]
    seeds = [_kept(0.3, s, 0) for s in range(12)]
    for masks in (calls, seeds):
        worst = max(abs(_corr(a, b)) for i, a in enumerate(masks) for b in masks[i + 1:])
        assert worst < bound
    for lag in (1, 2, SHAPE[1], SHAPE[1] + 1):  # a call against the next one shifted: a shifted stream fails here
        for a, b in zip(calls, calls[1:]):
            shifted = _corr(a.ravel()[lag:], b.ravel()[:-lag]), _corr(a.ravel()[:-lag], b.ravel()[lag:])
            assert max(abs(c) for c in shifted) < bound
    stacked = np.stack(calls)
    assert abs(_corr(stacked[:, :, :-1], stacked[:, :, 1:])) < 5 / np.sqrt(stacked[:, :, 1:].size)  # next column
    assert abs(_corr(stacked[:, :-1], stacked[:, 1:])) < 5 / np.sqrt(stacked[:, 1:].size)  # next row
    assert not np.array_equal(calls[0], seeds[1])


def test_same_seed_same_mask_and_keras_edge_cases():
    assert np.array_equal(_kept(0.3, 5, 9), _kept(0.3, 5, 9))
    x = jnp.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(np.asarray(hashed_dropout(x, 0.0, seed=jnp.array([1, 2], jnp.uint32))), x)
    np.testing.assert_array_equal(np.asarray(hashed_dropout(x, 1.0, seed=jnp.array([1, 2], jnp.uint32))), 0 * x)
    shared = np.asarray(hashed_dropout(jnp.ones((64, 32)), 0.5, noise_shape=(64, 1), seed=jnp.array([1, 2], jnp.uint32)))
    assert (shared == shared[:, :1]).all() and 0 < (shared[:, 0] != 0).mean() < 1  # one draw per row, broadcast


def test_keras_dropout_is_the_hash_only_in_the_tracing_thread_inside_the_context():
    """Keras's JAX dropout (what Dropout layers call) draws hashed masks inside the context and in its thread
    only; another thread at the same time, and every thread afterwards, gets Keras's own masks."""
    import threading

    from keras.src.backend.jax import random as keras_random

    x, seed = jnp.ones((64, 32)), jnp.array([4, 2], jnp.uint32)
    hashed = np.asarray(hashed_dropout(x, 0.5, seed=seed))
    own = np.asarray(keras_random.dropout(x, 0.5, seed=seed))
    assert not np.array_equal(hashed, own)
    entered, done, seen = threading.Event(), threading.Event(), {}

    def other_thread():
        entered.wait(30)
        seen["other"] = np.asarray(keras_random.dropout(x, 0.5, seed=seed))
        done.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    with hashed_dropout_while_tracing(True):
        with hashed_dropout_while_tracing(True):  # nested: still hashed after the inner one ends
            pass
        np.testing.assert_array_equal(np.asarray(keras_random.dropout(x, 0.5, seed=seed)), hashed)
        entered.set()
        assert done.wait(30)
    thread.join()
    np.testing.assert_array_equal(seen["other"], own)
    np.testing.assert_array_equal(np.asarray(keras_random.dropout(x, 0.5, seed=seed)), own)
    with hashed_dropout_while_tracing(False):
        np.testing.assert_array_equal(np.asarray(keras_random.dropout(x, 0.5, seed=seed)), own)


def test_concrete_edge_rates_and_typed_keys_follow_keras():
    """Rates given as NumPy numbers take Keras's shortcuts (all dropped, or untouched), and a typed JAX key
    is accepted as Keras accepts it."""
    x = jnp.ones((8, 4))
    assert float(jnp.sum(hashed_dropout(x, np.float32(1.0), seed=jnp.array([1, 2], jnp.uint32)))) == 0.0
    grad = jax.grad(lambda v: jnp.sum(hashed_dropout(v, np.float32(1.0), seed=jnp.array([1, 2], jnp.uint32))))(x)
    assert np.isfinite(np.asarray(grad)).all()
    np.testing.assert_array_equal(np.asarray(hashed_dropout(x, np.float64(0.0), seed=None)), np.asarray(x))
    typed = np.asarray(hashed_dropout(jnp.ones(SHAPE), 0.5, seed=jax.random.key(3)))
    assert abs((typed != 0).mean() - 0.5) < 5 * np.sqrt(0.25 / typed.size)
