"""NCF-MLP (He et al. 2017, the MLP branch): embeddings concatenated, a Dense tower, one output."""

from __future__ import annotations

from typing import Any

import keras
from keras import layers

from recsearch.choices import WIDTH_FACTORS, WIDTH_SCHEDULES
from recsearch.models.layers import dense_stack, embedding, id_inputs, rating_output


def layer_widths(depth: int, width: int, schedule: str) -> list[int]:
    """Widths of the hidden layers: constant, halving (tower) or doubling, never below 4."""
    factor = WIDTH_FACTORS.get(schedule)
    if factor is None:
        raise ValueError(f"width_schedule {schedule!r} is not one of {', '.join(WIDTH_SCHEDULES)}")
    return [max(4, int(round(width * factor**k))) for k in range(depth)]


def build_mlp(
    num_users: int,
    num_items: int,
    *,
    embedding_dim: int = 32,
    depth: int = 3,
    width: int = 128,
    width_schedule: str = "halving",
    activation: str = "relu",
    dropout: float = 0.2,
    l2: float = 1e-5,
    embedding_l2: float = 1e-6,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build the NCF-MLP rating model; inputs {"user", "item"} int32, output the predicted rating."""
    user, item = id_inputs()
    u = embedding(num_users, embedding_dim, "user_embedding", embedding_l2, "uniform")(user)  # per-example L2,
    i = embedding(num_items, embedding_dim, "item_embedding", embedding_l2, "uniform")(item)  # as every model
    x = layers.Concatenate(name="concat")([u, i])
    x = dense_stack(x, layer_widths(depth, width, width_schedule), activation=activation, dropout=dropout, l2=l2,
                    prefix="hidden")
    return keras.Model({"user": user, "item": item}, rating_output(x, global_mean), name="mlp")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: the schema's keys are the builder's keyword arguments."""
    return build_mlp(
        data.num_users, data.num_items,
        embedding_dim=cfg.embedding_dim, depth=cfg.depth, width=cfg.width, width_schedule=cfg.width_schedule,
        activation=cfg.activation, dropout=cfg.dropout, l2=cfg.l2, embedding_l2=cfg.embedding_l2,
        global_mean=data.global_mean,
    )
