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


def test_a_stalled_member_stops_while_its_pack_trains_on():
    """`train.stall_epochs` per member: the one stuck at the training mean ends at epoch 2, complete; the other
    member of its pack goes on."""
    space = ["~search_space", "+search_space={params: {train.learning_rate: 'choice(0.00001, 0.01)'}}"]
    small = ["model=mlp", "model.depth=1", "model.width=16", "model.embedding_dim=8", "train.batch_size=4096",
             "train.epochs=5"]
    report = run_sweep([*small, *space, "search.sampler=grid", "search.n_trials=2", "search.pack_size=2",
                        "search.pruner=none", "search.study_name=stalled"], show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet").set_index("params_train.learning_rate")
    assert frame["state"].tolist() == ["COMPLETE"] * 2
    assert (frame.loc[0.00001, "stalled_at"], frame.loc[0.00001, "epochs_run"]) == (2, 2)
    assert pd.isna(frame.loc[0.01, "stalled_at"]) and frame.loc[0.01, "epochs_run"] > 2
