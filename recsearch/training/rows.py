"""Training on item rows (I-AutoRec): each step reconstructs a batch of items' observed ratings, with the
squared error counted on the observed entries only (`ObservedSSE`; the L2 penalty is scaled to match in
`recsearch.models.autorec.applied_l2`). Batches are sparse slices of a CSR matrix (`RowBatches`): each
row's number of entries and every entry's user and rating, so a step costs ~ observed entries x hidden,
never rows x users. After each epoch the item codes of the pair model are refreshed from the encoder, and
validation RMSE/MAE of (user, item) pairs is computed with the pair model and put in the logs as
val_rmse / val_mae."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from recsearch.training.inputs import EVAL_BATCH, model_inputs

MIN_BUCKET = 4096  # smallest padded entry count of a batch (JAX): one compiled step per bucket, small data one or two


@keras.saving.register_keras_serializable(package="recsearch")
class ObservedSSE(keras.losses.Loss):
    """Squared error of each observed entry divided by `scale`, summed with the batch's sample weights.

    `RowBatches` weighs every entry 1 / (rows in the batch) and padding 0, so the loss is the batch mean of
    each row's squared error over its observed entries / `scale`. With `scale` = mean observed entries per
    row this estimates the squared error per training rating (the paper's sum over observed ratings
    divided by their number), independent of the batch size.
    """

    def __init__(self, scale: float = 1.0, name: str = "observed_sse", **kwargs):
        kwargs.setdefault("reduction", "sum")
        super().__init__(name=name, **kwargs)
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        return ops.square(y_true - y_pred) / self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def entry_bucket(n: int) -> int:
    """The padded size of a batch of n entries: the next power of two, at least MIN_BUCKET."""
    return max(MIN_BUCKET, 1 << max(int(n) - 1, 0).bit_length())


class RowBatches(keras.utils.PyDataset):
    """Sparse batches of the item rows in `order` (reshuffled every epoch): (inputs, ratings, weights).

    Inputs are {"row_length", "user", "value"} as `recsearch.models.autorec.row_model` takes them; the
    stored CSR entries are the observed ones, even a centered rating of exactly 0. With `pad` (JAX, which
    compiles a step per input shape), rows are padded to `batch_size` with empty rows and entries to
    `entry_bucket` with weight-0 entries, so a few shapes serve every batch.
    """

    def __init__(self, rows: Any, items: np.ndarray, *, batch_size: int, seed: int, pad: bool = False):
        super().__init__()
        self.rows, self.items, self.batch_size, self.pad = rows, np.asarray(items), int(batch_size), bool(pad)
        self.rng = np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.items) / self.batch_size))

    def on_epoch_end(self) -> None:
        self.order = self.rng.permutation(self.items)

    def __getitem__(self, index: int):
        sub = self.rows[self.order[index * self.batch_size:(index + 1) * self.batch_size]]
        n_rows, n = sub.shape[0], sub.nnz
        size, rows_size = (entry_bucket(n), self.batch_size) if self.pad else (n, n_rows)
        lengths = np.zeros(rows_size, np.int32)
        lengths[:n_rows] = np.diff(sub.indptr)
        users, values, weights = np.zeros(size, np.int32), np.zeros(size, np.float32), np.zeros(size, np.float32)
        users[:n], values[:n], weights[:n] = sub.indices, sub.data, 1.0 / n_rows
        return {"row_length": lengths, "user": users, "value": values}, values, weights


class CodeRefresh(keras.callbacks.Callback):
    """After each epoch, write the encoder's item codes into the pair model (before validation reads it)."""

    def __init__(self, pair_model: Any, rows: Any):
        super().__init__()
        self.pair_model, self.rows = pair_model, rows

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from recsearch.models.autorec import refresh_codes

        refresh_codes(self.pair_model, self.model, self.rows)


class PairValidation(keras.callbacks.Callback):
    """Clipped RMSE and MAE of the pair model on (user, item, rating) arrays, into logs['val_rmse'/'val_mae']."""

    def __init__(self, pair_model: Any, part: Any, low: float, high: float):
        super().__init__()
        self.pair_model, self.part, self.low, self.high = pair_model, part, low, high

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None and len(self.part):
            logs.update(pair_errors(self.pair_model, self.part, self.low, self.high, prefix="val"))


def pair_errors(model: Any, part: Any, low: float, high: float, *, prefix: str) -> dict[str, float]:
    """{prefix_rmse, prefix_mae} of clipped predictions on a split part."""
    from recsearch.training.metrics import mae, rmse

    pred = np.clip(model.predict(model_inputs(part), batch_size=EVAL_BATCH, verbose=0).reshape(-1), low, high)
    return {f"{prefix}_rmse": rmse(part.ratings, pred), f"{prefix}_mae": mae(part.ratings, pred)}


def fit_item_rows(model: Any, cfg: Any, data: Any, *, callbacks: Sequence[Any], verbose: int,
                  optimizer: Any) -> tuple[dict, int, dict[str, float]]:
    """Fit an AutoRec pair model on its item rows; return (history, best epoch (1-based), metrics)."""
    from recsearch.models.autorec import applied_l2, item_offsets_for, rating_rows, refresh_codes, row_model

    low, high = data.rating_scale if cfg.task.clip_predictions else (-np.inf, np.inf)
    t, m = data.train, cfg.model
    rows = rating_rows(data.num_users, data.num_items, t.users, t.items, t.ratings - item_offsets_for(m, data)[t.items])
    observed = np.flatnonzero(np.diff(rows.indptr) > 0)
    autoencoder = row_model(model, hidden=int(m.hidden), activation=str(m.activation), dropout=float(m.dropout),
                            l2=applied_l2(m, len(t)))
    autoencoder.compile(optimizer=optimizer, loss=ObservedSSE(scale=rows.nnz / max(len(observed), 1)),
                        jit_compile=bool(cfg.train.jit_compile))
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{cfg.task.metric}", mode="min",
                                            patience=int(cfg.train.patience), restore_best_weights=True)
    batches = RowBatches(rows, observed, batch_size=int(m.row_batch_size), seed=int(cfg.train.seed),
                         pad=keras.backend.backend() == "jax")
    fit = autoencoder.fit(batches, epochs=int(cfg.train.epochs), verbose=verbose,
                          callbacks=[CodeRefresh(model, rows), PairValidation(model, data.valid, low, high),
                                     keras.callbacks.TerminateOnNaN(), stopper, *callbacks])
    refresh_codes(model, autoencoder, rows)  # the best epoch's weights, restored by the stopper
    metrics = {}
    for prefix, part in (("valid", data.valid), ("test", data.test)):
        metrics.update(pair_errors(model, part, low, high, prefix=prefix) if len(part) else
                       {f"{prefix}_rmse": float("nan"), f"{prefix}_mae": float("nan")})
    return fit.history, int(stopper.best_epoch) + 1, metrics
