"""I-AutoRec (Sedhain et al. 2015): each item's vector of user ratings is reconstructed by an autoencoder.

Two views share the same encoder/decoder layers:
- the pair model (`build_autorec`), inputs {"user", "item"}: looks up the item's training-rating row
  (a fixed table saved with the model), reconstructs it and reads the user's entry — what evaluation,
  serving and the rest of recsearch use;
- the row model (`row_model`), input one item row (num_users,): what `recsearch.training.rows` trains
  with a loss masked to the observed entries.
The fixed table is dense (num_items x num_users floats): fine up to ml-1m, not for ml-25m.

Centering (`center`): observed ratings are stored minus an offset (the item's shrunk mean, or the global mean),
so an unobserved 0 is not read as a low rating; the pair model adds the item's offset back (a second fixed
table, saved with the model), so predictions stay on the rating scale. Items without training ratings get
the global mean as offset (their row is empty), users without any get decoder bias 0 (i.e. the offset).

Regularisation (`l2` in the config) is the paper's lambda of  sum_observed (r - r_hat)^2 + lambda/2 ||W||^2;
`from_config` divides the objective by the number of training ratings, so the Keras kernel penalty is
lambda / (2 * n_train) and the row loss is the squared error of a row over the mean number of observed
entries per row (see `recsearch.training.rows`): the weight of lambda does not depend on the batch size.
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


def item_offsets(num_items: int, items: np.ndarray, ratings: np.ndarray, *, center: str,
                 shrinkage: float = 0.0) -> np.ndarray:
    """(num_items,) float32 subtracted from each item's observed ratings: 0 (`none`), the global mean
    (`global`), or the item mean shrunk towards the global mean by `shrinkage` pseudo-ratings (`item`)."""
    if center == "none":
        return np.zeros(num_items, np.float32)
    mean = float(np.mean(ratings)) if len(ratings) else 0.0
    if center == "global":
        return np.full(num_items, mean, np.float32)
    if center != "item":
        raise ValueError(f"center must be none, global or item, got {center!r}")
    sums = np.bincount(items, weights=ratings, minlength=num_items)
    counts = np.bincount(items, minlength=num_items).astype(np.float64)
    denom = counts + float(shrinkage)
    out = np.where(denom > 0, (sums + float(shrinkage) * mean) / np.maximum(denom, 1e-12), mean)
    return out.astype(np.float32)


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
    offsets: np.ndarray | None = None,
) -> keras.Model:
    """Build the I-AutoRec pair model over `train_matrix` (num_items, num_users); zeros when None.

    `train_matrix` holds the (already centered) observed ratings and 0 elsewhere. With `offsets`
    (num_items,), the item's offset is added to the reconstruction and the decoder bias starts at 0;
    without, the decoder bias starts at `global_mean`. `l2` is the Keras kernel penalty as applied.
    """
    user, item = id_inputs()
    matrix = np.zeros((num_items, num_users), np.float32) if train_matrix is None else train_matrix
    row = fixed_table(item, matrix, "item_ratings")
    recon = _autoencoder(num_users, hidden=hidden, activation=activation, output_activation=output_activation,
                         dropout=dropout, l2=l2, global_mean=0.0 if offsets is not None else global_mean)(row)
    out = PickColumn(name="pick_user")(recon, user)
    if offsets is not None:
        offset = fixed_table(item, np.asarray(offsets, np.float32).reshape(-1, 1), "item_offset")
        out = layers.Add(name="add_offset")([out, offset])
    out = layers.Reshape((), name="prediction")(out)
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
    """Registry adapter: the centered training ratings as the item-row table, then the builder.

    `cfg.l2` is the paper's lambda (objective summed over observed ratings); the applied kernel penalty
    is lambda / (2 * number of training ratings), matching the per-rating loss of the row trainer.
    """
    t = data.train
    center = str(cfg.center)
    offsets = item_offsets(data.num_items, t.items, t.ratings, center=center, shrinkage=float(cfg.mean_shrinkage))
    matrix = rating_matrix(data.num_users, data.num_items, t.users, t.items, t.ratings - offsets[t.items])
    l2 = float(cfg.l2) / (2.0 * max(len(t), 1))
    return build_autorec(data.num_users, data.num_items, train_matrix=matrix, hidden=cfg.hidden,
                         activation=cfg.activation, output_activation=cfg.output_activation,
                         dropout=cfg.dropout, l2=l2, global_mean=data.global_mean,
                         offsets=None if center == "none" else offsets)
