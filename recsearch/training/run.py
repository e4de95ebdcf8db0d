"""One training run in memory: prepare the split, train, summarise; and the final-model refit on train + valid."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from omegaconf import OmegaConf

from recsearch.data.types import PreparedData, SplitArrays


@dataclass
class TrainedRun:
    """A finished run: the trainer's result (model, history) and the summary written to metrics.json; with a
    refit, `result` is the refit's, and the histories are kept apart: `history` the run validated on
    validation (empty when `train.refit_epochs` skipped it), `refit_history` the refit's training columns (its
    validation rows are among its training data, so their scores would mean nothing)."""

    result: Any  # recsearch.training.trainer.TrainResult
    summary: dict[str, Any]
    history: dict[str, list] = field(default_factory=dict)
    refit_history: dict[str, list] | None = None


def prepare_for(cfg: Any) -> PreparedData:
    """Load and split the dataset of `cfg` (from the prepared-split cache when it is there)."""
    from recsearch.data import prepare_data, resolve_cache_dir, resolve_data_dir

    return prepare_data(cfg.data, cfg.split, data_dir=resolve_data_dir(cfg.paths),
                        cache_dir=resolve_cache_dir(cfg.paths))


def check_something_to_learn(cfg: Any, data: PreparedData) -> None:
    """Said once, before any training, by `train` and a sweep's own process (not by each of its workers):
    ratings that are all one value under the rating task (implicit feedback read without a rating column) warn,
    since the model has nothing to learn and its RMSE says nothing; ranking data on which every trial would fail
    (no negative left to draw) is refused (`ranking.protocols.check_rankable`)."""
    from recsearch.data.loaders import warn

    ratings = data.train.ratings
    if cfg.task.name == "rating" and ratings.size and ratings.min() == ratings.max():
        warn(f"every training rating is {float(ratings.min()):g}: task=rating (predicting the rating) has nothing "
             "to learn and its RMSE means nothing; for implicit feedback (clicks, views, purchases) use "
             "task=ranking", once=True)
    if cfg.task.name == "ranking":
        from recsearch.ranking.protocols import check_rankable

        check_rankable(data, cfg.task)


def experiment_dir(cfg: Any) -> Path:
    """results/<experiment>/, with `default` when no +experiment was chosen."""
    return Path(cfg.paths.results_dir) / (cfg.experiment or "default")


def train_once(cfg: Any, *, data: PreparedData | None = None,
               on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> TrainedRun:
    """Train `cfg` once (early stopping on validation) and summarise metrics, timings and provenance.

    With `train.refit=true` the chosen epochs are then retrained on train + validation (`refit_model`): the
    summary gains `refit_epochs` and `refit_test_<m>`, and the result's model is the refit one. `on_epoch(epoch,
    logs)` is called after each epoch (1-based; `loss`, `val_<metric>`), of the refit too, whose logs also hold
    `refit_epochs` (the epochs it runs).
    """
    from recsearch.provenance import environment_info
    from recsearch.training.backend import backend_versions, setup_for
    from recsearch.training.jax_loop import with_optimizer_state

    start = time.perf_counter()
    data = data if data is not None else prepare_for(cfg)  # bad data fails before the framework is imported
    check_something_to_learn(cfg, data)
    prep_time = time.perf_counter() - start
    setup_for(cfg)
    from recsearch.training.tensorboard import run_tensorboard
    from recsearch.training.trainer import train

    recorded = cfg.train.refit and cfg.train.refit_epochs is not None
    callbacks = [*run_tensorboard(cfg), *([_epoch_reporter(on_epoch, {})] if on_epoch else [])]
    result = None if recorded else train(cfg, data, callbacks=callbacks)
    summary: dict[str, Any] = {"model": cfg.model.name, "task": cfg.task.name, "dataset": data.name}
    history, refit_history = dict(result.history) if result is not None else {}, None
    if result is not None:
        summary.update(result.metrics, epochs_run=result.epochs_run, best_epoch=result.best_epoch)
        if result.stalled_at is not None:
            summary["stalled_at"] = result.stalled_at
    if cfg.train.refit:
        epochs = int(cfg.train.refit_epochs) if recorded else max(1, int(result.best_epoch))
        result = refit_model(cfg, data, epochs=epochs,
                             callbacks=[_epoch_reporter(on_epoch, {"refit_epochs": epochs})] if on_epoch else ())
        refit_history = {k: v for k, v in result.history.items() if not k.startswith("val_")}
        summary.update(refit_epochs=epochs, **{f"refit_{k}": v for k, v in result.metrics.items()
                                              if k.startswith("test_")})
    summary.update({
        "train_seconds": round(result.wall_time, 3), "prepare_seconds": round(prep_time, 3),
        "n_params": result.n_params, "seed": int(cfg.train.seed),
        "data_checksum": data.checksum, "split_key": data.split_key,
        "environment": {**environment_info(), **backend_versions()},
    })
    with_optimizer_state(result.model)  # the model handed out and saved carries it, as `fit` leaves it
    return TrainedRun(result=result, summary=summary, history=history, refit_history=refit_history)


def _epoch_reporter(on_epoch: Callable[[int, dict[str, float]], None], extra: dict[str, float]) -> Any:
    """A Keras callback calling `on_epoch(epoch, logs + extra)` at each epoch's end (the JAX loop calls it as `fit`
    does)."""
    import keras

    class EpochReporter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            on_epoch(epoch + 1, {**{k: float(v) for k, v in (logs or {}).items()}, **extra})

    return EpochReporter()


def refit_model(cfg: Any, data: PreparedData, *, epochs: int, callbacks: Sequence[Any] = ()) -> Any:
    """The final model: `cfg` retrained on train + validation for exactly `epochs` epochs, evaluated on test.

    Early stopping cannot fire (patience beyond the last epoch, no stall rule), so the epochs chosen on
    validation are run.
    """
    from recsearch.training.trainer import train

    final = OmegaConf.to_container(cfg, resolve=True)
    final["train"].update(epochs=int(epochs), patience=int(epochs) + 1, stall_epochs=0)
    return train(OmegaConf.create(final), train_plus_valid(data), callbacks=callbacks)


def train_plus_valid(data: PreparedData) -> PreparedData:
    """`data` with the validation interactions appended to train (validation itself kept for monitoring)."""
    merged = SplitArrays(*(np.concatenate([getattr(data.train, f), getattr(data.valid, f)])
                           for f in ("users", "items", "ratings", "timestamps")))
    return replace(data, train=merged, split_key=f"{data.split_key}+valid")
