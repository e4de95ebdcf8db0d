"""Side features as fixed multi-hot tables (NumPy; no Keras): item genres and tags, user demographics.

Column 0 of every table is "unknown": it is set for an entity with no known feature, so an item
without genres or a user without a demographics row still has a (learned) feature vector.
Rows are normalised to sum to 1, so a Dense layer over a row is the mean of its features' embeddings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MIN_ITEMS_PER_TOKEN = 5  # item genres/tags used by fewer items are dropped (keeps the tag vocabulary small)
AGE_BUCKETS = (18, 25, 35, 45, 50, 56)  # ml-1m's age groups; ml-100k ages fall into them too


def multi_hot(rows: list[list[str]], *, normalise: bool = True, min_count: int = 1) -> tuple[np.ndarray, list[str]]:
    """(n, 1 + vocabulary) matrix of `rows` (lists of tokens), vocabulary sorted; column 0 = unknown.

    Tokens found in fewer than `min_count` rows are dropped (a row left without tokens is "unknown").
    """
    counts: dict[str, int] = {}
    for row in rows:
        for t in set(row):
            counts[t] = counts.get(t, 0) + 1
    vocab = sorted(t for t, c in counts.items() if c >= min_count)
    index = {t: k + 1 for k, t in enumerate(vocab)}
    table = np.zeros((len(rows), len(vocab) + 1), np.float32)
    for r, row in enumerate(rows):
        cols = [index[t] for t in row if t in index] or [0]
        table[r, cols] = 1.0
    if normalise:
        table /= table.sum(axis=1, keepdims=True)
    return table, ["<unknown>", *vocab]


def item_tokens(items: pd.DataFrame, *, tags: bool = True) -> list[list[str]]:
    """Per item: `genre:<g>` tokens, plus `tag:<t>` tokens from an optional `tags` list column."""
    out = []
    tag_column = items["tags"] if tags and "tags" in items else [None] * len(items)
    for genres, value in zip(items["genres"], tag_column):  # columns, not .iloc rows: 0.5 s less on 10k items
        tokens = [f"genre:{g}" for g in genres]
        tokens += [f"tag:{t}" for t in (value if isinstance(value, (list, np.ndarray)) else [])]
        out.append(tokens)
    return out


def user_tokens(users: pd.DataFrame | None, num_users: int) -> list[list[str]]:
    """Per user: gender, age bucket and occupation tokens where known (empty lists without a user file)."""
    if users is None:
        return [[] for _ in range(num_users)]
    out = []
    for k in range(len(users)):
        row = users.iloc[k]
        tokens = []
        if "gender" in users and isinstance(row["gender"], str):
            tokens.append(f"gender:{row['gender']}")
        if "age" in users and pd.notna(row["age"]):
            tokens.append(f"age:{int(np.searchsorted(AGE_BUCKETS, float(row['age']), side='right'))}")
        if "occupation" in users and pd.notna(row["occupation"]):
            tokens.append(f"occupation:{row['occupation']}")
        out.append(tokens)
    return out


def side_tables(data: Any, *, use_tags: bool = True, use_user_features: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(item_table, user_table) of a PreparedData, rows indexed by item / user index."""
    item_table, _ = multi_hot(item_tokens(data.items, tags=use_tags), min_count=MIN_ITEMS_PER_TOKEN)
    users = data.users if use_user_features else None
    user_table, _ = multi_hot(user_tokens(users, data.num_users))
    return item_table, user_table
