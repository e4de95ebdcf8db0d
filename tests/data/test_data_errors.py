"""Every bad input gives a one-line DataError that says what is wrong and where."""

from __future__ import annotations

import pandas as pd
import pytest

from recsearch.config.schema import ColumnsConfig, DataConfig
from recsearch.data import load_interactions, prepare_data
from recsearch.errors import DataError

from data_helpers import load_error, split_cfg, synthetic_cfg, write_csv

HEADER = "userId,movieId,rating,timestamp\n"
MOVIES = "movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Comedy\n"


def _folder(tmp_path, ratings: str, movies: str = MOVIES, crlf: bool = False):
    write_csv(tmp_path / "ml-bad" / "ratings.csv", ratings, crlf)
    write_csv(tmp_path / "ml-bad" / "movies.csv", movies, crlf)
    return DataConfig(name="ml-bad", format="movielens_csv")


@pytest.mark.parametrize("crlf", [False, True])
def test_non_numeric_rating_names_line_and_column(tmp_path, crlf):
    cfg = _folder(tmp_path, HEADER + "1,1,4.0,10\n1,2,3.5,11\n2,1,good,12\n", crlf=crlf)
    message = load_error(cfg, tmp_path)
    assert "ratings.csv" in message and "line 4" in message and "'rating'" in message and "'good'" in message


def test_empty_rating_value(tmp_path):
    message = load_error(_folder(tmp_path, HEADER + "1,1,4.0,10\n1,2,,11\n"), tmp_path)
    assert "line 3" in message and "'rating'" in message


def test_missing_column(tmp_path):
    message = load_error(_folder(tmp_path, "userId,movieId,timestamp\n1,1,10\n"), tmp_path)
    assert "missing column 'rating'" in message and "ratings.csv" in message


def test_empty_file(tmp_path):
    message = load_error(_folder(tmp_path, ""), tmp_path)
    assert "ratings.csv" in message and "empty" in message


def test_header_only_file(tmp_path):
    assert "no data rows" in load_error(_folder(tmp_path, HEADER), tmp_path)


def test_wrong_separator(tmp_path):
    message = load_error(_folder(tmp_path, "userId;movieId;rating;timestamp\n1;1;4.0;10\n"), tmp_path)
    assert "separator ','" in message and "ratings.csv" in message


def test_wrong_separator_headerless(tmp_path, fixtures_dir):
    folder = tmp_path / "ml-100k-mini"
    write_csv(folder / "u.data", "1,1,4,10\n")
    (folder / "u.item").write_bytes((fixtures_dir / "ml-100k-mini" / "u.item").read_bytes())
    cfg = DataConfig(name="ml-100k-mini", format="movielens_100k", rating_scale=[1.0, 5.0])
    message = load_error(cfg, tmp_path)
    assert "u.data" in message and "separator" in message


def test_rating_out_of_scale(tmp_path):
    message = load_error(_folder(tmp_path, HEADER + "1,1,4.0,10\n1,2,7.0,11\n"), tmp_path)
    assert "line 3" in message and "outside the rating scale [0.5, 5]" in message


def test_rating_out_of_scale_names_the_files_own_column(tmp_path):
    write_csv(tmp_path / "shop" / "scores.csv", "who,what,score\n1,1,4.0\n1,2,9.0\n")
    cfg = DataConfig(name="shop", format="interactions", path=str(tmp_path / "shop"), ratings_file="scores.csv",
                     columns=ColumnsConfig(user="who", item="what", rating="score", timestamp=None))
    message = load_error(cfg, tmp_path)
    assert "line 3, column 'score': rating 9 is outside the rating scale [0.5, 5]" in message, message


def test_missing_file_suggests_fetch(tmp_path):
    (tmp_path / "ml-latest-small").mkdir()
    message = load_error(DataConfig(name="ml-latest-small", format="movielens_csv"), tmp_path)
    assert "ratings.csv not found" in message and str(tmp_path / "ml-latest-small") in message
    assert "recsearch data fetch ml-latest-small" in message


def test_missing_folder(tmp_path):
    message = load_error(DataConfig(name="ml-1m", format="movielens_dat"), tmp_path)
    assert "does not exist" in message and "recsearch data fetch ml-1m" in message


def test_generic_path_that_does_not_exist(tmp_path):
    cfg = DataConfig(name="mine", format="interactions", path=str(tmp_path / "nowhere"), ratings_file="r.csv")
    assert "not found" in load_error(cfg, tmp_path) and "nowhere" in load_error(cfg, tmp_path)


def test_unknown_format(tmp_path):
    message = load_error(DataConfig(name="x", format="excel"), tmp_path)
    assert "'excel'" in message and "movielens_csv" in message and "synthetic" in message


def test_parquet_missing_column_and_bad_rating(tmp_path):
    pd.DataFrame({"u": [1], "i": [2]}).to_parquet(tmp_path / "a.parquet")
    cfg = DataConfig(name="p", format="interactions", path=str(tmp_path / "a.parquet"), columns=ColumnsConfig(user="u", item="i"))
    assert load_error(cfg, tmp_path).endswith("missing column 'rating' (the file has: u, i); set data.columns.rating "
                                              "to the file's name for it (or null: the file has none)")
    pd.DataFrame({"u": [1, 2], "i": [2, 3], "rating": ["4", "bad"]}).to_parquet(tmp_path / "a.parquet")
    cfg.columns.timestamp = None
    message = load_error(cfg, tmp_path)
    assert "row 2" in message and "'rating'" in message


def test_unknown_split_method_and_bad_ratios(tmp_path):
    with pytest.raises(DataError, match="valid methods: random, per_user"):
        prepare_data(synthetic_cfg(), split_cfg("kfold"), data_dir=tmp_path, cache_dir=None)
    with pytest.raises(DataError, match="sum to 1"):
        prepare_data(synthetic_cfg(), split_cfg(ratios=[0.8, 0.3, 0.1]), data_dir=tmp_path, cache_dir=None)
    with pytest.raises(DataError, match="non-negative"):
        prepare_data(synthetic_cfg(), split_cfg(ratios=[1.2, -0.1, -0.1]), data_dir=tmp_path, cache_dir=None)
    with pytest.raises(DataError, match="needs split.train_file"):
        prepare_data(synthetic_cfg(), split_cfg("predefined"), data_dir=tmp_path, cache_dir=None)


def test_a_directory_given_as_the_ratings_file_is_named_as_such(tmp_path):
    (tmp_path / "d" / "ratings.csv").mkdir(parents=True)
    cfg = DataConfig(name="d", format="interactions", path=str(tmp_path / "d"), ratings_file="ratings.csv")
    message = load_error(cfg, tmp_path)
    assert f"{tmp_path / 'd' / 'ratings.csv'} is a directory, not a ratings file" in message


def test_a_file_given_as_the_dataset_folder_is_named_as_such(tmp_path):
    path = write_csv(tmp_path / "ratings.csv", HEADER + "1,1,4.0,10\n")
    message = load_error(DataConfig(name="ml", format="movielens_csv", path=str(path)), tmp_path)
    assert f"{path} is a file" in message and "ratings.csv, movies.csv" in message


@pytest.mark.parametrize("n, method, extra", [(1, "random", {}), (3, "random", {}),
                                              (3, "temporal", {"ratios": [0.5, 0.25, 0.25]})])
def test_too_small_to_split_gives_the_numbers(tmp_path, n, method, extra):
    body = "".join(f"1,{i},4.0,{10 + i}\n" for i in range(1, n + 1))
    cfg = _folder(tmp_path, HEADER + body, movies="movieId,title,genres\n" + "".join(f"{i},M{i},Drama\n" for i in range(1, n + 1)))
    with pytest.raises(DataError) as info:
        prepare_data(cfg, split_cfg(method, **extra), data_dir=tmp_path, cache_dir=None)
    message = str(info.value)
    assert f"too small to split: {n} ratings, need at least" in message and f"split.method={method}" in message


@pytest.mark.parametrize("method, extra, needed", [("per_user", {}, 8), ("leave_one_out", {}, 3),
                                                   ("temporal", {"temporal_mode": "per_user", "last_k": 2}, 5)])
def test_a_per_user_split_of_too_few_ratings_per_user_says_so(tmp_path, method, extra, needed):
    """400 ratings are plenty, but no user has enough of them for a split that cuts each user's ratings."""
    body = "".join(f"{u},{u % 50 + k},4.0,{10 + k}\n" for u in range(1, 201) for k in range(1 + u % 2))
    cfg = _folder(tmp_path, HEADER + body)
    with pytest.raises(DataError) as info:
        prepare_data(cfg, split_cfg(method, **extra), data_dir=tmp_path, cache_dir=None)
    message = str(info.value)
    assert "too small" not in message and f"split.method={method}" in message, message
    assert f"needs at least {needed} ratings per user" in message and "no user has as many" in message, message
    assert "200 users, at most 2 ratings each" in message and "split=random" in message, message
    assert len(prepare_data(cfg, split_cfg("random"), data_dir=tmp_path, cache_dir=None).test) == 30


def test_duplicate_pairs_warn_once_and_data_info_counts_what_is_trained(tmp_path, capsys):
    from recsearch.data import dataset_summary

    body = "1,1,2.0,5\n1,1,4.0,9\n1,1,3.0,7\n2,1,3.0,1\n" + "".join(f"{u},{i},3.5,{u * i}\n" for u in range(3, 9) for i in (1, 2))
    cfg = _folder(tmp_path, HEADER + body)
    inter = load_interactions(cfg, tmp_path)
    warning = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(warning) == 1 and "2 duplicate (user, item) rows dropped" in warning[0] and "ratings.csv" in warning[0]
    kept = inter.ratings[(inter.ratings["user_id"] == 1) & (inter.ratings["item_id"] == 1)]
    assert kept["rating"].tolist() == [4.0]  # the latest rating of the pair
    data = prepare_data(cfg, split_cfg(), data_dir=tmp_path, cache_dir=None)
    assert dataset_summary(inter)["n_ratings"] == len(data.train) + len(data.valid) + len(data.test) == 14


@pytest.mark.parametrize("mode", ["global", "per_user"])
def test_a_temporal_split_of_ratings_without_time_is_refused(tmp_path, mode):
    """Without timestamps (every rating at time 0) a temporal split would be a random one under another name."""
    rows = "".join(f"{u},{i},{1 + (u + i) % 5}\n" for u in range(1, 21) for i in range(1, 11))
    write_csv(tmp_path / "shop" / "r.csv", "who,what,score\n" + rows)
    cfg = DataConfig(name="shop", format="interactions", path=str(tmp_path / "shop"), ratings_file="r.csv",
                     columns=ColumnsConfig(user="who", item="what", rating="score", timestamp=None))
    with pytest.raises(DataError, match="split.method=temporal orders ratings by time, but every rating has the "
                                        "same timestamp"):
        prepare_data(cfg, split_cfg("temporal", temporal_mode=mode), data_dir=tmp_path, cache_dir=None)
    assert prepare_data(cfg, split_cfg("random"), data_dir=tmp_path, cache_dir=None).train.users.size > 0


def test_a_file_given_to_a_movielens_option_suggests_data_custom(tmp_path):
    """`train data.path=mine.csv` without data=custom: the MovieLens option reads a folder; say how to read the file."""
    (tmp_path / "mine.csv").write_text("userId,movieId,rating,timestamp\n1,10,4,5\n")
    message = load_error(DataConfig(name="ml-latest-small", format="movielens_csv", path=str(tmp_path / "mine.csv")),
                         tmp_path)
    assert "is a file, but format 'movielens_csv' reads a dataset folder" in message and "add data=custom" in message
