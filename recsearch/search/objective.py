"""One trial: sample the space, compose the trial's config, train, record everything on the trial."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf

from recsearch.data.types import PreparedData
from recsearch.search.space import SearchSpace, to_overrides


@dataclass
class TrialContext:
    """What every trial of a worker shares: the base overrides, the space and the prepared data."""

    base_overrides: list[str]
    space: SearchSpace
    data: PreparedData
    objectives: list[str]


@dataclass
class TrialOutcome:
    """Objective values, or pruned; the trained model for keeping."""

    values: list[float]
    pruned: bool
    model: Any


def trial_config(ctx: TrialContext, params: dict[str, Any]) -> Any:
    """The validated config of a trial: base overrides plus the sampled values."""
    from recsearch.config import compose_config

    return compose_config([*ctx.base_overrides, *to_overrides(params)])


def config_hash(cfg: Any) -> str:
    """A short stable hash of the model, train, data, split and task sections."""
    keep = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "split", "model", "train", "task")}
    return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:12]


def config_text(cfg: Any) -> str:
    """The trial's config as YAML, with any storage password redacted (it is stored in the study)."""
    from recsearch.search.storage import redact

    safe = cfg.copy()
    if safe.search.storage:
        safe.search.storage = redact(str(safe.search.storage))
    return OmegaConf.to_yaml(safe)


def run_trial(trial: Any, ctx: TrialContext) -> TrialOutcome:
    """Train the trial's config; report each epoch for pruning; store metrics and provenance as attrs."""
    from recsearch.provenance import environment_info
    from recsearch.search.fidelity import train_by_fidelity
    from recsearch.search.pruning import OptunaPruning
    from recsearch.training.backend import backend_versions
    from recsearch.training.trainer import train

    cfg = trial_config(ctx, ctx.space.sample(trial))
    metric = cfg.task.metric
    _set_attrs(trial, config=config_text(cfg), config_hash=config_hash(cfg), seed=int(cfg.train.seed),
               data_checksum=ctx.data.checksum, split_key=ctx.data.split_key,
               environment={**environment_info(), **backend_versions()})
    by_data = cfg.search.fidelity == "data"
    pruning = OptunaPruning(trial, f"val_{metric}", report=not ctx.objectives and not by_data)
    start = time.perf_counter()
    try:
        result, rung_pruned = (train_by_fidelity(trial, cfg, ctx.data, lambda c, d: train(c, d, callbacks=[pruning]))
                               if by_data else (train(cfg, ctx.data, callbacks=[pruning]), False))
    finally:
        _set_attrs(trial, val_curve=pruning.curve, duration_s=round(time.perf_counter() - start, 3))
    _set_attrs(trial, **result.metrics, epochs_run=result.epochs_run, best_epoch=result.best_epoch,
               n_params=result.n_params, pruned_at=pruning.pruned_at)
    values = [result.metrics[f"valid_{metric}"]] + [_extra(obj, result.model, ctx.data) for obj in ctx.objectives]
    if not np.isfinite(values[0]):
        from recsearch.training.trainer import TrainingDiverged

        raise TrainingDiverged(f"validation {metric} is not finite")
    return TrialOutcome(values=values, pruned=pruning.pruned or rung_pruned, model=result.model)


def _extra(objective: str, model: Any, data: PreparedData) -> float:
    """Secondary objectives: parameter count, or prediction latency in ms per 1,000 rows."""
    if objective == "params":
        return float(model.count_params())
    return prediction_latency_ms(model, data)


def prediction_latency_ms(model: Any, data: PreparedData, *, rows: int = 1000, repeats: int = 5) -> float:
    """Median wall time of predicting `rows` validation rows in one batch, in milliseconds."""
    part = data.valid if len(data.valid) else data.train
    n = min(rows, len(part))
    batch = {"user": part.users[:n], "item": part.items[:n]}
    model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def _set_attrs(trial: Any, **attrs: Any) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, _plain(value))


def _plain(value: Any) -> Any:
    """JSON-safe values for Optuna attrs (numpy scalars unwrapped, NaN as None)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value
