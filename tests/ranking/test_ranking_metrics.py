"""Ranking metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsearch.ranking.metrics import (coverage_at_k, evaluate_rankings, hit_rate_at_k, map_at_k, mrr, ndcg_at_k,
                                       parse_metric, precision_at_k, recall_at_k)

# Query 0: order by score = c1 (rel), c3, c0 (rel), c2.  Query 1: order = c2, c0, c1 (rel), c3.
SCORES = np.array([[0.5, 0.9, 0.1, 0.7], [0.8, 0.3, 0.95, 0.2]])
RELEVANT = np.array([[True, True, False, False], [False, True, False, False]])


def test_hit_rate():
    assert hit_rate_at_k(SCORES, RELEVANT, 1) == pytest.approx(0.5)
    assert hit_rate_at_k(SCORES, RELEVANT, 3) == pytest.approx(1.0)


def test_ndcg():
    # q0 @3: rel at ranks 1 and 3 -> (1 + 1/2) / (1 + 1/log2(3)); q1 @3: rank 3 -> 0.5 / 1
    q0 = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(SCORES, RELEVANT, 3) == pytest.approx((q0 + 0.5) / 2)
    assert ndcg_at_k(SCORES, RELEVANT, 1) == pytest.approx(0.5)
    one = np.array([[0.9, 0.2, 0.5]]), np.array([[False, False, True]])
    assert ndcg_at_k(*one, 2) == pytest.approx(1 / math.log2(3))


def test_recall_precision():
    assert recall_at_k(SCORES, RELEVANT, 2) == pytest.approx((0.5 + 0.0) / 2)
    assert recall_at_k(SCORES, RELEVANT, 3) == pytest.approx((1.0 + 1.0) / 2)
    assert precision_at_k(SCORES, RELEVANT, 2) == pytest.approx((0.5 + 0.0) / 2)
    assert precision_at_k(SCORES, RELEVANT, 4) == pytest.approx((2 / 4 + 1 / 4) / 2)


def test_map():
    # q0 @3: precision@1 = 1, precision@3 = 2/3 -> (1 + 2/3) / 2; q1 @3: precision@3 = 1/3 -> 1/3
    assert map_at_k(SCORES, RELEVANT, 3) == pytest.approx(((1 + 2 / 3) / 2 + 1 / 3) / 2)
    assert map_at_k(SCORES, RELEVANT, 2) == pytest.approx((1 / 2 + 0) / 2)


def test_mrr():
    assert mrr(SCORES, RELEVANT) == pytest.approx((1 + 1 / 3) / 2)


def test_coverage():
    candidates = np.array([[10, 11, 12, 13], [10, 11, 12, 13]])
    # top-1: item 11 (q0), item 12 (q1) -> 2 of 20 items
    assert coverage_at_k(SCORES, candidates, 1, 20) == pytest.approx(0.1)
    assert coverage_at_k(SCORES, candidates, 2, 20) == pytest.approx(4 / 20)  # 11, 13 and 12, 10


def test_queries_without_relevant_items_are_skipped_and_ties_keep_order():
    scores = np.array([[1.0, 1.0, 1.0], [0.1, 0.2, 0.3]])
    relevant = np.array([[False, True, False], [False, False, False]])
    assert hit_rate_at_k(scores, relevant, 1) == 0.0  # the tie keeps candidate 0 first
    assert hit_rate_at_k(scores, relevant, 2) == 1.0
    assert math.isnan(ndcg_at_k(scores[1:], relevant[1:], 2))


def test_excluded_minus_inf_ranks_last():
    scores = np.array([[-np.inf, 0.1, 0.2]])
    relevant = np.array([[False, True, False]])
    assert mrr(scores, relevant) == pytest.approx(0.5)


def test_evaluate_rankings_matches_functions():
    candidates = np.tile(np.arange(4), (2, 1))
    out = evaluate_rankings(SCORES, RELEVANT, candidates, ks=[1, 3], num_items=4)
    assert out["ndcg@3"] == pytest.approx(ndcg_at_k(SCORES, RELEVANT, 3))
    assert out["map@1"] == pytest.approx(map_at_k(SCORES, RELEVANT, 1))
    assert out["mrr"] == pytest.approx(mrr(SCORES, RELEVANT))
    assert set(out) == {f"{m}@{k}" for m in ("hr", "ndcg", "recall", "precision", "map", "coverage")
                        for k in (1, 3)} | {"mrr"}


def test_parse_metric():
    assert parse_metric("NDCG@10") == ("ndcg", 10)
    assert parse_metric("mrr") == ("mrr", None)
    with pytest.raises(ValueError, match="'rmse' is not a ranking metric"):
        parse_metric("rmse")
    with pytest.raises(ValueError):
        parse_metric("hr@0")
