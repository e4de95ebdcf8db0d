"""Batched ranking evaluation equals the dense reference, for both protocols and every scorer."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.ranking import evaluate as evaluate_module
from recsearch.ranking.evaluate import evaluate_queries, first_relevant_rank, top_k_items
from recsearch.ranking.metrics import evaluate_rankings
from recsearch.ranking.negatives import pair_keys
from recsearch.ranking.protocols import full_queries, sampled_queries
from recsearch.ranking.scoring import ItemScores, PairScorer

KS = [1, 3, 10]


class TableModel:
    """A {"user", "item"} 'model' with a fixed random score table (predict_on_batch only)."""

    def __init__(self, n_users, n_items, seed=0):
        self.table = np.random.default_rng(seed).normal(size=(n_users, n_items)).astype(np.float32)

    def predict_on_batch(self, batch):
        return self.table[batch["user"], batch["item"]]


def _dense_full(q, table):
    relevant, excluded = q.dense(0, len(q))
    scores = np.where(excluded, -np.inf, table[q.users])
    cands = np.broadcast_to(np.arange(table.shape[1]), scores.shape)
    return evaluate_rankings(scores, relevant, cands, ks=KS, num_items=table.shape[1])


def _random_parts(n_users=40, n_items=60, n=500, seed=1):
    rng = np.random.default_rng(seed)
    keys = rng.choice(n_users * n_items, n, replace=False)
    users, items = keys // n_items, keys % n_items
    return users[:400], items[:400], users[400:], items[400:]


@pytest.mark.parametrize("batch", [1, 7, 1000])
def test_full_ranking_in_batches_equals_dense(monkeypatch, batch):
    seen_u, seen_i, held_u, held_i = _random_parts()
    q = full_queries(held_u, held_i, seen_users=seen_u, seen_items=seen_i, num_items=60)
    model = TableModel(40, 60)
    monkeypatch.setattr(evaluate_module, "SCORE_ELEMENTS", batch * 60)
    got = evaluate_queries(q, PairScorer(model, 60), ks=KS, num_items=60)
    want = _dense_full(q, model.table)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-9), name


def test_sampled_in_slices_equals_dense(monkeypatch):
    seen_u, seen_i, held_u, held_i = _random_parts(seed=2)
    known = pair_keys(np.concatenate([seen_u, held_u]), np.concatenate([seen_i, held_i]), 60)
    q = sampled_queries(held_u, held_i, known=known, num_items=60, n=20, seed=0)
    model = TableModel(40, 60, seed=3)
    monkeypatch.setattr(evaluate_module, "SCORE_ELEMENTS", 21 * 9)  # 9 queries per slice
    got = evaluate_queries(q, PairScorer(model, 60), ks=KS, num_items=60)
    want = evaluate_rankings(model.table[q.users[:, None], q.candidates], q.relevant, q.candidates, ks=KS, num_items=60)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=1e-9), name


def test_item_scores_match_pair_scores():
    seen_u, seen_i, held_u, held_i = _random_parts(seed=4)
    q = full_queries(held_u, held_i, seen_users=seen_u, seen_items=seen_i, num_items=60)
    popularity = np.random.default_rng(5).permutation(60).astype(float)
    model = TableModel(40, 60)
    model.table[:] = popularity
    assert evaluate_queries(q, ItemScores(popularity), ks=KS, num_items=60) == \
        evaluate_queries(q, PairScorer(model, 60), ks=KS, num_items=60)


def test_top_k_and_first_rank_hand_case():
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [3.0, 2.0, 1.0, 0.0]], np.float32)
    np.testing.assert_array_equal(top_k_items(scores, 3), [[1, 3, 2], [0, 1, 2]])
    relevant = np.array([[True, False, False, True], [False, False, False, False]])
    np.testing.assert_array_equal(first_relevant_rank(scores, relevant), [2.0, np.inf])


def test_empty_queries_give_nan():
    q = full_queries(np.array([], int), np.array([], int), seen_users=np.array([0]), seen_items=np.array([0]),
                     num_items=5)
    out = evaluate_queries(q, ItemScores(np.zeros(5)), ks=[5], num_items=5)
    assert len(q) == 0 and all(np.isnan(v) for v in out.values())
