"""Keras metrics for training: RMSE and MAE clipped to the rating scale (NumPy twins in `metrics`)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def accumulator_dtype() -> str:
    """float64 where the backend has it; JAX without x64 mode has only float32 (and warns on every float64 request)."""
    if keras.backend.backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


@keras.saving.register_keras_serializable(package="recsearch")
class ClippedError(keras.metrics.Metric):
    """RMSE or MAE of predictions clipped to [low, high], accumulated over batches."""

    def __init__(self, kind: str = "rmse", low: float = -np.inf, high: float = np.inf, **kwargs):
        super().__init__(name=kwargs.pop("name", kind), **kwargs)
        if kind not in ("rmse", "mae"):
            raise ValueError(f"kind must be rmse or mae, not {kind!r}")
        self.kind, self.low, self.high = kind, float(low), float(high)
        self.acc = accumulator_dtype()
        self.total = self.add_variable(shape=(), initializer="zeros", name="total", dtype=self.acc)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count", dtype=self.acc)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.clip(ops.reshape(ops.cast(y_pred, self.acc), (-1,)), self.low, self.high)
        err = ops.reshape(ops.cast(y_true, self.acc), (-1,)) - y_pred
        err = ops.square(err) if self.kind == "rmse" else ops.abs(err)
        self.total.assign_add(ops.sum(err))
        self.count.assign_add(ops.cast(ops.shape(err)[0], self.acc))

    def result(self):
        mean = ops.divide_no_nan(self.total, self.count)
        return ops.sqrt(mean) if self.kind == "rmse" else mean

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "low": self.low, "high": self.high}
