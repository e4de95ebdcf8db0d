"""Evaluation protocols: which candidates each query ranks and which of them are relevant.

- sampled (NCF paper): every held-out positive interaction is one query; its item is ranked against
  `num_candidates` items drawn from those the user never interacted with (in any part). Meant for
  split=leave_one_out (one query per user); works with any split.
- full: one query per user with held-out positives; candidates are all items, those in the user's
  train interactions (and, for test, validation interactions) excluded by a -inf score. Stored sparse
  (`FullQueries`, CSR rows): a dense users x items matrix would not fit at 25M ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from recsearch.errors import DataError
from recsearch.ranking.negatives import pair_keys, sample_negatives, unseen_counts


@dataclass(frozen=True)
class RankingQueries:
    """Queries to score: the user of each, its candidate items, which are relevant and which excluded."""

    users: np.ndarray  # (Q,) int32
    candidates: np.ndarray  # (Q, C) int32 item indices
    relevant: np.ndarray  # (Q, C) bool
    excluded: np.ndarray | None = None  # (Q, C) bool: scored -inf

    def __len__(self) -> int:
        return int(self.users.shape[0])


@dataclass(frozen=True)
class FullQueries:
    """Full-ranking queries: one per user, relevant and excluded items as CSR matrices (users x items)."""

    users: np.ndarray  # (Q,) int32, sorted
    relevant: Any  # scipy.sparse.csr_matrix (Q, num_items) bool
    excluded: Any  # scipy.sparse.csr_matrix (Q, num_items) bool
    num_items: int

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def dense(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(relevant, excluded) of queries start..stop as dense (B, num_items) bool arrays."""
        return self.relevant[start:stop].toarray(), self.excluded[start:stop].toarray()


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
                 num_items: int) -> FullQueries:
    """One query per user in `users`: all items; relevant = the user's held-out items; seen ones excluded."""
    query_users = np.unique(users).astype(np.int32)
    rows = np.searchsorted(query_users, seen_users)
    padded = np.append(query_users, -1)  # rows == size points at the pad: never a match
    mask = padded[rows] == seen_users
    excluded = _csr(rows[mask], np.asarray(seen_items)[mask], (query_users.size, num_items))
    relevant = _csr(np.searchsorted(query_users, users), np.asarray(items), (query_users.size, num_items))
    relevant = relevant - relevant.multiply(excluded)
    relevant.eliminate_zeros()
    return FullQueries(query_users, relevant.astype(bool), excluded.astype(bool), num_items)


def _csr(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    """A 0/1 int8 CSR matrix with 1 at (rows, cols) (duplicates collapse)."""
    from scipy.sparse import csr_matrix

    matrix = csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=shape)
    matrix.sum_duplicates()
    matrix.data[:] = 1
    return matrix


def _no_sampled_queries(data: Any, part_name: str) -> DataError:
    return DataError(f"task.protocol=sampled ranks each held-out item against items its user has not interacted "
                     f"with, but every user with held-out ratings has interacted with every item "
                     f"({data.num_items:,}), so no {part_name} query is left; use task.protocol=full")


def no_train_negatives() -> DataError:
    """The refusal when no train positive has a negative to draw (every user has every item in train)."""
    return DataError("task=ranking draws negatives among the items a user has not interacted with, but every "
                     "user has interacted with every item in train; use task.negatives=in_batch (two_tower) or "
                     "data with more items")


def check_rankable(data: Any, task: Any) -> None:
    """Raise the DataError every ranking trial on `data` would raise: no train positive with a negative left to
    draw, or (sampled protocol) no held-out positive with one. A sweep says it once before any trial starts,
    instead of failing each trial with it; the per-user cases only warn, in the trial."""
    if task.negatives != "in_batch" and not _any_unseen(data, data.train, [data.train], task):
        raise no_train_negatives()
    if task.protocol == "sampled":
        for part_name in ("valid", "test"):
            if not _any_unseen(data, getattr(data, part_name), [data.train, data.valid, data.test], task):
                raise _no_sampled_queries(data, part_name)


def _any_unseen(data: Any, part: Any, seen: list, task: Any) -> bool:
    """Whether `part` has no positives or one of its positive users has an item it has not interacted with in
    `seen`. A user with fewer rows than items has one, so the pairs are only counted when none has fewer."""
    users = positives(part, task.implicit_threshold)[0]
    rows = sum(np.bincount(p.users, minlength=data.num_users) for p in seen)
    if not users.size or (rows[users] < data.num_items).any():
        return True
    known = pair_keys(np.concatenate([p.users for p in seen]), np.concatenate([p.items for p in seen]),
                      data.num_items)
    return bool((unseen_counts(known, data.num_users, data.num_items)[users] > 0).any())


def make_queries(data: Any, part_name: str, task: Any) -> RankingQueries | FullQueries:
    """The queries of `data.<part_name>` ("valid" or "test") under `task.protocol`."""
    part = getattr(data, part_name)
    users, items = positives(part, task.implicit_threshold)
    if task.protocol == "sampled":
        every = [data.train, data.valid, data.test]
        known = pair_keys(np.concatenate([p.users for p in every]), np.concatenate([p.items for p in every]),
                          data.num_items)
        n = int(task.num_candidates)
        keep = _sampleable(data, task, users, unseen_counts(known, data.num_users, data.num_items), part_name)
        seed = int(task.eval_seed) + (0 if part_name == "valid" else 1)
        return sampled_queries(users[keep], items[keep], known=known, num_items=data.num_items, n=n, seed=seed)
    seen = [data.train] + ([data.valid] if part_name == "test" else [])
    return full_queries(users, items, seen_users=np.concatenate([p.users for p in seen]),
                        seen_items=np.concatenate([p.items for p in seen]), num_items=data.num_items)


def user_list(data: Any, indices: np.ndarray, limit: int = 5) -> str:
    """The users of `indices` by their own ids (as in the ratings file, not indices), the first `limit` of them:
    'user alice', 'users 3, 9 and 2 more'."""
    shown = ", ".join(str(u) for u in data.user_ids[indices[:limit]])
    more = f" and {indices.size - limit:,} more" if indices.size > limit else ""
    return f"user{'s' if indices.size > 1 else ''} {shown}{more}"


def _sampleable(data: Any, task: Any, users: np.ndarray, unseen: np.ndarray, part_name: str) -> np.ndarray:
    """Keep-mask of the held-out `users` that have an item left to rank against (`unseen`: per user index).

    A user who has interacted with every item has no negative: its queries are left out. Fewer unseen items than
    task.num_candidates make the drawn candidates repeat. Both warn once, counted over validation and test together.
    """
    from recsearch.data.loaders import warn

    held = np.unique(np.concatenate([positives(p, task.implicit_threshold)[0] for p in (data.valid, data.test)]))
    keep = unseen[users] > 0
    if users.size and not keep.any():
        raise _no_sampled_queries(data, part_name)
    full = held[unseen[held] == 0]
    if full.size:
        who = "1 user has" if full.size == 1 else f"{full.size:,} users have"
        warn(f"task.protocol=sampled: {who} interacted with every item ({user_list(data, full)}), so no negatives "
             f"can be drawn: left out of the validation and test queries", once=True)
    n = int(task.num_candidates)
    short = held[(unseen[held] > 0) & (unseen[held] < n)]
    if short.size:
        fewest = int(unseen[short].min())
        warn(f"task.num_candidates={n}, but {short.size:,} of {held.size:,} users with held-out ratings have fewer "
             f"items they have not interacted with (fewest: {fewest}): their candidates repeat (drawn with "
             f"replacement), which makes ranking easier than the protocol says; lower task.num_candidates to "
             f"{fewest}", once=True)
    return keep
