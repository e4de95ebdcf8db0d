"""Translate a parsed SearchSpace into KerasTuner hyperparameters, and KerasTuner values back to config values.

`int`/`float` become `hp.Int`/`hp.Float` (log ranges with `sampling="log"`), `choice` becomes `hp.Choice`,
fixed values `hp.Fixed`, and each `conditions:` entry the parent conditions `hp.conditional_scope` records,
whose parent values are the discrete values of the parent that pass the test (KerasTuner needs discrete parents).
"""

from __future__ import annotations

from typing import Any, Mapping

from recsearch.errors import SearchSpaceError
from recsearch.search.space import Condition, Param, SearchSpace, _OPS

TUNER_KEYS_PREFIX = "tuner/"  # Hyperband's own bookkeeping values (tuner/epochs, tuner/round, ...)


def to_kerastuner(space: SearchSpace) -> Any:
    """A `keras_tuner.HyperParameters` declaring every parameter of `space` under its conditions."""
    import keras_tuner as kt
    from keras_tuner.src.engine.conditions import Parent  # what hp.conditional_scope records; no public name

    hp = kt.HyperParameters()
    by_key = {p.key: p for p in space.params}
    for p in space.params:  # several tests of one condition: one hp with several Parent conditions (AND)
        cond = space.conditions.get(p.key)
        parents = [Parent(name, values) for name, values in _scope_values(p.key, cond, by_key)] if cond else []
        hp.merge([_declare(p, parents)])
    return hp


def from_kerastuner(space: SearchSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The active config values of a KerasTuner trial, in sampling order, snapped onto the Optuna distributions."""
    out: dict[str, Any] = {}
    for p in space.params:
        cond = space.conditions.get(p.key)
        if p.key in values and (cond is None or cond.holds(out)):
            out[p.key] = _snap(p, values[p.key])
    return out


def searched(space: SearchSpace, values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of active values that Optuna records as parameters (fixed values are config, not params)."""
    kinds = {p.key: p.kind for p in space.params}
    return {k: v for k, v in values.items() if kinds.get(k) != "fixed"}


def _declare(p: Param, conditions: list[Any]) -> Any:
    """The KerasTuner hyperparameter of one parameter, active under `conditions`."""
    from keras_tuner.engine import hyperparameters as hps

    if p.kind == "fixed":
        return hps.Fixed(p.key, _kt_value(p.key, p.choices[0]), conditions=conditions)
    if p.kind == "categorical":
        _check_choice_types(p)
        return hps.Choice(p.key, list(p.choices), ordered=False, conditions=conditions)
    sampling = "log" if p.log else "linear"
    if p.kind == "int":  # KerasTuner's step is multiplicative on a log scale: log ranges go without one
        return hps.Int(p.key, int(p.low), int(p.high), step=None if p.log else int(p.step or 1), sampling=sampling,
                       conditions=conditions)
    return hps.Float(p.key, float(p.low), float(p.high), step=None if p.log else p.step, sampling=sampling,
                     conditions=conditions)


def _check_choice_types(p: Param) -> None:
    kinds = {type(v) for v in p.choices}
    if len(kinds) > 1 and kinds != {int, float}:
        raise SearchSpaceError(f"search_space.params.{p.key}: KerasTuner's hp.Choice needs values of one type, "
                               f"got {sorted(k.__name__ for k in kinds)}; use search.engine=optuna for mixed choices")


def _kt_value(key: str, value: Any) -> Any:
    if value is None or not isinstance(value, (int, float, str, bool)):
        raise SearchSpaceError(f"search_space.params.{key}: KerasTuner's hp.Fixed takes int, float, str or bool, "
                               f"not {value!r}")
    return value


def _scope_values(key: str, cond: Condition, by_key: dict[str, Param]) -> list[tuple[str, list[Any]]]:
    """(parent, allowed values) per test of the condition: the parent's discrete values that pass it."""
    scopes = []
    for parent, op, operand in cond.tests:
        values = [v for v in discrete_values(by_key[parent]) if _passes(v, op, operand)]
        if not values:
            raise SearchSpaceError(f"search_space.conditions.{key}: no value of '{parent}' satisfies the condition, "
                                   "so the parameter would never be sampled")
        scopes.append((parent, values))
    return scopes


def _passes(value: Any, op: str, operand: Any) -> bool:
    return value in operand if op == "in" else _OPS[op](value, operand)


def discrete_values(p: Param) -> list[Any]:
    """Every value a discrete parameter can take; SearchSpaceError for a continuous one."""
    if p.kind in ("categorical", "fixed"):
        return list(p.choices)
    if p.kind == "int" and not p.log:
        return list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
    if p.kind == "int" and p.high - p.low <= 1000:
        return list(range(int(p.low), int(p.high) + 1))
    if p.kind == "float" and p.step:
        return [round(p.low + k * p.step, 12) for k in range(int(round((p.high - p.low) / p.step)) + 1)]
    raise SearchSpaceError(f"search_space.conditions: '{p.key}' is continuous; KerasTuner's conditional scopes need a "
                           "discrete parent (choice or range); use search.engine=optuna for this space")


def _snap(p: Param, value: Any) -> Any:
    """KerasTuner's value as the config (and Optuna) expects it: ints as int, float steps on the grid."""
    if p.kind == "int":
        return int(round(value))
    if p.kind == "float":
        value = float(value)
        if p.step:
            value = round(p.low + round((value - p.low) / p.step) * p.step, 12)
        return min(max(value, p.low), p.high)
    return value
