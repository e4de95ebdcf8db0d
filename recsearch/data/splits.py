"""Vectorised train / validation / test splits; each returns a part label per interaction (0, 1, 2)."""

from __future__ import annotations

from typing import Any

import numpy as np

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
    per_user_temporal = split_cfg.method == "temporal" and split_cfg.temporal_mode == "per_user"
    if split_cfg.method == "leave_one_out" or per_user_temporal:
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
    if method == "leave_one_out":
        return last_k_split(rng, users, timestamps, 1)
    if timestamps.size and (timestamps == timestamps[0]).all():  # no time to order by: it would be a random split
        raise DataError("split.method=temporal orders ratings by time, but every rating has the same timestamp (a "
                        "file without one, data.columns.timestamp=null); name the timestamp column, or use "
                        "split=random or split=per_user")
    if split_cfg.temporal_mode == "per_user":
        return last_k_split(rng, users, timestamps, int(split_cfg.last_k))
    return global_temporal_split(rng, timestamps, ratios_of(split_cfg))


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
