"""Two-tower retrieval model: a user tower and an item tower (ids plus side features), dot-product score.

The towers are nested models named `user_tower` and `item_tower`, so the ranking trainer can score a
batch of users against a batch of items with one matrix product (in-batch negatives).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from recsearch.models.features import side_tables
from recsearch.models.layers import RowDot, dense_stack, embedding, fixed_table, id_inputs, l2_or_none, rating_output
from recsearch.models.mlp import layer_widths


def build_tower(n: int, features: np.ndarray, *, name: str, embedding_dim: int, depth: int, width: int,
                activation: str, dropout: float, l2: float, embedding_l2: float) -> keras.Model:
    """Index -> [id embedding; mean side-feature embedding] -> Dense stack -> linear output (embedding_dim)."""
    ids = keras.Input(shape=(), dtype="int32", name=f"{name}_id")
    init = keras.initializers.RandomNormal(stddev=0.05)
    x = embedding(n, embedding_dim, f"{name}_embedding", embedding_l2, init)(ids)
    side = fixed_table(ids, features, f"{name}_side")
    side = layers.Dense(embedding_dim, use_bias=False, kernel_regularizer=l2_or_none(embedding_l2),
                        name=f"{name}_side_embedding")(side)
    x = layers.Concatenate(name=f"{name}_concat")([x, side])
    x = dense_stack(x, layer_widths(depth, width, "halving"), activation=activation, dropout=dropout, l2=l2,
                    prefix=f"{name}_hidden")
    out = layers.Dense(embedding_dim, kernel_regularizer=l2_or_none(l2), name=f"{name}_out")(x)
    return keras.Model(ids, out, name=name)


def build_two_tower(
    num_users: int,
    num_items: int,
    *,
    item_features: np.ndarray | None = None,
    user_features: np.ndarray | None = None,
    embedding_dim: int = 32,
    depth: int = 1,
    width: int = 64,
    activation: str = "relu",
    dropout: float = 0.0,
    l2: float = 1e-5,
    embedding_l2: float = 1e-3,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build the two-tower model; inputs {"user", "item"} int32, output score (batch,) (a rating for task=rating)."""
    user, item = id_inputs()
    opts = dict(embedding_dim=embedding_dim, depth=depth, width=width, activation=activation, dropout=dropout,
                l2=l2, embedding_l2=embedding_l2)
    item_features = np.ones((num_items, 1), np.float32) if item_features is None else item_features
    user_features = np.ones((num_users, 1), np.float32) if user_features is None else user_features
    u = build_tower(num_users, user_features, name="user_tower", **opts)(user)
    v = build_tower(num_items, item_features, name="item_tower", **opts)(item)
    score = RowDot(name="dot")(u, v)
    return keras.Model({"user": user, "item": item}, rating_output(score, global_mean, scalar=True),
                       name="two_tower")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: side tables from the prepared data, then the builder."""
    item_table, user_table = side_tables(data, use_tags=cfg.use_tags, use_user_features=cfg.use_user_features)
    return build_two_tower(
        data.num_users, data.num_items, item_features=item_table, user_features=user_table,
        embedding_dim=cfg.embedding_dim, depth=cfg.depth, width=cfg.width, activation=cfg.activation,
        dropout=cfg.dropout, l2=cfg.l2, embedding_l2=cfg.embedding_l2, global_mean=data.global_mean,
    )
