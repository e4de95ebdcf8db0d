"""A user's own interactions file (data=custom): the header and id quirks of real exports, and the forms of
data.path, each either read as meant or refused in one line that names the file, line and column."""

from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.config import compose_config
from recsearch.config.schema import ColumnsConfig, DataConfig
from recsearch.data import load_interactions, prepare_data
from recsearch.errors import DataError

from data_helpers import load_error, split_cfg, write_csv

ROWS = "u1,i1,4,10\nu1,i2,3,11\nu2,i1,5,12\n"


def _custom(path, ratings_file: str | None = "ratings.csv", **kwargs) -> DataConfig:
    """Like the packaged `data=custom` option (ratings_file ratings.csv), pointed at `path`."""
    return DataConfig(name="custom", format="interactions", path=str(path), ratings_file=ratings_file,
                      rating_scale=[1.0, 5.0], **kwargs)


@pytest.mark.parametrize("header", ["userId, movieId, rating, timestamp", "userId,movieId,rating ,timestamp",
                                    "userId ,movieId\t, rating,timestamp"])
def test_header_names_are_matched_without_surrounding_spaces(tmp_path, header):
    write_csv(tmp_path / "ratings.csv", f"{header}\n" + ROWS.replace(",", ", "))
    write_csv(tmp_path / "items.csv", "movieId, title, genres\ni1, One, A|B\ni2, Two,\n")
    inter = load_interactions(_custom(tmp_path, items_file="items.csv"), tmp_path)
    r = inter.ratings
    assert r["user_id"].tolist() == ["u1", "u1", "u2"] and r["item_id"].tolist() == ["i1", "i2", "i1"]
    assert r["rating"].tolist() == [4.0, 3.0, 5.0] and r["timestamp"].tolist() == [10, 11, 12]
    assert inter.items["title"].tolist() == ["One", "Two"] and inter.items["genres"].tolist() == [["A", "B"], []]


def test_a_bad_value_under_a_spaced_header_is_diagnosed_in_one_line(tmp_path):
    """The diagnosis re-reads the file by the header's names: it must not fail on them itself."""
    write_csv(tmp_path / "ratings.csv", "userId, movieId, rating, timestamp\nu1,i1,4,10\nu1,i2,good,11\n")
    message = load_error(_custom(tmp_path), tmp_path)
    assert "line 3, column 'rating': expected a number, got 'good'" in message


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    """Excel's "CSV UTF-8" starts the file with a byte-order mark."""
    (tmp_path / "ratings.csv").write_bytes(b"\xef\xbb\xbfuserId,movieId,rating,timestamp\r\n" + ROWS.encode())
    assert load_interactions(_custom(tmp_path), tmp_path).ratings["user_id"].tolist() == ["u1", "u1", "u2"]


@pytest.mark.parametrize("rows, column", [(ROWS + ",i3,2,13\n", "userId"), (ROWS + "u3,,2,13\n", "movieId"),
                                          (ROWS + "  ,i3,2,13\n", "userId"),
                                          ("1,1,4,10\n1,2,4,11\n2,1,4,12\n3,,2,13\n", "movieId")])
def test_an_empty_id_names_line_and_column(tmp_path, rows, column):
    """Line 6 of the file: a blank line before it does not shift the number."""
    lines = rows.splitlines(keepends=True)
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + "".join(lines[:3]) + "\n" + lines[3])
    message = load_error(_custom(tmp_path), tmp_path)
    assert f"ratings.csv: line 6, column '{column}': expected an id, got" in message, message


def test_an_empty_id_of_a_file_without_numeric_columns(tmp_path):
    write_csv(tmp_path / "clicks.csv", "userId,movieId\nu1,i1\nu2,\n")
    cfg = _custom(tmp_path, "clicks.csv", columns=ColumnsConfig(rating=None, timestamp=None))
    assert "clicks.csv: line 3, column 'movieId': expected an id, got ''" in load_error(cfg, tmp_path)


def test_ids_that_pandas_would_read_as_missing_stay_ids(tmp_path):
    """Only an empty field is a missing id: 'NA' or 'None' are names like any other."""
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\nNA,1,4,10\nNone,1,3,11\nNA,2,5,12\n")
    r = load_interactions(_custom(tmp_path), tmp_path).ratings
    assert r["user_id"].tolist() == ["NA", "None", "NA"] and r["item_id"].tolist() == [1, 1, 2]


def test_a_file_given_as_data_path_is_the_ratings_file(tmp_path):
    """data.ratings_file (ratings.csv in the custom option) names a file of a folder; a file path is the file."""
    path = write_csv(tmp_path / "mine.csv", "userId,movieId,rating,timestamp\n" + ROWS)
    cfg = _custom(path)
    assert load_interactions(cfg, tmp_path).ratings["user_id"].tolist() == ["u1", "u1", "u2"]
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\nx,y,1,1\n")  # not read, not hashed
    first = prepare_data(cfg, split_cfg(ratios=[0.34, 0.33, 0.33]), data_dir=tmp_path, cache_dir=None)
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\nx,y,2,1\n")
    again = prepare_data(cfg, split_cfg(ratios=[0.34, 0.33, 0.33]), data_dir=tmp_path, cache_dir=None)
    assert first.checksum == again.checksum and list(first.user_ids) == ["u1", "u2"]


def test_data_custom_without_data_path_asks_for_it(tmp_path, capsys):
    cfg = compose_config(["data=custom", f"paths.data_dir={tmp_path}"])
    with pytest.raises(DataError) as info:
        prepare_data(cfg.data, cfg.split, data_dir=tmp_path, cache_dir=None)
    assert str(info.value).startswith("data=custom needs data.path=FOLDER_OR_FILE"), info.value
    assert main(["data", "info", "custom", f"paths.data_dir={tmp_path}"]) == 2
    assert "recsearch: error: data=custom needs data.path=FOLDER_OR_FILE" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["train_file", "test_file"])
def test_a_missing_predefined_split_file_names_its_split_key(tmp_path, key):
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + ROWS)
    write_csv(tmp_path / "train.csv", "userId,movieId,rating,timestamp\n" + ROWS)
    write_csv(tmp_path / "test.csv", "userId,movieId,rating,timestamp\nu2,i2,1,20\n")
    files = {"train_file": "train.csv", "test_file": "test.csv", key: "gone.csv"}
    with pytest.raises(DataError) as info:
        prepare_data(_custom(tmp_path), split_cfg("predefined", **files), data_dir=tmp_path, cache_dir=None)
    message = str(info.value)
    assert f"{tmp_path / 'gone.csv'} not found" in message and f"split.{key}" in message, message
    assert "data.ratings_file" not in message


def test_a_predefined_test_of_users_or_items_train_lacks_warns(tmp_path, capsys):
    """u2 rated i2 only in test, u3 is new: scored from untrained embeddings, a cold-start test; said once."""
    train = "".join(f"u{u},i{i},{1 + (u + i) % 5},{u * 10 + i}\n" for u in range(1, 3) for i in range(1, 4))
    write_csv(tmp_path / "train.csv", "userId,movieId,rating,timestamp\n" + train)
    write_csv(tmp_path / "test.csv", "userId,movieId,rating,timestamp\nu1,i2,3,50\nu3,i1,4,51\nu2,i9,2,52\n")
    files = {"train_file": "train.csv", "test_file": "test.csv", "valid_ratio": 0.0}
    data = prepare_data(_custom(tmp_path, ratings_file="train.csv"), split_cfg("predefined", **files),
                        data_dir=tmp_path, cache_dir=None)
    assert len(data.test) == 3
    err = capsys.readouterr().err
    assert "split.method=predefined: 2 of 3 test ratings are of a user or item that train lacks" in err
    write_csv(tmp_path / "test.csv", "userId,movieId,rating,timestamp\nu1,i2,3,50\n")
    prepare_data(_custom(tmp_path, ratings_file="train.csv"), split_cfg("predefined", **files), data_dir=tmp_path,
                 cache_dir=None)
    assert "train lacks" not in capsys.readouterr().err


def test_a_missing_movielens_split_file_names_its_split_key(fixtures_dir):
    cfg = DataConfig(name="ml-100k-mini", format="movielens_100k", rating_scale=[1.0, 5.0])
    with pytest.raises(DataError, match=r"u9\.test not found: .*split\.test_file"):
        prepare_data(cfg, split_cfg("predefined", train_file="u1.base", test_file="u9.test"), data_dir=fixtures_dir,
                     cache_dir=None)


def test_the_rating_task_on_ratings_all_one_value_warns(tmp_path, capsys, monkeypatch):
    """Implicit feedback read without a rating column (every rating 1): the rating task would report an RMSE of
    nearly 0 without a word."""
    from recsearch.data import loaders
    from recsearch.training.run import check_something_to_learn, prepare_for

    monkeypatch.setattr(loaders, "_WARNED", set())  # said once per process: not yet in this test's
    rows = "".join(f"u{u},i{(u * 7 + k) % 40}\n" for u in range(30) for k in range(12))
    write_csv(tmp_path / "clicks.csv", "userId,movieId\n" + rows)
    base = ["data=custom", f"data.path={tmp_path / 'clicks.csv'}", "data.columns.rating=null",
            "data.columns.timestamp=null"]
    for overrides, said in ((base, True), ([*base, "task=ranking"], False)):
        cfg = compose_config(overrides)
        check_something_to_learn(cfg, prepare_for(cfg))
        assert ("every training rating is 1: task=rating" in capsys.readouterr().err) == said
    loaders._WARNED.clear()
    assert main(["train", *base, "model=mf", "train.epochs=1"]) == 0
    assert "use task=ranking" in capsys.readouterr().err  # what `recsearch train` prints


def test_a_file_without_a_header_row_is_read_by_column_number(tmp_path):
    """data.header=false: data.columns.* are 0-based positions, any order, in a file of any width."""
    write_csv(tmp_path / "r.tsv", "10\tu1\ti1\t4\tx\n11\tu1\ti2\t3\ty\n12\tu2\ti1\t5\tz\n")
    cols = ColumnsConfig(user="1", item="2", rating="3", timestamp="0")
    r = load_interactions(_custom(tmp_path / "r.tsv", header=False, columns=cols), tmp_path).ratings
    assert r["user_id"].tolist() == ["u1", "u1", "u2"] and r["item_id"].tolist() == ["i1", "i2", "i1"]
    assert r["rating"].tolist() == [4.0, 3.0, 5.0] and r["timestamp"].tolist() == [10, 11, 12]
    implicit = ColumnsConfig(user="1", item="2", rating=None, timestamp=None)
    r = load_interactions(_custom(tmp_path / "r.tsv", header=False, columns=implicit), tmp_path).ratings
    assert r["rating"].tolist() == [1.0, 1.0, 1.0]


def test_a_file_without_a_header_row_read_by_name_says_how_to_read_it(tmp_path):
    write_csv(tmp_path / "ratings.csv", "1,31,2.5,1260759144\n1,1029,3.0,1260759179\n")
    message = load_error(_custom(tmp_path), tmp_path)
    assert "missing column 'userId' (the header has: 1, 31, 2.5, 1260759144)" in message
    assert "line 1 is data, not a header: set data.header=false" in message and "data.columns.user=0" in message


@pytest.mark.parametrize("suffix, module", [(".gz", "gzip"), (".xz", "lzma"), (".bz2", "bz2")])
def test_a_truncated_compressed_file_says_so_in_one_line(tmp_path, suffix, module):
    """Cut in half: the header decompresses, the rest ends early (it was a traceback for .gz and .xz)."""
    import importlib

    rows = "userId,movieId,rating,timestamp\n" + "".join(f"{u},{u % 97},4,{u}\n" for u in range(200_000))
    packed = importlib.import_module(module).compress(rows.encode())
    (tmp_path / f"cut.csv{suffix}").write_bytes(packed[:len(packed) // 2])
    assert (f"cut.csv{suffix}: cannot be decompressed: it ends too early"
            in load_error(_custom(tmp_path / f"cut.csv{suffix}"), tmp_path))


@pytest.mark.parametrize("name, sep, opener", [("r.tsv.gz", None, "gzip"), ("r.csv.bz2", ";", "bz2"),
                                              ("r.dat", "::", None), ("r.tsv.zip", None, "zipfile")])
def test_compressed_files_and_separators_longer_than_a_character(tmp_path, name, sep, opener):
    """`.tsv.gz` is tab-separated like `.tsv` (its header used to be read as gzip bytes), and `::` needs pandas'
    Python parser (the C one refused it)."""
    import importlib

    text = "userId,movieId,rating,timestamp\n1,10,4,5\n2,10,3,6\n2,20,5,7\n".replace(",", sep or "\t")
    path = tmp_path / name
    if opener == "zipfile":
        with importlib.import_module(opener).ZipFile(path, "w") as archive:
            archive.writestr("r.tsv", text)
    elif opener:
        with importlib.import_module(opener).open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    r = load_interactions(_custom(path, sep=sep), tmp_path).ratings
    assert r["user_id"].tolist() == [1, 2, 2] and r["rating"].tolist() == [4.0, 3.0, 5.0]
    for bad in ("bad.csv.gz", "bad.csv.xz", "bad.csv.zip"):
        (tmp_path / bad).write_text("1,10,4,5\n")
        assert f"{bad}: cannot be decompressed (" in load_error(_custom(tmp_path / bad), tmp_path)
    with zipfile.ZipFile(tmp_path / "two.csv.zip", "w") as archive:
        archive.writestr("a.csv", text)
        archive.writestr("b.csv", text)
    assert "Only one file per ZIP" in load_error(_custom(tmp_path / "two.csv.zip"), tmp_path)  # pandas' own line


def test_timestamps_may_be_dates(tmp_path):
    """ISO dates used to be refused with 'expected a number'; they become microseconds since 1970 (UTC unless
    given), keeping sub-second order, as do numbers with a fraction; a Parquet datetime column keeps its unit."""
    def stamps(text: str) -> list[int]:
        write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + text)
        return load_interactions(_custom(tmp_path), tmp_path).ratings["timestamp"].tolist()

    assert stamps("1,10,4,2000-07-30 18:45:03.25\n2,10,3,9999-12-31\n2,20,5,1970-01-02T00:00:00+01:00\n") == [
        964982703_250000, 253402214400_000000, 82800_000000]
    assert stamps("1,10,4,5.75\n2,10,3,5.25\n") == [5_750000, 5_250000] and stamps("1,10,4,5.0\n2,10,3,6\n") == [5, 6]
    pd.DataFrame({"userId": [1, 2], "movieId": [10, 10], "rating": [4.0, 3.0],
                  "timestamp": pd.to_datetime(["2000-01-01 00:00:00.9", "2000-01-01 00:00:00.1"]).as_unit("ns")
                  }).to_parquet(tmp_path / "r.parquet")
    assert load_interactions(_custom(tmp_path / "r.parquet"), tmp_path).ratings["timestamp"].tolist() == [
        946684800_900000000, 946684800_100000000]  # as before: its own unit (nanoseconds), so caches stay true
    for text, got in [("1,10,4,2000-07-30\n2,10,3,964982703\n", "line 3, column 'timestamp': expected a Unix time or "
                       "a date such as 2000-07-30 18:45:03 (one kind per column), got '964982703'"),
                      ("1,10,4,NA\n2,10,3,5\n", "line 2, column 'timestamp': expected a Unix time or a date such as "
                       "2000-07-30 18:45:03 (one kind per column), got a missing value"),
                      ("1,10,4,5\n\n\n2,10,3,x\n", "line 5, column 'timestamp': expected a Unix time or a date "
                       "such as 2000-07-30 18:45:03 (one kind per column), got 'x'"),  # blank lines counted
                      ("1,10,4,inf\n2,10,3,5\n", "line 2, column 'timestamp': expected a Unix time or a date such "
                       "as 2000-07-30 18:45:03 (one kind per column), got 'inf'"),  # a traceback before
                      ("1,10,4,10000000000000000000\n2,10,3,5\n", "got '10000000000000000000'")]:  # beyond int64
        write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + text)
        assert got in load_error(_custom(tmp_path), tmp_path)


@pytest.mark.parametrize("rating, said", [
    (None, "line 1 looks like a header (user id 'uid', every other row's a number), but data.header=false"),
    ("2", "line 1, column '2': expected a number, got 'score'; if line 1 is a header, set data.header=true"),
])
def test_a_header_row_read_as_data_is_refused(tmp_path, rating, said):
    """Implicit files used to gain a user 'uid' and an item 'iid' without a word."""
    write_csv(tmp_path / "ratings.csv", "uid,iid,score\n1,10,4\n2,10,3\n2,20,5\n")
    columns = ColumnsConfig(user="0", item="1", rating=rating, timestamp=None)
    assert said in load_error(_custom(tmp_path, header=False, columns=columns), tmp_path)


@pytest.mark.parametrize("columns, said", [
    (ColumnsConfig(), "data.columns.user='userId' is not a 0-based column number"),
    (ColumnsConfig(user="0", item="0", rating=None, timestamp=None), "user and data.columns.item both name column '0'"),
    (ColumnsConfig(user="0", item="5", rating=None, timestamp=None), "data.columns.item=5, but line 1 has 4 column(s)"),
])
def test_data_header_false_with_columns_that_are_not_positions_is_refused(tmp_path, columns, said):
    write_csv(tmp_path / "ratings.csv", "1,31,2.5,1260759144\n")
    assert said in load_error(_custom(tmp_path, header=False, columns=columns), tmp_path)


def test_a_headerless_file_gets_its_own_split_key_and_runs_end_to_end(tmp_path, capsys):
    from dataclasses import fields
    from types import SimpleNamespace

    from recsearch.data.prepare import split_key

    rows = "".join(f"{u},{(u * 7 + k) % 40},{1 + (u + k) % 5},{k}\n" for u in range(30) for k in range(12))
    write_csv(tmp_path / "plain.csv", rows)
    write_csv(tmp_path / "named.csv", "userId,movieId,rating,timestamp\n" + rows)
    named = _custom(tmp_path / "named.csv")
    plain = _custom(tmp_path / "plain.csv", header=False, columns=ColumnsConfig(user="0", item="1", rating="2",
                                                                                 timestamp="3"))
    before = SimpleNamespace(**{f.name: getattr(named, f.name) for f in fields(named) if f.name != "header"})
    assert split_key(named, split_cfg(), "c") == split_key(before, split_cfg(), "c")  # the keys of files with a header
    assert split_key(plain, split_cfg(), "c") != split_key(_custom(tmp_path / "plain.csv"), split_cfg(), "c")
    pd_named, pd_plain = (load_interactions(cfg, tmp_path).ratings for cfg in (named, plain))
    assert pd_named.equals(pd_plain)
    argv = ["train", "data=custom", f"data.path={tmp_path / 'plain.csv'}", "data.header=false", "data.columns.user=0",
            "data.columns.item=1", "data.columns.rating=2", "data.columns.timestamp=3", "data.rating_scale=[1,5]",
            "model=mf", "train.epochs=1", f"paths.results_dir={tmp_path / 'results'}"]
    assert main(argv) == 0, capsys.readouterr().err


def test_a_parquet_file_with_integer_column_labels_is_read_by_their_names(tmp_path):
    """pandas writes a frame's default 0..3 labels as Parquet columns "0".."3" and restores them as integers."""
    import pandas as pd

    frame = pd.DataFrame({"u": ["a", "b", "c"], "i": [4, 5, 6], "r": [3.0, 4.0, 5.0], "t": [1, 2, 3]})
    frame.columns = [0, 1, 2, 3]
    frame.to_parquet(tmp_path / "intcols.parquet")
    cols = ColumnsConfig(user="0", item="1", rating="2", timestamp="3")
    r = load_interactions(_custom(tmp_path / "intcols.parquet", columns=cols), tmp_path).ratings
    assert r["user_id"].tolist() == ["a", "b", "c"] and r["rating"].tolist() == [3.0, 4.0, 5.0]


def test_column_numbers_for_a_file_with_a_header_say_they_need_data_header_false(tmp_path):
    write_csv(tmp_path / "ratings.csv", "uid,iid,score,ts\nu1,i1,4,10\n")
    cols = ColumnsConfig(user="0", item="1", rating="2", timestamp="3")
    message = load_error(_custom(tmp_path, columns=cols), tmp_path)
    assert "missing column '0' (the header has: uid, iid, score, ts); column numbers are for a file without a " \
           "header row (data.header=false)" in message


def test_a_headerless_file_names_its_own_lines_and_refuses_an_items_file(tmp_path):
    write_csv(tmp_path / "r.csv", "u1,i1,4\nu2,i1,9\n")
    cols = ColumnsConfig(user="0", item="1", rating="2", timestamp=None)
    message = load_error(_custom(tmp_path / "r.csv", header=False, columns=cols), tmp_path)
    assert "line 2" in message and "9" in message, message  # the second line of the file: there is no header
    write_csv(tmp_path / "items.csv", "movieId,title\ni1,One\n")
    message = load_error(_custom(tmp_path / "r.csv", header=False, columns=cols, items_file="items.csv"), tmp_path)
    assert "data.items_file is read by the name of its item column" in message


def test_a_missing_column_names_the_setting_that_names_it(tmp_path):
    write_csv(tmp_path / "ratings.csv", "iid,stars,when,uid\n1,4.0,100,1\n")
    cols = ColumnsConfig(user="uid", item="iid", rating="stars", timestamp="ts")
    assert load_error(_custom(tmp_path, columns=cols), tmp_path).endswith(
        "missing column 'ts' (the header has: iid, stars, when, uid); set data.columns.timestamp to the file's name "
        "for it (or null: the file has none)")


def test_a_file_that_is_not_utf8_names_the_line_and_byte_of_the_first_bad_byte(tmp_path):
    """Deep in a large file: the offset Python's decode error gives is within pandas' read chunk, not the file."""
    rows = ["userId,movieId,rating,timestamp\n"] + [f"{u},{u % 97},4,{u}\n" for u in range(100_000)]
    rows[60_000] = rows[60_000].replace(",4,", ",\xff,")
    data = "".join(rows).encode("latin-1")
    (tmp_path / "r.csv").write_bytes(data)
    message = load_error(_custom(tmp_path / "r.csv"), tmp_path)
    assert f"not valid utf-8 text (invalid start byte at line 60001, byte {data.index(bytes([0xff]))} of the " \
           "file); save it as utf-8" in message, message


def test_two_settings_naming_one_column_a_table_that_is_no_table_and_a_long_header_are_one_short_line(tmp_path):
    """A new user's user=item mapping trained on 150 of 6,000 rows with a warning; a JSON file printed its whole
    first line (380 KB) as "the header"."""
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + ROWS)
    columns = ColumnsConfig(user="userId", item="userId")
    assert load_error(_custom(tmp_path, columns=columns), tmp_path).startswith(
        f"data.columns.user and data.columns.item both name column 'userId' of {tmp_path / 'ratings.csv'}")
    (tmp_path / "ratings.json").write_text('[{"userId": "u1", "movieId": "i1", "rating": 4}]\n')
    assert "a .json file is not read here; save it as CSV" in load_error(_custom(tmp_path, "ratings.json"), tmp_path)
    write_csv(tmp_path / "wide.csv", ",".join(f'{{"user": "u{i}"}}' for i in range(3000)) + "\n1\n")
    message = load_error(_custom(tmp_path, "wide.csv"), tmp_path)
    assert "missing column 'userId'" in message and "... (3000 columns)" in message and len(message) < 700, message


def test_a_compressed_or_parquet_file_under_a_text_name_and_a_data_line_as_header_say_what_they_are(tmp_path):
    """A gzip or Parquet file named .csv was "not valid utf-8 text ... save it as utf-8"; a header line of ids and
    numbers read as names went without the data.header=false hint unless every field was a number."""
    import gzip

    text = "userId,movieId,rating,timestamp\n" + ROWS
    (tmp_path / "g.csv").write_bytes(gzip.compress(text.encode()))
    assert "g.csv: a gzip file by its first bytes, but named .csv; name it *.gz" in load_error(
        _custom(tmp_path, "g.csv"), tmp_path)
    pd.read_csv(tmp_path / "g.csv", compression="gzip").to_parquet(tmp_path / "p.csv")
    assert "a Parquet file by its first bytes, but named .csv; name it *.parquet" in load_error(
        _custom(tmp_path, "p.csv"), tmp_path)
    write_csv(tmp_path / "ratings.csv", "userId,movieId,rating,timestamp\n" + ROWS)  # the items file is checked too
    (tmp_path / "items.csv").write_bytes(gzip.compress(b"movieId,title\ni1,A\n"))
    message = load_error(_custom(tmp_path, items_file="items.csv"), tmp_path)
    assert "items.csv: a gzip file by its first bytes" in message, message
    (tmp_path / "items.json").write_text('[{"movieId": "i1"}]\n')
    assert "a .json file is not read here" in load_error(_custom(tmp_path, items_file="items.json"), tmp_path)
    import bz2

    (tmp_path / "b.csv").write_bytes(bz2.compress(text.encode()))
    assert "a bzip2 file by its first bytes" in load_error(_custom(tmp_path, "b.csv"), tmp_path)
    write_csv(tmp_path / "bzh.csv", ROWS.replace("u1,", "BZh1,"))  # text that starts like bzip2's header: read
    columns = ColumnsConfig(user="0", item="1", rating="2", timestamp="3")
    read = load_interactions(_custom(tmp_path, "bzh.csv", header=False, columns=columns), tmp_path)
    assert read.ratings["user_id"].tolist()[0] == "BZh1"
    write_csv(tmp_path / "ratings.csv", ROWS)  # u1,i1,4,10 read as the header
    assert "line 1 looks like data, not a header: set data.header=false" in load_error(_custom(tmp_path), tmp_path)
