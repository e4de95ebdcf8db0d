"""Stop a rating run that is not learning (`train.stall_epochs`): a stalled run ends early as a finished run.

Some configurations never leave the trivial solution (SGD with a small learning rate, saturated sigmoids):
their validation error stays at that of predicting the training mean, epoch after epoch, and early stopping's
patience never runs out because the error still creeps down. After `train.stall_epochs` epochs such a run
stops if its best validation error has not come a tenth of the way from the training mean's error to that of
user + item biases (`rating_baselines`), two baselines fitted in milliseconds. A run far worse than the mean
(more than that whole gap above it: a model whose output starts elsewhere) is not sitting at the mean; its
epochs are counted only once it comes within that gap. It ends like an early-stopped
run (best weights, test scored, a complete trial), so a sweep's sampler and median pruner learn from it as from
any finished trial, and `reproduce` stops it at the same epoch.
"""

from __future__ import annotations

import math
from typing import Any

import keras

STALL_FRACTION = 0.1  # of the way from the mean's error to the biases' error a run must have come
_BANDS: dict[tuple, tuple[float, float]] = {}  # (the data and its sample, metric, clipped) -> (floor, ceiling)


def stall_band(data: Any, metric: str, clip: bool) -> tuple[float, float]:
    """The validation `metric` (rmse | mae) band of a run still at the trivial solution on `data`: from the floor
    it must beat after `train.stall_epochs` epochs (a tenth of the way from the training mean's error to that of
    user + item biases) up to one such gap above the mean's error. A run worse than that ceiling is not sitting
    at the mean (a model of the user's whose output starts far from the ratings, still coming down): early
    stopping and the pruner judge it, not this rule."""
    from recsearch.training.rating_baselines import bias_baseline, global_mean_baseline

    key = (data.checksum, data.split_key, data.extras.get("fidelity"), len(data.train), len(data.valid), metric, clip)
    if key not in _BANDS:
        mean = global_mean_baseline(data, clip=clip)[f"valid_{metric}"]
        gap = max(0.0, mean - bias_baseline(data, clip=clip)[f"valid_{metric}"])
        _BANDS[key] = (mean - STALL_FRACTION * gap, mean + gap)
    return _BANDS[key]


def stall_floor(data: Any, metric: str, clip: bool) -> float:
    """The validation `metric` a run must beat after `train.stall_epochs` epochs on `data` (`stall_band`)."""
    return stall_band(data, metric, clip)[0]


class StallStop(keras.callbacks.Callback):
    """Stop training once the best `monitor` (minimised) has stayed between `floor` and `ceiling` for `epochs`
    epochs, counted from the first epoch at or below the ceiling (from the start, for a run that begins at the
    mean); never when the logs have held no finite value of it (TerminateOnNaN ends a diverged run)."""

    def __init__(self, monitor: str, floor: float, epochs: int, ceiling: float = math.inf):
        super().__init__()
        self.monitor, self.floor, self.epochs, self.ceiling = monitor, floor, epochs, ceiling
        self.best = math.inf
        self.entered: int | None = None  # the first epoch (0-based) whose best was at or below the ceiling
        self.stalled_at: int | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best, self.entered, self.stalled_at = math.inf, None, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is not None and math.isfinite(float(value)):
            self.best = min(self.best, float(value))
        if self.entered is None and self.best <= self.ceiling:
            self.entered = epoch
        if (self.entered is not None and epoch + 1 - self.entered >= self.epochs and self.stalled_at is None
                and self.floor <= self.best < math.inf):
            self.stalled_at = epoch + 1
            self.model.stop_training = True


def stall_stop(cfg: Any, data: Any) -> StallStop | None:
    """The stall rule of a rating config (`train.stall_epochs` > 0, a validation split), else None."""
    epochs = int(cfg.train.stall_epochs)
    if (epochs <= 0 or cfg.task.name != "rating" or cfg.task.direction != "minimize" or len(data.valid) == 0
            or int(cfg.train.epochs) <= epochs):
        return None
    metric = str(cfg.task.metric)
    floor, ceiling = stall_band(data, metric, bool(cfg.task.clip_predictions))
    return StallStop(f"val_{metric}", floor, epochs, ceiling)
