"""Train and evaluate one configuration: build, fit with early stopping, evaluate test once.

Rating on (user, item) pairs trains with the jitted loop of `jax_loop` on the JAX backend and with
Keras `fit` on TensorFlow; both early-stop on val_<task.metric> and restore the best epoch's weights,
whose validation metrics are the ones reported (no second validation pass).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from recsearch.data.types import PreparedData, SplitArrays
from recsearch.errors import RecsearchError
from recsearch.training.inputs import EVAL_BATCH, model_inputs  # noqa: F401 - re-exported for callers


class TrainingDiverged(RecsearchError, RuntimeError):
    """The loss became NaN or infinite: a property of the config (a sweep records it as the trial's failure;
    `train` reports it in one line)."""


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
    timings: dict[str, float] = field(default_factory=dict)  # build_s, compile_s, fit_s, eval_s
    stalled_at: int | None = None  # the epoch `train.stall_epochs` stopped a run that was not learning


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
    from recsearch.training.backend import jit_enabled
    from recsearch.training.keras_metrics import ClippedError
    from recsearch.training.losses import RATING_LOSS

    low, high = clip_range(cfg, data)
    model.compile(
        optimizer=optimizer if optimizer is not None else make_optimizer(cfg.train),
        loss=RATING_LOSS,
        metrics=[ClippedError("rmse", low, high), ClippedError("mae", low, high)],
        jit_compile=jit_enabled(cfg.train),
        steps_per_execution=int(cfg.train.steps_per_execution),
    )


def clip_range(cfg: Any, data: PreparedData) -> tuple[float, float]:
    """The rating scale predictions are clipped to for the metrics, or (-inf, inf) when clipping is off."""
    low, high = data.rating_scale if cfg.task.clip_predictions else (-np.inf, np.inf)
    return float(low), float(high)


def monitor_mode(task: Any) -> str:
    """EarlyStopping's mode for the task's selection metric: min when minimised, max when maximised."""
    return "min" if task.direction == "minimize" else "max"


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
    from recsearch.training.stall import stall_stop

    fitter = _fitter(cfg.task.name, model_spec(cfg.model.name).trainer)
    stall = stall_stop(cfg, data)
    seed_everything(int(cfg.train.seed), deterministic=bool(cfg.train.deterministic))
    start = time.perf_counter()
    model = build_model(cfg.model, data)
    build_s = time.perf_counter() - start
    fitted = fitter(model, cfg, data, callbacks=[*callbacks, *([stall] if stall else [])],
                    verbose=int(cfg.train.verbose if verbose is None else verbose), optimizer=make_optimizer(cfg.train))
    raw_history, best_epoch, metrics = fitted[:3]
    timings = {"build_s": build_s, "compile_s": 0.0, "fit_s": time.perf_counter() - start - build_s, "eval_s": 0.0}
    timings.update(fitted[3] if len(fitted) > 3 else {})  # fitters that know finer splits return them 4th
    timings["build_s"] += timings.pop("twin_build_s", 0.0)
    history = {k: [float(v) for v in vals] for k, vals in raw_history.items()}
    if not all(math.isfinite(v) for v in history.get("loss", [])):
        raise TrainingDiverged(f"training loss diverged (not finite) at epoch {len(history['loss'])}; "
                               "lower train.learning_rate")  # no values: a sweep groups trials by this reason
    return TrainResult(
        metrics=metrics, history=history, epochs_run=len(history.get("loss", [])),
        best_epoch=best_epoch, wall_time=time.perf_counter() - start,
        n_params=int(model.count_params()), model=model, timings=timings,
        stalled_at=stall.stalled_at if stall else None,
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


def schedule_for(cfg: Any, data: PreparedData, *, verbose: int = 0) -> Any:
    """The JAX loop's settings for a rating config (batch, epochs, patience, monitored metric, clipping)."""
    from recsearch.training.jax_loop import Schedule

    low, high = clip_range(cfg, data)
    return Schedule(batch_size=int(cfg.train.batch_size), epochs=int(cfg.train.epochs),
                    patience=int(cfg.train.patience), metric=str(cfg.task.metric), mode=monitor_mode(cfg.task),
                    low=low, high=high, verbose=verbose)


def padded_twin(cfg: Any, data: PreparedData, model: Any) -> Any:
    """The wider twin the JAX loop trains `model` in (`train.pad_embeddings`, `recsearch.training.widths`), built
    and compiled like it (once per architecture: `jax_loop.twin_for`); None when the width is already on the
    ladder, the family does not declare `pads_embedding`, or padding is off."""
    from recsearch.models.registry import model_spec
    from recsearch.training.jax_loop import twin_for
    from recsearch.training.widths import padded_width

    if not cfg.train.pad_embeddings or not model_spec(cfg.model.name).pads_embedding:
        return None
    width = int(cfg.model.embedding_dim)
    wide = padded_width(width)
    if wide == width:
        return None
    return twin_for(model, schedule_for(cfg, data), wide, lambda: _build_twin(cfg, data, model, wide))


def _build_twin(cfg: Any, data: PreparedData, model: Any, wide: int) -> Any:
    """`model`'s family built and compiled at embedding width `wide`, or None when one of its variables is not
    blocks of the embedding width (it then trains at its own width)."""
    import copy

    from recsearch.models import build_model
    from recsearch.training.jax_loop import Twin
    from recsearch.training.widths import width_map

    twin_cfg = copy.deepcopy(cfg.model)
    twin_cfg.embedding_dim = wide
    twin = build_model(twin_cfg, data)
    compile_model(twin, cfg, data)
    try:
        width_map(model, twin, int(cfg.model.embedding_dim), wide)
    except ValueError:
        return None
    return Twin(twin, wide)


def fit_rating_pairs(model: Any, cfg: Any, data: PreparedData, *, callbacks: Sequence[Any], verbose: int,
                     optimizer: Any) -> tuple[dict, int, dict[str, float], dict[str, float]]:
    """Rating prediction on (user, item) rows: MSE, early stopping on val_<task.metric>; metrics and timings."""
    import keras

    compile_model(model, cfg, data, optimizer=optimizer)
    if keras.backend.backend() == "jax":
        from recsearch.training.jax_loop import Member, fit_members

        start = time.perf_counter()
        twin = padded_twin(cfg, data, model)
        twin_build_s = time.perf_counter() - start
        member = Member(model, int(cfg.train.seed), list(callbacks),
                        width=int(cfg.model.embedding_dim) if twin is not None else 0)
        fits, timings = fit_members([member], data.train, data.valid, data.test,
                                    schedule_for(cfg, data, verbose=verbose), twin)
        return fits[0].history, fits[0].best_epoch, fits[0].metrics, {**timings, "twin_build_s": twin_build_s}
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{cfg.task.metric}", mode=monitor_mode(cfg.task),
                                            patience=int(cfg.train.patience), restore_best_weights=True)
    start = time.perf_counter()
    fit = model.fit(
        model_inputs(data.train), data.train.ratings,
        validation_data=(model_inputs(data.valid), data.valid.ratings),
        batch_size=int(cfg.train.batch_size), validation_batch_size=EVAL_BATCH,
        epochs=int(cfg.train.epochs), shuffle=True,
        callbacks=[keras.callbacks.TerminateOnNaN(), stopper, *callbacks], verbose=verbose,
    )
    fit_s, start = time.perf_counter() - start, time.perf_counter()
    best = int(stopper.best_epoch)
    valid = {f"valid_{m}": float(fit.history[f"val_{m}"][best]) if len(data.valid) else float("nan")
             for m in ("rmse", "mae")}
    metrics = {**valid, **evaluate(model, data.test, "test")}
    return fit.history, best + 1, metrics, {"fit_s": fit_s, "eval_s": time.perf_counter() - start}


def evaluate(model: Any, part: SplitArrays, prefix: str) -> dict[str, float]:
    """Clipped RMSE and MAE of `model` on one split part, keyed `<prefix>_rmse` / `<prefix>_mae`."""
    if len(part) == 0:
        return {f"{prefix}_rmse": float("nan"), f"{prefix}_mae": float("nan")}
    values = model.evaluate(model_inputs(part), part.ratings, batch_size=EVAL_BATCH, verbose=0, return_dict=True)
    return {f"{prefix}_{k}": float(values[k]) for k in ("rmse", "mae")}
