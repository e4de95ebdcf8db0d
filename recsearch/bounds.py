"""Numeric ranges declared on schema fields: the one declaration that override and search-space checks read.

A module of its own (no recsearch imports) so that both `recsearch.config` and `recsearch.models` schemas use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from omegaconf import MISSING


@dataclass(frozen=True)
class Bounds:
    """The allowed numeric range of a config value (of each element, for a list): the one declaration that
    both override validation and search-space validation read."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: Any) -> bool:
        """True when `value` (a number, or None for an unset optional) lies in the range."""
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return value is None
        if math.isnan(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"{'<' if self.high_open else '<='} {self.high:g}"


BOUNDS = "bounds"  # the dataclass field metadata key holding a field's Bounds


def bounded(default: Any = MISSING, *, ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with a numeric range, e.g. `dropout: float = bounded(0.2, ge=0, lt=1)`."""
    bounds = Bounds(low=gt if gt is not None else ge, high=lt if lt is not None else le,
                    low_open=gt is not None, high_open=lt is not None)
    if factory is not None:
        return field(default_factory=factory, metadata={BOUNDS: bounds})
    return field(default=default, metadata={BOUNDS: bounds})
