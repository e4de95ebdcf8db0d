"""A fast, seeded generator of MovieLens-like ratings for tests and scale runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from recsearch.data.types import Interactions
from recsearch.errors import DataError

START_TIME = 1_000_000_000  # 2001-09-09, in seconds


def generate_synthetic(cfg: Any, *, rating_scale: tuple[float, float] = (0.5, 5.0), name: str = "synthetic") -> Interactions:
    """Ratings from latent factors + biases + noise, power-law item popularity, unique pairs.

    Example: `generate_synthetic(SyntheticConfig(n_ratings=10_000, seed=1))`.
    """
    n_users, n_items, n_ratings = int(cfg.n_users), int(cfg.n_items), int(cfg.n_ratings)
    _check(n_users, n_items, n_ratings)
    rng = np.random.default_rng(int(cfg.seed))
    k = max(int(cfg.n_factors), 1)
    user_f = rng.normal(0.0, 1.0 / np.sqrt(k), (n_users, k))
    item_f = rng.normal(0.0, 1.0 / np.sqrt(k), (n_items, k))
    item_p = _popularity(rng, n_items, float(cfg.popularity_exponent))
    user_p = _popularity(rng, n_users, 0.5)
    users, items = _unique_pairs(rng, user_p, item_p, n_ratings)
    raw = rng.normal(0.0, 0.3, n_users)[users] + rng.normal(0.0, 0.3, n_items)[items]
    raw += _factor_dots(user_f, item_f, users, items)
    raw += rng.normal(0.0, float(cfg.noise), n_ratings)
    ratings = pd.DataFrame({
        "user_id": users.astype(np.int64) + 1,
        "item_id": items.astype(np.int64) + 1,
        "rating": to_scale(raw, rating_scale),
        "timestamp": START_TIME + np.cumsum(rng.integers(1, 600, n_ratings)),
    })
    items_frame = pd.DataFrame({
        "item_id": np.arange(1, n_items + 1, dtype=np.int64),
        "title": [f"Item {i}" for i in range(1, n_items + 1)],
        "genres": _genres(rng, item_f, int(cfg.n_genres)),
    })
    return Interactions(name, ratings, items=items_frame, rating_scale=rating_scale)


def to_scale(raw: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Standardise `raw`, centre it at 70% of the scale, clip, and round to the scale's step."""
    lo, hi = scale
    z = (raw - raw.mean()) / (raw.std() + 1e-12)
    values = np.clip(lo + 0.7 * (hi - lo) + z * (hi - lo) / 5.0, lo, hi)
    step = 1.0 if lo >= 1 and float(lo).is_integer() and float(hi).is_integer() else 0.5
    return (lo + np.round((values - lo) / step) * step).clip(lo, hi).astype(np.float32)


def _check(n_users: int, n_items: int, n_ratings: int) -> None:
    """Reject sizes the generator cannot satisfy with unique pairs."""
    if min(n_users, n_items, n_ratings) < 1:
        raise DataError("data.synthetic: n_users, n_items and n_ratings must be positive")
    if n_ratings > 0.5 * n_users * n_items:
        raise DataError(
            f"data.synthetic: n_ratings={n_ratings} exceeds half of n_users*n_items={n_users * n_items}; "
            "raise n_users or n_items"
        )


def _popularity(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Sampling probabilities ∝ rank^-exponent, over a random permutation of the ids."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    weights = 0.9 * weights / weights.sum() + 0.1 / n  # a uniform floor keeps every pair reachable
    return weights[rng.permutation(n)]


def _factor_dots(user_f: np.ndarray, item_f: np.ndarray, users: np.ndarray, items: np.ndarray,
                 chunk: int = 1 << 20) -> np.ndarray:
    """Row-wise dot products of the pairs' factors, a chunk at a time (no (n_ratings, k) temporaries)."""
    out = np.empty(users.size, np.float64)
    for start in range(0, users.size, chunk):
        sl = slice(start, start + chunk)
        out[sl] = np.einsum("ij,ij->i", user_f[users[sl]], item_f[items[sl]])
    return out


def _unique_pairs(rng: np.random.Generator, user_p: np.ndarray, item_p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw `n` distinct (user, item) pairs, keeping the order in which they were first drawn."""
    n_items = item_p.size
    keys = np.empty(0, dtype=np.int64)
    for _ in range(100):
        draw = int((n - keys.size) * 1.3) + 16
        fresh = rng.choice(user_p.size, draw, p=user_p) * n_items + rng.choice(n_items, draw, p=item_p)
        keys = pd.unique(np.concatenate([keys, fresh]))  # hash-based; keeps first-drawn order
        if keys.size >= n:
            keys = keys[:n]
            return keys // n_items, keys % n_items
    raise DataError("data.synthetic: could not draw enough distinct pairs; lower popularity_exponent or n_ratings")


def _genres(rng: np.random.Generator, item_f: np.ndarray, n_genres: int) -> list[list[str]]:
    """Genre lists driven by the item factors: the top-scoring genre plus any clearly high one."""
    if n_genres < 1:
        return [[] for _ in range(item_f.shape[0])]
    names = np.array([f"Genre{j:02d}" for j in range(n_genres)], dtype=object)
    scores = item_f @ rng.normal(0.0, 1.0, (item_f.shape[1], n_genres)) + rng.normal(0.0, 0.1, (item_f.shape[0], n_genres))
    member = scores > np.quantile(scores, 0.85)
    member[np.arange(item_f.shape[0]), scores.argmax(axis=1)] = True
    return [list(names[row]) for row in member]
