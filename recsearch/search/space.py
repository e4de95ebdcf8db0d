"""Search spaces in the Hydra Optuna sweeper's grammar, parsed with Hydra's own override parser.

A space is a `params` mapping (config key -> expression) plus optional `conditions`
(config key -> {other key: allowed value(s) or a comparison such as ">= 2"}). Expressions:
`choice(a, b, ...)`, `range(start, stop[, step])` (stop excluded, as in Hydra and Python),
`interval(a, b)`, `int(interval(a, b))`, `tag(log, ...)`, or a plain value (fixed).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
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
            if p.kind == "categorical":
                grid[p.key] = list(p.choices)
            elif p.kind == "int" and not p.log:
                grid[p.key] = list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
            elif p.kind == "float" and p.step:
                n = int(round((p.high - p.low) / p.step))
                grid[p.key] = [round(p.low + k * p.step, 12) for k in range(n + 1)]
            elif p.kind != "fixed":
                raise SearchSpaceError(f"search_space.params.{p.key}: the grid sampler needs discrete values; "
                                       "use choice(...) or range(...) instead of interval(...)")
        return grid


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
