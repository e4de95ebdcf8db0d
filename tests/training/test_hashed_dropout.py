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
    seeds = jnp.array([[3, 0], [3, 0]], jnp.uint32)
    out = np.asarray(jax.jit(jax.vmap(lambda r, s: hashed_dropout(x, _TracedRate(r), seed=s)))(rates, seeds))
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


def test_keras_dropout_is_the_hash_only_inside_the_context():
    """Keras's JAX dropout (what Dropout layers call) is the hash inside the context, its own again after;
    that the loop's programs trace through it is tested in test_jax_loop.py."""
    from keras.src.backend.jax import random as keras_random

    own = keras_random.dropout
    with hashed_dropout_while_tracing(True):
        assert keras_random.dropout is hashed_dropout
    assert keras_random.dropout is own
    with hashed_dropout_while_tracing(False):
        assert keras_random.dropout is own
