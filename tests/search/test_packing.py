"""Trial packing (`search.pack_size`): a packed sweep tells every trial its own result, with the attrs of an
unpacked trial, and a packed trial reproduces alone. JAX backend only (`KERAS_BACKEND=jax`)."""

from __future__ import annotations

import keras
import optuna
import pandas as pd
import pytest

from recsearch.config import load_config_file
from recsearch.search.sweep import run_sweep
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(keras.backend.backend() != "jax", reason="packing runs on the JAX backend")]

PACK_SPACE = ["~search_space", "+search_space={params: {train.learning_rate: 'tag(log, interval(1e-3, 3e-2))', "
              "model.dropout: 'interval(0.05, 0.3)', model.l2: 'tag(log, interval(1e-6, 1e-3))'}}"]


def test_packed_sweep_tells_each_trial_and_reproduces_alone(tiny, tmp_path):
    report = run_sweep([*tiny, *PACK_SPACE, "search.n_trials=4", "search.pack_size=4", "search.pruner=none",
                        "search.study_name=packed"], show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert frame["state"].tolist() == ["COMPLETE"] * 4
    assert frame["params_train.learning_rate"].nunique() == 4
    assert {"val_curve", "epochs_run", "duration_s", "n_params", "seed", "config_hash", "valid_rmse",
            "test_rmse"} <= set(frame.columns)
    study = optuna.load_study(study_name="packed", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(report.folder / "study.journal"))))
    trial = study.trials[2]
    assert trial.user_attrs["packed_with"] == 4
    (tmp_path / "trial.yaml").write_text(trial.user_attrs["config"])
    cfg = load_config_file(tmp_path / "trial.yaml")
    alone = train(cfg, prepare_for(cfg))
    assert alone.metrics["valid_rmse"] == pytest.approx(trial.value, rel=1e-4)
    assert alone.history["val_rmse"] == pytest.approx(trial.user_attrs["val_curve"], rel=1e-4)
