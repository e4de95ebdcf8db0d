"""`recsearch train` end to end on ml-latest-small: metrics, the run folder, the default config's quality."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.config import compose_config, load_config_file

pytestmark = pytest.mark.slow


def test_train_default_config_on_ml_latest_small(isolated_paths, capsys) -> None:
    assert main(["train"]) == 0
    out = capsys.readouterr().out
    assert "valid rmse" in out and "test rmse" in out
    [run] = list((isolated_paths / "default" / "runs").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["valid_rmse"] <= 0.89, metrics  # the bar for the default mlp on the default split
    assert metrics["test_rmse"] < 0.95 and metrics["n_params"] > 0 and metrics["epochs_run"] >= 1
    assert metrics["environment"]["keras"] and metrics["data_checksum"] and metrics["split_key"]
    history = pd.read_csv(run / "history.csv")
    assert len(history) == metrics["epochs_run"] and {"loss", "val_rmse", "val_mae"} <= set(history.columns)
    assert (run / "model.keras").is_file()
    saved = load_config_file(run / "config.yaml")
    assert saved.model == compose_config([]).model
