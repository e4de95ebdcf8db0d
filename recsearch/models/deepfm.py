"""DeepFM (Guo et al. 2017) over four fields: user id, item id, item side features, user side features.

Side features (genres, tags, demographics) are fixed multi-hot tables looked up by index inside the
model (see `recsearch.models.features`), so the inputs stay {"user", "item"} like every other model.
A field's embedding is the mean of its active features' embeddings; column 0 means "unknown".
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from recsearch.models.features import side_tables
from recsearch.models.layers import dense_stack, embedding, fixed_table, id_inputs, l2_or_none, rating_output
from recsearch.models.mlp import layer_widths


@keras.saving.register_keras_serializable(package="recsearch")
class FMInteraction(layers.Layer):
    """Second-order FM term over stacked field embeddings (batch, fields, d) -> (batch, 1)."""

    def call(self, fields):
        from keras import ops

        square_of_sum = ops.square(ops.sum(fields, axis=1))
        sum_of_square = ops.sum(ops.square(fields), axis=1)
        return 0.5 * ops.sum(square_of_sum - sum_of_square, axis=-1, keepdims=True)


def build_deepfm(
    num_users: int,
    num_items: int,
    *,
    item_features: np.ndarray | None = None,
    user_features: np.ndarray | None = None,
    embedding_dim: int = 16,
    depth: int = 2,
    width: int = 64,
    activation: str = "relu",
    dropout: float = 0.1,
    l2: float = 1e-5,
    embedding_l2: float = 1e-3,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build DeepFM; `item_features` (num_items, F) / `user_features` (num_users, G) row-normalised tables."""
    user, item = id_inputs()
    item_features = np.ones((num_items, 1), np.float32) if item_features is None else item_features
    user_features = np.ones((num_users, 1), np.float32) if user_features is None else user_features
    init = keras.initializers.RandomNormal(stddev=0.05)
    reg = l2_or_none(embedding_l2)
    fi = fixed_table(item, item_features, "item_side")
    fu = fixed_table(user, user_features, "user_side")
    fields = [
        embedding(num_users, embedding_dim, "user_embedding", embedding_l2, init)(user),
        embedding(num_items, embedding_dim, "item_embedding", embedding_l2, init)(item),
        layers.Dense(embedding_dim, use_bias=False, kernel_regularizer=reg, name="item_side_embedding")(fi),
        layers.Dense(embedding_dim, use_bias=False, kernel_regularizer=reg, name="user_side_embedding")(fu),
    ]
    first = layers.Add(name="first_order")([
        embedding(num_users, 1, "user_weight", embedding_l2, "zeros")(user),
        embedding(num_items, 1, "item_weight", embedding_l2, "zeros")(item),
        layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="item_side_weight")(fi),
        layers.Dense(1, use_bias=False, kernel_initializer="zeros", name="user_side_weight")(fu),
    ])
    stacked = layers.Concatenate(axis=1, name="fields")([layers.Reshape((1, embedding_dim))(f) for f in fields])
    fm = FMInteraction(name="fm")(stacked)
    deep = dense_stack(layers.Flatten(name="flatten")(stacked), layer_widths(depth, width, "halving"),
                       activation=activation, dropout=dropout, l2=l2, prefix="deep")
    deep = layers.Dense(1, kernel_regularizer=l2_or_none(l2), name="deep_out")(deep)
    score = layers.Add(name="score")([first, fm, deep])
    return keras.Model({"user": user, "item": item}, rating_output(score, global_mean, scalar=True), name="deepfm")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: side tables from the prepared data, then the builder."""
    item_table, user_table = side_tables(data, use_tags=cfg.use_tags, use_user_features=cfg.use_user_features)
    return build_deepfm(
        data.num_users, data.num_items, item_features=item_table, user_features=user_table,
        embedding_dim=cfg.embedding_dim, depth=cfg.depth, width=cfg.width, activation=cfg.activation,
        dropout=cfg.dropout, l2=cfg.l2, embedding_l2=cfg.embedding_l2, global_mean=data.global_mean,
    )
