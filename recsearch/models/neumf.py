"""NeuMF (He et al. 2017): a GMF branch and an MLP branch fused by one output layer.

Optionally initialised from a trained GMF and a trained MLP (`.keras` files): their embeddings,
hidden layers and (halved, as in the paper with alpha = 0.5) output weights are copied over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers

from recsearch.models.layers import dense_stack, embedding, id_inputs, rating_output
from recsearch.models.mlp import layer_widths


def build_neumf(
    num_users: int,
    num_items: int,
    *,
    mf_dim: int = 16,
    embedding_dim: int = 32,
    depth: int = 2,
    width: int = 64,
    width_schedule: str = "halving",
    activation: str = "relu",
    dropout: float = 0.1,
    l2: float = 1e-5,
    embedding_l2: float = 1e-3,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build NeuMF; inputs {"user", "item"} int32, output the predicted rating (batch,)."""
    user, item = id_inputs()
    init = keras.initializers.RandomNormal(stddev=0.05)
    gu = embedding(num_users, mf_dim, "gmf_user_embedding", embedding_l2, init)(user)
    gi = embedding(num_items, mf_dim, "gmf_item_embedding", embedding_l2, init)(item)
    mu = embedding(num_users, embedding_dim, "mlp_user_embedding", embedding_l2, init)(user)
    mi = embedding(num_items, embedding_dim, "mlp_item_embedding", embedding_l2, init)(item)
    gmf = layers.Multiply(name="gmf_product")([gu, gi])
    x = layers.Concatenate(name="concat")([mu, mi])
    x = dense_stack(x, layer_widths(depth, width, width_schedule), activation=activation, dropout=dropout, l2=l2,
                    prefix="hidden")
    fused = layers.Concatenate(name="fuse")([gmf, x])
    return keras.Model({"user": user, "item": item}, rating_output(fused, global_mean), name="neumf")


def load_pretrained(model: keras.Model, *, gmf_path: str | Path | None, mlp_path: str | Path | None) -> None:
    """Copy weights of a trained GMF and/or MLP into `model` (shapes must match)."""
    gmf = keras.saving.load_model(gmf_path, compile=False) if gmf_path else None
    mlp = keras.saving.load_model(mlp_path, compile=False) if mlp_path else None
    pairs = []
    if gmf is not None:
        pairs += [("gmf_user_embedding", gmf, "user_embedding"), ("gmf_item_embedding", gmf, "item_embedding")]
    if mlp is not None:
        pairs += [("mlp_user_embedding", mlp, "user_embedding"), ("mlp_item_embedding", mlp, "item_embedding")]
        pairs += [(layer.name, mlp, layer.name) for layer in model.layers if layer.name.startswith("hidden_")]
    for target, source, name in pairs:
        model.get_layer(target).set_weights(source.get_layer(name).get_weights())
    _fuse_output(model, gmf, mlp)


def _fuse_output(model: keras.Model, gmf: keras.Model | None, mlp: keras.Model | None) -> None:
    """Output kernel = [alpha * GMF kernel; (1 - alpha) * MLP kernel], bias the mean; alpha 0.5 (1 if alone)."""
    if gmf is None and mlp is None:
        return
    kernel, bias = (w.copy() for w in model.get_layer("rating").get_weights())
    mf_dim = model.get_layer("gmf_product").output.shape[-1]
    sources = [(s, sl) for s, sl in ((gmf, slice(0, mf_dim)), (mlp, slice(mf_dim, None))) if s is not None]
    alpha = 0.5 if len(sources) == 2 else 1.0
    bias = np.zeros_like(bias)
    for source, part in sources:
        k, b = source.get_layer("rating").get_weights()
        kernel[part] = alpha * k
        bias += b / len(sources)
    model.get_layer("rating").set_weights([kernel, bias])


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: builds, then loads `pretrained_gmf` / `pretrained_mlp` when set."""
    model = build_neumf(
        data.num_users, data.num_items, mf_dim=cfg.mf_dim, embedding_dim=cfg.embedding_dim, depth=cfg.depth,
        width=cfg.width, width_schedule=cfg.width_schedule, activation=cfg.activation, dropout=cfg.dropout,
        l2=cfg.l2, embedding_l2=cfg.embedding_l2, global_mean=data.global_mean,
    )
    if cfg.pretrained_gmf or cfg.pretrained_mlp:
        load_pretrained(model, gmf_path=cfg.pretrained_gmf, mlp_path=cfg.pretrained_mlp)
    return model
