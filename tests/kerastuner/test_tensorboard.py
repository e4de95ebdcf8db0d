"""TensorBoard logs of both engines: epoch scalars and the trial's hyperparameters (HParams plugin)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from kt_helpers import KT_SPACE

pytestmark = pytest.mark.slow


def read_events(folder: Path) -> tuple[dict[str, object], dict[str, list[float]]]:
    """(hyperparameters of the HParams session, {scalar tag: values}) found in the event files under `folder`."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import plugin_data_pb2

    hparams: dict[str, object] = {}
    scalars: dict[str, list[float]] = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "hparams":
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    for name, v in data.session_start_info.hparams.items():
                        hparams[name] = v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind"))
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    tag = f"{path.parent.name}/{value.tag}"
                    scalars.setdefault(tag, []).append(float(tf.make_ndarray(value.tensor)))
    return hparams, scalars


def test_kerastuner_trials_log_scalars_and_hparams(kt_study) -> None:
    from recsearch.reproduce import open_study

    study = open_study(str(kt_study.folder)).study
    for t in study.trials:
        hparams, scalars = read_events(kt_study.folder / "tensorboard" / f"trial_{t.number}")
        assert hparams == pytest.approx(t.params)  # the trial's hyperparameters, conditional ones only when active
        assert scalars["validation/epoch_rmse"] == pytest.approx(t.user_attrs["val_curve"], rel=1e-5)
        assert len(scalars["train/epoch_loss"]) == t.user_attrs["epochs_run"]


def test_optuna_trials_and_train_runs_log_too(tiny, isolated_paths) -> None:
    from recsearch.config import compose_config
    from recsearch.search.sweep import run_sweep
    from recsearch.runs import run_training

    report = run_sweep([*tiny, *KT_SPACE, "search.n_trials=2", "search.study_name=tb", "train.tensorboard=true"],
                       show_progress=False)
    from recsearch.reproduce import open_study

    for t in open_study(str(report.folder)).study.trials:
        hparams, scalars = read_events(report.folder / "tensorboard" / f"trial_{t.number}")
        assert hparams == pytest.approx(t.params) and len(scalars["validation/epoch_rmse"]) == t.user_attrs["epochs_run"]
    run_training(compose_config([*tiny, "train.tensorboard=true"]), save_model=False)
    (run,) = (isolated_paths / "default" / "tensorboard").iterdir()
    hparams, scalars = read_events(run)
    assert hparams["model.width"] == 16 and hparams["train.optimizer"] == "adam" and "validation/epoch_mae" in scalars


def test_kerastuner_sweep_with_tensorboard_on_the_other_backend(tiny, isolated_paths, tmp_path) -> None:
    """A KerasTuner sweep in a process on the backend this session does not run on (TensorFlow, unless the suite
    runs on it) logs its trials for TensorBoard."""
    other = "tensorflow" if keras.backend.backend() == "jax" else "jax"
    env = {**os.environ, "KERAS_BACKEND": other}
    cmd = [sys.executable, "-m", "recsearch", "sweep", "--no-progress", *tiny, *KT_SPACE, "search.engine=kerastuner",
           "search.n_trials=1", "search.study_name=other", "train.tensorboard=true"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    folder = isolated_paths / "default" / "other"
    from recsearch.reproduce import open_study

    (trial,) = open_study(str(folder)).study.trials
    assert trial.state.name == "COMPLETE" and trial.user_attrs["environment"]["backend"] == other
    hparams, _ = read_events(folder / "tensorboard" / "trial_0")
    assert hparams == pytest.approx(trial.params)
