"""The paths that make 25M ratings cheap: dense / hash-based id encoding, duplicate pairs, cutting parts, memory-mapped cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from recsearch.data import prepare_data
from recsearch.data.prepare import _encode_ids, cut_by_label, latest_of_each_pair
from recsearch.data.splits import TEST, TRAIN, VALID

from data_helpers import split_cfg, synthetic_cfg


def test_encode_ids_sorted_over_all_columns():
    ids, (a, b) = _encode_ids([pd.Series([30, 10, 30]), pd.Series([20, 10])])
    np.testing.assert_array_equal(ids, [10, 20, 30])
    np.testing.assert_array_equal(a, [2, 0, 2]) and np.testing.assert_array_equal(b, [1, 0])
    assert a.dtype == np.int32
    ids, (c,) = _encode_ids([pd.Series(["u10", "u2", "u10"])])
    assert ids.dtype.kind == "U" and list(ids) == ["u10", "u2"] and list(c) == [0, 1, 0]


def test_dense_and_hashed_encodings_agree():
    """Compact integer ids take the presence-table path, sparse ones the hashing path: same result."""
    rng = np.random.default_rng(0)
    compact = rng.integers(5, 500, 2000)
    sparse = compact * 10**12  # far wider than the data: hashed
    ids_c, (codes_c,) = _encode_ids([pd.Series(compact)])
    ids_s, (codes_s,) = _encode_ids([pd.Series(sparse)])
    np.testing.assert_array_equal(ids_c, np.unique(compact))
    np.testing.assert_array_equal(ids_s, np.unique(sparse))
    np.testing.assert_array_equal(codes_c, codes_s)
    assert codes_c.dtype == codes_s.dtype == np.int32 and ids_c.dtype == np.int64
    ids, (a, b) = _encode_ids([pd.Series([-3, 7]), pd.Series([7, 0])])
    np.testing.assert_array_equal(ids, [-3, 0, 7]) and np.testing.assert_array_equal(b, [2, 1])


def test_cut_by_label_keeps_order_within_parts():
    labels = np.array([TEST, TRAIN, VALID, TRAIN, TEST, TRAIN], dtype=np.int8)
    values = np.arange(6) * 10
    train, valid, test = cut_by_label([values, values + 1, values.astype(np.float32), values + 2], labels)
    np.testing.assert_array_equal(train.users, [10, 30, 50])
    np.testing.assert_array_equal(valid.users, [20]) and np.testing.assert_array_equal(test.users, [0, 40])
    np.testing.assert_array_equal(test.timestamps, [2, 42])
    assert test.ratings.dtype == np.float32 and len(train) == 3
    empty = cut_by_label([values] * 4, np.zeros(6, dtype=np.int8))
    assert [len(part.users) for part in empty] == [6, 0, 0]


def test_latest_of_each_pair_on_equal_timestamps_keeps_the_later_row():
    users, items = np.array([0, 0, 1, 0]), np.array([1, 1, 1, 1])
    keep = latest_of_each_pair(users, items, np.array([5, 9, 1, 9]), 2)
    np.testing.assert_array_equal(keep, [False, False, True, True])
    assert latest_of_each_pair(np.array([0, 1]), np.array([1, 1]), np.array([0, 0]), 2) is None


def test_cached_arrays_are_memory_mapped_and_load_in_a_new_process(tmp_path):
    cold = prepare_data(synthetic_cfg(), split_cfg(), data_dir=tmp_path, cache_dir=tmp_path)
    warm = prepare_data(synthetic_cfg(), split_cfg(), data_dir=tmp_path, cache_dir=tmp_path)
    for part in ("train", "valid", "test"):
        array = getattr(warm, part).users
        assert isinstance(array.base, np.memmap) and not array.flags.writeable
        assert type(array) is np.ndarray and np.array_equal(array, getattr(cold, part).users)
    folder = tmp_path / "synthetic" / warm.split_key
    assert sorted(p.name for p in folder.glob("*.npy"))[:3] == ["item_ids.npy", "test_items.npy", "test_ratings.npy"]
    code = ("import sys, numpy as np; from recsearch.data.cache import load_prepared; from pathlib import Path;"
            "d = load_prepared(Path(sys.argv[1])); print(len(d.train), float(d.train.ratings.sum()))")
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True,
                         cwd=tmp_path).stdout.split()
    assert int(out[0]) == len(cold.train) and float(out[1]) == float(cold.train.ratings.sum())
