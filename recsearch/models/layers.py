"""Pieces shared by the model families: id inputs, regularisers, fixed feature tables, the output head."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops, regularizers


def id_inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Scalar int32 user and item index inputs, named as the trainer feeds them."""
    return (keras.Input(shape=(), dtype="int32", name="user"), keras.Input(shape=(), dtype="int32", name="item"))


def l2_or_none(value: float) -> regularizers.Regularizer | None:
    """An L2 regulariser, or None for 0 (so the model has no zero-weight loss terms)."""
    return regularizers.L2(value) if value > 0 else None


def embedding(n: int, dim: int, name: str, l2: float = 0.0, init: str = "random_normal") -> layers.Embedding:
    """An embedding table whose L2 penalty applies to the rows looked up in the batch (per example)."""
    return layers.Embedding(n, dim, embeddings_initializer=init, activity_regularizer=l2_or_none(l2), name=name)


def dense_stack(x: keras.KerasTensor, widths: list[int], *, activation: str, dropout: float, l2: float,
                prefix: str) -> keras.KerasTensor:
    """Dense layers of the given widths, each followed by dropout when `dropout` > 0."""
    for k, units in enumerate(widths):
        x = layers.Dense(units, activation=activation, kernel_regularizer=l2_or_none(l2), name=f"{prefix}_{k}")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"{prefix}_dropout_{k}")(x)
    return x


def fixed_table(ids: keras.KerasTensor, table: np.ndarray, name: str) -> keras.KerasTensor:
    """Look rows of a constant matrix up by index (side features; saved with the model, never trained)."""
    layer = layers.Embedding(table.shape[0], table.shape[1], trainable=False, name=name)
    out = layer(ids)
    layer.set_weights([np.asarray(table, np.float32)])
    return out


@keras.saving.register_keras_serializable(package="recsearch")
class RowDot(layers.Layer):
    """Row-wise dot product of two (batch, d) tensors, shaped (batch, 1)."""

    def call(self, a, b):
        return ops.sum(a * b, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="recsearch")
class PickColumn(layers.Layer):
    """`matrix[b, index[b]]` for every row b: (batch, n) and (batch,) int -> (batch, 1)."""

    def call(self, matrix, index):
        index = ops.expand_dims(ops.cast(index, "int32"), -1)
        return ops.take_along_axis(matrix, index, axis=-1)


def rating_output(x: keras.KerasTensor, global_mean: float, *, scalar: bool = False) -> keras.KerasTensor:
    """One linear unit whose bias starts at the training mean, flattened to shape (batch,).

    With `scalar=True` the input is already a score (batch, 1) and the weight starts at 1.
    The ranking trainer sets this layer's bias to 0, so scores are logits there.
    """
    init = "ones" if scalar else "glorot_uniform"
    out = layers.Dense(1, kernel_initializer=init, bias_initializer=keras.initializers.Constant(global_mean),
                       name="rating")(x)
    return layers.Reshape((), name="prediction")(out)
