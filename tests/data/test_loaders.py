"""Every loader on real files and on the hand-written fixtures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsearch.config.schema import ColumnsConfig, DataConfig
from recsearch.data import dataset_summary, load_interactions

from data_helpers import ml1m_cfg, ml100k_cfg, small_cfg, write_csv


def test_movielens_csv_real_counts(data_dir):
    inter = load_interactions(small_cfg(), data_dir)
    r = inter.ratings
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert len(r) == 100836 and r["user_id"].nunique() == 610 and r["item_id"].nunique() == 9724
    assert len(inter.items) == 9742 and r["rating"].dtype == np.float32 and r["timestamp"].dtype == np.int64
    toy = inter.items.set_index("item_id").loc[1]
    assert toy["title"] == "Toy Story (1995)" and toy["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert inter.tags is not None and len(inter.tags) > 0
    no_genre = inter.items["genres"].map(len) == 0
    assert no_genre.sum() > 0  # "(no genres listed)" became []


def test_a_copy_cut_at_a_line_boundary_is_warned_about(data_dir, tmp_path, capsys, monkeypatch):
    """Cut between two rows, ratings.csv still reads cleanly: its count, against what GroupLens ships
    (data.n_ratings of the packaged config), is what tells; the real file is not warned about."""
    from recsearch.config import compose_config
    from recsearch.data import loaders

    monkeypatch.setattr(loaders, "_WARNED", set())
    cfg = compose_config(["data=ml_latest_small"]).data
    assert cfg.n_ratings == 100836
    load_interactions(cfg, data_dir)
    assert "ratings where" not in capsys.readouterr().err
    copy = tmp_path / "ml-latest-small"
    copy.mkdir()
    (copy / "movies.csv").write_bytes((data_dir / "ml-latest-small" / "movies.csv").read_bytes())
    lines = (data_dir / "ml-latest-small" / "ratings.csv").read_bytes().splitlines(keepends=True)
    (copy / "ratings.csv").write_bytes(b"".join(lines[:49_169]))
    assert len(load_interactions(cfg, tmp_path).ratings) == 49_168
    assert (f"{copy / 'ratings.csv'}: 49,168 ratings where ml-latest-small ships 100,836 (a truncated or edited copy?"
            in capsys.readouterr().err)


def test_summary_of_real_data(data_dir):
    summary = dataset_summary(load_interactions(small_cfg(), data_dir))
    assert summary["n_ratings"] == 100836 and summary["n_users"] == 610 and summary["n_items"] == 9724
    assert summary["rating_histogram"]["4"] == 26818 and sum(summary["rating_histogram"].values()) == 100836
    assert summary["has_genres"] and summary["has_tags"] and not summary["has_demographics"]
    assert summary["time_range"][0].startswith("1996")


@pytest.mark.parametrize("scale", [1, 1000, 10**6, 10**9])
def test_the_time_range_reads_seconds_to_nanoseconds(scale):
    """Milliseconds (`964982703000`) or a Parquet datetime column (nanoseconds) used to crash `data info`."""
    from recsearch.data.summary import time_range

    assert time_range(np.array([0, 964982703, 1537799250], np.int64) * scale) == ("2000-07-30", "2018-09-24")


@pytest.mark.parametrize("crlf", [False, True])
def test_movielens_csv_line_endings(tmp_path, crlf):
    folder = tmp_path / "ml-tiny"
    write_csv(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,10,4.5,100\n2,10,3.0,200\n2,20,0.5,300\n", crlf)
    write_csv(folder / "movies.csv", 'movieId,title,genres\n10,"Tiny, The (2000)",Drama|Comedy\n20,Other (2001),(no genres listed)\n', crlf)
    inter = load_interactions(DataConfig(name="ml-tiny", format="movielens_csv"), tmp_path)
    assert inter.ratings["rating"].tolist() == [4.5, 3.0, 0.5]
    assert inter.ratings["timestamp"].tolist() == [100, 200, 300]
    assert inter.items["title"].tolist() == ["Tiny, The (2000)", "Other (2001)"]
    assert inter.items["genres"].tolist() == [["Drama", "Comedy"], []]
    assert inter.tags is None


def test_movielens_100k_fixture(fixtures_dir):
    inter = load_interactions(ml100k_cfg(), fixtures_dir)
    assert len(inter.ratings) == 30 and inter.ratings["user_id"].nunique() == 6
    items = inter.items.set_index("item_id")
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[8, "title"] == "Café au lait (1994)" and items.loc[8, "genres"] == ["unknown"]
    assert inter.users["occupation"].tolist()[0] == "technician" and inter.users["age"].dtype == np.int64
    assert dataset_summary(inter)["has_demographics"]


def test_movielens_100k_without_genre_file(tmp_path, fixtures_dir):
    folder = tmp_path / "ml-100k-mini"
    folder.mkdir()
    for name in ("u.data", "u.item"):
        (folder / name).write_bytes((fixtures_dir / "ml-100k-mini" / name).read_bytes())
    inter = load_interactions(ml100k_cfg(), tmp_path)
    assert inter.items.set_index("item_id").loc[2, "genres"] == ["Action", "Adventure", "Thriller"]
    assert inter.users is None


def test_movielens_dat_fixture(fixtures_dir):
    inter = load_interactions(ml1m_cfg(), fixtures_dir)
    assert len(inter.ratings) == 30 and inter.ratings["rating"].between(1, 5).all()
    items = inter.items.set_index("item_id")
    assert items.loc[4, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert items.loc[4, "genres"] == ["Action", "Adventure", "Fantasy", "Sci-Fi"]
    assert items.loc[8, "title"].startswith("Amélie")
    assert inter.users["gender"].tolist()[:2] == ["F", "M"] and inter.users["zip"].tolist()[3] == "02460"


@pytest.mark.parametrize("crlf", [False, True])
def test_generic_csv_with_string_ids(tmp_path, crlf):
    write_csv(tmp_path / "events.tsv", "who\twhat\twhen\nalice\tx1\t5\nbob\tx1\t6\nalice\tx2\t7\n", crlf)
    columns = ColumnsConfig(user="who", item="what", rating=None, timestamp="when")
    cfg = DataConfig(name="events", format="interactions", path=str(tmp_path), ratings_file="events.tsv",
                     columns=columns, rating_scale=[0.0, 1.0])
    r = load_interactions(cfg, tmp_path).ratings
    assert r["user_id"].tolist() == ["alice", "bob", "alice"] and r["rating"].tolist() == [1.0, 1.0, 1.0]
    assert r["timestamp"].tolist() == [5, 6, 7]


def test_generic_parquet_with_items(tmp_path):
    pd.DataFrame({"u": [1, 2, 2], "i": [7, 7, 9], "r": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "r.parquet")
    pd.DataFrame({"i": [7, 9], "title": ["Seven", "Nine"], "genres": ["A|B", ""]}).to_parquet(tmp_path / "items.parquet")
    columns = ColumnsConfig(user="u", item="i", rating="r", timestamp=None)
    cfg = DataConfig(name="pq", format="interactions", path=str(tmp_path / "r.parquet"),
                     items_file="items.parquet", columns=columns, rating_scale=[1.0, 5.0])
    inter = load_interactions(cfg, tmp_path)
    assert inter.ratings["rating"].tolist() == [1.0, 2.0, 3.0] and inter.ratings["timestamp"].tolist() == [0, 0, 0]
    assert inter.items["genres"].tolist() == [["A", "B"], []]
