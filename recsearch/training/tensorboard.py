"""TensorBoard logs of a run or a trial: epoch scalars (train/ and validation/, as Keras writes them) and the
hyperparameters through the HParams plugin, so `tensorboard --logdir <study>/tensorboard` shows a sweep.

Written with `tf.summary`, which works whatever the Keras backend (TensorFlow is a dependency either way).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import keras

SCALAR_TYPES = (bool, int, float, str)


def trial_tensorboard(cfg: Any, study_folder: Path, number: int,
                      params: Mapping[str, Any]) -> list[keras.callbacks.Callback]:
    """With `train.tensorboard`, a logger writing to <study>/tensorboard/trial_<number>/; else nothing."""
    if not cfg.train.tensorboard:
        return []
    root = Path(study_folder) / "tensorboard"
    return [TensorBoardLogger(root / f"trial_{number}", dict(params), session=f"trial_{number}")]


def run_tensorboard(cfg: Any) -> list[keras.callbacks.Callback]:
    """With `train.tensorboard`, a logger for one `recsearch train` run under <experiment>/tensorboard/."""
    if not cfg.train.tensorboard:
        return []
    from omegaconf import OmegaConf

    from recsearch.training.run import experiment_dir

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    flat = {**_flatten("model", OmegaConf.to_container(cfg.model)),
            **_flatten("train", OmegaConf.to_container(cfg.train))}
    name = f"{stamp}-{cfg.model.name}"
    return [TensorBoardLogger(experiment_dir(cfg) / "tensorboard" / name, flat, session=name)]


class TensorBoardLogger(keras.callbacks.Callback):
    """Epoch scalars under `logdir/train` and `logdir/validation`, hyperparameters as an HParams session."""

    def __init__(self, logdir: Path, hparams: dict[str, Any], *, session: str):
        super().__init__()
        self.logdir, self.session = Path(logdir), session
        self.hparams = {k: v if isinstance(v, SCALAR_TYPES) else str(v) for k, v in hparams.items()}
        self._writers: dict[str, Any] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp_api

        self._writers = {part: tf.summary.create_file_writer(str(self.logdir / part))
                         for part in ("train", "validation")}
        with tf.summary.create_file_writer(str(self.logdir)).as_default():
            hp_api.hparams(self.hparams, trial_id=self.session)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        import tensorflow as tf

        for key, value in (logs or {}).items():
            part, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            with self._writers[part].as_default():
                tf.summary.scalar(f"epoch_{name}", float(value), step=epoch)

    def on_train_end(self, logs: dict | None = None) -> None:
        for writer in self._writers.values():
            writer.flush()
            writer.close()


def _flatten(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """{'model.depth': 3, ...}: scalars only (lists and None as text)."""
    return {f"{prefix}.{k}": v if isinstance(v, SCALAR_TYPES) else str(v) for k, v in values.items()}
