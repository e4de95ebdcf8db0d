"""Factorised scorers of mf and two_tower give the model's own scores for every (user, item)."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.models.mf import build_mf
from recsearch.models.two_tower import build_two_tower
from recsearch.ranking.scoring import FactorScorer, PairScorer, model_scorer


@pytest.mark.parametrize("build", [
    lambda: build_mf(7, 11, embedding_dim=4, init_std=0.5, global_mean=3.0),
    lambda: build_two_tower(7, 11, embedding_dim=4, depth=1, width=8, global_mean=3.0),
])
def test_factorised_scores_equal_pair_scores(build):
    model = build()
    head = model.get_layer("rating")
    head.set_weights([np.full_like(head.get_weights()[0], -0.7), np.full_like(head.get_weights()[1], 0.2)])
    fast = model_scorer(model, 11)
    assert isinstance(fast, FactorScorer)
    users = np.array([0, 3, 6], np.int32)
    slow = PairScorer(model, 11)
    np.testing.assert_allclose(fast.all_items(users), slow.all_items(users), rtol=1e-5, atol=1e-5)
    pair_users, pair_items = np.array([6, 0, 6, 3], np.int32), np.array([10, 0, 2, 5], np.int32)
    np.testing.assert_allclose(fast.pairs(pair_users, pair_items), slow.pairs(pair_users, pair_items), rtol=1e-5,
                               atol=1e-5)
