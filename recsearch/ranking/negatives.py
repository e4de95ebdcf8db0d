"""Uniform negative sampling that avoids known (user, item) interactions, vectorised with sorted keys."""

from __future__ import annotations

import numpy as np


def pair_keys(users: np.ndarray, items: np.ndarray, num_items: int) -> np.ndarray:
    """Sorted unique int64 keys user * num_items + item."""
    return np.unique(np.asarray(users, np.int64) * num_items + np.asarray(items, np.int64))


def unseen_counts(known: np.ndarray, num_users: int, num_items: int) -> np.ndarray:
    """Per user index, how many items it has no known interaction with (`known`: `pair_keys`): the pool its
    negatives are drawn from (none left: `sample_negatives` cannot serve it; fewer than k: draws repeat)."""
    return num_items - np.bincount(known // num_items, minlength=num_users)


def is_known(users: np.ndarray, items: np.ndarray, keys: np.ndarray, num_items: int) -> np.ndarray:
    """Boolean array: (users[j], items[j]) is among `keys` (same shape as `items`)."""
    query = np.asarray(users, np.int64) * num_items + np.asarray(items, np.int64)
    if keys.size == 0:
        return np.zeros(query.shape, bool)
    pos = np.clip(np.searchsorted(keys, query), 0, keys.size - 1)
    return keys[pos] == query


def sample_negatives(users: np.ndarray, k: int, *, num_items: int, known: np.ndarray, rng: np.random.Generator,
                     max_rounds: int = 20) -> np.ndarray:
    """(len(users), k) item indices drawn uniformly (with replacement) among items each user has no known
    interaction with. Rejection sampling; the few entries still rejected after `max_rounds` are drawn from
    the user's explicit complement. Raises ValueError when a user has interacted with every item.
    """
    users = np.asarray(users, np.int64)
    cols = np.repeat(users[:, None], k, axis=1)
    items = rng.integers(0, num_items, size=cols.shape)
    for _ in range(max_rounds):
        bad = is_known(cols, items, known, num_items)
        if not bad.any():
            return items.astype(np.int32)
        items[bad] = rng.integers(0, num_items, size=int(bad.sum()))
    for row in np.unique(np.nonzero(is_known(cols, items, known, num_items))[0]):
        user = int(users[row])
        free = np.setdiff1d(np.arange(num_items), known[(known // num_items) == user] % num_items)
        if free.size == 0:
            raise ValueError(f"cannot sample negatives for user index {user}: it has interacted with every item")
        bad = is_known(cols[row], items[row], known, num_items)
        items[row, bad] = rng.choice(free, size=int(bad.sum()))
    return items.astype(np.int32)
