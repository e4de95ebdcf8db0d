"""Search spaces in the Hydra Optuna sweeper's grammar, parsed with Hydra's own override parser.

A space is a `params` mapping (config key -> expression) plus optional `conditions`
(config key -> {other key: allowed value(s) or a comparison such as ">= 2"}). Expressions:
`choice(a, b, ...)`, `range(start, stop[, step])` (stop excluded, as in Hydra and Python),
`interval(a, b)`, `int(interval(a, b))`, `tag(log, ...)`, or a plain value (fixed).
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping


from recsearch.errors import SearchSpaceError

_OPS = {">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne, ">": operator.gt, "<": operator.lt}
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.eE+-]+)\s*$")


@dataclass(frozen=True)
class Param:
    """One searched (or fixed) parameter: a config key and its distribution."""

    key: str
    kind: str  # categorical | int | float | fixed
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    def distribution(self) -> Any:
        """The Optuna distribution of this parameter (None for a fixed value)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.kind == "categorical":
            return CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        if self.kind == "float":
            return FloatDistribution(self.low, self.high, log=self.log, step=self.step)
        return None


def describe_distribution(dist: Any) -> str:
    """An Optuna distribution in the space grammar's words, e.g. `choice(8, 16)`, `int interval(8, 128) log`."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"choice({', '.join(str(c) for c in dist.choices)})"
    step = f" step {dist.step}" if dist.step not in (None, 1) else ""
    return f"{'int ' if isinstance(dist, IntDistribution) else ''}interval({dist.low}, {dist.high})" \
           f"{' log' if dist.log else ''}{step}"


@dataclass(frozen=True)
class Condition:
    """`param` is active only when every (key, test) holds on the already sampled values."""

    tests: tuple[tuple[str, str, Any], ...]  # (key, op or "in", operand)

    def holds(self, values: Mapping[str, Any]) -> bool:
        for key, op, operand in self.tests:
            if key not in values:
                return False
            value = values[key]
            if op == "in" and value not in operand:
                return False
            if op != "in" and not _OPS[op](value, operand):
                return False
        return True


@dataclass(frozen=True)
class SearchSpace:
    """Parameters in sampling order (a parameter comes after those its condition reads)."""

    params: tuple[Param, ...]
    conditions: dict[str, Condition] = field(default_factory=dict)

    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def sample(self, trial: Any) -> dict[str, Any]:
        """Sample the active parameters with an Optuna trial; inactive ones are never suggested."""
        values: dict[str, Any] = {}
        for p in self.params:
            cond = self.conditions.get(p.key)
            if cond is not None and not cond.holds(values):
                continue
            values[p.key] = _suggest(trial, p)
        return values

    def never_active(self) -> list[tuple[str, str]]:
        """(parameter, the parameter its condition reads) for each condition that no value of the space passes,
        e.g. {train.optimizer: [rmsprop]} with train.optimizer: choice(adam, sgd): that parameter is never sampled
        (the usual case being a space narrowed on the command line)."""
        by_key = {p.key: p for p in self.params}
        blocked = {key: next((other for other, op, x in cond.tests
                              if other in by_key and not _can_pass(by_key[other], op, x)), None)
                   for key, cond in self.conditions.items()}
        return [(key, other) for key, other in blocked.items() if other is not None]

    def active(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The subset of `values` that is active under the conditions (for enqueued configs)."""
        out: dict[str, Any] = {}
        for p in self.params:
            cond = self.conditions.get(p.key)
            if p.key in values and (cond is None or cond.holds(out)):
                out[p.key] = values[p.key]
        return out

    def grid(self) -> dict[str, list[Any]]:
        """The grid of the grid sampler: every searched parameter must be discrete."""
        grid = {}
        for p in self.params:
            values = _discrete_values(p)
            if p.kind != "fixed" and (values is None or (p.kind == "int" and p.log)):
                raise SearchSpaceError(f"search_space.params.{p.key}: the grid sampler needs discrete values; "
                                       "use choice(...) or range(...) instead of interval(...)")
            if p.kind != "fixed":
                grid[p.key] = values
        return grid

    def size(self) -> float:
        """How many distinct configurations (values of the active parameters) the space holds: inf with a
        continuous parameter, or with conditions over more than MAX_COUNTED combinations (not counted)."""
        return self._size

    @cached_property
    def _size(self) -> float:
        values = [_discrete_values(p) for p in self.params]
        if any(v is None for v in values):
            return math.inf
        combinations = math.prod(len(v) for v in values)
        if not self.conditions:
            return float(combinations)
        if combinations > MAX_COUNTED:
            return math.inf
        return float(self._count(0, {}, values))

    def _count(self, k: int, assigned: dict[str, Any], values: list[list[Any]]) -> int:
        """Configurations of parameters k.. given the values assigned to those before (inactive ones skipped)."""
        if k == len(self.params):
            return 1
        p = self.params[k]
        cond = self.conditions.get(p.key)
        if cond is not None and not cond.holds(assigned):
            return self._count(k + 1, assigned, values)
        return sum(self._count(k + 1, {**assigned, p.key: v}, values) for v in values[k])

    def configurations(self) -> list[dict[str, Any]] | None:
        """Every configuration of the active searched parameters (fixed ones left out, as Optuna records
        trials), or None when the space is continuous or larger than MAX_COUNTED."""
        if self.size() > MAX_COUNTED:
            return None
        values = [_discrete_values(p) for p in self.params]
        out: list[dict[str, Any]] = []

        def walk(k: int, assigned: dict[str, Any]) -> None:
            if k == len(self.params):
                out.append({p.key: assigned[p.key] for p in self.params if p.kind != "fixed" and p.key in assigned})
                return
            p, cond = self.params[k], self.conditions.get(self.params[k].key)
            if cond is not None and not cond.holds(assigned):
                walk(k + 1, assigned)
                return
            for value in values[k]:
                walk(k + 1, {**assigned, p.key: value})

        walk(0, {})
        return out


MAX_COUNTED = 20_000  # a space of more combinations is never "used up" (counting would cost more than it saves)


def _discrete_values(p: Param) -> list[Any] | None:
    """Every value `p` can take (its one value when fixed), or None when it is continuous."""
    if p.kind in ("categorical", "fixed"):
        return list(p.choices)
    if p.kind == "int":
        return list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
    if p.kind == "float" and p.step:
        n = int(round((p.high - p.low) / p.step))
        return [round(p.low + k * p.step, 12) for k in range(n + 1)]
    return None


def _can_pass(p: Param, op: str, operand: Any) -> bool:
    """Whether some value `p` can take passes a condition's test (`in` a list, or a comparison): its values tested
    one by one (choices, a stepped or whole-number range of up to MAX_COUNTED), a continuous range by its bounds."""
    few = p.kind in ("categorical", "fixed") or (
        (p.kind == "int" or p.step) and (p.high - p.low) / (p.step or 1) < MAX_COUNTED)
    if few:
        return any((v in operand) if op == "in" else _OPS[op](v, operand) for v in _discrete_values(p))
    low, high = float(p.low), float(p.high)
    if op == "in":
        return any(isinstance(v, (int, float)) and low <= v <= high for v in operand)
    return {">=": high >= operand, ">": high > operand, "<=": low <= operand, "<": low < operand,
            "==": low <= operand <= high, "!=": not low == high == operand}[op]


def _suggest(trial: Any, p: Param) -> Any:
    """Ask the trial for one value through Optuna's public suggest API."""
    if p.kind == "fixed":
        return p.choices[0]
    if p.kind == "categorical":
        return trial.suggest_categorical(p.key, list(p.choices))
    if p.kind == "int":
        return trial.suggest_int(p.key, int(p.low), int(p.high), step=int(p.step or 1), log=p.log)
    return trial.suggest_float(p.key, p.low, p.high, step=p.step, log=p.log)


def to_overrides(values: Mapping[str, Any]) -> list[str]:
    """Hydra overrides that set the sampled values, e.g. ['model.depth=3', 'train.optimizer=adam']."""
    return [f"{key}={_format(value)}" for key, value in values.items()]


def _format(value: Any) -> str:
    if isinstance(value, str):
        return value if re.fullmatch(r"[A-Za-z0-9_.\-/]+", value) else repr(value)
    if isinstance(value, float):
        return repr(value)
    return str(value).lower() if isinstance(value, bool) else str(value)
