"""Id encoding, the items/users frames, and the prepared-data cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recsearch.data import load_interactions, prepare_data
from recsearch.data import prepare as prepare_module

from data_helpers import ml1m_cfg, small_cfg, split_cfg, synthetic_cfg

CONF = Path(__file__).parents[2] / "recsearch" / "conf"  # the packaged config groups


def test_id_encoding_round_trip(data_dir):
    raw = load_interactions(small_cfg(), data_dir).ratings
    data = prepare_data(small_cfg(), split_cfg(), data_dir=data_dir, cache_dir=None)
    assert data.num_users == 610 and data.num_items == 9724
    assert np.all(np.diff(data.user_ids) > 0) and np.all(np.diff(data.item_ids) > 0)
    parts = [data.train, data.valid, data.test]
    decoded = pd.DataFrame({
        "user_id": np.concatenate([data.user_ids[p.users] for p in parts]),
        "item_id": np.concatenate([data.item_ids[p.items] for p in parts]),
        "rating": np.concatenate([p.ratings for p in parts]),
        "timestamp": np.concatenate([p.timestamps for p in parts]),
    })
    key = ["user_id", "item_id"]
    merged = decoded.merge(raw, on=key, suffixes=("", "_raw"), validate="one_to_one")
    assert len(merged) == len(raw)
    assert np.array_equal(merged["rating"], merged["rating_raw"]) and np.array_equal(merged["timestamp"], merged["timestamp_raw"])


def test_items_frame_indexed_by_item_index(data_dir):
    data = prepare_data(small_cfg(), split_cfg(), data_dir=data_dir, cache_dir=None)
    assert len(data.items) == data.num_items and np.array_equal(data.items["item_id"], data.item_ids)
    toy = int(np.searchsorted(data.item_ids, 1))
    assert data.items.loc[toy, "title"] == "Toy Story (1995)" and "Comedy" in data.items.loc[toy, "genres"]
    assert data.users is None


def test_users_frame_follows_user_index(fixtures_dir):
    data = prepare_data(ml1m_cfg(), split_cfg(), data_dir=fixtures_dir, cache_dir=None)
    assert np.array_equal(data.users["user_id"], data.user_ids)
    assert data.users.loc[0, "gender"] == "F" and data.users.loc[1, "zip"] == "70072"


def test_cache_hit_is_identical_and_skips_loading(data_dir, tmp_path, monkeypatch):
    cold = prepare_data(small_cfg(), split_cfg("per_user"), data_dir=data_dir, cache_dir=tmp_path)
    assert (tmp_path / "ml-latest-small" / cold.split_key / "meta.json").is_file()

    def fail(*args, **kwargs):
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(prepare_module, "load_interactions", fail)
    warm = prepare_data(small_cfg(), split_cfg("per_user"), data_dir=data_dir, cache_dir=tmp_path)
    for part in ("train", "valid", "test"):
        for field in ("users", "items", "ratings", "timestamps"):
            a, b = getattr(getattr(cold, part), field), getattr(getattr(warm, part), field)
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert np.array_equal(cold.user_ids, warm.user_ids) and np.array_equal(cold.item_ids, warm.item_ids)
    pd.testing.assert_frame_equal(cold.items, warm.items)
    assert (cold.checksum, cold.split_key, cold.rating_scale) == (warm.checksum, warm.split_key, warm.rating_scale)
    assert not [p for p in (tmp_path / "ml-latest-small").iterdir() if p.name.startswith(".")]


def test_a_cached_split_says_the_warnings_preparing_it_said(tmp_path, capsys, monkeypatch):
    """A leave-one-out split of a file without timestamps warned only when it was first prepared."""
    from recsearch.config.schema import ColumnsConfig, DataConfig
    from recsearch.data import loaders

    from data_helpers import write_csv

    write_csv(tmp_path / "r.csv", "u,i\n" + "".join(f"{k % 7},{k % 5}\n" for k in range(35)))
    cfg = DataConfig(name="custom", format="interactions", path=str(tmp_path / "r.csv"),
                     columns=ColumnsConfig(user="u", item="i", rating=None, timestamp=None))
    said = []
    for _ in range(2):  # cold, then from the cache, each as a new process would (nothing said yet)
        monkeypatch.setattr(loaders, "_WARNED", set())
        prepare_data(cfg, split_cfg("leave_one_out"), data_dir=tmp_path, cache_dir=tmp_path / "cache")
        said.append([line for line in capsys.readouterr().err.splitlines() if "leave_one_out" in line])
    assert len(said[0]) == 1 and said[1] == said[0]


def test_cache_key_changes_with_split_and_data(tmp_path, fixtures_dir):
    import shutil

    folder = tmp_path / "data"
    shutil.copytree(fixtures_dir / "ml-1m-mini", folder / "ml-1m-mini")
    first = prepare_data(ml1m_cfg(), split_cfg(seed=1), data_dir=folder, cache_dir=tmp_path / "c")
    other_seed = prepare_data(ml1m_cfg(), split_cfg(seed=2), data_dir=folder, cache_dir=tmp_path / "c")
    assert first.checksum == other_seed.checksum and first.split_key != other_seed.split_key
    with open(folder / "ml-1m-mini" / "ratings.dat", "a") as fh:
        fh.write("7::8::5::978300000\n")  # a new user
    changed = prepare_data(ml1m_cfg(), split_cfg(seed=1), data_dir=folder, cache_dir=tmp_path / "c")
    assert changed.checksum != first.checksum and len(changed.train) + len(changed.valid) + len(changed.test) == 31


def test_users_frame_survives_cache(fixtures_dir, tmp_path):
    cold = prepare_data(ml1m_cfg(), split_cfg(), data_dir=fixtures_dir, cache_dir=tmp_path)
    warm = prepare_data(ml1m_cfg(), split_cfg(), data_dir=fixtures_dir, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(cold.users, warm.users)
    pd.testing.assert_frame_equal(cold.items, warm.items)


def test_synthetic_prepared_and_cached(tmp_path):
    cold = prepare_data(synthetic_cfg(), split_cfg(), data_dir=tmp_path, cache_dir=tmp_path)
    warm = prepare_data(synthetic_cfg(), split_cfg(), data_dir=tmp_path, cache_dir=tmp_path)
    assert len(cold.train) == 3200 and cold.split_key == warm.split_key
    assert np.array_equal(cold.test.ratings, warm.test.ratings)
    changed = prepare_data(synthetic_cfg(seed=5), split_cfg(), data_dir=tmp_path, cache_dir=tmp_path)
    assert changed.checksum != cold.checksum


def test_duplicate_pairs_keep_latest(tmp_path):
    from data_helpers import write_csv
    from recsearch.config.schema import DataConfig

    write_csv(tmp_path / "d" / "ratings.csv", "userId,movieId,rating,timestamp\n1,1,2,5\n1,1,4,9\n2,1,3,1\n")
    write_csv(tmp_path / "d" / "movies.csv", "movieId,title,genres\n1,a,A\n")
    data = prepare_data(DataConfig(name="d", format="movielens_csv"), split_cfg(ratios=[1.0, 0.0, 0.0]), data_dir=tmp_path, cache_dir=None)
    assert len(data.train) == 2 and sorted(data.train.ratings.tolist()) == [3.0, 4.0]


def test_accepts_omegaconf_configs(fixtures_dir, tmp_path):
    from omegaconf import OmegaConf

    from recsearch.config.schema import DataConfig, SplitConfig

    data_cfg = OmegaConf.merge(OmegaConf.structured(DataConfig), OmegaConf.load(CONF / "data" / "ml_100k.yaml"))
    data_cfg.name = "ml-100k-mini"
    split = OmegaConf.merge(OmegaConf.structured(SplitConfig), OmegaConf.load(CONF / "split" / "predefined.yaml"))
    cold = prepare_data(data_cfg, split, data_dir=fixtures_dir, cache_dir=tmp_path)
    warm = prepare_data(data_cfg, split, data_dir=fixtures_dir, cache_dir=tmp_path)
    assert len(cold.test) == 6 and cold.split_key == warm.split_key
