"""Biased matrix factorisation: dot(user, item) + user bias + item bias + global bias. The strong baseline."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from recsearch.models.layers import RowDot, embedding, id_inputs, rating_output


def build_mf(
    num_users: int,
    num_items: int,
    *,
    embedding_dim: int = 64,
    l2: float = 0.05,
    bias_l2: float = 0.005,
    init_std: float = 0.05,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build biased MF; inputs {"user", "item"} int32, output the predicted rating (batch,).

    `l2` and `bias_l2` penalise the looked-up rows of each batch (per-example L2, as in SGD-trained MF).
    """
    user, item = id_inputs()
    init = keras.initializers.RandomNormal(stddev=init_std)
    p = embedding(num_users, embedding_dim, "user_embedding", l2, init)(user)
    q = embedding(num_items, embedding_dim, "item_embedding", l2, init)(item)
    bu = embedding(num_users, 1, "user_bias", bias_l2, "zeros")(user)
    bi = embedding(num_items, 1, "item_bias", bias_l2, "zeros")(item)
    score = layers.Add(name="score")([RowDot(name="dot")(p, q), bu, bi])
    return keras.Model({"user": user, "item": item}, rating_output(score, global_mean, scalar=True), name="mf")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: the schema's keys are the builder's keyword arguments."""
    return build_mf(data.num_users, data.num_items, embedding_dim=cfg.embedding_dim, l2=cfg.l2,
                    bias_l2=cfg.bias_l2, init_std=cfg.init_std, global_mean=data.global_mean)
