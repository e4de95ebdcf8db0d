"""Value ranges are declared once, on the schemas, and checked for every override and every space entry."""

from __future__ import annotations

from dataclasses import fields, is_dataclass

import pytest

from recsearch.config import compose_config
from recsearch.config.schema import BOUNDS, Bounds, RootConfig
from recsearch.config.validate import check_overrides
from recsearch.errors import ConfigError, SearchSpaceError
from recsearch.models import MODELS
from recsearch.search.parse import parse_space


def _bounded_fields(schema: type, prefix: str = ""):
    for f in fields(schema):
        if is_dataclass(f.default_factory):
            yield from _bounded_fields(f.default_factory, f"{prefix}{f.name}.")
        elif BOUNDS in f.metadata:
            yield f"{prefix}{f.name}", f


def test_every_schema_default_lies_in_its_range() -> None:
    schemas = [("", RootConfig)] + [("model.", spec.schema) for spec in MODELS.values()]
    seen = 0
    for prefix, schema in schemas:
        for key, f in _bounded_fields(schema, prefix):
            default = f.default_factory() if callable(f.default_factory) else f.default
            for value in default if isinstance(default, list) else [default]:
                assert f.metadata[BOUNDS].holds(value), (key, value)
            seen += 1
    assert seen >= 40


@pytest.mark.parametrize("bounds, inside, outside, text", [
    (Bounds(0, 1, high_open=True), [0, 0.5, 0.999], [1, -0.1, float("nan"), float("inf")], "in [0, 1)"),
    (Bounds(low=0, low_open=True), [1e-9, 3], [0, -1, float("nan")], "> 0"),
    (Bounds(low=1), [1, 10**9], [0, 0.5], ">= 1"),
])
def test_bounds(bounds, inside, outside, text) -> None:
    assert all(bounds.holds(v) for v in inside) and not any(bounds.holds(v) for v in outside)
    assert str(bounds) == text and bounds.holds(None)


@pytest.mark.parametrize("override, key", [
    ("model.dropout=1.0", "model.dropout"), ("train.learning_rate=-1e-3", "train.learning_rate"),
    ("train.momentum=-0.5", "train.momentum"), ("search.keep_models=-1", "search.keep_models"),
    ("search.heartbeat_interval=0", "search.heartbeat_interval"), ("train.patience=-1", "train.patience"),
])
def test_override_outside_its_range_names_key_and_range(override, key) -> None:
    with pytest.raises(ConfigError, match=f"config key '{key}': must be"):
        compose_config([override])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_both_ends_of_every_default_space_fit(name) -> None:
    cfg = compose_config([f"model={name}"])
    assert parse_space(cfg.search_space, cfg).params


@pytest.mark.parametrize("expr", ["interval(0.5, 1.0)", "interval(-0.5, 0.2)", "choice(0.1, 1.5)", "range(0, 2, 0.5)"])
def test_a_space_end_outside_the_range_is_refused(expr) -> None:
    cfg = compose_config(["model=mlp"])
    with pytest.raises(SearchSpaceError, match=r"search_space.params.model.dropout: value .* must be in \[0, 1\)"):
        parse_space({"params": {"model.dropout": expr}}, cfg)


@pytest.mark.parametrize("overrides, fragment", [
    (["model=5"], "'model' is a config group"),
    (["+experiment=3"], "'experiment' is a config group"),
    (["=5"], "no key before '='"),
    (["model.depth=range(1,5)"], "search_space.params={model.depth:'range(1,5)'}"),
    (["train.optimizer=adam,sgd"], "search_space.params={train.optimizer:'choice(adam,sgd)'}"),
])
def test_override_shape_errors(overrides, fragment) -> None:
    with pytest.raises(ConfigError) as info:
        check_overrides(overrides, command="train")
    assert fragment in str(info.value) and "--multirun" not in str(info.value)


def test_good_overrides_pass_and_multirun_allows_sweeps() -> None:
    check_overrides(["model=mf", "~search.timeout", "train.epochs=3", "+experiment=compare_variants"], command="train")
    check_overrides(["model.depth=range(1,5)"], command="train", multirun=True)
