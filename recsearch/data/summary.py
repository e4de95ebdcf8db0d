"""`dataset_summary`: the figures `recsearch data info` prints."""

from __future__ import annotations

import numpy as np

from recsearch.data.types import Interactions

_MAX_DISTINCT = 20  # above this many distinct ratings, the histogram uses 10 bins


def dataset_summary(inter: Interactions) -> dict:
    """Counts, density, rating scale and histogram, time range, and which side data is present."""
    ratings = inter.ratings
    n_users = int(ratings["user_id"].nunique())
    n_items = int(ratings["item_id"].nunique())
    values = ratings["rating"].to_numpy()
    return {
        "name": inter.name,
        "n_users": n_users,
        "n_items": n_items,
        "n_items_catalog": int(len(inter.items)) if inter.items is not None else n_items,
        "n_ratings": int(len(ratings)),
        "density": float(len(ratings) / (n_users * n_items)) if n_users and n_items else 0.0,
        "rating_scale": tuple(inter.rating_scale),
        "rating_min": float(values.min()),
        "rating_max": float(values.max()),
        "rating_mean": float(values.mean()),
        "rating_histogram": rating_histogram(values),
        "time_range": time_range(ratings["timestamp"].to_numpy()),
        "has_genres": bool(inter.items is not None and "genres" in inter.items and inter.items["genres"].map(len).gt(0).any()),
        "has_tags": inter.tags is not None and len(inter.tags) > 0,
        "has_demographics": inter.users is not None and inter.users.shape[1] > 1,
    }


def rating_histogram(values: np.ndarray) -> dict[str, int]:
    """Count per distinct rating, or per bin when there are many distinct values."""
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size <= _MAX_DISTINCT:
        return {f"{v:g}": int(c) for v, c in zip(distinct, counts)}
    counts, edges = np.histogram(values, bins=10)
    return {f"{lo:.3g}-{hi:.3g}": int(c) for lo, hi, c in zip(edges[:-1], edges[1:], counts)}


# Unix time in seconds, milliseconds, microseconds (dates read from text) or nanoseconds (a Parquet datetime
# column's own unit): the unit whose largest value stays below the year ~5000 (1e11 s); recsearch only orders
# timestamps, so any unit trains alike.
_TIME_UNITS = (("s", 1e11), ("ms", 1e14), ("us", 1e17), ("ns", float("inf")))


def time_range(timestamps: np.ndarray) -> tuple[str, str] | None:
    """First and last interaction as ISO dates (UTC), or None when the data has no timestamps."""
    import pandas as pd

    stamped = timestamps[timestamps > 0]
    if stamped.size == 0:
        return None
    unit = next(unit for unit, below in _TIME_UNITS if stamped.max() < below)
    first, last = (pd.Timestamp(int(t), unit=unit, tz="UTC").date().isoformat() for t in (stamped.min(), stamped.max()))
    return first, last
