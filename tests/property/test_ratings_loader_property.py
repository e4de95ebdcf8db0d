"""Random small ratings tables (good, malformed, tiny, duplicated): loading and splitting either gives data that
keeps its invariants or a one-line DataError, within a time limit."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from guard import valid_or_user_error
from recsearch.config.schema import DataConfig, SplitConfig
from recsearch.data import load_interactions, prepare_data

SCALE = (0.5, 5.0)
GOOD_HEADER = "userId,movieId,rating,timestamp"
good_row = st.tuples(st.integers(1, 8), st.integers(1, 12), st.sampled_from([0.5, 1.0, 2.5, 3.5, 4.0, 5.0]),
                    st.integers(0, 10**9))
good_rows = st.one_of(st.lists(good_row, max_size=10), st.lists(good_row, min_size=30, max_size=60))
junk = st.one_of(st.sampled_from(["", "good", "4,5", "1e1", "NaN", "inf", "-1", "u1", "007", "1.5", " "]),
                 st.floats(-10, 10), st.integers(-3, 2**40))
# a corruption: (row, column, value) replaced in the table, or none (most tables are well formed)
corruptions = st.one_of(st.none(), st.none(), st.none(), st.tuples(st.integers(0, 59), st.integers(0, 3), junk))
headers = st.one_of(st.just(GOOD_HEADER), st.just(GOOD_HEADER), st.just(GOOD_HEADER),
                    st.sampled_from(["userId,movieId,rating", "user,item,rating,timestamp",
                                     "movieId,userId,timestamp,rating", "userId;movieId;rating;timestamp", ""]))
methods = st.sampled_from(["random", "per_user", "leave_one_out", "temporal"])


def _table(header: str, body: list[tuple], corruption, sep: str, extra: str) -> str:
    cells = [list(row) for row in body]
    if corruption is not None and cells:
        row, col, value = corruption
        cells[row % len(cells)][col] = value
    names = header.split(sep)
    lines = [header] + [sep.join(str(v) for v in row[: max(len(names), 1)]) for row in cells]
    return "\n".join(lines) + extra


def _check(inter, data) -> None:
    """The invariants of a loaded dataset and of its split."""
    frame = inter.ratings
    values = frame["rating"].to_numpy()
    assert len(frame) > 0 and np.isfinite(values).all()
    assert ((values >= SCALE[0]) & (values <= SCALE[1])).all()
    assert not frame.duplicated(["user_id", "item_id"]).any()
    if data is not None:
        assert len(data.train) + len(data.valid) + len(data.test) == len(frame)  # `data info` counts what is trained
        assert len(data.train) > 0 and len(data.valid) > 0
        for part in (data.train, data.valid, data.test):
            assert part.users.size == 0 or (part.users.max() < data.num_users and part.items.max() < data.num_items)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=headers, body=good_rows, corruption=corruptions, sep=st.sampled_from([",", ";", "\t"]),
       extra=st.sampled_from(["", "\n", "\n\n", "\n1,2"]), method=methods)
def test_random_tables_load_and_split_or_fail_cleanly(header, body, corruption, sep, extra, method) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ratings.csv"
        path.write_text(_table(header.replace(",", sep), body, corruption, sep, extra))
        cfg = DataConfig(name="prop", format="interactions", path=str(path), sep=sep)
        inter = valid_or_user_error(lambda: load_interactions(cfg, Path(tmp)))
        if inter is None:
            event("refused at load")
            return
        split = SplitConfig(method=method)
        data = valid_or_user_error(lambda: prepare_data(cfg, split, data_dir=Path(tmp), cache_dir=None))
        event("loaded and split" if data is not None else "loaded, refused at split")
        _check(inter, data)
