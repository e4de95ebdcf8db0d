"""Training on item rows (I-AutoRec): each step reconstructs a batch of items' rating vectors, with the
loss masked to the observed ratings (squared error per observed rating, see `MaskedRowSSE`; the L2
penalty is scaled to match in `recsearch.models.autorec.from_config`). Validation RMSE/MAE of (user, item)
pairs is computed each epoch with the pair model (which shares the weights) and put in the logs as val_rmse / val_mae."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="recsearch")
def masked_mse(y_true, y_pred):
    """Mean squared error over the observed entries (y_true != 0) of each row's reconstruction."""
    mask = ops.cast(ops.not_equal(y_true, 0.0), y_pred.dtype)
    return ops.sum(mask * ops.square(y_true - y_pred), axis=-1) / ops.maximum(ops.sum(mask, axis=-1), 1.0)


@keras.saving.register_keras_serializable(package="recsearch")
class MaskedRowSSE(keras.losses.Loss):
    """Squared error summed over a row's observed entries, divided by `scale`.

    `y_true` is the row's targets and its 0/1 observed mask side by side, shape (batch, 2 * n), so that a
    centered rating of exactly 0 still counts. With `scale` = mean observed entries per row, the batch
    mean of this loss estimates the squared error per training rating (the paper's sum over observed
    ratings divided by their number), independent of the batch size.
    """

    def __init__(self, scale: float = 1.0, name: str = "masked_row_sse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = float(scale)

    def call(self, y_true, y_pred):
        n = ops.shape(y_pred)[-1]
        target, mask = y_true[..., :n], y_true[..., n:]
        return ops.sum(mask * ops.square(target - y_pred), axis=-1) / self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


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
    from recsearch.training.trainer import EVAL_BATCH, model_inputs

    pred = np.clip(model.predict(model_inputs(part), batch_size=EVAL_BATCH, verbose=0).reshape(-1), low, high)
    return {f"{prefix}_rmse": rmse(part.ratings, pred), f"{prefix}_mae": mae(part.ratings, pred)}


def fit_item_rows(model: Any, cfg: Any, data: Any, *, callbacks: Sequence[Any], verbose: int,
                  optimizer: Any) -> tuple[dict, int, dict[str, float]]:
    """Fit an AutoRec pair model on its item rows; return (history, best epoch (1-based), metrics)."""
    from recsearch.models.autorec import row_model

    low, high = data.rating_scale if cfg.task.clip_predictions else (-np.inf, np.inf)
    matrix = model.get_layer("item_ratings").get_weights()[0]  # centered observed ratings, 0 elsewhere
    mask = np.zeros(matrix.shape, np.float32)
    mask[data.train.items, data.train.users] = 1.0
    observed = mask.any(axis=1)
    rows, targets = matrix[observed], np.concatenate([matrix[observed], mask[observed]], axis=1)
    autoencoder = row_model(model)
    autoencoder.compile(optimizer=optimizer, loss=MaskedRowSSE(scale=mask.sum() / max(len(rows), 1)),
                        jit_compile=bool(cfg.train.jit_compile))
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{cfg.task.metric}", mode="min",
                                            patience=int(cfg.train.patience), restore_best_weights=True)
    fit = autoencoder.fit(rows, targets, batch_size=int(cfg.model.row_batch_size), epochs=int(cfg.train.epochs),
                          shuffle=True, verbose=verbose,
                          callbacks=[PairValidation(model, data.valid, low, high), keras.callbacks.TerminateOnNaN(),
                                     stopper, *callbacks])
    metrics = {}
    for prefix, part in (("valid", data.valid), ("test", data.test)):
        metrics.update(pair_errors(model, part, low, high, prefix=prefix) if len(part) else
                       {f"{prefix}_rmse": float("nan"), f"{prefix}_mae": float("nan")})
    return fit.history, int(stopper.best_epoch) + 1, metrics
