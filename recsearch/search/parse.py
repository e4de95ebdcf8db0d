"""Parse and validate a `search_space` config before any trial runs: one clear error per problem."""

from __future__ import annotations

import difflib
import math
from typing import Any, Callable, Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recsearch.errors import SearchSpaceError
from recsearch.search.space import _COMPARISON, Condition, Param, SearchSpace, describe_distribution

_MISSING = object()
GROUPS = ("data", "split", "model", "train", "task")
MAX_RANGE_VALUES = 100_000  # a range(...) with more values is refused: interval(...) is the expression for it


def searched_overrides(cfg: DictConfig, overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """{key: value} for the keys the overrides set to one value that the search space also searches: the
    trials sample them (the value is only the base config's, and the first trial's with
    `search.enqueue_defaults`), which `sweep_notices` says."""
    from recsearch.config.compose import parse_overrides

    searched = set((OmegaConf.select(cfg, "search_space.params", default=None) or {}).keys())
    return {item.key_or_group: item.value() for item in parse_overrides(overrides)
            if item.key_or_group in searched and not item.is_delete() and not item.is_sweep_override()}


OPTUNA_ONLY = ("search.sampler", "search.pruner")  # settings the kerastuner engine does not use


def space_notes(cfg: DictConfig, choices: Mapping[str, str], space: SearchSpace) -> list[str]:
    """What the space searches that its files do not show: the parameters an experiment's own space inherits
    (`merged_space_note`), and each parameter whose condition no value of the space passes (never sampled)."""
    merged = merged_space_note(cfg, choices)
    return [*([merged] if merged else []),
            *(f"recsearch: note: {key} is never searched: its condition on {other} holds for no value this space "
              f"gives {other}" for key, other in space.never_active())]


def merged_space_note(cfg: DictConfig, choices: Mapping[str, str]) -> str | None:
    """A note when the experiment's own `search_space.params` were merged into the model's space option (Hydra
    merges a config's keys into the group option it composed): the keys it did not name are searched too."""
    from recsearch.config.searchpath import experiment_setting

    experiment, option = choices.get("experiment"), choices.get("search_space")
    if not experiment or not option:
        return None
    own = experiment_setting(experiment, "search_space.params")[1] or {}
    inherited = [key for key in (cfg.search_space.get("params") or {}) if key not in own]
    if not own or not inherited:
        return None
    return (f"recsearch: note: experiment {experiment}'s search_space is merged into search_space={option}, so "
            f"{', '.join(inherited)} are searched too; to search only its own parameters, add "
            "`- override /search_space: null` to its defaults")


def sweep_notices(cfg: DictConfig, overrides: list[str] | tuple[str, ...], space: SearchSpace) -> list[str]:
    """One line per searched key set on the command line (sampled anyway, and how to fix it instead), per
    Optuna setting given to a KerasTuner sweep (unused), for a `search.pack_size` that cannot apply, and for
    `train.refit` (a sweep does not refit)."""
    given = {o.lstrip("+~").partition("=")[0].strip() for o in overrides}
    unused = [f"recsearch: note: {key}={OmegaConf.select(cfg, key)} is not used: search.engine=kerastuner searches "
              f"with search.tuner={cfg.search.tuner}" for key in OPTUNA_ONLY
              if cfg.search.engine == "kerastuner" and key in given]
    if cfg.search.engine != "kerastuner" and cfg.search.objectives and "search.pruner" in given \
            and cfg.search.pruner != "none":
        unused.append(f"recsearch: note: search.pruner={cfg.search.pruner} is not used: Optuna prunes "
                      "single-objective studies only, and search.objectives makes this one multi-objective")
    if int(OmegaConf.select(cfg, "search.pack_size", default=1)) > 1 and cfg.search.engine != "kerastuner":
        from recsearch.search.packing import why_not_packable
        from recsearch.training.backend import auto_backend

        backend = str(cfg.train.backend)  # `auto`: the workers' (`sweep._run_workers`), JAX for pair models
        why = why_not_packable(cfg, auto_backend(cfg) if backend == "auto" else backend)
        if why:
            unused.append(f"recsearch: note: search.pack_size={cfg.search.pack_size} does not apply here: {why}; "
                          "its trials train one at a time")
    if bool(OmegaConf.select(cfg, "train.refit", default=False)):
        unused.append("recsearch: note: train.refit=true is not used by a sweep: its trials are scored and chosen "
                      "on validation; refit the chosen config afterwards with "
                      "'recsearch reproduce <study folder> --refit'")
    if bool(OmegaConf.select(cfg, "search.enqueue_defaults", default=False)):
        return unused  # there the values start the search (the first trial's)
    fixed = {p.key for p in space.params if p.kind == "fixed"}
    return unused + [f"recsearch: {key}={value} is searched by search_space ({cfg.search_space.params[key]}): the "
                     f"trials sample it; to fix it instead, add 'search_space.params={{{key}: {value}}}'"
                     for key, value in searched_overrides(cfg, overrides).items() if key not in fixed]


def parse_space(space_cfg: Any, base_cfg: DictConfig) -> SearchSpace:
    """Build a SearchSpace from `{params: {key: expr}, conditions: {key: {...}}}` checked against `base_cfg`."""
    space = OmegaConf.to_container(space_cfg, resolve=True) if isinstance(space_cfg, DictConfig) else dict(space_cfg or {})
    unknown = set(space) - {"params", "conditions"}
    if unknown:
        raise SearchSpaceError(f"search_space: unknown section(s) {sorted(unknown)}; expected params and conditions")
    raw_params = space.get("params") or {}
    if not raw_params:
        raise SearchSpaceError("search_space.params: nothing to search; a model option has its search space in "
                               "conf/search_space/<option>.yaml (named as conf/model/<option>.yaml): write one, "
                               "borrow one (e.g. search_space=mlp), or give the parameters "
                               "(\"++search_space.params={model.depth: 'range(1, 5)'}\")")
    if not isinstance(raw_params, Mapping):
        raise SearchSpaceError("search_space.params: must map config keys to expressions, e.g. model.depth: range(1, 5)")
    groups = {key: _parse_param(key, expr, base_cfg) for key, expr in raw_params.items() if key in GROUPS}
    owners = _group_owners([str(k) for k in raw_params if k not in GROUPS], groups, base_cfg)
    params = {key: groups[key] if key in groups else
              _parse_param(str(key), expr, owners[key][1] if key in owners else base_cfg)
              for key, expr in raw_params.items()}
    def fits(where: str, other: str, values: tuple[Any, ...]) -> None:
        _check_condition_values(where, params[other], values, owners[other][1] if other in owners else base_cfg)

    conditions = {key: _parse_condition(str(key), spec, params, fits)
                  for key, spec in (space.get("conditions") or {}).items()}
    for key, (implied, _) in owners.items():
        if implied is not None:  # active only with the group options that have the key
            conditions[key] = Condition(tests=(*(conditions[key].tests if key in conditions else ()), implied))
    _check_enqueue_file(OmegaConf.select(base_cfg, "search.enqueue_file", default=None), params)
    return SearchSpace(params=tuple(_ordered(params, conditions)), conditions=conditions)


def _group_owners(keys: list[str], groups: dict[str, Param], base_cfg: DictConfig
                  ) -> dict[str, tuple[tuple[str, str, tuple] | None, DictConfig]]:
    """For each key under a searched config group (`model.depth` with `model: choice(mlp, mf)`): the implied
    condition `(group, "in", options that have the key)` when not all of them do (None when all do), and a
    config that has the key, to check its values against. A key no option has is left to the usual error.

    Without it, every trial that samples an option lacking the key (mf has no `model.depth`) would fail."""
    cache: dict[tuple[str, str], DictConfig] = {}
    owners: dict[str, tuple[tuple[str, str, tuple] | None, DictConfig]] = {}
    for key in keys:
        group = key.split(".", 1)[0]
        if group not in groups or groups[group].kind != "categorical":
            continue
        options = groups[group].choices
        having = _options_with(key, group, options, cache)
        if not having:
            continue
        in_base = OmegaConf.select(base_cfg, key, default=_MISSING) is not _MISSING
        owners[key] = (None if len(having) == len(options) else (group, "in", having),
                       base_cfg if in_base else _option_config(group, str(having[0]), cache))
    return owners


def _option_config(group: str, option: str, cache: dict[tuple[str, str], DictConfig]) -> DictConfig:
    """The default config with `group=option` (composed once per `cache`)."""
    from recsearch.config import compose_config

    if (group, option) not in cache:
        cache[group, option] = compose_config([f"{group}={option}"])
    return cache[group, option]


def _options_with(key: str, group: str, options: tuple, cache: dict[tuple[str, str], DictConfig]) -> tuple:
    """The options of `group` whose config has `key`."""
    return tuple(o for o in options
                 if OmegaConf.select(_option_config(group, str(o), cache), key, default=_MISSING) is not _MISSING)


def check_group_overrides(overrides: list[str] | tuple[str, ...], space: SearchSpace) -> None:
    """Refuse a command-line value for a key that not every option of a searched group has (`model.depth=3`
    with `model: choice(mlp, mf)`): it is set for every trial, so each trial of the other options would fail
    to compose. In the search space, the same value applies only with the options that have the key."""
    from recsearch.config.compose import parse_overrides

    groups = {p.key: p for p in space.params if p.key in GROUPS and p.kind == "categorical"}
    if not groups:
        return
    cache: dict[tuple[str, str], DictConfig] = {}
    for item in parse_overrides(overrides):
        key = item.key_or_group
        group = key.split(".", 1)[0]
        if item.is_delete() or group not in groups or key == group:
            continue
        having = _options_with(key, group, groups[group].choices, cache)
        lacking = [str(o) for o in groups[group].choices if o not in having]
        if lacking:
            raise SearchSpaceError(f"override {item.input_line!r}: {group}={lacking[0]}, which the search samples, "
                                   f"has no {key}, so its trials could not be built; set it in the search space "
                                   f"instead (\"++search_space.params={{{key}: {item.value()}}}\"), where it applies "
                                   f"only with the {group} options that have it")


def _check_enqueue_file(path: str | None, params: dict[str, Param]) -> None:
    """`search.enqueue_file` is a YAML list of {param: value} over searched parameters: checked before the study
    is created, so a missing or malformed file leaves nothing behind."""
    if path is None:
        return
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "does not exist"
        raise SearchSpaceError(f"search.enqueue_file: {path} {what}; give a YAML list of {{param: value}} configs "
                               "(a path relative to the current directory) or drop the key")
    try:
        items = OmegaConf.to_container(OmegaConf.load(file))
    except Exception as exc:  # noqa: BLE001 - YAML errors come in several types
        raise SearchSpaceError(f"search.enqueue_file: {path} is not valid YAML ({' '.join(str(exc).split())[:200]})") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise SearchSpaceError(f"search.enqueue_file: {path} must hold a YAML list of {{param: value}} mappings")
    unknown = sorted({str(k) for item in items for k in item} - set(params))
    if unknown:
        raise SearchSpaceError(f"search.enqueue_file: {path}: {unknown} are not searched parameters "
                               f"(searched: {', '.join(params)})")
    for number, item in enumerate(items, start=1):
        for key, value in item.items():
            dist = params[str(key)].distribution()
            if dist is not None and not _within(dist, value):
                raise SearchSpaceError(f"search.enqueue_file: {path}, config {number}: {key}={value!r} is outside "
                                       f"its search space ({describe_distribution(dist)}); fix the value or widen "
                                       "search_space")


def _config_keys(cfg: DictConfig) -> list[str]:
    """The dotted keys of a composed config (not its search space), for `did you mean`."""
    import pandas as pd

    plain = {k: v for k, v in OmegaConf.to_container(cfg, resolve=False).items() if k != "search_space"}
    return list(pd.json_normalize(plain, sep=".").columns)


def _within(dist: Any, value: Any) -> bool:
    """True when an Optuna distribution holds `value` (a choice, or in range and on the step)."""
    try:
        return bool(dist._contains(dist.to_internal_repr(value)))
    except (ValueError, TypeError):
        return False


def _parse_param(key: str, expr: Any, base_cfg: DictConfig) -> Param:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from hydra.errors import HydraException

    where = f"search_space.params.{key}"
    is_group = key in GROUPS
    if not is_group and OmegaConf.select(base_cfg, key, default=_MISSING) is _MISSING:
        close = difflib.get_close_matches(key, _config_keys(base_cfg), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise SearchSpaceError(f"{where}: '{key}' is not a key of the composed config{hint} (see `recsearch config "
                               "show`)")
    text = str(expr).lower() if isinstance(expr, bool) else str(expr)
    try:
        value = OverridesParser.create().parse_override(f"{key}={text}").value()
    except HydraException as exc:
        raise SearchSpaceError(f"{where}: malformed expression {text!r}: {str(exc).splitlines()[0]}") from None
    if isinstance(value, ChoiceSweep):
        if not value.list:
            raise SearchSpaceError(f"{where}: choice() needs at least one value")
        param = Param(key, "categorical", choices=tuple(value.list))
        probe = list(param.choices)
    elif isinstance(value, RangeSweep):
        param = _range_param(where, key, value)
        probe = [param.choices[0], param.choices[-1]] if param.choices else [param.low, param.high]
    elif isinstance(value, IntervalSweep):
        param = _interval_param(where, key, value)
        probe = [param.low, param.high]
    else:
        param = Param(key, "fixed", choices=(value,))
        probe = [value]
    _check_tags(where, value)
    _check_values_fit(where, param, probe, base_cfg, is_group)
    return param


def _range_param(where: str, key: str, value: Any) -> Param:
    """range(start, stop, step) with the stop excluded; its size is computed, never enumerated to be found."""
    start, stop, step = value.start, value.stop, value.step
    _require_finite(where, f"range({start}, {stop}, {step})", start, stop, step)
    count = _range_count(start, stop, step)
    if step == 0:
        raise SearchSpaceError(f"{where}: range({start}, {stop}, 0) has step 0, which never moves; give a step "
                               "above 0 to count up or below 0 to count down")
    if count == 0:
        tail = f", {step})" if step != 1 else ")"
        swapped = f"; did you mean range({stop}, {start}{tail}?" if start != stop else ""
        way = "up" if step > 0 else "down"
        raise SearchSpaceError(f"{where}: range({start}, {stop}{tail} is empty: it counts {way} from {start} and stops "
                               f"before {stop} (the stop is excluded: range(1, 4) is 1, 2, 3){swapped}")
    if count > MAX_RANGE_VALUES:
        raise SearchSpaceError(f"{where}: range({start}, {stop}, {step}) has {count:.3g} values, over the "
                               f"limit of {MAX_RANGE_VALUES:,}; use interval({start}, {stop}) (or "
                               "int(interval(...))) for a continuous or large range")
    if value.shuffle or step < 0:
        return Param(key, "categorical", choices=tuple(_frange(start, step, count)))
    if all(isinstance(v, int) for v in (start, stop, step)):
        return Param(key, "int", low=start, high=start + (count - 1) * step, step=step)
    last = max(float(start), round(start + (count - 1) * step, 12))  # rounding never puts the last below the first
    return Param(key, "float", low=float(start), high=last, step=float(step))


def _range_count(start: float, stop: float, step: float) -> float:
    """How many values range(start, stop, step) holds (floats: within 1e-12 of the stop is excluded)."""
    if step == 0:
        return 0
    if all(isinstance(v, int) for v in (start, stop, step)):
        return len(range(start, stop, step))
    span = (stop - 1e-12 - start) / step if step > 0 else (start - stop - 1e-12) / -step
    return max(0, math.ceil(span)) if math.isfinite(span) else math.inf


def _frange(start: float, step: float, count: int) -> list[float]:
    return [round(start + k * step, 12) for k in range(int(count))]


def _require_finite(where: str, text: str, *numbers: Any) -> None:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in numbers):
        raise SearchSpaceError(f"{where}: {text} needs finite numbers (no nan, inf or text)")


def _interval_param(where: str, key: str, value: Any) -> Param:
    low, high, log = value.start, value.end, "log" in value.tags
    _require_finite(where, f"interval({low}, {high})", low, high)
    if low >= high:
        raise SearchSpaceError(f"{where}: interval({low}, {high}) is empty or inverted (low must be < high)")
    if log and low <= 0:
        raise SearchSpaceError(f"{where}: a log range must be > 0, but interval starts at {low}")
    kind = "int" if isinstance(low, int) and isinstance(high, int) else "float"
    return Param(key, kind, low=low, high=high, log=log)


def _check_tags(where: str, value: Any) -> None:
    extra = set(getattr(value, "tags", set()) or set()) - {"log"}
    if extra:
        raise SearchSpaceError(f"{where}: unknown tag(s) {sorted(extra)}; only `log` is understood")
    if "log" in (getattr(value, "tags", None) or set()) and not hasattr(value, "end"):
        raise SearchSpaceError(f"{where}: tag(log, ...) applies to interval(...) only")


def _check_values_fit(where: str, param: Param, probe: list[Any], base_cfg: DictConfig, is_group: bool) -> None:
    """Every probed value (each choice, both ends of a range) fits the config schema: type, choices, range."""
    if is_group:
        from recsearch.config import group_options

        bad = [v for v in param.choices if v not in group_options(param.key)]
        if param.kind != "categorical" or bad:
            raise SearchSpaceError(f"{where}: a group takes choice(...) of {', '.join(group_options(param.key))}")
        return
    from recsearch.config.validate import check_values
    from recsearch.errors import ConfigError

    cfg = base_cfg.copy()
    for v in probe:
        try:
            OmegaConf.update(cfg, param.key, v, merge=False)
            check_values(cfg)
        except OmegaConfBaseException as exc:
            whole = (" (a whole-number key: search it with range(a, b) or int(interval(a, b)))"
                     if param.kind == "float" and "converted to Integer" in str(exc) else "")
            raise SearchSpaceError(f"{where}: value {v!r} does not fit the config: {str(exc).splitlines()[0]}{whole}"
                                   ) from None
        except ConfigError as exc:
            raise SearchSpaceError(f"{where}: value {v!r} does not fit the config: {exc}") from None


def _parse_condition(key: str, spec: Any, params: dict[str, Param],
                     fits: Callable[[str, str, tuple[Any, ...]], None]) -> Condition:
    """`key`'s condition; `fits(where, other, values)` refuses a listed value the config would refuse for `other`
    (a misspelt `[sdg]` would never hold, and `key` would silently never be searched)."""
    where = f"search_space.conditions.{key}"
    if key not in params:
        raise SearchSpaceError(f"{where}: '{key}' is not a searched parameter (add it under search_space.params)")
    if not isinstance(spec, Mapping) or not spec:
        raise SearchSpaceError(f"{where}: must map parameters to allowed values, e.g. {{train.optimizer: [sgd]}}")
    tests = []
    for other, want in spec.items():
        if other not in params:
            raise SearchSpaceError(f"{where}: condition on '{other}', which is not a searched parameter")
        if other == key:
            raise SearchSpaceError(f"{where}: a parameter cannot depend on itself")
        match = _COMPARISON.match(want) if isinstance(want, str) else None
        if match:
            if not _numeric(params[str(other)]):
                raise SearchSpaceError(f"{where}: {want!r} compares '{other}', which takes non-numeric values; "
                                       f"list the allowed values instead, e.g. {{{other}: [a, b]}}")
            tests.append((str(other), match.group(1), float(match.group(2))))
        else:
            values = tuple(want) if isinstance(want, (list, tuple)) else (want,)
            fits(f"{where}.{other}", str(other), values)
            tests.append((str(other), "in", values))
    return Condition(tests=tuple(tests))


def _check_condition_values(where: str, param: Param, values: tuple[Any, ...], cfg: DictConfig) -> None:
    """Refuse a value a condition lists for `param` when the space cannot draw it and the config would refuse it
    for that key: a misspelt `[sdg]` would never hold. A value the config takes but a narrowed space leaves out
    (the optimizer fixed on the command line) is kept: its condition then simply never holds."""
    dist = param.distribution()  # None for a fixed value
    outside = tuple(value for value in values if not (_within(dist, value) if dist else value in param.choices))
    if not outside:
        return
    if param.key in GROUPS:
        from recsearch.config import group_options

        options = group_options(param.key)
        unknown = [value for value in outside if value not in options]
        if unknown:
            raise SearchSpaceError(f"{where}: {unknown[0]!r} is not an option of {param.key} (its options: "
                                   f"{', '.join(options)})")
        return
    _check_values_fit(where, Param(param.key, "categorical", choices=outside), list(outside), cfg, False)


def _numeric(param: Param) -> bool:
    """Whether every value `param` can take is a number (a comparison condition can read it)."""
    if param.kind in ("int", "float"):
        return True
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in param.choices)


def _ordered(params: dict[str, Param], conditions: dict[str, Condition]) -> list[Param]:
    """Declared order, except that a conditional parameter follows the parameters it reads."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in done:
            return
        if key in visiting:
            raise SearchSpaceError(f"search_space.conditions: circular dependency through '{key}'")
        visiting.add(key)
        for other, _, _ in conditions[key].tests if key in conditions else ():
            visit(other)
        visiting.discard(key)
        done.append(key)

    for key in params:
        visit(key)
    return [params[k] for k in done]
