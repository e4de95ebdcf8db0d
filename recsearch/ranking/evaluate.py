"""Batched evaluation of ranking queries: bounded memory at any size, the same numbers as the dense path.

Sampled queries are scored a slice of queries at a time; full-ranking queries a batch of users at a
time against every item, keeping only each user's top max(k) by `np.argpartition` and the rank of its
first relevant item (never a users x items matrix). Per-query values come from
`recsearch.ranking.metrics.query_values`, so both protocols and the dense `evaluate_rankings` agree.
Ties: candidates with equal scores keep index order, except at the top-k boundary of full ranking,
where `argpartition` may keep either of two tied items.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from recsearch.ranking.metrics import evaluate_rankings, metric_names, query_values
from recsearch.ranking.protocols import FullQueries, RankingQueries

SCORE_ELEMENTS = 1 << 23  # scores held at once per batch (32 MB of float32)


def evaluate_queries(queries: RankingQueries | FullQueries, scorer: Any, *, ks: Sequence[int],
                     num_items: int) -> dict[str, float]:
    """Every ranking metric of `scorer` (see `recsearch.ranking.scoring`) on `queries`; NaN when empty."""
    ks = list(ks)
    if len(queries) == 0:
        return {name: float("nan") for name in metric_names(ks)}
    if isinstance(queries, FullQueries):
        return evaluate_full(queries, scorer, ks=ks)
    return evaluate_sampled(queries, scorer, ks=ks, num_items=num_items)


def evaluate_sampled(queries: RankingQueries, scorer: Any, *, ks: list[int], num_items: int) -> dict[str, float]:
    """Dense metrics per slice of queries, combined as means over the queries with a relevant candidate."""
    n_cand = queries.candidates.shape[1]
    step = max(1, SCORE_ELEMENTS // max(n_cand, 1))
    sums, count, covered = {}, 0, {k: np.zeros(num_items, bool) for k in ks}
    for start in range(0, len(queries), step):
        sl = slice(start, start + step)
        cands, relevant = queries.candidates[sl], queries.relevant[sl]
        scores = scorer.pairs(np.repeat(queries.users[sl], n_cand), np.ascontiguousarray(cands).reshape(-1))
        scores = scores.reshape(cands.shape)
        if queries.excluded is not None:
            scores[queries.excluded[sl]] = -np.inf
        n = int(relevant.any(axis=1).sum())
        part = evaluate_rankings(scores, relevant, cands, ks=ks, num_items=num_items)
        _add(sums, part, n)
        count += n
        order = np.argsort(-scores, axis=1, kind="stable")
        for k in ks:
            covered[k][np.take_along_axis(cands, order[:, :k], axis=1)] = True
    return _finish(sums, count, covered, ks)


def evaluate_full(queries: FullQueries, scorer: Any, *, ks: list[int], batch_users: int | None = None) -> dict[str, float]:
    """Full ranking: each batch of users scored on every item; top-k, first-relevant rank, coverage."""
    n_items, kmax = queries.num_items, max(ks)
    step = batch_users or max(1, SCORE_ELEMENTS // max(n_items, 1))
    sums, count, covered = {}, 0, {k: np.zeros(n_items, bool) for k in ks}
    for start in range(0, len(queries), step):
        relevant, excluded = queries.dense(start, start + step)
        scores = np.asarray(scorer.all_items(queries.users[start:start + step]), np.float32)
        scores[excluded] = -np.inf
        top = top_k_items(scores, kmax)
        n_rel = relevant.sum(axis=1)
        keep = n_rel > 0
        hits = np.take_along_axis(relevant, top, axis=1)
        values = query_values(hits[keep], n_rel[keep], first_relevant_rank(scores, relevant)[keep], ks)
        _add(sums, {name: v.mean() for name, v in values.items()}, int(keep.sum()))
        count += int(keep.sum())
        for k in ks:
            covered[k][top[:, :k]] = True
    return _finish(sums, count, covered, ks)


def top_k_items(scores: np.ndarray, k: int) -> np.ndarray:
    """(B, min(k, n)) item indices of the k best scores per row, best first (ties: lower index first)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else \
        np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    part.sort(axis=1)
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def first_relevant_rank(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """(B,) 1-based rank of each row's best relevant item among all items (inf when none)."""
    masked = np.where(relevant, scores, -np.inf)
    best = masked.argmax(axis=1)
    best_score = masked[np.arange(len(best)), best][:, None]
    ahead = (scores > best_score).sum(axis=1)
    ties = ((scores == best_score) & (np.arange(scores.shape[1]) < best[:, None])).sum(axis=1)
    return np.where(relevant.any(axis=1), ahead + ties + 1.0, np.inf)


def timed_evaluation(queries: Any, scorer: Any, *, ks: Sequence[int], num_items: int) -> tuple[dict[str, float], float]:
    """`evaluate_queries` and its wall time in seconds."""
    start = time.perf_counter()
    return evaluate_queries(queries, scorer, ks=ks, num_items=num_items), time.perf_counter() - start


def _add(sums: dict[str, float], means: dict[str, float], n: int) -> None:
    """Accumulate a batch's per-query means weighted by its number of counted queries."""
    for name, value in means.items():
        if not name.startswith("coverage@") and n:
            sums[name] = sums.get(name, 0.0) + float(value) * n


def _finish(sums: dict[str, float], count: int, covered: dict[int, np.ndarray], ks: list[int]) -> dict[str, float]:
    out = {name: (sums.get(name, 0.0) / count if count else float("nan")) for name in metric_names(ks)}
    out.update({f"coverage@{k}": float(covered[k].mean()) for k in ks})
    return out
