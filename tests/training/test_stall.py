"""`train.stall_epochs`: a rating run still at the training mean's error after the warm-up epochs stops there
as a finished run (best weights, test scored); a learning run, a refit and a run with the rule off do not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.baselines import bias_baseline, global_mean_baseline
from recsearch.config import compose_config
from recsearch.training.run import prepare_for, refit_model
from recsearch.training.stall import STALL_FRACTION, StallStop, stall_band, stall_floor
from recsearch.training.trainer import train

SMALL = ["model=mlp", "model.depth=1", "model.width=16", "model.embedding_dim=8", "train.batch_size=4096",
         "train.epochs=5"]
STUCK = ["train.optimizer=sgd", "train.learning_rate=1e-5"]  # creeps down from the mean: patience never stops it
LEARNING = ["train.optimizer=adam", "train.learning_rate=0.01"]


@pytest.fixture(scope="module")
def data():
    return prepare_for(compose_config(SMALL))


def test_the_floor_lies_a_tenth_of_the_way_from_the_mean_to_the_biases(data):
    mean, biases = global_mean_baseline(data)["valid_rmse"], bias_baseline(data)["valid_rmse"]
    assert biases < mean
    assert stall_floor(data, "rmse", True) == pytest.approx(mean - STALL_FRACTION * (mean - biases))
    assert bias_baseline(data)["valid_mae"] < stall_floor(data, "mae", True) < global_mean_baseline(data)["valid_mae"]
    assert stall_band(data, "rmse", True)[1] == pytest.approx(mean + (mean - biases))  # one gap above the mean


@pytest.mark.parametrize(("values", "stalled_at"), [
    ([1.04, 1.03, 1.02], 2),  # still above the floor after 2 epochs
    ([1.04, 0.95, 1.05], None),  # below it at epoch 2: the best counts, not the last
    ([0.9, 1.1, 1.1], None),
    ([None, None, None], None),  # the metric never logged: never stopped by this rule
    ([float("nan")] * 3, None),  # diverged: TerminateOnNaN's business
    ([3.214, 3.207, 3.1], None),  # far above the mean's error, still coming down: not sitting at the mean
    ([3.2, 2.0, 1.05], None),  # came into the band at epoch 3: its stall epochs count from there
    ([1.3, 1.2, 1.2], 3),  # in the band from epoch 2, still there two epochs later
])
def test_the_rule_watches_the_best_value_against_the_floor(values: list, stalled_at: int | None) -> None:
    from types import SimpleNamespace

    rule = StallStop("val_rmse", floor=1.0, epochs=2, ceiling=1.25)
    rule.set_model(SimpleNamespace(stop_training=False))
    rule.on_train_begin()
    for epoch, value in enumerate(values):
        rule.on_epoch_end(epoch, {} if value is None else {"val_rmse": value})
    assert rule.stalled_at == stalled_at and rule.model.stop_training is (stalled_at is not None)


def test_a_run_stuck_at_the_mean_stops_after_the_stall_epochs_as_a_finished_run(data):
    result = train(compose_config([*SMALL, *STUCK]), data)
    assert (result.stalled_at, result.epochs_run) == (2, 2)
    assert result.best_epoch <= 2 and result.metrics["valid_rmse"] >= stall_floor(data, "rmse", True)
    assert all(result.metrics[k] == result.metrics[k] for k in ("test_rmse", "test_mae"))  # scored, not NaN


def test_the_rule_off_a_learning_run_and_a_refit_run_their_epochs(data):
    off = train(compose_config([*SMALL, *STUCK, "train.stall_epochs=0"]), data)
    assert off.stalled_at is None and off.epochs_run == 5
    learning = train(compose_config([*SMALL, *LEARNING]), data)
    assert learning.stalled_at is None and learning.epochs_run > 2
    assert learning.metrics["valid_rmse"] < stall_floor(data, "rmse", True)
    refit = refit_model(compose_config([*SMALL, *STUCK]), data, epochs=3)  # the chosen epochs, whatever they reach
    assert refit.stalled_at is None and refit.epochs_run == 3


def test_a_stalled_run_stops_in_the_jax_loop_as_the_command_runs_it(tmp_path: Path):
    """`recsearch train` in a fresh process from another folder (JAX, the default backend: recsearch's own loop)."""
    env = {**os.environ, "RECSEARCH_RESULTS_DIR": str(tmp_path / "results")}
    env.pop("KERAS_BACKEND", None)
    done = subprocess.run([sys.executable, "-m", "recsearch", "train", *SMALL, *STUCK, "train.backend=jax",
                           "train.compile_cache=false", "--no-save-model"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "not learning" in done.stdout
    metrics = json.loads(next((tmp_path / "results").rglob("metrics.json")).read_text())
    assert (metrics["stalled_at"], metrics["epochs_run"]) == (2, 2)
