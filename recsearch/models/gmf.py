"""Generalised MF (He et al. 2017): element-wise product of the embeddings, then learned output weights."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from recsearch.models.layers import embedding, id_inputs, rating_output


def build_gmf(
    num_users: int,
    num_items: int,
    *,
    embedding_dim: int = 32,
    l2: float = 0.01,
    dropout: float = 0.0,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build GMF; inputs {"user", "item"} int32, output the predicted rating (batch,).

    Layer names (`user_embedding`, `item_embedding`, `rating`) are what NeuMF copies from.
    """
    user, item = id_inputs()
    init = keras.initializers.RandomNormal(stddev=0.05)
    p = embedding(num_users, embedding_dim, "user_embedding", l2, init)(user)
    q = embedding(num_items, embedding_dim, "item_embedding", l2, init)(item)
    x = layers.Multiply(name="product")([p, q])
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model({"user": user, "item": item}, rating_output(x, global_mean), name="gmf")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: the schema's keys are the builder's keyword arguments."""
    return build_gmf(data.num_users, data.num_items, embedding_dim=cfg.embedding_dim, l2=cfg.l2,
                     dropout=cfg.dropout, global_mean=data.global_mean)
