"""The synthetic generator: shape, determinism, rating scale, popularity skew, genres."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsearch.config.schema import SyntheticConfig
from recsearch.data import dataset_summary, generate_synthetic
from recsearch.errors import DataError


def _gen(scale=(0.5, 5.0), **kwargs):
    params = dict(n_users=300, n_items=200, n_ratings=10_000, seed=3) | kwargs
    return generate_synthetic(SyntheticConfig(**params), rating_scale=scale)


def test_shape_and_unique_pairs():
    inter = _gen()
    r = inter.ratings
    assert len(r) == 10_000 and not r.duplicated(["user_id", "item_id"]).any()
    assert r["user_id"].between(1, 300).all() and r["item_id"].between(1, 200).all()
    assert np.all(np.diff(r["timestamp"].to_numpy()) > 0)
    assert len(inter.items) == 200 and inter.items["genres"].map(len).min() >= 1


def test_deterministic_for_a_seed():
    pd.testing.assert_frame_equal(_gen().ratings, _gen().ratings)
    assert not _gen().ratings.equals(_gen(seed=4).ratings)


@pytest.mark.parametrize("scale, step", [((0.5, 5.0), 0.5), ((1.0, 5.0), 1.0)])
def test_rating_scale_and_step(scale, step):
    ratings = _gen(scale).ratings["rating"].to_numpy()
    assert ratings.min() >= scale[0] and ratings.max() <= scale[1]
    assert np.allclose((ratings - scale[0]) / step, np.round((ratings - scale[0]) / step))
    assert len(np.unique(ratings)) >= 4 and 0.55 < (ratings.mean() - scale[0]) / (scale[1] - scale[0]) < 0.8


def test_popularity_skew():
    counts = _gen().ratings["item_id"].value_counts().to_numpy()
    assert counts[: len(counts) // 10].sum() > 0.3 * counts.sum()  # top 10% of items: > 30% of ratings
    flat = _gen(popularity_exponent=0.0).ratings["item_id"].value_counts().to_numpy()
    assert flat[: len(flat) // 10].sum() < counts[: len(counts) // 10].sum()


def test_ratings_follow_the_factors():
    """Ratings carry a learnable signal: item means differ by more than noise alone."""
    r = _gen(noise=0.1).ratings
    item_means = r.groupby("item_id")["rating"].mean()
    assert item_means.std() > 0.2
    assert dataset_summary(_gen())["has_genres"]


def test_too_dense_is_an_error():
    with pytest.raises(DataError, match=r"n_ratings=80 is more than half of the 100 user-item pairs .*at most 50\)"):
        _gen(n_users=10, n_items=10, n_ratings=80)


def test_sampler_draws_with_the_given_probabilities():
    """The slot-table sampler is exact: frequencies match p, tail entries (remainder path) included."""
    from recsearch.data.synthetic import _SlotSampler

    rng = np.random.default_rng(0)
    p = np.arange(1, 301, dtype=np.float64) ** -1.2
    p /= p.sum()
    sampler = _SlotSampler(p)
    assert 0 < sampler.rest_cdf[-1] < sampler.slots  # some draws go through the remainder path
    counts = np.bincount(sampler.draw(rng, 2_000_000), minlength=p.size)
    expected = p * 2_000_000
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 5)


def test_random_subset_is_distinct_and_shuffled():
    from recsearch.data.synthetic import _random_subset

    rng = np.random.default_rng(1)
    keys = np.arange(0, 30_000, 3, dtype=np.int64)
    for bits in (15, 50):  # packed sort, and the permutation fallback when few bits are free
        chosen = _random_subset(rng, keys.copy(), 4000, key_bits=bits)
        assert chosen.size == 4000 and np.unique(chosen).size == 4000 and np.isin(chosen, keys).all()
        assert not np.all(np.diff(chosen) > 0)
