"""Validate a composed config against the typed schemas, naming the offending key."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recsearch.config.schema import RootConfig
from recsearch.choices import CHOICES, OBJECTIVES
from recsearch.errors import ConfigError


def validate_config(cfg: DictConfig) -> DictConfig:
    """Merge `cfg` into the structured schemas; raise ConfigError on unknown keys or wrong types.

    The result is resolved (no interpolations left), typed and read-only against unknown keys.
    """
    from recsearch.models.registry import model_schema

    raw = OmegaConf.to_container(cfg, resolve=False)
    model = raw.pop("model", None)
    space = raw.pop("search_space", None)
    if not isinstance(model, dict) or "name" not in model:
        raise ConfigError("config key 'model': missing; choose one with model=NAME")
    merged = _merge(OmegaConf.structured(RootConfig), raw, prefix="")
    merged.model = _merge(OmegaConf.structured(model_schema(str(model["name"]))), model, prefix="model.")
    OmegaConf.set_struct(merged, False)
    merged.search_space = OmegaConf.create(space or {})
    OmegaConf.set_struct(merged, True)
    try:
        OmegaConf.resolve(merged)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config key '{_key(exc)}': {_reason(exc)}") from None
    _check_choices(merged)
    return merged


def _merge(schema: DictConfig, values: Any, *, prefix: str) -> DictConfig:
    try:
        return OmegaConf.merge(schema, values)
    except OmegaConfBaseException as exc:
        raise ConfigError(f"config key '{prefix}{_key(exc)}': {_reason(exc)}") from None


def _key(exc: OmegaConfBaseException) -> str:
    return str(getattr(exc, "full_key", None) or getattr(exc, "key", None) or "?")


def _reason(exc: OmegaConfBaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "not in" in msg and "Key" in msg:
        return "unknown key (not in the schema)"
    return msg



_POSITIVE = ("train.learning_rate", "train.batch_size", "train.epochs", "search.n_trials", "search.n_workers")


def _check_choices(cfg: DictConfig) -> None:
    """Values with a closed set of choices, and values that must be positive."""
    for key, choices in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in choices:
            raise ConfigError(f"config key '{key}': {value!r} is not one of {', '.join(choices)}")
    for key in _POSITIVE:
        value = OmegaConf.select(cfg, key)
        if value is None or value <= 0:
            raise ConfigError(f"config key '{key}': must be > 0, got {value!r}")
    _check_task(cfg)
    for obj in cfg.search.objectives:
        if obj not in OBJECTIVES:
            raise ConfigError(f"config key 'search.objectives': {obj!r} is not one of {', '.join(OBJECTIVES)}")


def _check_task(cfg: DictConfig) -> None:
    """The task's metric exists for the task, and the model family supports the task."""
    from recsearch.models.registry import model_spec

    task = cfg.task
    if task.name == "rating" and task.metric not in ("rmse", "mae"):
        raise ConfigError(f"config key 'task.metric': {task.metric!r} is not a rating metric (rmse, mae)")
    if task.name == "ranking":
        from recsearch.ranking.metrics import parse_metric

        try:
            _, k = parse_metric(str(task.metric))
        except ValueError as exc:
            raise ConfigError(f"config key 'task.metric': {exc}") from None
        if k is not None and k not in task.ks:
            raise ConfigError(f"config key 'task.ks': must contain {k} to report task.metric {task.metric!r}")
        if task.num_negatives < 1 or task.num_candidates < 1 or not task.ks or min(task.ks) < 1:
            raise ConfigError("config key 'task': num_negatives, num_candidates and every ks entry must be >= 1")
        if task.negatives == "in_batch" and (cfg.model.name != "two_tower" or task.loss != "softmax"):
            raise ConfigError("config key 'task.negatives': in_batch needs model=two_tower and task.loss=softmax")
    spec = model_spec(str(cfg.model.name))
    if task.name not in spec.tasks:
        raise ConfigError(f"config key 'task.name': model {spec.name!r} supports {', '.join(spec.tasks)}, "
                          f"not {task.name!r}")
