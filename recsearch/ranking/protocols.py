"""Evaluation protocols: which candidates each query ranks and which of them are relevant.

- sampled (NCF paper): every held-out positive interaction is one query; its item is ranked against
  `num_candidates` items drawn from those the user never interacted with (in any part). Meant for
  split=leave_one_out (one query per user); works with any split.
- full: one query per user with held-out positives; candidates are all items, those in the user's
  train interactions (and, for test, validation interactions) excluded by a -inf score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recsearch.ranking.negatives import pair_keys, sample_negatives


@dataclass(frozen=True)
class RankingQueries:
    """Queries to score: the user of each, its candidate items, which are relevant and which excluded."""

    users: np.ndarray  # (Q,) int32
    candidates: np.ndarray  # (Q, C) int32 item indices
    relevant: np.ndarray  # (Q, C) bool
    excluded: np.ndarray | None = None  # (Q, C) bool: scored -inf

    def __len__(self) -> int:
        return int(self.users.shape[0])


def positives(part: Any, threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) of the rows of `part` that count as positive feedback."""
    keep = np.ones(len(part), bool) if threshold is None else part.ratings >= threshold
    return part.users[keep], part.items[keep]


def sampled_queries(users: np.ndarray, items: np.ndarray, *, known: np.ndarray, num_items: int, n: int,
                    seed: int) -> RankingQueries:
    """One query per held-out (user, item): the item plus `n` sampled unknown items, in random order."""
    rng = np.random.default_rng(seed)
    negs = sample_negatives(users, n, num_items=num_items, known=known, rng=rng)
    cands = np.concatenate([negs, np.asarray(items, np.int32)[:, None]], axis=1)
    pos = rng.integers(0, n + 1, size=len(users))
    rows = np.arange(len(users))
    cands[rows, -1], cands[rows, pos] = cands[rows, pos], np.asarray(items, np.int32)
    relevant = np.zeros(cands.shape, bool)
    relevant[rows, pos] = True
    return RankingQueries(np.asarray(users, np.int32), cands, relevant)


def full_queries(users: np.ndarray, items: np.ndarray, *, seen_users: np.ndarray, seen_items: np.ndarray,
                 num_items: int) -> RankingQueries:
    """One query per user in `users`: all items; relevant = the user's held-out items; seen ones excluded."""
    query_users = np.unique(users).astype(np.int32)
    row_of = np.full(int(max(query_users.max(initial=-1), seen_users.max(initial=-1))) + 1, -1, np.int64)
    row_of[query_users] = np.arange(query_users.size)
    relevant = np.zeros((query_users.size, num_items), bool)
    relevant[row_of[users], items] = True
    excluded = np.zeros_like(relevant)
    mask = row_of[seen_users] >= 0
    excluded[row_of[seen_users[mask]], seen_items[mask]] = True
    relevant &= ~excluded
    cands = np.broadcast_to(np.arange(num_items, dtype=np.int32), relevant.shape)
    return RankingQueries(query_users, cands, relevant, excluded)


def make_queries(data: Any, part_name: str, task: Any) -> RankingQueries:
    """The queries of `data.<part_name>` ("valid" or "test") under `task.protocol`."""
    part = getattr(data, part_name)
    users, items = positives(part, task.implicit_threshold)
    if task.protocol == "sampled":
        every = [data.train, data.valid, data.test]
        known = pair_keys(np.concatenate([p.users for p in every]), np.concatenate([p.items for p in every]),
                          data.num_items)
        seed = int(task.eval_seed) + (0 if part_name == "valid" else 1)
        return sampled_queries(users, items, known=known, num_items=data.num_items, n=int(task.num_candidates),
                               seed=seed)
    seen = [data.train] + ([data.valid] if part_name == "test" else [])
    return full_queries(users, items, seen_users=np.concatenate([p.users for p in seen]),
                        seen_items=np.concatenate([p.items for p in seen]), num_items=data.num_items)
