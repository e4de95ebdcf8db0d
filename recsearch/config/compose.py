"""Compose the config with Hydra's compose API (the standard override grammar) and validate it."""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf, open_dict

from recsearch.choices import backend_default
from recsearch.errors import ConfigError, describe_yaml_error

OmegaConf.register_new_resolver("recsearch_backend_default", backend_default, replace=True)  # train/default.yaml


def compose_config(overrides: list[str] | tuple[str, ...] = (), *, validate: bool = True) -> DictConfig:
    """Compose `config.yaml` (user folders first, then the packaged configs) with Hydra overrides, validated.

    Example: `compose_config(["model=mlp", "train.epochs=5"])`.
    """
    return compose_with_choices(overrides, validate=validate)[0]


def compose_with_choices(overrides: list[str] | tuple[str, ...] = (), *,
                         validate: bool = True) -> tuple[DictConfig, dict[str, str]]:
    """`compose_config`, and Hydra's choice of option per config group (`{"model": "small_mlp", ...}`, nested
    defaults included) from the same composition: a sweep records the user's files they name (config/recorded.py)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from recsearch.config.searchpath import composition_root
    from recsearch.config.validate import validate_config

    parsed = parse_overrides(overrides)
    _refuse_sweeps(parsed)
    try:
        with composition_root() as (root, searchpath), \
                initialize_config_dir(version_base="1.3", config_dir=str(root), job_name="recsearch"):
            cfg = compose(config_name="config", overrides=[*_schema_keys_set(overrides, parsed), searchpath],
                          return_hydra_config=True)
    except yaml.MarkedYAMLError as exc:  # a user's option or experiment file that does not parse
        raise ConfigError(describe_yaml_error(exc)) from None
    except (HydraException, OmegaConfBaseException) as exc:
        message = _one_line(exc)
        raise ConfigError(_not_this_models(message, _model_without(message, overrides, parsed))
                          or _without_package_line(message, _experiment_name(overrides))
                          or _explained(message)) from None
    choices = {str(group): str(option) for group, option in cfg.hydra.runtime.choices.items()
               if option is not None and not str(group).startswith("hydra")}
    with open_dict(cfg):
        del cfg["hydra"]  # what compose() drops unless asked for it, as here for the choices
    if not validate:
        return cfg, choices
    try:
        cfg = validate_config(cfg)
    except ConfigError as exc:
        raise ConfigError(_not_this_models(str(exc), str(cfg.model.get("name", "")))
                          or _without_package_line(str(exc), _experiment_name(overrides)) or _explained(str(exc))
                          ) from None
    _refuse_restored_removals(parsed, cfg)
    _refuse_missing_search_space(parsed, cfg)
    _absolute_data_path(cfg, overrides)
    name = _experiment_name(overrides)
    if name is not None:
        cfg.experiment = name
    return cfg, choices


def _absolute_data_path(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> None:
    """A relative `data.path` is taken from the working folder now, and kept absolute in the config, so the run's
    and the study's saved configs read the same file from any folder (`recommend`, `reproduce`); `export-best`
    writes it relative again when it lies under the folder exporting. One that the experiment file itself sets
    (not the command line) and that is not there from the working folder is taken from the experiment's
    project folder (the one holding its `experiments/`, where `export-best` wrote it from): the experiment
    runs from any folder."""
    import os

    from recsearch.config.searchpath import experiment_setting

    path = cfg.data.get("path")
    if not path or os.path.isabs(os.path.expanduser(str(path))):
        return
    cfg.data.path = os.path.abspath(str(path))
    experiment = _experiment_name(overrides)
    if os.path.exists(cfg.data.path) or experiment is None or any(
            item.partition("=")[0].lstrip("+~") == "data.path" for item in overrides):
        return
    source, set_there = experiment_setting(experiment, "data.path")
    beside = os.path.abspath(os.path.join(source.parent.parent, str(path))) if set_there == path else None
    if beside is not None and os.path.exists(beside):
        cfg.data.path = beside


def parse_overrides(overrides: list[str] | tuple[str, ...]) -> list[Any]:
    """Hydra's parsed `Override` objects, or one ConfigError line naming the malformed override."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(_one_line(exc)) from None


def _schema_keys_set(overrides: list[str] | tuple[str, ...], parsed: list[Any]) -> list[str]:
    """`overrides` with each plain `key=value` of a typed-schema key below a section (not `model.*`) written
    `++key=value`: the schema gives every option of a group that key, but the option's file may leave it out
    (`data.path`, `data.columns` with `data=ml_latest_small`), and Hydra would refuse to override it ("use +")."""
    keys = _root_schema_keys()
    return [f"++{line}" if item.key_or_group in keys and not line.startswith(("+", "~")) and item.package is None
            else line for line, item in zip(overrides, parsed)]


@functools.lru_cache(maxsize=1)
def _root_schema_keys() -> frozenset[str]:
    """The dotted keys (leaves and sub-sections, e.g. data.columns) below the typed sections, `model` aside."""
    parts = [key.split(".") for key in _schema_keys() if not key.startswith("model.")]
    return frozenset(".".join(p[:n]) for p in parts for n in range(2, len(p) + 1))


def _refuse_sweeps(parsed: list[Any]) -> None:
    """A comma list or range selects several configs: only `train -m` runs them (one per combination)."""
    for item in parsed:
        if item.is_sweep_override():
            raise ConfigError(f"override {item.input_line!r} lists several values; `recsearch train -m` runs every "
                              "combination (a list value is written key=[a,b], a string with commas is quoted)")


def _refuse_missing_search_space(parsed: list[Any], cfg: DictConfig) -> None:
    """`search_space=NAME` that composed to no parameters because NAME is no option: the group is optional (a
    model may have no space file), so Hydra composes an empty space and a sweep would say only "nothing to
    search". A space given on the command line (`++search_space.params=...`) is left alone."""
    from omegaconf import OmegaConf

    from recsearch.config import group_options

    if OmegaConf.select(cfg, "search_space.params", default=None):
        return
    for item in parsed:
        value = item.value() if item.key_or_group == "search_space" and not item.is_delete() else None
        if item.package is None and isinstance(value, str) and value not in (options := group_options("search_space")):
            close = _clear_match(value, options)
            hint = f"; did you mean search_space={close}?" if close else ""
            raise ConfigError(f"search_space={value}: no such search space{hint} (the search_space options: "
                              f"{', '.join(options)}; your own go in ./conf/search_space/NAME.yaml or "
                              "$RECSEARCH_CONF_DIR/search_space/NAME.yaml)")


def _refuse_restored_removals(parsed: list[Any], cfg: DictConfig) -> None:
    """`~key` on a schema key would silently bring back the schema default: refuse it instead."""
    from omegaconf import OmegaConf

    for k, item in enumerate(parsed):
        below = item.key_or_group == "search_space"  # `~search_space ++search_space.params={...}`: the whole space
        reassigned = any(not later.is_delete() and (later.key_or_group == item.key_or_group or below and
                                                    later.key_or_group.startswith(f"{item.key_or_group}."))
                         for later in parsed[k + 1:])
        if not item.is_delete() or item.key_or_group == "experiment" or reassigned:
            continue  # `~group +group={...}` replaces a whole section: nothing is silently restored (a search
            # space's other keys are only `conditions`, empty by default: `~search_space ++search_space.params=...`)
        # (a set *before* the removal, `train.epochs=1 ~train.epochs`, is undone by it: refused below)
        key = item.key_or_group
        value = OmegaConf.select(cfg, key, default=None)
        if value is not None and not (isinstance(value, DictConfig) and len(value) == 0):
            shown = "section" if isinstance(value, DictConfig) else f"({value!r})"
            raise ConfigError(f"override '~{key}': {key} is a schema key, removing it would silently restore its "
                              f"default {shown}; set it instead ({key}=VALUE, or null where allowed)")


def _without_package_line(message: str, name: str | None) -> str | None:
    """The error for an experiment file without its `# @package _global_` line, naming the file: Hydra then puts
    its keys under `experiment.` and says something else ("Could not override 'model@experiment.model'. Did you
    mean to override model?", or that it cannot convert a DictConfig to a string)."""
    if "@experiment." not in message and not message.startswith("config key 'experiment': Cannot convert"):
        return None
    from recsearch.config.searchpath import group_files

    path = group_files("experiment").get(name) if name else None
    return (f"{path or f'+experiment={name}'}: an experiment file must start with the line `# @package _global_`: "
            "without it its keys land under `experiment.`, not on the config (recsearch export-best writes it)")


def _experiment_name(overrides: list[str] | tuple[str, ...]) -> str | None:
    """The experiment chosen by `+experiment=NAME` (recorded in the config as `experiment`)."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key.lstrip("+") == "experiment" and value:
            return value
    return None


SCHEMA_SECTIONS = ("data", "split", "model", "train", "task", "search", "paths", "compare")  # typed: no new keys
ROOT_KEYS = (*SCHEMA_SECTIONS, "search_space", "experiment")  # what a config's top level may hold
_EXPRESSION = re.compile(r"(?<!['\"])\b(choice|range|interval|tag|int)\(")


def _explained(message: str) -> str:
    """Hydra's and the schema's one-line errors, with the fix where a user is known to stumble: a misspelt
    key (Hydra's advice to append it with `+` only leads to the schema's refusal), a search expression left
    unquoted inside `{...}` (Hydra says only "Error merging override")."""
    match = re.match(r"Could not override '([^']+)'", message) or \
        re.match(r"config key '([^']+)': unknown key", message)
    key = match.group(1) if match else ""
    root = key.split(".")[0]
    if match and ((root in SCHEMA_SECTIONS and key not in _schema_keys()) or root not in ROOT_KEYS):
        close = difflib.get_close_matches(key, [*_schema_keys(), *ROOT_KEYS], n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"'{key}' is not a config key{hint} (`recsearch config show` lists them)"
    match = re.match(r"In '[^']*': Could not find '([^'/]+)/([^']+)' Available options in '[^']*': (.*)", message)
    if match:  # a misspelt option of a config group: `model=mpl`
        group, name, options = match.group(1), match.group(2), match.group(3).split()
        close = _clear_match(name, options)
        plus = "+" if group == "experiment" else ""  # no option is chosen by default: it is added
        hint = f"; did you mean {plus}{group}={close}?" if close else ""
        where = ""
        if group == "model":
            where = "; your own model families: recsearch --import MODULE (the module that registers them)"
        if group == "experiment":
            from recsearch.config.searchpath import experiments_dir

            where = f"; your own are read from {experiments_dir()}/NAME.yaml (recsearch export-best writes them)"
        return f"{plus}{group}={name}: no such {group}{hint} (the {group} options: {', '.join(options)}){where}"
    match = re.match(r"Error merging override (.*)", message)
    if match and "{" in match.group(1) and _EXPRESSION.search(match.group(1)):
        return (f"{message}: inside {{...}} quote each search expression, e.g. "
                "'search_space.params={model.depth: \"range(1, 5)\"}'")
    return message


def _clear_match(name: str, options: list[str]) -> str | None:
    """The option `name` most likely misspells, when one stands out (ml_2b is as near ml_25m as ml_32m: none);
    letter case aside (`MLP`: mlp), since options are file names a user may type in capitals."""
    ranked = sorted(((difflib.SequenceMatcher(None, name.lower(), o.lower()).ratio(), o) for o in options),
                    reverse=True)
    if not ranked or ranked[0][0] < 0.6 or (len(ranked) > 1 and ranked[0][0] - ranked[1][0] < 0.05):
        return None
    return ranked[0][1]


_MODEL_KEY = re.compile(r"Could not override '(model\.[^'.]+)'|config key '(model\.[^'.]+)': unknown key")


def _missing_model_key(message: str) -> str | None:
    """The `model.<key>` a Hydra or schema message says the composed model section lacks, if any."""
    match = _MODEL_KEY.match(message)
    return (match.group(1) or match.group(2)) if match else None


def _not_this_models(message: str, model: str | None) -> str | None:
    """A setting of other model families set on `model` (`model=mf model.depth=3`): Hydra advises `+model.depth=`,
    which the schema then refuses, so name the chosen model's settings and the families that have the key."""
    import dataclasses

    from recsearch.models.registry import MODELS

    key = _missing_model_key(message)
    if key is None or model not in MODELS:
        return None
    field = key.split(".")[1]
    fields = {name: [f.name for f in dataclasses.fields(spec.schema) if f.name != "name"]
              for name, spec in MODELS.items()}
    owners = [name for name in sorted(fields) if field in fields[name]]
    if not owners or field in fields[model]:
        return None
    return (f"'{key}' is not a setting of model={model} (its settings: {', '.join(fields[model])}); "
            f"'{field}' is a setting of model={', model='.join(owners)}")


def _model_without(message: str, overrides: list[str] | tuple[str, ...], parsed: list[Any]) -> str | None:
    """The model chosen by `overrides` once the model key the message names is left out (None when the message
    names none, or the rest does not compose)."""
    key = _missing_model_key(message)
    if key is None:
        return None
    rest = [line for line, item in zip(overrides, parsed) if item.key_or_group != key]
    try:
        return str(compose_config(rest, validate=False).model.get("name", ""))
    except ConfigError:
        return None


def _schema_keys() -> list[str]:
    """Every dotted key the typed schema knows (every model's section included), for `did you mean`."""
    import pandas as pd
    from omegaconf import OmegaConf

    from recsearch.config.schema import RootConfig
    from recsearch.models.registry import MODELS, model_schema

    sections = [OmegaConf.to_container(OmegaConf.structured(RootConfig))]
    sections += [{"model": OmegaConf.to_container(OmegaConf.structured(model_schema(name)))} for name in MODELS]
    return sorted({key for section in sections for key in pd.json_normalize(section, sep=".").columns})


def _one_line(exc: Exception) -> str:
    """Hydra's messages span lines; keep them readable on one."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text.split(" Config search path:")[0].replace("\t", " ")


def load_config_file(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """A complete config saved earlier (a run's config.yaml, a study's best.yaml) plus `key=value` overrides.

    Group choices (`model=mf`) need composition from the config groups and are refused here.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    parsed = parse_overrides(overrides)
    _refuse_sweeps(parsed)
    try:
        cfg = OmegaConf.load(path)
    except Exception as exc:  # noqa: BLE001 - YAML errors come in several types
        raise ConfigError(f"config file {path}: not valid YAML ({_one_line(exc)})") from None
    if isinstance(cfg, DictConfig) and "defaults" in cfg:  # an exported experiment: composed, not loaded whole
        raise ConfigError(f"{path} is an experiment (it has a defaults list), not a complete config: run it with "
                          f"`recsearch train +experiment={path.stem}` where its folder is ./experiments or "
                          f"$RECSEARCH_EXPERIMENTS_DIR={path.parent.resolve()}")
    return apply_to_complete(cfg, parsed)


def apply_to_complete(cfg: DictConfig, parsed: list[Any]) -> DictConfig:
    """Parsed overrides applied to a complete config (no groups to compose from), validated: `key=value`,
    `+`/`++` (a dict value merged into a section, `++search_space.params={...}`), `~key`. A group choice
    (`model=mf`: a name where a section is) needs composition and is refused."""
    from recsearch.config.validate import validate_config

    for item in parsed:
        key = item.key_or_group
        if item.is_delete():
            _delete(cfg, key)
            continue
        value = item.value()
        section = isinstance(OmegaConf.select(cfg, key, default=None), DictConfig)
        if section and not isinstance(value, dict):
            raise ConfigError(f"override {item.input_line!r}: group choices need composition; drop --config")
        OmegaConf.update(cfg, key, value, merge=section, force_add=item.is_add())
    validated = validate_config(cfg)
    _refuse_restored_removals(parsed, validated)
    return validated


def _delete(cfg: DictConfig, key: str) -> None:
    from omegaconf import OmegaConf

    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if node is None or leaf not in node:
        raise ConfigError(f"override '~{key}': no such key")
    del node[leaf]
