"""Train and evaluate one configuration: build, fit with early stopping, evaluate valid and test."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from recsearch.data.types import PreparedData, SplitArrays

EVAL_BATCH = 16384


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    """What one training run produced. `metrics` keys: valid_<m> and test_<m> for every metric reported
    (rating: rmse, mae; ranking: hr@K, ndcg@K, recall@K, precision@K, map@K, coverage@K, mrr)."""

    metrics: dict[str, float]
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int
    wall_time: float
    n_params: int
    model: Any = field(repr=False, default=None)


def model_inputs(part: SplitArrays) -> dict[str, np.ndarray]:
    """The arrays a model is fed, keyed as its Input layers are named."""
    return {"user": part.users, "item": part.items}


def make_optimizer(train_cfg: Any) -> Any:
    """The Keras optimizer named by `train.optimizer`, with its learning rate and extras."""
    import keras

    lr = float(train_cfg.learning_rate)
    name = train_cfg.optimizer
    if name == "adam":
        return keras.optimizers.Adam(lr)
    if name == "adamw":
        return keras.optimizers.AdamW(lr, weight_decay=float(train_cfg.weight_decay))
    if name == "sgd":
        return keras.optimizers.SGD(lr, momentum=float(train_cfg.momentum))
    if name == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=float(train_cfg.momentum))
    raise ValueError(f"unknown optimizer {name!r}")


def compile_model(model: Any, cfg: Any, data: PreparedData, *, optimizer: Any = None) -> None:
    """Compile for rating prediction: MSE loss, RMSE and MAE clipped to the rating scale."""
    from recsearch.training.metrics import ClippedError

    low, high = data.rating_scale if cfg.task.clip_predictions else (-np.inf, np.inf)
    model.compile(
        optimizer=optimizer if optimizer is not None else make_optimizer(cfg.train),
        loss="mse",
        metrics=[ClippedError("rmse", low, high), ClippedError("mae", low, high)],
        jit_compile=bool(cfg.train.jit_compile),
        steps_per_execution=int(cfg.train.steps_per_execution),
    )


def train(cfg: Any, data: PreparedData, *, callbacks: Sequence[Any] = (), verbose: int | None = None) -> TrainResult:
    """Train the model of `cfg` on `data.train`, early-stop on validation, evaluate valid and test.

    Dispatches on (task, the model family's trainer): rating on (user, item) pairs, rating on item rows
    (AutoRec), ranking with negatives. Metrics hold valid_<m> and test_<m> for every metric reported;
    the epoch logs hold val_<task.metric>. The caller sets up the backend first
    (`recsearch.training.backend.setup_backend`). Raises TrainingDiverged when the loss is not finite.
    """
    from recsearch.models import build_model
    from recsearch.models.registry import model_spec
    from recsearch.training.backend import seed_everything

    fitter = _fitter(cfg.task.name, model_spec(cfg.model.name).trainer)
    seed_everything(int(cfg.train.seed), deterministic=bool(cfg.train.deterministic))
    start = time.perf_counter()
    model = build_model(cfg.model, data)
    raw_history, best_epoch, metrics = fitter(model, cfg, data, callbacks=list(callbacks),
                                              verbose=int(cfg.train.verbose if verbose is None else verbose),
                                              optimizer=make_optimizer(cfg.train))
    history = {k: [float(v) for v in vals] for k, vals in raw_history.items()}
    if not all(math.isfinite(v) for v in history.get("loss", [])):
        raise TrainingDiverged(f"training loss diverged (not finite) at epoch {len(history['loss'])}")
    return TrainResult(
        metrics=metrics, history=history, epochs_run=len(history.get("loss", [])),
        best_epoch=best_epoch, wall_time=time.perf_counter() - start,
        n_params=int(model.count_params()), model=model,
    )


def _fitter(task: str, trainer: str) -> Any:
    """The fit function of a (task, model trainer) pair; ConfigError for a combination that has none."""
    from recsearch.errors import ConfigError
    from recsearch.training.ranking import fit_ranking
    from recsearch.training.rows import fit_item_rows

    fitters = {("rating", "pairs"): fit_rating_pairs, ("rating", "item_rows"): fit_item_rows,
               ("ranking", "pairs"): fit_ranking}
    if (task, trainer) not in fitters:
        raise ConfigError(f"task {task!r} is not supported by models trained on {trainer.replace('_', ' ')}")
    return fitters[(task, trainer)]


def fit_rating_pairs(model: Any, cfg: Any, data: PreparedData, *, callbacks: Sequence[Any], verbose: int,
                     optimizer: Any) -> tuple[dict, int, dict[str, float]]:
    """Rating prediction on (user, item) rows: MSE, early stopping on val_<task.metric>."""
    import keras

    compile_model(model, cfg, data, optimizer=optimizer)
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{cfg.task.metric}", mode="min",
                                            patience=int(cfg.train.patience), restore_best_weights=True)
    fit = model.fit(
        model_inputs(data.train), data.train.ratings,
        validation_data=(model_inputs(data.valid), data.valid.ratings),
        batch_size=int(cfg.train.batch_size), validation_batch_size=EVAL_BATCH,
        epochs=int(cfg.train.epochs), shuffle=True,
        callbacks=[keras.callbacks.TerminateOnNaN(), stopper, *callbacks], verbose=verbose,
    )
    metrics = {**evaluate(model, data.valid, "valid"), **evaluate(model, data.test, "test")}
    return fit.history, int(stopper.best_epoch) + 1, metrics


def evaluate(model: Any, part: SplitArrays, prefix: str) -> dict[str, float]:
    """Clipped RMSE and MAE of `model` on one split part, keyed `<prefix>_rmse` / `<prefix>_mae`."""
    if len(part) == 0:
        return {f"{prefix}_rmse": float("nan"), f"{prefix}_mae": float("nan")}
    values = model.evaluate(model_inputs(part), part.ratings, batch_size=EVAL_BATCH, verbose=0, return_dict=True)
    return {f"{prefix}_{k}": float(values[k]) for k in ("rmse", "mae")}
