"""Split invariants for every method, on real ml-latest-small and on the fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.data import load_interactions, prepare_data

from data_helpers import ml100k_cfg, small_cfg, split_cfg

ALL_METHODS = [
    ("random", {}),
    ("per_user", {}),
    ("temporal", {}),
    ("temporal", {"temporal_mode": "per_user", "last_k": 2}),
    ("leave_one_out", {}),
]


def _pairs(part) -> set:
    return set(zip(part.users.tolist(), part.items.tolist()))


def _prepare(cfg, split, data_dir):
    return prepare_data(cfg, split, data_dir=data_dir, cache_dir=None)


@pytest.fixture(scope="module")
def prepared(data_dir):
    return {f"{m}-{i}": _prepare(small_cfg(), split_cfg(m, **kw), data_dir) for i, (m, kw) in enumerate(ALL_METHODS)}


@pytest.mark.parametrize("index", range(len(ALL_METHODS)))
def test_parts_disjoint_and_complete(prepared, index):
    method, _ = ALL_METHODS[index]
    data = prepared[f"{method}-{index}"]
    parts = (data.train, data.valid, data.test)
    assert sum(len(p) for p in parts) == 100836
    train, valid, test = (_pairs(p) for p in parts)
    assert len(train | valid | test) == 100836
    assert not (train & valid) and not (train & test) and not (valid & test)
    for p in parts:
        assert p.users.dtype == np.int32 and p.items.dtype == np.int32 and p.ratings.dtype == np.float32
        assert p.users.max() < data.num_users and p.items.max() < data.num_items


def test_random_ratios(prepared):
    data = prepared["random-0"]
    assert (len(data.train), len(data.valid), len(data.test)) == (80669, 10083, 10084)


def test_per_user_keeps_every_user_in_train(prepared):
    data = prepared["per_user-1"]
    assert len(np.unique(data.train.users)) == data.num_users
    counts = np.bincount(data.test.users, minlength=data.num_users)
    assert counts.max() > 1 and len(np.unique(data.test.users)) > 0.9 * data.num_users


def test_global_temporal_is_ordered(prepared):
    data = prepared["temporal-2"]
    assert data.train.timestamps.max() <= data.valid.timestamps.min()
    assert data.valid.timestamps.max() <= data.test.timestamps.min()


def test_per_user_temporal_last_k(prepared):
    data = prepared["temporal-3"]
    assert np.all(np.bincount(data.test.users, minlength=data.num_users) == 2)
    assert np.all(np.bincount(data.valid.users, minlength=data.num_users) == 2)


def test_leave_one_out_holds_latest(prepared):
    data = prepared["leave_one_out-4"]
    assert len(data.test) == len(data.valid) == data.num_users  # every user has >= 20 ratings
    latest_train = np.zeros(data.num_users, dtype=np.int64)
    np.maximum.at(latest_train, data.train.users, data.train.timestamps)
    test_time = np.zeros(data.num_users, dtype=np.int64)
    test_time[data.test.users] = data.test.timestamps
    valid_time = np.zeros(data.num_users, dtype=np.int64)
    valid_time[data.valid.users] = data.valid.timestamps
    assert np.all(test_time >= valid_time) and np.all(valid_time >= latest_train)


@pytest.mark.parametrize("method", ["random", "per_user", "temporal"])
def test_seed_reproducible_and_sensitive(data_dir, method):
    a = _prepare(small_cfg(), split_cfg(method, seed=1), data_dir)
    b = _prepare(small_cfg(), split_cfg(method, seed=1), data_dir)
    c = _prepare(small_cfg(), split_cfg(method, seed=2), data_dir)
    assert np.array_equal(a.test.users, b.test.users) and np.array_equal(a.test.items, b.test.items)
    if method != "temporal":  # temporal only uses the seed to break timestamp ties
        assert _pairs(a.test) != _pairs(c.test)


def test_leave_one_out_short_users_stay_in_train(fixtures_dir, tmp_path):
    from data_helpers import write_csv
    from recsearch.config.schema import DataConfig

    write_csv(tmp_path / "t" / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,4,2\n2,1,3,1\n2,2,3,2\n2,3,3,3\n")
    write_csv(tmp_path / "t" / "movies.csv", "movieId,title,genres\n1,a,A\n")
    data = _prepare(DataConfig(name="t", format="movielens_csv"), split_cfg("leave_one_out"), tmp_path)
    assert len(data.train) == 3 and len(data.valid) == 1 and len(data.test) == 1
    assert data.user_ids[data.test.users[0]] == 2 and data.item_ids[data.test.items[0]] == 3


def test_predefined_ml100k(fixtures_dir):
    split = split_cfg("predefined", train_file="u1.base", test_file="u1.test", valid_ratio=0.25)
    data = _prepare(ml100k_cfg(), split, fixtures_dir)
    assert len(data.test) == 6 and len(data.train) + len(data.valid) == 24 and len(data.valid) == 6
    raw_test = load_interactions(ml100k_cfg(), fixtures_dir).ratings.iloc[::5]
    got = set(zip(data.user_ids[data.test.users].tolist(), data.item_ids[data.test.items].tolist()))
    assert got == set(zip(raw_test["user_id"], raw_test["item_id"]))
    assert data.users is not None and len(data.users) == data.num_users


def test_predefined_with_valid_file(fixtures_dir):
    split = split_cfg("predefined", train_file="u1.base", test_file="u1.test", valid_file="u1.test")
    data = _prepare(ml100k_cfg(), split, fixtures_dir)
    assert len(data.train) == 24 and len(data.valid) == 6 and len(data.test) == 6


@pytest.mark.parametrize("timestamp", [None, "when"])
def test_leave_one_out_without_time_warns_that_it_holds_out_a_random_rating(tmp_path, capsys, timestamp):
    """The latest rating is undefined without timestamps (all equal): one warning line, then a random one per user."""
    from data_helpers import write_csv
    from recsearch.config.schema import ColumnsConfig, DataConfig

    rows = "".join(f"{u},{i},3,7\n" for u in range(1, 6) for i in range(1, 5))
    write_csv(tmp_path / "r.csv", "who,what,score,when\n" + rows)
    cfg = DataConfig(name="shop", format="interactions", path=str(tmp_path / "r.csv"), rating_scale=[1.0, 5.0],
                     columns=ColumnsConfig(user="who", item="what", rating="score", timestamp=timestamp))
    data = _prepare(cfg, split_cfg("leave_one_out"), tmp_path)
    assert len(data.test) == len(data.valid) == 5
    warnings = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(warnings) == 1 and warnings[0].startswith("recsearch: warning: split.method=leave_one_out holds out "
                                                         "each user's latest rating, but every rating has the same "
                                                         "timestamp"), warnings


def test_leave_one_out_with_time_does_not_warn(tmp_path, capsys):
    from data_helpers import write_csv
    from recsearch.config.schema import DataConfig

    rows = "".join(f"{u},{i},3,{i}\n" for u in range(1, 6) for i in range(1, 5))
    write_csv(tmp_path / "r.csv", "userId,movieId,rating,timestamp\n" + rows)
    cfg = DataConfig(name="shop", format="interactions", path=str(tmp_path / "r.csv"), rating_scale=[1.0, 5.0])
    data = _prepare(cfg, split_cfg("leave_one_out"), tmp_path)
    assert set(data.item_ids[data.test.items].tolist()) == {4} and not capsys.readouterr().err
