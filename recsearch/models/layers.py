"""Pieces shared by the model families: id inputs and the rating output head."""

from __future__ import annotations

import keras
from keras import layers


def id_inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """Scalar int32 user and item index inputs, named as the trainer feeds them."""
    return (keras.Input(shape=(), dtype="int32", name="user"), keras.Input(shape=(), dtype="int32", name="item"))


def rating_output(x: keras.KerasTensor, global_mean: float) -> keras.KerasTensor:
    """One linear unit whose bias starts at the training mean, flattened to shape (batch,)."""
    out = layers.Dense(1, bias_initializer=keras.initializers.Constant(global_mean), name="rating")(x)
    return layers.Reshape((), name="prediction")(out)
