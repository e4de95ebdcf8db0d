"""I-AutoRec (Sedhain et al. 2015): each item's vector of user ratings is reconstructed by an autoencoder.

Sparse at any size: no items x users table is ever held. Two views share the decoder (`UserDecoder`):
- the pair model (`build_autorec`), inputs {"user", "item"}: the item's code (the encoder's output for
  its training-rating row, a fixed table `item_codes` (num_items, hidden) written by `refresh_codes`)
  dotted with the user's decoder column, plus the decoder bias and the item offset - what evaluation,
  serving and the rest of recsearch use; saved with the model, so a loaded model predicts alone;
- the row model (`row_model`): a batch of item rows given sparsely (each row's number of observed entries,
  and every entry's user and centered rating, in CSR order) -> encoder (`SparseRowEncoder`: the kernel
  rows of the observed users, scaled by the ratings, summed per row) -> the decoder evaluated at the
  observed entries only, what `recsearch.training.rows` trains on batches of a CSR matrix (`rating_rows`).
  The same function as the dense autoencoder on the row's observed entries (its zeros add nothing to the
  encoder and the loss counts observed entries only), at a cost ~ observed entries x hidden, not
  items x users x hidden.

Centering (`center`): observed ratings are stored minus an offset (the item's shrunk mean, or the global mean),
so an unobserved 0 is not read as a low rating; the pair model adds the item's offset back (a fixed table,
saved with the model), so predictions stay on the rating scale. Items without training ratings get
the global mean as offset (their row is empty), users without any get decoder bias 0 (i.e. the offset).

Regularisation (`l2` in the config) is the paper's lambda of  sum_observed (r - r_hat)^2 + lambda/2 ||W||^2;
`applied_l2` divides the objective by the number of training ratings, so the Keras kernel penalty is
lambda / (2 * n_train) and the row loss is the squared error of a row over the mean number of observed
entries per row (see `recsearch.training.rows`): the weight of lambda does not depend on the batch size.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import layers, ops

from recsearch.choices import CENTERS
from recsearch.models.layers import fixed_table, id_inputs, l2_or_none


def rating_rows(num_users: int, num_items: int, users: np.ndarray, items: np.ndarray, values: np.ndarray) -> Any:
    """(num_items, num_users) CSR matrix of the observed (centered) ratings; stored entries = observed, even a 0."""
    from scipy.sparse import csr_matrix

    return csr_matrix((np.asarray(values, np.float32), (np.asarray(items), np.asarray(users))),
                      shape=(num_items, num_users))


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
        raise ValueError(f"center must be one of {', '.join(CENTERS)}, got {center!r}")
    sums = np.bincount(items, weights=ratings, minlength=num_items)
    counts = np.bincount(items, minlength=num_items).astype(np.float64)
    denom = counts + float(shrinkage)
    out = np.where(denom > 0, (sums + float(shrinkage) * mean) / np.maximum(denom, 1e-12), mean)
    return out.astype(np.float32)


@keras.saving.register_keras_serializable(package="recsearch")
class UserDecoder(layers.Layer):
    """The decoder (hidden -> num_users): `call(h)` reconstructs whole rows, `call(h, user)` one entry per row."""

    def __init__(self, num_users: int, hidden: int, *, activation: str = "linear", l2: float = 0.0,
                 bias_init: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.hidden, self.l2, self.bias_init = int(num_users), int(hidden), float(l2), float(bias_init)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.kernel = self.add_weight(shape=(self.hidden, self.num_users), initializer="glorot_uniform",
                                      regularizer=l2_or_none(self.l2), name="kernel")
        self.bias = self.add_weight(shape=(self.num_users,), initializer=keras.initializers.Constant(self.bias_init),
                                    name="bias")

    def call(self, h, user=None):
        if user is None:
            return self.activation(ops.matmul(h, self.kernel) + self.bias)
        user = ops.cast(user, "int32")
        columns = ops.transpose(ops.take(self.kernel, user, axis=1))  # (batch, hidden)
        out = ops.sum(h * columns, axis=-1, keepdims=True) + ops.expand_dims(ops.take(self.bias, user), -1)
        return self.activation(out)

    def get_config(self):
        return {**super().get_config(), "num_users": self.num_users, "hidden": self.hidden,
                "activation": self.activation_name, "l2": self.l2, "bias_init": self.bias_init}


def build_autorec(
    num_users: int,
    num_items: int,
    *,
    hidden: int = 500,
    output_activation: str = "linear",
    l2: float = 1e-3,
    global_mean: float = 0.0,
    offsets: np.ndarray | None = None,
) -> keras.Model:
    """Build the I-AutoRec pair model: item code (zeros until `refresh_codes`) through the user's decoder column.

    With `offsets` (num_items,), the item's offset is added to the output and the decoder bias starts at 0;
    without, the decoder bias starts at `global_mean`. `l2` is the Keras kernel penalty as applied.
    """
    user, item = id_inputs()
    code = fixed_table(item, np.zeros((num_items, hidden), np.float32), "item_codes")
    decoder = UserDecoder(num_users, hidden, activation=output_activation, l2=l2,
                          bias_init=0.0 if offsets is not None else global_mean, name="decoder")
    out = decoder(code, user)
    if offsets is not None:
        offset = fixed_table(item, np.asarray(offsets, np.float32).reshape(-1, 1), "item_offset")
        out = layers.Add(name="add_offset")([out, offset])
    out = layers.Reshape((), name="prediction")(out)
    return keras.Model({"user": user, "item": item}, out, name="autorec")


@keras.saving.register_keras_serializable(package="recsearch")
class SparseRowEncoder(layers.Layer):
    """The encoder (num_users -> hidden) of rows given by their observed entries: the code of each entry's row.

    Inputs: `row_length` (rows,) entries per row, `user` and `value` (entries,) in row order (CSR). A row's
    pre-activation is the sum of the kernel rows of its users scaled by their values, plus the bias: the
    dense `value_row @ kernel + bias` without touching the unobserved users. Entries past
    sum(row_length) are padding: they go to an extra segment, so they never reach a real row.
    The kernel is (num_users, hidden) as a Dense kernel, so `refresh_codes` reads it the same way.
    """

    def __init__(self, num_users: int, hidden: int, *, activation: str = "sigmoid", l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_users, self.hidden, self.l2 = int(num_users), int(hidden), float(l2)
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.kernel = self.add_weight(shape=(self.num_users, self.hidden), initializer="glorot_uniform",
                                      regularizer=l2_or_none(self.l2), name="kernel")
        self.bias = self.add_weight(shape=(self.hidden,), initializer="zeros", name="bias")

    def call(self, row_length, user, value):
        rows = ops.shape(row_length)[0]
        ends = ops.cumsum(ops.cast(row_length, "int32"))
        entry_row = ops.cast(ops.searchsorted(ends, ops.arange(ops.shape(value)[0], dtype="int32"), side="right"),
                             "int32")  # row of each entry; == rows for padding
        scaled = ops.take(self.kernel, ops.cast(user, "int32"), axis=0) * ops.expand_dims(value, -1)
        codes = self.activation(ops.segment_sum(scaled, entry_row, num_segments=rows + 1) + self.bias)
        return ops.take(codes, entry_row, axis=0)  # (entries, hidden)

    def compute_output_shape(self, row_length_shape, user_shape, value_shape):
        return (value_shape[0], self.hidden)

    def get_config(self):
        return {**super().get_config(), "num_users": self.num_users, "hidden": self.hidden,
                "activation": self.activation_name, "l2": self.l2}


def row_model(pair_model: keras.Model, *, hidden: int, activation: str, dropout: float, l2: float) -> keras.Model:
    """Sparse item rows -> encoder -> the pair model's decoder at the observed entries (decoder weights shared).

    Inputs {"row_length": (rows,), "user": (entries,), "value": (entries,)} (see `SparseRowEncoder`);
    output the reconstruction of every entry, (entries,). Input dropout drops observed ratings (scaling
    the rest), as dropout on the dense row did: its zeros stay zeros.
    """
    decoder = pair_model.get_layer("decoder")
    row_length = keras.Input(shape=(), dtype="int32", name="row_length")
    user = keras.Input(shape=(), dtype="int32", name="user")
    value = keras.Input(shape=(), dtype="float32", name="value")
    x = layers.Dropout(dropout, name="input_dropout")(value) if dropout > 0 else value
    code = SparseRowEncoder(decoder.num_users, hidden, activation=activation, l2=l2, name="encoder")(row_length, user, x)
    out = layers.Reshape((), name="reconstruction")(decoder(code, user))
    return keras.Model({"row_length": row_length, "user": user, "value": value}, out, name="autoencoder")


def refresh_codes(pair_model: keras.Model, autoencoder: keras.Model, rows: Any, *, batch: int = 4096) -> None:
    """Write the encoder's output for every item row (CSR, num_items x num_users) into the pair model."""
    encoder = autoencoder.get_layer("encoder")
    kernel, bias = encoder.get_weights()
    codes = np.empty((rows.shape[0], kernel.shape[1]), np.float32)
    for start in range(0, rows.shape[0], batch):
        pre = rows[start:start + batch] @ kernel + bias  # sparse x dense: cost ~ nonzeros x hidden
        codes[start:start + batch] = np.asarray(encoder.activation(np.asarray(pre, np.float32)))
    pair_model.get_layer("item_codes").set_weights([codes])


def applied_l2(cfg: Any, n_train: int) -> float:
    """The Keras kernel penalty of the paper's lambda (`cfg.l2`) for a per-rating loss: lambda / (2 n_train)."""
    return float(cfg.l2) / (2.0 * max(n_train, 1))


def item_offsets_for(cfg: Any, data: Any) -> np.ndarray:
    """The item offsets of `cfg.center` on the training ratings."""
    t = data.train
    return item_offsets(data.num_items, t.items, t.ratings, center=str(cfg.center), shrinkage=float(cfg.mean_shrinkage))


def from_config(cfg: Any, data: Any) -> keras.Model:
    """Registry adapter: item offsets from the training ratings, then the builder (no rating table)."""
    center = str(cfg.center)
    return build_autorec(data.num_users, data.num_items, hidden=cfg.hidden, output_activation=cfg.output_activation,
                         l2=applied_l2(cfg, len(data.train)), global_mean=data.global_mean,
                         offsets=None if center == "none" else item_offsets_for(cfg, data))
