"""Parse and validate a `search_space` config before any trial runs: one clear error per problem."""

from __future__ import annotations

from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from recsearch.errors import SearchSpaceError
from recsearch.search.space import _COMPARISON, Condition, Param, SearchSpace

_MISSING = object()
GROUPS = ("data", "split", "model", "train", "task")


def parse_space(space_cfg: Any, base_cfg: DictConfig) -> SearchSpace:
    """Build a SearchSpace from `{params: {key: expr}, conditions: {key: {...}}}` checked against `base_cfg`."""
    space = OmegaConf.to_container(space_cfg, resolve=True) if isinstance(space_cfg, DictConfig) else dict(space_cfg or {})
    unknown = set(space) - {"params", "conditions"}
    if unknown:
        raise SearchSpaceError(f"search_space: unknown section(s) {sorted(unknown)}; expected params and conditions")
    raw_params = space.get("params") or {}
    if not isinstance(raw_params, Mapping) or not raw_params:
        raise SearchSpaceError("search_space.params: must map config keys to expressions, e.g. model.depth: range(1, 5)")
    params = {key: _parse_param(str(key), expr, base_cfg) for key, expr in raw_params.items()}
    conditions = {key: _parse_condition(str(key), spec, params) for key, spec in (space.get("conditions") or {}).items()}
    return SearchSpace(params=tuple(_ordered(params, conditions)), conditions=conditions)


def _parse_param(key: str, expr: Any, base_cfg: DictConfig) -> Param:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from hydra.errors import HydraException

    where = f"search_space.params.{key}"
    is_group = key in GROUPS
    if not is_group and OmegaConf.select(base_cfg, key, default=_MISSING) is _MISSING:
        raise SearchSpaceError(f"{where}: '{key}' is not a key of the composed config (see `recsearch config show`)")
    text = str(expr).lower() if isinstance(expr, bool) else str(expr)
    try:
        value = OverridesParser.create().parse_override(f"{key}={text}").value()
    except HydraException as exc:
        raise SearchSpaceError(f"{where}: malformed expression {text!r}: {str(exc).splitlines()[0]}") from None
    if isinstance(value, ChoiceSweep):
        if not value.list:
            raise SearchSpaceError(f"{where}: choice() needs at least one value")
        param = Param(key, "categorical", choices=tuple(value.list))
    elif isinstance(value, RangeSweep):
        param = _range_param(where, key, value)
    elif isinstance(value, IntervalSweep):
        param = _interval_param(where, key, value)
    else:
        param = Param(key, "fixed", choices=(value,))
    _check_tags(where, value)
    _check_values_fit(where, param, base_cfg, is_group)
    return param


def _range_param(where: str, key: str, value: Any) -> Param:
    start, stop, step = value.start, value.stop, value.step
    if step == 0 or (step > 0 and start >= stop) or (step < 0 and start <= stop):
        raise SearchSpaceError(f"{where}: range({start}, {stop}, {step}) is empty")
    if value.shuffle or step < 0:
        values = tuple(_frange(start, stop, step))
        return Param(key, "categorical", choices=values)
    if all(isinstance(v, int) for v in (start, stop, step)):
        last = start + ((stop - 1 - start) // step) * step
        return Param(key, "int", low=start, high=last, step=step)
    values = list(_frange(start, stop, step))
    return Param(key, "float", low=float(start), high=float(values[-1]), step=float(step))


def _frange(start: float, stop: float, step: float) -> list[float]:
    out, k = [], 0
    while (step > 0 and start + k * step < stop - 1e-12) or (step < 0 and start + k * step > stop + 1e-12):
        out.append(round(start + k * step, 12))
        k += 1
    return out


def _interval_param(where: str, key: str, value: Any) -> Param:
    low, high, log = value.start, value.end, "log" in value.tags
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


def _check_values_fit(where: str, param: Param, base_cfg: DictConfig, is_group: bool) -> None:
    """Every value the parameter can take must fit the config schema (type, choices)."""
    if is_group:
        from recsearch.config import group_options

        bad = [v for v in param.choices if v not in group_options(param.key)]
        if param.kind != "categorical" or bad:
            raise SearchSpaceError(f"{where}: a group takes choice(...) of {', '.join(group_options(param.key))}")
        return
    from recsearch.config.validate import _check_choices
    from recsearch.errors import ConfigError

    probe = [v for v in (*param.choices, param.low, param.high) if v is not None]
    cfg = base_cfg.copy()
    for v in probe:
        try:
            OmegaConf.update(cfg, param.key, v, merge=False)
            _check_choices(cfg)
        except OmegaConfBaseException as exc:
            raise SearchSpaceError(f"{where}: value {v!r} does not fit the config: {str(exc).splitlines()[0]}") from None
        except ConfigError as exc:
            raise SearchSpaceError(f"{where}: value {v!r} does not fit the config: {exc}") from None


def _parse_condition(key: str, spec: Any, params: dict[str, Param]) -> Condition:
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
            tests.append((str(other), match.group(1), float(match.group(2))))
        else:
            tests.append((str(other), "in", tuple(want) if isinstance(want, (list, tuple)) else (want,)))
    return Condition(tests=tuple(tests))


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
