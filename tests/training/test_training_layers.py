"""Layering of the training package: NumPy-only modules stay free of Keras; one module holds the losses."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


def test_baselines_and_numpy_metrics_do_not_import_keras():
    code = "import sys, recsearch.baselines, recsearch.training.metrics; print('keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_weighted_squared_error_ignores_padding_rows():
    from recsearch.training.losses import weighted_squared_error

    y, pred = np.array([4.0, 3.0, 0.0], np.float32), np.array([3.0, 3.0, 9.0], np.float32)
    assert float(weighted_squared_error(y, pred, np.array([1.0, 1.0, 0.0], np.float32))) == pytest.approx(0.5)


def test_mlp_embedding_l2_is_the_per_example_penalty_of_layers():
    from recsearch.models.mlp import build_mlp

    model = build_mlp(10, 12, embedding_dim=4, depth=1, width=8, dropout=0.0, l2=0.0, embedding_l2=0.5)
    for name in ("user_embedding", "item_embedding"):
        layer = model.get_layer(name)
        assert layer.embeddings_regularizer is None and float(layer.activity_regularizer.l2) == 0.5
