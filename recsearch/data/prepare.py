"""`prepare_data`: load, encode ids to contiguous indices, split, and cache the result."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsearch.data import cache, splits
from recsearch.data.download import fetch_if_missing
from recsearch.data.loaders import (dataset_file, load_interactions, rating_scale, ratings_file_path, read_split_file,
                                   recorded_warnings, warn)
from recsearch.data.movielens import MAIN_FILES
from recsearch.data.paths import dataset_dir
from recsearch.data.synthetic import GENERATOR_VERSION
from recsearch.data.types import Interactions, PreparedData, SplitArrays

TOP_TAGS = 5  # tags kept per item (the most used ones), as side features

_OPTIONAL_FILES = {
    "movielens_csv": ("tags.csv",),
    "movielens_100k": ("u.user", "u.genre"),
    "movielens_dat": ("users.dat",),
}


def prepare_data(data_cfg: Any, split_cfg: Any, *, data_dir: Path, cache_dir: Path | None) -> PreparedData:
    """The dataset split into train / valid / test with int32 indices, from cache when possible.

    Ids are encoded over all interactions of every part (sorted by original id), so an id seen
    only in valid or test has an index too (its embedding simply stays untrained).
    Example: `prepare_data(cfg.data, cfg.split, data_dir=Path("data"), cache_dir=None)`.
    """
    splits.check_split_config(split_cfg)
    rating_scale(data_cfg)
    fetch_if_missing(data_cfg, Path(data_dir))
    checksum = data_checksum(data_cfg, split_cfg, Path(data_dir), cache_dir)
    key = split_key(data_cfg, split_cfg, checksum)
    folder = cache.entry_dir(cache_dir, str(data_cfg.name), key) if cache_dir is not None else None
    if folder is not None and (cached := cache.load_prepared(folder)) is not None:
        if multiprocessing.parent_process() is None:  # a sweep's worker processes: their sweep said it
            for message in cached.extras.get("warnings", []):  # what preparing it said, said again
                warn(message, once=True)
        return cached
    with recorded_warnings() as said:
        data = build_prepared(data_cfg, split_cfg, Path(data_dir), checksum, key)
    if said:
        data.extras["warnings"] = list(dict.fromkeys(said))
    if folder is not None:
        cache.save_prepared(data, folder)
    return data


def build_prepared(data_cfg: Any, split_cfg: Any, data_dir: Path, checksum: str, key: str) -> PreparedData:
    """Load, split and encode, without touching the cache."""
    inter = load_interactions(data_cfg, data_dir)
    extras = {"split": str(split_cfg.method)}
    if split_cfg.method == "predefined":
        parts = _predefined_parts(data_cfg, split_cfg, dataset_dir(data_cfg, data_dir))
        splits.require_splittable(inter.name, sum(map(len, parts)), (len(parts[0]), len(parts[1]), len(parts[2])),
                                  split_cfg)
        return encode(inter, parts, checksum=checksum, split_key=key, extras=extras)
    return encode_and_split(inter, split_cfg, checksum=checksum, split_key=key, extras=extras)


def encode(inter: Interactions, parts: list[pd.DataFrame], *, checksum: str, split_key: str, extras: dict) -> PreparedData:
    """Map original ids to contiguous indices (sorted by id) over all parts and build `PreparedData`."""
    user_ids, user_idx = _encode_ids([p["user_id"] for p in parts])
    item_ids, item_idx = _encode_ids([p["item_id"] for p in parts])
    arrays = [
        SplitArrays(u, i, p["rating"].to_numpy(np.float32), p["timestamp"].to_numpy(np.int64))
        for u, i, p in zip(user_idx, item_idx, parts)
    ]
    return _prepared(inter, arrays, user_ids, item_ids, checksum=checksum, split_key=split_key, extras=extras)


def encode_and_split(inter: Interactions, split_cfg: Any, *, checksum: str, split_key: str, extras: dict) -> PreparedData:
    """Encode ids once over all ratings, drop duplicate pairs, label each rating, then cut the arrays.

    Works on NumPy arrays throughout (no DataFrame copies per part): 25M ratings fit in a few GB.
    """
    r = inter.ratings
    user_ids, (users,) = _encode_ids([r["user_id"]])
    item_ids, (items,) = _encode_ids([r["item_id"]])
    columns = [users, items, r["rating"].to_numpy(np.float32), r["timestamp"].to_numpy(np.int64)]
    keep = latest_of_each_pair(users, items, columns[3], item_ids.size)
    if keep is not None:
        columns = [c[keep] for c in columns]
    labels = splits.split_labels(split_cfg, columns[0], columns[3])
    arrays = cut_by_label(columns, labels)
    splits.require_splittable(inter.name, len(labels), (len(arrays[0]), len(arrays[1]), len(arrays[2])), split_cfg,
                              users=columns[0])
    return _prepared(inter, arrays, user_ids, item_ids, checksum=checksum, split_key=split_key, extras=extras)


def cut_by_label(columns: list[np.ndarray], labels: np.ndarray) -> list[SplitArrays]:
    """Train, valid and test `SplitArrays` of the parallel `columns` (original order kept in each part).

    One stable sort of the int8 labels (a radix sort, linear time) and one gather per column, each
    part a view of the gathered array, instead of a boolean-mask pass per part and column.
    """
    order = np.argsort(labels, kind="stable")
    ends = np.cumsum(np.bincount(labels, minlength=3)[:3])
    gathered = [np.take(c, order) for c in columns]
    bounds = [(0, ends[0]), (ends[0], ends[1]), (ends[1], ends[2])]
    return [SplitArrays(*(g[lo:hi] for g in gathered)) for lo, hi in bounds]


def latest_of_each_pair(users: np.ndarray, items: np.ndarray, timestamps: np.ndarray, num_items: int) -> np.ndarray | None:
    """Keep-mask with only the latest rating of each (user, item) pair (the later row on equal timestamps),
    so no pair straddles two parts; None when every pair is unique (checked on sorted int64 keys:
    NumPy's SIMD sort is several times faster than hashing 25M keys)."""
    pair = users.astype(np.int64)
    pair *= num_items
    pair += items
    ordered = np.sort(pair)
    if not np.any(ordered[1:] == ordered[:-1]):
        return None
    del ordered
    order = np.lexsort((np.arange(pair.size), timestamps, pair))
    last = np.r_[pair[order][1:] != pair[order][:-1], True]
    keep = np.zeros(pair.size, bool)
    keep[order[last]] = True
    return keep


def _prepared(inter: Interactions, arrays: list[SplitArrays], user_ids: np.ndarray, item_ids: np.ndarray, *,
              checksum: str, split_key: str, extras: dict) -> PreparedData:
    """`PreparedData` of encoded parts, with the items/users frames aligned to the indices."""
    return PreparedData(
        name=inter.name, train=arrays[0], valid=arrays[1], test=arrays[2],
        num_users=int(user_ids.size), num_items=int(item_ids.size), user_ids=user_ids, item_ids=item_ids,
        items=_with_tags(_items_frame(inter.items, item_ids), inter.tags), users=_users_frame(inter.users, user_ids),
        rating_scale=inter.rating_scale, checksum=checksum, split_key=split_key, extras=extras,
    )


def data_checksum(data_cfg: Any, split_cfg: Any, data_dir: Path, cache_dir: Path | None) -> str:
    """SHA-256 of the source files (or, for synthetic data, of the generator's parameters)."""
    if data_cfg.format == "synthetic":
        params = _fields(data_cfg.synthetic, ("n_users", "n_items", "n_ratings", "n_factors",
                                              "n_genres", "noise", "popularity_exponent", "seed"))
        return _hash({**params, "generator": GENERATOR_VERSION})  # caches of an older generator's output go stale
    return cache.files_checksum(source_files(data_cfg, split_cfg, data_dir), cache_dir)


def source_files(data_cfg: Any, split_cfg: Any, data_dir: Path) -> list[Path]:
    """The existing files a prepared split depends on (missing ones are reported by the loader)."""
    folder = dataset_dir(data_cfg, data_dir)
    if data_cfg.format == "interactions":
        candidates = [ratings_file_path(data_cfg, folder)]
        candidates += [dataset_file(folder, data_cfg.items_file)] if data_cfg.items_file else []
    else:
        names = MAIN_FILES.get(str(data_cfg.format), ()) + _OPTIONAL_FILES.get(str(data_cfg.format), ())
        candidates = [folder / n for n in names]
    if split_cfg.method == "predefined":
        extra = [split_cfg.train_file, split_cfg.test_file, split_cfg.valid_file]
        candidates += [dataset_file(folder, n) for n in extra if n]
    return [p for p in candidates if p.is_file()]


def split_key(data_cfg: Any, split_cfg: Any, checksum: str) -> str:
    """The cache key: data checksum, the data options that change parsing, and the split parameters."""
    data_fields = _fields(data_cfg, ("format", "sep", "ratings_file", "items_file"))
    data_fields["rating_scale"] = [float(v) for v in data_cfg.rating_scale]
    data_fields["columns"] = _fields(data_cfg.columns, ("user", "item", "rating", "timestamp"))
    if not getattr(data_cfg, "header", True):  # only when set: the keys of files with a header stay as they were
        data_fields["header"] = False
    split_fields = _fields(split_cfg, ("method", "ratios", "seed", "temporal_mode", "last_k", "train_file",
                                       "test_file", "valid_file", "valid_ratio"))
    payload = {"version": cache.FORMAT_VERSION, "checksum": checksum, "data": data_fields, "split": split_fields}
    return _hash(payload)[:20]


def _predefined_parts(data_cfg: Any, split_cfg: Any, folder: Path) -> list[pd.DataFrame]:
    """Train, valid and test read from the split files; valid carved from train if not given."""
    train = read_split_file(data_cfg, folder, split_cfg, "train_file")
    test = read_split_file(data_cfg, folder, split_cfg, "test_file")
    if split_cfg.valid_file:
        parts = [train, read_split_file(data_cfg, folder, split_cfg, "valid_file"), test]
    else:
        rng = np.random.default_rng(int(split_cfg.seed))
        labels = splits.carve_valid(rng, len(train), float(split_cfg.valid_ratio))
        parts = [train[labels == splits.TRAIN], train[labels == splits.VALID], test]
    _warn_cold(parts)
    return parts


def _warn_cold(parts: list[pd.DataFrame]) -> None:
    """One warning when validation or test rows of a predefined split have a user or item train lacks: they are
    scored from embeddings no rating trained (a cold-start test, which the random splits never make)."""
    train = parts[0]
    cold = {name: int((~part["user_id"].isin(train["user_id"]) | ~part["item_id"].isin(train["item_id"])).sum())
            for name, part in (("validation", parts[1]), ("test", parts[2]))}
    if any(cold.values()):
        counts = ", ".join(f"{n:,} of {len(part):,} {name}" for (name, n), part in zip(cold.items(), parts[1:]) if n)
        warn(f"split.method=predefined: {counts} ratings are of a user or item that train lacks; they are scored "
             "from untrained embeddings (a cold-start test); drop them from the split files for a warm-start one")


def _encode_ids(columns: list[pd.Series]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted unique ids over all columns, and each column's int32 indices into them.

    Integer ids spanning a compact range are encoded through a presence table (`_dense_codes`, linear
    time); others hash-based (`pd.factorize`), then only the uniques are sorted: far cheaper than
    `np.unique` on 25M ids. Example: columns [[30, 10], [20, 10]] -> ids [10, 20, 30], indices [[2, 0], [1, 0]].
    """
    values = [_id_array(c) for c in columns]
    sizes = [v.size for v in values]
    joined = values[0] if len(values) == 1 else np.concatenate(values)
    dense = _dense_codes(joined) if joined.dtype.kind == "i" else None
    if dense is not None:
        ids, codes = dense
    else:
        codes, uniques = pd.factorize(joined)
        uniques = np.asarray(uniques, dtype=values[0].dtype if values[0].dtype.kind != "U" else str)
        order = np.argsort(uniques, kind="stable")
        rank = np.empty(order.size, np.int32)
        rank[order] = np.arange(order.size, dtype=np.int32)
        ids, codes = uniques[order], rank[codes]
    return ids, list(np.split(codes, np.cumsum(sizes)[:-1]))


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted unique ids and int32 codes via a presence table over [min, max]; None when that range is
    much wider than the data (sparse or huge ids) and hashing is the better choice."""
    if values.size == 0:
        return None
    low, high = int(values.min()), int(values.max())
    if high - low >= max(4 * values.size, 1 << 16):
        return None
    offsets = values - low
    present = np.zeros(high - low + 1, dtype=bool)
    present[offsets] = True
    rank = np.cumsum(present, dtype=np.int32)
    rank -= 1
    return np.flatnonzero(present) + low, np.take(rank, offsets)


def _id_array(column: pd.Series) -> np.ndarray:
    """Ids as an int64 array, or as a fixed-width str array when they are not integers."""
    if pd.api.types.is_integer_dtype(column):
        return column.to_numpy(np.int64)
    return np.asarray(column.astype(str).to_numpy(), dtype=str)


def _items_frame(items: pd.DataFrame | None, item_ids: np.ndarray) -> pd.DataFrame:
    """Row j describes item j: item_id, title, genres (and any further columns of the source)."""
    if items is None:
        items = pd.DataFrame({"item_id": item_ids[:0], "title": [], "genres": []})
    frame = _align(items, "item_id", item_ids)
    frame["title"] = frame["title"].fillna("").astype(str)
    frame["genres"] = [g if isinstance(g, list) else [] for g in frame["genres"]]
    return frame


def _with_tags(items: pd.DataFrame, tags: pd.DataFrame | None, top: int = TOP_TAGS) -> pd.DataFrame:
    """Add a `tags` list column (each item's `top` most used tags, lower-cased) when the dataset has tags."""
    if tags is None or tags.empty:
        return items
    t = pd.DataFrame({"item_id": _id_array(tags["item_id"]), "tag": tags["tag"].astype(str).str.strip().str.lower()})
    counts = t[t["tag"] != ""].groupby(["item_id", "tag"]).size().reset_index(name="n")
    counts = counts.sort_values(["item_id", "n", "tag"], ascending=[True, False, True], kind="stable")
    per_item = counts.groupby("item_id")["tag"].apply(lambda s: list(s[:top]))
    items = items.copy()
    items["tags"] = [per_item.get(i, []) for i in items["item_id"]]
    return items


def _users_frame(users: pd.DataFrame | None, user_ids: np.ndarray) -> pd.DataFrame | None:
    """Row i describes user i, or None when the dataset has no user file."""
    return None if users is None else _align(users, "user_id", user_ids)


def _align(frame: pd.DataFrame, id_col: str, ids: np.ndarray) -> pd.DataFrame:
    """`frame` re-ordered so that row k has id `ids[k]` (missing ids get empty rows)."""
    keyed = frame.drop_duplicates(id_col).copy()
    keyed[id_col] = _id_array(keyed[id_col]) if len(keyed) else keyed[id_col]
    aligned = keyed.set_index(id_col).reindex(ids)
    aligned.index.name = id_col
    return aligned.reset_index()


def _fields(obj: Any, names: tuple[str, ...]) -> dict:
    """Selected attributes as JSON-friendly values (lists for sequences)."""
    out = {}
    for name in names:
        value = getattr(obj, name)
        out[name] = [v for v in value] if not isinstance(value, (str, int, float, type(None))) else value
    return out


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
