"""Side-feature tables: token vocabularies, the unknown column and row normalisation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsearch.models.features import item_tokens, multi_hot, user_tokens


def test_multi_hot_unknown_column_and_normalisation():
    table, vocab = multi_hot([["b", "a"], [], ["a"]])
    assert vocab == ["<unknown>", "a", "b"]
    np.testing.assert_allclose(table, [[0, 0.5, 0.5], [1, 0, 0], [0, 1, 0]])


def test_item_tokens_genres_and_tags():
    items = pd.DataFrame({"genres": [["Drama"], []], "tags": [["funny"], None]})
    assert item_tokens(items) == [["genre:Drama", "tag:funny"], []]
    assert item_tokens(items, tags=False) == [["genre:Drama"], []]


def test_user_tokens_demographics_and_missing():
    users = pd.DataFrame({"user_id": [1, 2], "gender": ["F", None], "age": [24, np.nan], "occupation": ["writer", None]})
    assert user_tokens(users, 2) == [["gender:F", "age:1", "occupation:writer"], []]
    assert user_tokens(None, 3) == [[], [], []]


def test_multi_hot_min_count_drops_rare_tokens():
    table, vocab = multi_hot([["a", "rare"], ["a"], ["rare2"]], min_count=2)
    assert vocab == ["<unknown>", "a"]
    np.testing.assert_allclose(table, [[0, 1], [0, 1], [1, 0]])


def test_side_tables_on_ml_latest_small_have_genres_and_tags():
    from recsearch.config import compose_config
    from recsearch.models.features import side_tables
    from recsearch.training.run import prepare_for

    data = prepare_for(compose_config([]))
    assert "tags" in data.items and sum(len(t) > 0 for t in data.items["tags"]) > 1000
    items, users = side_tables(data)
    assert items.shape[0] == data.num_items and 20 < items.shape[1] < 400
    np.testing.assert_allclose(items.sum(axis=1), 1.0, rtol=1e-5)
    assert users.shape == (data.num_users, 1)  # no user file: every user "unknown"
