"""Validate a composed config against the typed schemas, naming the offending key."""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recsearch.config.schema import BOUNDS, RootConfig
from recsearch.choices import CHOICES, MODEL_CHOICES, OBJECTIVES
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
    check_values(merged)
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



def check_values(cfg: DictConfig) -> None:
    """Every value fits its closed set of choices and its declared range (schema `bounded` fields).

    Search-space validation calls this on both ends of every range, so one declaration serves both.
    """
    from recsearch.models.registry import model_schema, model_ships_with_recsearch

    own = model_ships_with_recsearch(cfg)
    keyed = [*CHOICES.items(), *((f"model.{k}", c) for k, c in MODEL_CHOICES.items() if own and k in cfg.model)]
    for key, choices in keyed:
        value = OmegaConf.select(cfg, key)
        if value not in choices:
            raise ConfigError(f"config key '{key}': {value!r} is not one of {', '.join(choices)}")
    check_ranges(RootConfig, cfg, prefix="")
    check_ranges(model_schema(str(cfg.model.name)), cfg.model, prefix="model.")
    _check_task(cfg)
    _check_study_name(OmegaConf.select(cfg, "search.study_name"))
    _check_workers(OmegaConf.select(cfg, "search.n_workers"))
    for obj in cfg.search.objectives:
        if obj not in OBJECTIVES:
            raise ConfigError(f"config key 'search.objectives': {obj!r} is not one of {', '.join(OBJECTIVES)}")


def _check_workers(value: Any) -> None:
    """`search.n_workers` is `auto` or a whole number of processes, at least 1."""
    if value == "auto" or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return
    raise ConfigError(f"config key 'search.n_workers': must be auto or a whole number >= 1, got {value!r}")


def _check_study_name(name: str | None) -> None:
    """A study name is also its folder's name under results/<experiment>/: one path component, so results
    never land elsewhere (`../x`, `/tmp/x`) or nested where the leaderboard mislabels them (`a/b`)."""
    if name is None:
        return
    if name.strip() in ("", ".", "..") or any(c in name for c in "/\\") or any(ord(c) < 32 for c in name):
        parts = re.split(r"[/\\\s]+", name)
        suggestion = "-".join(p for p in parts if p not in ("", ".", "..")) or "my-study"
        raise ConfigError(f"config key 'search.study_name': {name!r} is not a folder name (it names the study's "
                          f"folder under results/<experiment>/: no '/' or '\\', not '.' or '..'); e.g. {suggestion}")
    if len(name.encode()) > MAX_STUDY_NAME_BYTES:  # else refused by the file system only once the sweep writes
        raise ConfigError(f"config key 'search.study_name': {len(name.encode())} bytes long, over "
                          f"{MAX_STUDY_NAME_BYTES} (it names the study's folder, and file systems allow 255); "
                          f"give a shorter name, e.g. {name[:40]!r}")


MAX_STUDY_NAME_BYTES = 200


def check_ranges(schema: type, node: Any, *, prefix: str) -> None:
    """Raise ConfigError naming the first value of `node` outside the Bounds its schema field declares."""
    for f in fields(schema):
        nested = f.default_factory if is_dataclass(f.default_factory) else None
        if nested is not None and isinstance(node.get(f.name), DictConfig):
            check_ranges(nested, node[f.name], prefix=f"{prefix}{f.name}.")
            continue
        bounds = f.metadata.get(BOUNDS)
        if bounds is None or f.name not in node:
            continue
        value = node[f.name]
        for item in (list(value) if isinstance(value, (ListConfig, list)) else [value]):
            if not bounds.holds(item):
                raise ConfigError(f"config key '{prefix}{f.name}': must be {bounds}, got {item!r}")


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
        if not task.ks:
            raise ConfigError("config key 'task.ks': must list at least one cutoff, e.g. [5, 10, 20]")
        if task.negatives == "in_batch" and (cfg.model.name != "two_tower" or task.loss != "softmax"):
            raise ConfigError("config key 'task.negatives': in_batch needs model=two_tower and task.loss=softmax")
    spec = model_spec(str(cfg.model.name))
    if task.name not in spec.tasks:
        raise ConfigError(f"config key 'task.name': model {spec.name!r} supports {', '.join(spec.tasks)}, "
                          f"not {task.name!r}")


GROUPS = ("data", "split", "model", "train", "task", "search", "search_space", "paths", "experiment")


def check_overrides(overrides: list[str], *, command: str, multirun: bool = False) -> None:
    """Refuse malformed command-line overrides in one line before Hydra composes (cheap: no Keras, no data).

    Catches what Hydra reports as a traceback or with advice that does not apply here: a group set to a
    non-name (`model=5`, `data=null`), a missing key (`=5`), a search expression where one value is needed.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    from recsearch.config.searchpath import group_options

    parser = OverridesParser.create()
    for text in overrides:
        try:
            item = parser.parse_override(text)
        except HydraException as exc:
            key, sep, value = text.partition("=")
            shell_ate_quotes = re.fullmatch(r"[+~]{0,2}[A-Za-z_][\w.]*", key) and value \
                and not set(value) & set("'\"()[]{}")  # `data.sep=;`: the shell removed the user's quotes
            quoted = ""
            if sep and shell_ate_quotes:  # shell quotes that expand nothing in the value, then Hydra's
                quoted = f"'{key}=\"{value}\"'" if set(value) & set("$`\\!") else f"\"{key}='{value}'\""
            fix = (f"quote a value with characters Hydra reads as syntax, the quotes reaching recsearch: {quoted}"
                   if quoted else "write KEY=VALUE, e.g. train.epochs=5")
            raise ConfigError(f"override {text!r} is malformed ({' '.join(str(exc).split())[:160]}); {fix}") from None
        key = item.key_or_group
        if not key:
            raise ConfigError(f"override {text!r} has no key before '='; write KEY=VALUE, e.g. train.epochs=5")
        if key in GROUPS and not item.is_delete() and not item.is_sweep_override() \
                and not isinstance(item.value(), (str, dict)):  # a dict: an inline section
            options = ", ".join(group_options(key)) or "(none)"
            raise ConfigError(f"override {text!r}: '{key}' is a config group and takes the name of one of its "
                              f"options: {options}")
        if item.is_sweep_override() and not multirun:
            raise ConfigError(_sweep_override_message(text, key, command, simple=item.value().simple_form
                                                      if hasattr(item.value(), "simple_form") else False))


def _sweep_override_message(text: str, key: str, command: str, *, simple: bool) -> str:
    """What to do with a search expression given where a single value is needed."""
    expr = text.partition("=")[2]
    expr = f"choice({expr})" if simple else expr
    parts = key.split(".", 2)
    nested = parts[0] == "search_space" and len(parts) == 3
    if nested and parts[1] == "conditions":
        return (f"override {text!r} lists several values, but search_space.conditions maps a parameter to the values "
                f"of others, which a dotted override cannot set: write the condition whole, e.g. "
                f"\"++search_space.conditions={{{parts[2]}: {{train.optimizer: [sgd, rmsprop]}}}}\"")
    if nested:  # aimed at the space: name the parameter itself (`search_space.model.width`: params left out)
        section, key = ("", f"{parts[1]}.{parts[2]}") if parts[1] in GROUPS else (parts[1], parts[2])
    where = (f"search_space.params holds flat keys such as '{key}' in one mapping, which a dotted override "
             "cannot set" if nested else "a sweep searches only search_space.params" if command == "sweep"
             else f"`recsearch {command}` takes one value per key (e.g. {key}=VALUE)")
    if nested and section not in ("", "params"):
        where = f"search_space has no section '{section}' (its sections: params, conditions), and {where}"
    train_each = f"; or `recsearch train -m {text}` trains one run per value" if command == "train" else ""
    return (f"override {text!r} is a search expression, but {where}; to search {key}, run "
            f"`recsearch sweep \"++search_space.params={{{key}:'{expr}'}}\"` (++ adds the key or replaces its "
            f"expression) or edit conf/search_space/<model>.yaml{train_each}")
