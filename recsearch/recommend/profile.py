"""A user's rating profile from the raw ratings: counts, means, per-genre means, favourite items."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recsearch.errors import DataError


@dataclass
class UserProfile:
    """What a user rated: `genres` has genre, count, mean (by count); `top_items` item_id, title, genres, rating."""

    user_id: object
    n_ratings: int
    mean_rating: float
    genres: pd.DataFrame
    top_items: pd.DataFrame
    implicit: bool = False  # every rating of the data is 1 (clicks, views): counts and recency, no ratings to show
    dated: bool = True  # the user's rows have distinct timestamps: `top_items` ties are broken latest first


def user_ratings(ratings: pd.DataFrame, user_id: object) -> pd.DataFrame:
    """The user's rows of the raw ratings (original ids); DataError when the user has none."""
    mine = ratings[ratings["user_id"] == user_id]
    if mine.empty:
        raise DataError(f"user {user_id!r} has no rating in the data")
    return mine


def user_profile(ratings: pd.DataFrame, items: pd.DataFrame | None, user_id: object, *, top: int = 10) -> UserProfile:
    """Profile of `user_id` from raw `ratings` (user_id, item_id, rating) and `items` (item_id, title, genres list).

    Example: `user_profile(inter.ratings, inter.items, 1)`. Items without a genre count in no genre.
    """
    mine = user_ratings(ratings, user_id)[["item_id", "rating", "timestamp"]]
    rated = mine.merge(_item_table(items), on="item_id", how="left")
    rated["title"] = titles_or_ids(rated["title"], rated["item_id"])
    rated["genres"] = [g if isinstance(g, (list, tuple, np.ndarray)) else [] for g in rated["genres"]]
    per_genre = rated.explode("genres").dropna(subset=["genres"])
    genres = (per_genre.groupby("genres")["rating"].agg(count="count", mean="mean").reset_index()
              .rename(columns={"genres": "genre"}).sort_values(["count", "genre"], ascending=[False, True]))
    best = rated.sort_values(["rating", "timestamp", "item_id"], ascending=[False, False, True]).head(top)
    return UserProfile(user_id=user_id, n_ratings=int(len(mine)), mean_rating=float(mine["rating"].mean()),
                       genres=genres.reset_index(drop=True),
                       top_items=best[["item_id", "title", "genres", "rating"]].reset_index(drop=True),
                       implicit=bool((ratings["rating"] == 1.0).all()), dated=bool(mine["timestamp"].nunique() > 1))


def titles_or_ids(titles: pd.Series, item_ids: pd.Series) -> pd.Series:
    """Each item's title, or its id where it has none (no items file, an empty title): never blank or "nan"."""
    untitled = titles.isna() | (titles.astype(str).str.strip() == "")
    return titles.where(~untitled, item_ids.astype(str))


def _item_table(items: pd.DataFrame | None) -> pd.DataFrame:
    """item_id, title, genres (list); placeholders when the dataset has no item file."""
    if items is None:
        return pd.DataFrame({"item_id": pd.Series(dtype="int64"), "title": pd.Series(dtype=str),
                             "genres": pd.Series(dtype=object)})
    table = items[["item_id"]].copy()
    table["title"] = items["title"] if "title" in items else items["item_id"].astype(str)
    table["genres"] = items["genres"] if "genres" in items else [[] for _ in range(len(items))]
    return table
