"""One trial: sample the space, apply it to the worker's base config, train, record everything on the trial."""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from recsearch.data.types import PreparedData
from recsearch.search.space import SearchSpace, to_overrides


@dataclass
class TrialContext:
    """What every trial of a worker shares: the base overrides, the space, the prepared data and the
    base config (composed and validated once per worker; None recomposes every trial)."""

    base_overrides: list[str]
    space: SearchSpace
    data: PreparedData
    objectives: list[str]
    base_cfg: Any = None


@dataclass
class TrialOutcome:
    """Objective values, or pruned; the trained model for keeping; where the trial's time went."""

    values: list[float]
    pruned: bool
    model: Any
    timing: dict[str, Any] = field(default_factory=dict)


def trial_config(ctx: TrialContext, params: dict[str, Any]) -> Any:
    """The validated config of a trial: the base config with the sampled values set.

    Hydra composes again only when a sampled key selects a config group (e.g. `model`): composing
    costs ~0.6 s, setting values on a copy of the validated base ~1 ms (the schema types check them).
    """
    from recsearch.config import compose_config

    if ctx.base_cfg is None or any(_selects_group(ctx.base_cfg, key) for key in params):
        return compose_config([*ctx.base_overrides, *to_overrides(params)])
    return apply_params(ctx.base_cfg, params)


def apply_params(base: Any, params: dict[str, Any]) -> Any:
    """A copy of the validated config `base` with `params` ({dotted key: value}) set, type-checked."""
    import copy

    from omegaconf.errors import OmegaConfBaseException

    from recsearch.errors import ConfigError

    cfg = copy.deepcopy(base)
    for key, value in params.items():
        try:
            OmegaConf.update(cfg, key, value, merge=False)
        except OmegaConfBaseException as exc:
            raise ConfigError(f"config key {key!r}: cannot take the sampled value {value!r} "
                              f"({str(exc).splitlines()[0]})") from None
    return cfg


def _selects_group(base: Any, key: str) -> bool:
    """True when `key` names a config group (its value in the config is a whole section)."""
    return "." not in key or isinstance(OmegaConf.select(base, key, default=None), DictConfig)


def config_hash(cfg: Any) -> str:
    """A short stable hash of the model, train, data, split and task sections."""
    keep = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "split", "model", "train", "task")}
    return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:12]


def config_text(cfg: Any) -> str:
    """The trial's config as YAML, with any storage password redacted (it is stored in the study).

    Dumped from a plain container with libyaml when available: the same text as `OmegaConf.to_yaml`,
    in about half the time, and without copying the config.
    """
    import yaml

    from recsearch.search.storage import redact

    doc = OmegaConf.to_container(cfg)
    if doc["search"].get("storage"):
        doc["search"]["storage"] = redact(str(doc["search"]["storage"]))
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True)


def run_trial(trial: Any, ctx: TrialContext) -> TrialOutcome:
    """Train the trial's config; report each epoch for pruning; store metrics and provenance as attrs.

    The attrs are written together when the trial ends (journal storages: one append, one fsync).
    """
    from recsearch.models.hypermodel import sample_hypermodel
    from recsearch.search.fidelity import train_by_fidelity
    from recsearch.search.live import live_status
    from recsearch.search.pruning import OptunaPruning
    from recsearch.search.storage import study_dir
    from recsearch.training.tensorboard import trial_tensorboard
    from recsearch.training.trainer import train

    start = time.perf_counter()
    cfg = sample_hypermodel(trial, trial_config(ctx, ctx.space.sample(trial)), ctx.data)
    attrs = _provenance(cfg, ctx)
    config_s = time.perf_counter() - start
    by_data = cfg.search.fidelity == "data"  # rungs of a growing data sample, pruned per rung
    pruning = OptunaPruning(trial, f"val_{cfg.task.metric}", report=not ctx.objectives and not by_data)
    start, result = time.perf_counter(), None
    try:
        callbacks = [pruning, *trial_tensorboard(cfg, study_dir(cfg), trial.number, trial.params),
                     live_status(trial, f"val_{cfg.task.metric}")]

        def fit(c: Any, d: Any) -> Any:
            return train(c, d, callbacks=callbacks)

        result, rung_pruned_at = train_by_fidelity(trial, cfg, ctx.data, fit) if by_data else (fit(cfg, ctx.data), None)
    finally:
        attrs.update(val_curve=pruning.curve, duration_s=round(time.perf_counter() - start, 3))
        if result is not None:
            attrs.update(**result.metrics, epochs_run=result.epochs_run, best_epoch=result.best_epoch,
                         n_params=result.n_params, pruned_at=pruning.pruned_at if not by_data else rung_pruned_at,
                         stalled_at=result.stalled_at)
        bookkeeping_s = write_attrs(trial, attrs)
    timing = {"config_s": round(config_s, 4), "bookkeeping_s": round(bookkeeping_s, 4),
              **getattr(result, "timings", {})}
    values = [result.metrics[f"valid_{cfg.task.metric}"]] + [_extra(o, result.model, ctx.data) for o in ctx.objectives]
    if not np.isfinite(values[0]):
        from recsearch.training.trainer import TrainingDiverged

        raise TrainingDiverged(f"validation {cfg.task.metric} is not finite")
    return TrialOutcome(values=values, pruned=pruning.pruned or rung_pruned_at is not None, model=result.model,
                        timing=timing)


def _provenance(cfg: Any, ctx: TrialContext) -> dict[str, Any]:
    """What reproduces the trial: its full config, hash, seed, data checksum, split key, versions."""
    from recsearch.provenance import environment_info
    from recsearch.training.backend import backend_versions

    return {"config": config_text(cfg), "config_hash": config_hash(cfg), "seed": int(cfg.train.seed),
            "data_checksum": ctx.data.checksum, "split_key": ctx.data.split_key,
            "environment": {**environment_info(), **backend_versions()}}


def write_attrs(trial: Any, attrs: dict[str, Any]) -> float:
    """Set every attr on the trial in one batch (one journal append); return the seconds it took."""
    from recsearch.search.storage import batched_writes

    start = time.perf_counter()
    study = getattr(trial, "study", None)  # a FixedTrial (KerasTuner engine, replays) has no study: plain sets
    with batched_writes(study) if study is not None else contextlib.nullcontext():
        for key, value in attrs.items():
            trial.set_user_attr(key, _plain(value))
    return time.perf_counter() - start


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
