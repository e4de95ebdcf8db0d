"""A KerasTuner hypermodel as KerasTuner users write one, searched by recsearch's Optuna engine.

Run from the repository root:
    recsearch sweep +experiment=hypermodel_example
The hp calls below become Optuna parameters `model.hp.<name>`; `hp.conditional_scope` makes the tower's
knobs exist only for the `mlp` architecture. recsearch compiles and trains the model (loss, optimizer from
`train.*`, early stopping, pruning), so build_model returns it uncompiled.
"""

from __future__ import annotations

import keras
from keras import layers


def build_model(hp, num_users: int, num_items: int, global_mean: float = 0.0) -> keras.Model:
    """User and item embeddings, scored by a dot product or by an MLP tower; predicts a rating, shape (batch,)."""
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    dim = hp.Int("embedding_dim", 8, 64, sampling="log", default=16)
    reg = keras.regularizers.L2(hp.Float("embedding_l2", 1e-7, 1e-3, sampling="log", default=1e-6))
    u = layers.Embedding(num_users, dim, embeddings_regularizer=reg, name="user_embedding")(user)
    i = layers.Embedding(num_items, dim, embeddings_regularizer=reg, name="item_embedding")(item)
    architecture = hp.Choice("architecture", ["dot", "mlp"], default="mlp")
    with hp.conditional_scope("architecture", ["mlp"]):
        if architecture == "mlp":
            x = layers.Concatenate()([u, i])
            for k in range(hp.Int("layers", 1, 3, default=1)):
                x = layers.Dense(hp.Choice("units", [16, 32, 64, 128], default=32), activation="relu")(x)
                if hp.Boolean("dropout", default=False):
                    x = layers.Dropout(0.2)(x)
    with hp.conditional_scope("architecture", ["dot"]):
        if architecture == "dot":
            x = layers.Dot(axes=1)([u, i])
    out = layers.Dense(1, bias_initializer=keras.initializers.Constant(global_mean), name="rating")(x)
    return keras.Model({"user": user, "item": item}, layers.Reshape((), name="prediction")(out), name="my_hypermodel")
