"""Baselines: closed-form biases, global mean, most-popular."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.baselines import baseline_rows, fit_biases, popularity_scores, ranking_baseline
from recsearch.ranking.protocols import RankingQueries


def test_biases_without_regularisation_fit_an_additive_matrix_exactly():
    users, items = np.meshgrid(np.arange(4), np.arange(3), indexing="ij")
    users, items = users.ravel(), items.ravel()
    true_u, true_i = np.array([0.5, -0.5, 1.0, -1.0]), np.array([0.3, 0.0, -0.3])
    ratings = 3.0 + true_u[users] + true_i[items]
    mu, bu, bi = fit_biases(users, items, ratings, num_users=4, num_items=3, reg_user=0, reg_item=0, iters=50)
    np.testing.assert_allclose(mu + bu[users] + bi[items], ratings, atol=1e-8)


def test_bias_regularisation_hand_case():
    # one user, one item, rating 5, mu = 5: residual 0 -> biases 0; with 2 ratings mean 4 (5, 3) on 2 items:
    users, items, ratings = np.array([0, 0]), np.array([0, 1]), np.array([5.0, 3.0])
    mu, bu, bi = fit_biases(users, items, ratings, num_users=1, num_items=2, reg_user=1e9, reg_item=1.0, iters=1)
    assert mu == 4.0
    np.testing.assert_allclose(bi, [1 / 2, -1 / 2])  # (r - mu) / (reg + n) = 1 / 2
    np.testing.assert_allclose(bu, [0.0], atol=1e-8)


def test_most_popular_ranks_by_train_count():
    from recsearch.data.types import SplitArrays

    train = SplitArrays(np.array([0, 1, 2, 0]), np.array([2, 2, 1, 1]), np.array([5.0, 1.0, 4.0, 4.0]), np.zeros(4))
    data = type("D", (), {"train": train, "num_items": 4})()
    np.testing.assert_array_equal(popularity_scores(data, None), [0, 2, 2, 0])
    np.testing.assert_array_equal(popularity_scores(data, 4.0), [0, 2, 1, 0])
    q = RankingQueries(np.array([3]), np.array([[0, 2, 3]]), np.array([[False, True, False]]))
    out = ranking_baseline(popularity_scores(data, None), q, ks=[1], num_items=4)
    assert out["hr@1"] == 1.0 and out["mrr"] == 1.0


def test_rating_baselines_on_real_data():
    from recsearch.config import compose_config
    from recsearch.training.run import prepare_for

    cfg = compose_config([])
    rows = {(r["variant"], r["metric"]): r for r in baseline_rows(prepare_for(cfg), cfg.task)}
    assert set(rows) == {("global_mean", "rmse"), ("global_mean", "mae"), ("biases", "rmse"), ("biases", "mae")}
    assert rows[("biases", "rmse")]["test"] == pytest.approx(0.875, abs=0.005)  # reference on this split
    assert rows[("global_mean", "rmse")]["test"] > 1.0
