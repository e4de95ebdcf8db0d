"""The paths that make 25M ratings cheap: hash-based id encoding, duplicate pairs, memory-mapped cache."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from recsearch.data import prepare_data
from recsearch.data.prepare import _encode_ids, latest_of_each_pair

from data_helpers import split_cfg, synthetic_cfg


def test_encode_ids_sorted_over_all_columns():
    ids, (a, b) = _encode_ids([pd.Series([30, 10, 30]), pd.Series([20, 10])])
    np.testing.assert_array_equal(ids, [10, 20, 30])
    np.testing.assert_array_equal(a, [2, 0, 2]) and np.testing.assert_array_equal(b, [1, 0])
    assert a.dtype == np.int32
    ids, (c,) = _encode_ids([pd.Series(["u10", "u2", "u10"])])
    assert ids.dtype.kind == "U" and list(ids) == ["u10", "u2"] and list(c) == [0, 1, 0]


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
