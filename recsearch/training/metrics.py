"""Rating metrics as pure NumPy functions (no Keras: the baselines and reports import them).

The Keras twins used during training (clipped to the rating scale) are in `keras_metrics`.
"""

from __future__ import annotations

import numpy as np


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((np.asarray(y_true, np.float64) - y_pred) ** 2)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(y_true, np.float64) - y_pred)))
