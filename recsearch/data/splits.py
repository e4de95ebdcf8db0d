"""Vectorised train / validation / test splits; each returns a part label per interaction (0, 1, 2)."""

from __future__ import annotations

from typing import Any

import numpy as np

from recsearch.data.loaders import warn
from recsearch.errors import DataError

METHODS = ("random", "per_user", "temporal", "leave_one_out", "predefined")
TEMPORAL_MODES = ("global", "per_user")
TRAIN, VALID, TEST = 0, 1, 2


def check_split_config(split_cfg: Any) -> None:
    """Raise a DataError for an unknown method or mode, or ratios that are not a distribution."""
    if split_cfg.method not in METHODS:
        raise DataError(f"unknown split method {split_cfg.method!r}; valid methods: {', '.join(METHODS)}")
    if split_cfg.method == "temporal" and split_cfg.temporal_mode not in TEMPORAL_MODES:
        raise DataError(f"unknown split.temporal_mode {split_cfg.temporal_mode!r}; valid modes: {', '.join(TEMPORAL_MODES)}")
    if split_cfg.method == "predefined":
        if not split_cfg.train_file or not split_cfg.test_file:
            raise DataError("split.method=predefined needs split.train_file and split.test_file")
        if not 0.0 <= float(split_cfg.valid_ratio) < 1.0:
            raise DataError(f"split.valid_ratio must be in [0, 1), got {split_cfg.valid_ratio}")
        return
    if _holds_out_last(split_cfg):
        if int(split_cfg.last_k) < 1:
            raise DataError(f"split.last_k must be at least 1, got {split_cfg.last_k}")
    else:
        ratios_of(split_cfg)


def ratios_of(split_cfg: Any) -> tuple[float, float, float]:
    """`split.ratios` as (train, valid, test), checked to be non-negative and to sum to 1."""
    ratios = [float(r) for r in split_cfg.ratios]
    if len(ratios) != 3:
        raise DataError(f"split.ratios must have 3 values (train, valid, test), got {ratios}")
    if min(ratios) < 0 or ratios[0] <= 0:
        raise DataError(f"split.ratios must be non-negative with a positive train share, got {ratios}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise DataError(f"split.ratios must sum to 1, got {ratios} (sum {sum(ratios):g})")
    return ratios[0], ratios[1], ratios[2]


def split_labels(split_cfg: Any, users: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """Assign each interaction to train (0), valid (1) or test (2) per `split_cfg` (not predefined)."""
    rng = np.random.default_rng(int(split_cfg.seed))
    method = split_cfg.method
    if method == "random":
        return random_split(rng, users.size, ratios_of(split_cfg))
    if method == "per_user":
        return per_user_split(rng, users, ratios_of(split_cfg))
    untimed = timestamps.size > 0 and bool((timestamps == timestamps[0]).all())  # a file without (real) timestamps
    if method == "leave_one_out":
        if untimed:  # a random hold-out per user is a protocol of its own (not so a random "temporal" split): say so
            warn("split.method=leave_one_out holds out each user's latest rating, but every rating has the same "
                 "timestamp (a file without one, data.columns.timestamp=null): a random rating of each user is "
                 "held out instead; name the timestamp column for the latest")
        return last_k_split(rng, users, timestamps, 1)
    if untimed:  # no time to order by: it would be a random split
        raise DataError("split.method=temporal orders ratings by time, but every rating has the same timestamp (a "
                        "file without one, data.columns.timestamp=null); name the timestamp column, or use "
                        "split=random or split=per_user")
    if split_cfg.temporal_mode == "per_user":
        return last_k_split(rng, users, timestamps, int(split_cfg.last_k))
    return global_temporal_split(rng, timestamps, ratios_of(split_cfg))


def require_splittable(name: str, n_ratings: int, part_sizes: tuple[int, int, int], split_cfg: Any,
                       users: np.ndarray | None = None) -> None:
    """Refuse a split that leaves train, or a part the split config gives a positive share, empty.

    Without this a tiny dataset trains on nothing and reports nan with exit code 0. A per-user split (with the
    parts' user indices `users`) fails on many ratings too, when no user has enough: that is what it says then.
    """
    if all(size > 0 for size, needed in zip(part_sizes, _needed_parts(split_cfg)) if needed):
        return
    if users is not None and users.size and _per_user(split_cfg):
        counts = np.bincount(users)
        counts = counts[counts > 0]
        raise DataError(f"dataset {name!r} cannot be split per user: {_per_user_rule(split_cfg)}, so it needs at "
                        f"least {min_ratings(split_cfg)} ratings per user, and no user has as many ({counts.size:,} "
                        f"users, at most {int(counts.max()):,} ratings each); use split=random, which splits all "
                        f"{n_ratings:,} ratings at once")
    raise DataError(f"dataset {name!r} is too small to split: {n_ratings} ratings, need at least "
                    f"{min_ratings(split_cfg)} for split.method={split_cfg.method} (train {part_sizes[0]}, "
                    f"validation {part_sizes[1]}, test {part_sizes[2]}); use a larger ratings file")


def min_ratings(split_cfg: Any) -> int:
    """The fewest ratings a split can turn into non-empty parts (per user, for the per-user methods)."""
    method = str(split_cfg.method)
    if method == "leave_one_out":
        return 3
    if method == "temporal" and str(split_cfg.temporal_mode) == "per_user":
        return 2 * int(split_cfg.last_k) + 1
    if method == "predefined":
        return 2
    ratios = [float(r) for r in split_cfg.ratios]
    for n in range(1, 100_000):
        a, b = round(n * ratios[0]), round(n * (ratios[0] + ratios[1]))
        if method == "per_user":  # as `per_user_split`: every user keeps one in train
            a = max(a, 1)
            b = max(b, a)
        if a >= 1 and (b - a >= 1 or ratios[1] <= 0) and (n - b >= 1 or ratios[2] <= 0):
            return n
    return 100_000


def _needed_parts(split_cfg: Any) -> tuple[bool, bool, bool]:
    """Which of train, validation, test must be non-empty under `split_cfg`."""
    method = str(split_cfg.method)
    if method == "predefined":
        return True, bool(split_cfg.valid_file) or float(split_cfg.valid_ratio) > 0, True
    if _holds_out_last(split_cfg):
        return True, True, True
    ratios = [float(r) for r in split_cfg.ratios]
    return True, len(ratios) == 3 and ratios[1] > 0, len(ratios) == 3 and ratios[2] > 0


def _holds_out_last(split_cfg: Any) -> bool:
    """leave_one_out and per-user temporal: each user's last ratings to test, those before to validation."""
    return split_cfg.method == "leave_one_out" or (split_cfg.method == "temporal" and
                                                   split_cfg.temporal_mode == "per_user")


def _per_user(split_cfg: Any) -> bool:
    """Whether the split cuts each user's ratings (so its parts need enough ratings per user)."""
    return split_cfg.method == "per_user" or _holds_out_last(split_cfg)


def _per_user_rule(split_cfg: Any) -> str:
    """What a per-user split does with each user's ratings, for the error when no user has enough."""
    if split_cfg.method == "per_user":
        return f"split.method=per_user cuts each user's ratings at split.ratios {[float(r) for r in split_cfg.ratios]}"
    if split_cfg.method == "leave_one_out":
        return ("split.method=leave_one_out holds out each user's latest rating for test and the one before for "
                "validation")
    k = int(split_cfg.last_k)
    return (f"split.method=temporal with temporal_mode=per_user holds out each user's last {k} rating(s) for test "
            f"and the {k} before for validation")


def random_split(rng: np.random.Generator, n: int, ratios: tuple[float, float, float]) -> np.ndarray:
    """Shuffle all interactions and cut at the ratios."""
    return _cut(rng.permutation(n), n, ratios)


def global_temporal_split(rng: np.random.Generator, timestamps: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    """Oldest interactions to train, newest to test (ties broken at random)."""
    order = np.lexsort((rng.random(timestamps.size), timestamps))
    return _cut(order, timestamps.size, ratios)


def per_user_split(rng: np.random.Generator, users: np.ndarray, ratios: tuple[float, float, float]) -> np.ndarray:
    """Shuffle each user's interactions and cut them at the ratios; every user keeps ≥ 1 in train."""
    order = np.lexsort((rng.random(users.size), users))
    rank, count = _rank_in_group(users[order])
    train_end = np.maximum(np.rint(count * ratios[0]), 1)
    valid_end = np.maximum(np.rint(count * (ratios[0] + ratios[1])), train_end)
    labels = np.empty(users.size, dtype=np.int8)
    labels[order] = np.where(rank < train_end, TRAIN, np.where(rank < valid_end, VALID, TEST))
    return labels


def last_k_split(rng: np.random.Generator, users: np.ndarray, timestamps: np.ndarray, k: int) -> np.ndarray:
    """Each user's last k interactions to test, the k before to valid; users with < 2k+1 stay in train."""
    order = np.lexsort((rng.random(users.size), timestamps, users))
    rank, count = _rank_in_group(users[order])
    from_end = count - 1 - rank
    eligible = count >= 2 * k + 1
    part = np.where(from_end < k, TEST, np.where(from_end < 2 * k, VALID, TRAIN))
    labels = np.empty(users.size, dtype=np.int8)
    labels[order] = np.where(eligible, part, TRAIN)
    return labels


def carve_valid(rng: np.random.Generator, n: int, valid_ratio: float) -> np.ndarray:
    """Labels for a predefined train file: a random `valid_ratio` share becomes validation."""
    return random_split(rng, n, (1.0 - valid_ratio, valid_ratio, 0.0))


def _cut(order: np.ndarray, n: int, ratios: tuple[float, float, float]) -> np.ndarray:
    """Label positions order[:a] train, order[a:b] valid, the rest test."""
    a = int(round(n * ratios[0]))
    b = int(round(n * (ratios[0] + ratios[1])))
    labels = np.full(n, TEST, dtype=np.int8)
    labels[order[:a]] = TRAIN
    labels[order[a:b]] = VALID
    return labels


def _rank_in_group(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each element within its run of equal keys, and that run's length."""
    n = sorted_keys.size
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]) if n else np.empty(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    run_start = np.repeat(starts, lengths)
    return np.arange(n) - run_start, np.repeat(lengths, lengths)
