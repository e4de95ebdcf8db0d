"""I-AutoRec (Sedhain et al. 2015): each item's vector of user ratings is reconstructed by an autoencoder.

Two views share the same encoder/decoder layers:
- the pair model (`build_autorec`), inputs {"user", "item"}: looks up the item's training-rating row
  (a fixed table saved with the model), reconstructs it and reads the user's entry — what evaluation,
  serving and the rest of recsearch use;
- the row model (`row_model`), input one item row (num_users,): what `recsearch.training.rows` trains
  with a loss masked to the observed entries.
The fixed table is dense (num_items x num_users floats): fine up to ml-1m, not for ml-25m.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers

from recsearch.models.layers import PickColumn, fixed_table, id_inputs, l2_or_none


def rating_matrix(num_users: int, num_items: int, users: np.ndarray, items: np.ndarray,
                  ratings: np.ndarray) -> np.ndarray:
    """(num_items, num_users) float32 with the observed ratings, 0 where unobserved."""
    matrix = np.zeros((num_items, num_users), np.float32)
    matrix[items, users] = ratings
    return matrix


def build_autorec(
    num_users: int,
    num_items: int,
    *,
    train_matrix: np.ndarray | None = None,
    hidden: int = 500,
    activation: str = "sigmoid",
    output_activation: str = "linear",
    dropout: float = 0.0,
    l2: float = 1e-3,
    global_mean: float = 0.0,
) -> keras.Model:
    """Build the I-AutoRec pair model over `train_matrix` (num_items, num_users); zeros when None."""
    user, item = id_inputs()
    matrix = np.zeros((num_items, num_users), np.float32) if train_matrix is None else train_matrix
    row = fixed_table(item, matrix, "item_ratings")
    recon = _autoencoder(num_users, hidden=hidden, activation=activation, output_activation=output_activation,
                         dropout=dropout, l2=l2, global_mean=global_mean)(row)
    out = layers.Reshape((), name="prediction")(PickColumn(name="pick_user")(recon, user))
    return keras.Model({"user": user, "item": item}, out, name="autorec")


def _autoencoder(num_users: int, *, hidden: int, activation: str, output_activation: str, dropout: float,
                 l2: float, global_mean: float) -> keras.Model:
    """(num_users,) ratings -> hidden -> (num_users,) reconstruction; decoder bias starts at the mean."""
    row = keras.Input(shape=(num_users,), name="item_row")
    x = layers.Dropout(dropout, name="input_dropout")(row) if dropout > 0 else row
    h = layers.Dense(hidden, activation=activation, kernel_regularizer=l2_or_none(l2), name="encoder")(x)
    out = layers.Dense(num_users, activation=output_activation, kernel_regularizer=l2_or_none(l2),
                       bias_initializer=keras.initializers.Constant(global_mean), name="decoder")(h)
    return keras.Model(row, out, name="autoencoder")


def row_model(pair_model: keras.Model) -> keras.Model:
    """The autoencoder inside a pair model (shared weights): trained on item rows."""
    return pair_model.get_layer("autoencoder")


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: the training ratings as the item-row table, then the builder."""
    t = data.train
    matrix = rating_matrix(data.num_users, data.num_items, t.users, t.items, t.ratings)
    return build_autorec(data.num_users, data.num_items, train_matrix=matrix, hidden=cfg.hidden,
                         activation=cfg.activation, output_activation=cfg.output_activation,
                         dropout=cfg.dropout, l2=cfg.l2, global_mean=data.global_mean)
