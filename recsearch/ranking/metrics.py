"""Ranking metrics as pure functions over a (queries, candidates) score matrix and a relevance mask.

Every function takes `scores` (Q, C) float and `relevant` (Q, C) bool; higher scores rank first, ties
keep candidate order (protocols shuffle candidates, so ties do not favour the held-out item).
Queries without any relevant candidate are left out of the mean. Example:
`ndcg_at_k(np.array([[0.9, 0.2, 0.5]]), np.array([[False, False, True]]), 2)` -> 1/log2(3) = 0.631.
"""

from __future__ import annotations

import re

import numpy as np

_AT_K = ("hr", "ndcg", "recall", "precision", "map", "coverage")
_NAME = re.compile(r"^(hr|ndcg|recall|precision|map|coverage)@([1-9][0-9]*)$|^(mrr)$")


def parse_metric(name: str) -> tuple[str, int | None]:
    """'ndcg@10' -> ('ndcg', 10); 'mrr' -> ('mrr', None); ValueError otherwise."""
    match = _NAME.match(name.strip().lower())
    if not match:
        raise ValueError(f"{name!r} is not a ranking metric; use one of {', '.join(k + '@K' for k in _AT_K)}, mrr")
    return ("mrr", None) if match.group(3) else (match.group(1), int(match.group(2)))


def ranking_order(scores: np.ndarray) -> np.ndarray:
    """(Q, C) candidate positions by decreasing score; ties keep candidate order."""
    return np.argsort(-np.asarray(scores, np.float64), axis=1, kind="stable")


def ranked_relevance(scores: np.ndarray, relevant: np.ndarray, k: int | None = None, *,
                     order: np.ndarray | None = None) -> np.ndarray:
    """(Q, k) relevance of the top-k candidates of each query, best first (all candidates when k is None)."""
    order = ranking_order(scores) if order is None else order
    if k is not None:
        order = order[:, :k]
    return np.take_along_axis(np.asarray(relevant, bool), order, axis=1)


def _per_query_mean(values: np.ndarray, relevant: np.ndarray) -> float:
    keep = np.asarray(relevant, bool).any(axis=1)
    return float(values[keep].mean()) if keep.any() else float("nan")


def hit_rate_at_k(scores: np.ndarray, relevant: np.ndarray, k: int, *, order: np.ndarray | None = None) -> float:
    """Share of queries with at least one relevant candidate in the top k."""
    return _per_query_mean(ranked_relevance(scores, relevant, k, order=order).any(axis=1).astype(float), relevant)


def ndcg_at_k(scores: np.ndarray, relevant: np.ndarray, k: int, *, order: np.ndarray | None = None) -> float:
    """Binary-gain NDCG@k: DCG of the top k over the DCG of an ideal ordering."""
    hits = ranked_relevance(scores, relevant, k, order=order)
    discounts = 1.0 / np.log2(np.arange(2, hits.shape[1] + 2))
    dcg = (hits * discounts).sum(axis=1)
    n_rel = np.minimum(np.asarray(relevant, bool).sum(axis=1), hits.shape[1])
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[n_rel]
    return _per_query_mean(np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0), relevant)


def recall_at_k(scores: np.ndarray, relevant: np.ndarray, k: int, *, order: np.ndarray | None = None) -> float:
    """Relevant candidates in the top k over all relevant candidates of the query."""
    hits = ranked_relevance(scores, relevant, k, order=order).sum(axis=1)
    n_rel = np.asarray(relevant, bool).sum(axis=1)
    return _per_query_mean(hits / np.maximum(n_rel, 1), relevant)


def precision_at_k(scores: np.ndarray, relevant: np.ndarray, k: int, *, order: np.ndarray | None = None) -> float:
    """Relevant candidates in the top k over k."""
    return _per_query_mean(ranked_relevance(scores, relevant, k, order=order).sum(axis=1) / k, relevant)


def map_at_k(scores: np.ndarray, relevant: np.ndarray, k: int, *, order: np.ndarray | None = None) -> float:
    """Mean average precision: sum of precision@i at each relevant rank i <= k, over min(k, #relevant)."""
    hits = ranked_relevance(scores, relevant, k, order=order).astype(float)
    precision = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    n_rel = np.minimum(np.asarray(relevant, bool).sum(axis=1), k)
    return _per_query_mean((precision * hits).sum(axis=1) / np.maximum(n_rel, 1), relevant)


def mrr(scores: np.ndarray, relevant: np.ndarray, *, order: np.ndarray | None = None) -> float:
    """Mean reciprocal rank of the first relevant candidate."""
    ranked = ranked_relevance(scores, relevant, order=order)
    first = ranked.argmax(axis=1)
    return _per_query_mean(np.where(ranked.any(axis=1), 1.0 / (first + 1), 0.0), relevant)


def coverage_at_k(scores: np.ndarray, candidates: np.ndarray, k: int, num_items: int, *,
                  order: np.ndarray | None = None) -> float:
    """Share of the catalogue (num_items) that appears in at least one query's top k."""
    order = (ranking_order(scores) if order is None else order)[:, :k]
    return float(np.unique(np.take_along_axis(candidates, order, axis=1)).size / max(num_items, 1))


def query_values(hits: np.ndarray, n_rel: np.ndarray, first_rank: np.ndarray, ks: list[int]) -> dict[str, np.ndarray]:
    """Per-query values of every metric but coverage, from what a ranking needs to be known by.

    `hits` (Q, >= max k) is the relevance of the best-ranked candidates, best first (fewer columns when a
    query has fewer candidates); `n_rel` (Q,) counts each query's relevant candidates; `first_rank` (Q,)
    is the 1-based rank of its first relevant candidate (inf when none). Shared by the dense and the
    batched full-ranking evaluation, so both compute the same numbers.
    """
    out: dict[str, np.ndarray] = {}
    for k in ks:
        h = hits[:, :k].astype(float)
        width = h.shape[1]
        discounts = 1.0 / np.log2(np.arange(2, width + 2))
        ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(n_rel, width)]
        dcg = (h * discounts).sum(axis=1)
        precision = np.cumsum(h, axis=1) / np.arange(1, width + 1)
        out[f"hr@{k}"] = h.any(axis=1).astype(float)
        out[f"ndcg@{k}"] = np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)
        out[f"recall@{k}"] = h.sum(axis=1) / np.maximum(n_rel, 1)
        out[f"precision@{k}"] = h.sum(axis=1) / k
        out[f"map@{k}"] = (precision * h).sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1)
    out["mrr"] = 1.0 / np.asarray(first_rank, float)
    return out


def evaluate_rankings(scores: np.ndarray, relevant: np.ndarray, candidates: np.ndarray, *, ks: list[int],
                      num_items: int) -> dict[str, float]:
    """Every metric for every k: {'hr@10': ..., 'ndcg@10': ..., ..., 'mrr': ...} (one sort for all)."""
    order = ranking_order(scores)
    ranked = ranked_relevance(scores, relevant, order=order)
    n_rel = np.asarray(relevant, bool).sum(axis=1)
    first = np.where(ranked.any(axis=1), ranked.argmax(axis=1) + 1.0, np.inf)
    values = query_values(ranked[:, :max(ks)], n_rel, first, list(ks))
    out = {name: _per_query_mean(v, relevant) for name, v in values.items()}
    for k in ks:
        out[f"coverage@{k}"] = coverage_at_k(scores, candidates, k, num_items, order=order)
    return {name: out[name] for name in metric_names(ks)}


def metric_names(ks: list[int]) -> list[str]:
    """Metric keys in report order: per k hr, ndcg, recall, precision, map, coverage; then mrr."""
    return [f"{m}@{k}" for k in ks for m in ("hr", "ndcg", "recall", "precision", "map", "coverage")] + ["mrr"]
