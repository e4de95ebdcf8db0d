"""Random search-space expressions: each parses into a space Optuna can sample within the schema's ranges, or is
refused with a one-line SearchSpaceError, within a time limit (no crash, no hang, no huge enumeration)."""

from __future__ import annotations

import math

import optuna
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from guard import valid_or_user_error
from recsearch.config import compose_config
from recsearch.config.validate import check_values
from recsearch.search.parse import parse_space

KEYS = ["model.dropout", "model.depth", "model.width", "model.embedding_dim", "model.l2", "model.activation",
        "train.learning_rate", "train.batch_size", "train.optimizer", "train.momentum", "model.nope", "model"]

numbers = st.one_of(
    st.integers(-10**12, 10**12), st.integers(-5, 300), st.integers(1, 64), st.floats(0, 1), st.floats(1e-6, 0.5),
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.floats(-2.0, 2.0),
    st.sampled_from(["nan", "inf", "-inf", "1e308", "1e-320", "-0.0", "0", "1", "0.001"]),
)
words = st.sampled_from(["adam", "sgd", "relu", "tanh", "mlp", "mf", "null", "true", "'a,b'", "x y", "", "log"])


def _num(value) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)


@st.composite
def expressions(draw) -> str:
    """An expression of the Hydra sweeper grammar, often valid, often not, sometimes plain junk."""
    n = [_num(draw(numbers)) for _ in range(3)]
    kind = draw(st.sampled_from(["range1", "range2", "range3", "interval", "int_interval", "log", "choice",
                                 "shuffle", "fixed", "junk", "nested"]))
    if kind == "range1":
        return f"range({n[0]})"
    if kind == "range2":
        return f"range({n[0]}, {n[1]})"
    if kind == "range3":
        return f"range({n[0]}, {n[1]}, {n[2]})"
    if kind == "interval":
        return f"interval({n[0]}, {n[1]})"
    if kind == "int_interval":
        return f"int(interval({n[0]}, {n[1]}))"
    if kind == "log":
        return f"tag(log, interval({n[0]}, {n[1]}))"
    if kind == "choice":
        items = draw(st.lists(st.one_of(numbers.map(_num), words), min_size=0, max_size=4))
        return f"choice({', '.join(items)})"
    if kind == "shuffle":
        return f"shuffle(range({n[0]}, {n[1]}, {n[2]}))"
    if kind == "fixed":
        return draw(st.one_of(numbers.map(_num), words))
    if kind == "nested":
        return f"tag({draw(words)}, {draw(st.sampled_from(['range', 'interval', 'choice', 'int']))}({n[0]}, {n[1]}))"
    return draw(st.text(max_size=30))


# expressions that fit some of KEYS, so that a good share of examples gets through to sampling
plausible = st.sampled_from(["range(1, 4)", "range(0.0, 0.5, 0.1)", "choice(adam, sgd)", "choice(relu, tanh)",
                             "interval(0.0, 0.5)", "choice(32, 64)", "tag(log, interval(1e-4, 1e-1))",
                             "int(interval(8, 64))", "shuffle(range(1, 9, 2))", "0.2", "range(3, 0, -1)"])
any_expression = st.one_of(expressions(), plausible)


@pytest.fixture(scope="module")
def base_cfg():
    return compose_config(["model=mlp"])


def _check_samples(space, cfg) -> None:
    """Sample the space a few times with Optuna: every value is inside the schema's types and ranges."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(3):
        trial = study.ask()
        values = space.sample(trial)
        probe = cfg.copy()
        for key, value in values.items():
            if key != "model":
                OmegaConf.update(probe, key, value, merge=False)
        check_values(probe)
        study.tell(trial, 0.0)
    for p in space.params:
        if p.low is not None:
            assert math.isfinite(p.low) and math.isfinite(p.high) and p.low <= p.high


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), expr=any_expression)
def test_random_expressions_parse_or_fail_cleanly(base_cfg, key, expr) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    space = valid_or_user_error(lambda: parse_space({"params": {key: expr}}, base_cfg), seconds=10)
    event("refused" if space is None else "parsed and sampled")
    if space is not None:
        _check_samples(space, base_cfg)


@pytest.mark.parametrize("expr", ["range(nan)", "range(inf, -185.7, -35)", "range(0, 1000000, 0.001)",
                                  "range(-inf, 5)", "interval(0, inf)", "shuffle(range(0, 1e300, 1e-300))"])
def test_the_reported_crashes_and_hangs_are_refused_fast(base_cfg, expr) -> None:
    import time

    start = time.perf_counter()
    assert valid_or_user_error(lambda: parse_space({"params": {"model.l2": expr}}, base_cfg), seconds=5) is None
    assert time.perf_counter() - start < 1.0


conditions = st.one_of(
    st.sampled_from([">= 2", "< 0.5", "== 1", "!= 3", ">= x", "> nan", ">=", "in", "adam", "relu", "0.2"]),
    st.lists(st.one_of(numbers.map(_num), words, st.sampled_from(["adam", "sgd", "relu", "32", "2"])), max_size=3),
    st.one_of(words, st.integers(-2, 5), st.none(), st.dictionaries(words, words, max_size=2)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(first=st.sampled_from(KEYS[:-2]), a=any_expression, on=st.sampled_from(["first", "first", "itself", "nope"]),
       want=conditions)
def test_random_conditions_parse_or_fail_cleanly(base_cfg, first, a, on, want) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    second = "train.weight_decay"
    other = {"first": first, "itself": second, "nope": "model.nope"}[on]
    raw = {"params": {first: a, second: "tag(log, interval(1e-5, 1e-1))"}, "conditions": {second: {other: want}}}
    space = valid_or_user_error(lambda: parse_space(raw, base_cfg), seconds=10)
    event("refused" if space is None else "parsed and sampled")
    if space is not None:
        _check_samples(space, base_cfg)
