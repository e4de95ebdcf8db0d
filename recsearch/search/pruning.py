"""Keras callback that reports the validation metric to Optuna each epoch and stops pruned trials."""

from __future__ import annotations

import math
from typing import Any

import keras

from recsearch.search import interrupts


class OptunaPruning(keras.callbacks.Callback):
    """Report `monitor` to `trial` after every epoch; stop training when the pruner says so (never after the
    last epoch, when stopping saves nothing).

    Training is stopped rather than interrupted with an exception, so the curve so far is kept;
    the caller checks `pruned` and raises `optuna.TrialPruned` after fit returns.
    """

    def __init__(self, trial: Any, monitor: str, *, report: bool = True):
        super().__init__()
        self.trial, self.monitor, self.report = trial, monitor, report
        self.curve: list[float] = []
        self.pruned = False
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        interrupts.stop_if_interrupted()  # a Ctrl-C or SIGTERM whose KeyboardInterrupt was swallowed
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise KeyError(f"metric {self.monitor!r} not in the epoch logs {sorted(logs or {})}")
        value = float(value)
        self.curve.append(value)
        if not self.report:
            return
        if not math.isfinite(value):
            self.model.stop_training = True
            return
        self.trial.report(value, epoch + 1)
        if epoch + 1 >= int((self.params or {}).get("epochs") or 0) > 0:
            return  # the last epoch has run: pruning saves nothing, and the finished trial tells TPE more
        if self.trial.should_prune():
            self.pruned, self.pruned_at = True, epoch + 1
            self.model.stop_training = True
