"""The data layer's two products: raw interactions as loaded, and a prepared, index-encoded split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Interactions:
    """Interactions with original ids, as read from the files.

    `ratings` has columns user_id, item_id (original ids, int64 or str), rating (float32) and
    timestamp (int64; 0 where the source has none). `items` has item_id, title, genres (a list
    of str per item) and may carry more columns; `users` has user_id plus demographics.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    tags: pd.DataFrame | None = None
    rating_scale: tuple[float, float] = (0.5, 5.0)
    source_files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SplitArrays:
    """One part of a split: parallel arrays of contiguous indices and ratings."""

    users: np.ndarray  # int32 indices in [0, num_users)
    items: np.ndarray  # int32 indices in [0, num_items)
    ratings: np.ndarray  # float32
    timestamps: np.ndarray  # int64

    def __len__(self) -> int:
        return int(self.users.shape[0])


@dataclass(frozen=True)
class PreparedData:
    """A dataset encoded to contiguous int32 indices and split into train / validation / test.

    `user_ids[i]` / `item_ids[j]` give the original id of index i / j. `items` is indexed by item
    index (row j describes item j: item_id, title, genres); `users` likewise when present.
    `checksum` identifies the source files, `split_key` the split (checksum plus split parameters).
    """

    name: str
    train: SplitArrays
    valid: SplitArrays
    test: SplitArrays
    num_users: int
    num_items: int
    user_ids: np.ndarray
    item_ids: np.ndarray
    items: pd.DataFrame
    users: pd.DataFrame | None
    rating_scale: tuple[float, float]
    checksum: str
    split_key: str
    extras: dict = field(default_factory=dict)

    @property
    def global_mean(self) -> float:
        return float(self.train.ratings.mean()) if len(self.train) else 0.0
