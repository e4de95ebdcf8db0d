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


@pytest.mark.parametrize("model, key, bad", [("mlp", "activation", "swishy"), ("mlp", "width_schedule", "halfing"),
                                             ("neumf", "activation", "Relu"), ("autorec", "output_activation", "lin"),
                                             ("autorec", "center", "mean")])
def test_a_packaged_models_named_values_are_checked_on_the_command_line_and_in_a_space(model, key, bad) -> None:
    """`model.activation=swishy` was a 43-line traceback from `train`, and `choice(relu, swishy)` in a space
    trained its relu trials before failing on the other."""
    with pytest.raises(ConfigError, match=rf"^config key 'model.{key}': '{bad}' is not one of "):
        compose_config([f"model={model}", f"model.{key}={bad}"])
    cfg = compose_config([f"model={model}"])
    good = getattr(cfg.model, key)
    with pytest.raises(SearchSpaceError, match=rf"value '{bad}' does not fit the config: config key 'model.{key}'"):
        parse_space({"params": {f"model.{key}": f"choice({good}, {bad})"}}, cfg)


def test_every_activation_accepted_is_one_keras_builds_a_dense_layer_of_its_width_with() -> None:
    import keras
    import numpy as np

    from recsearch.choices import ACTIVATIONS

    known = [name for name in ACTIVATIONS if hasattr(keras.activations, name)]  # an older Keras lacks a few
    assert {"relu", "tanh", "sigmoid", "gelu", "linear"} <= set(known)
    for name in known:
        layer = keras.layers.Dense(6, activation=name)
        assert layer(np.ones((2, 3), "float32")).shape == (2, 6), name
    assert compose_config(["model=mlp", "model.activation=leaky_relu"]).model.activation == "leaky_relu"


def _own_builder(model_cfg, data):  # noqa: ANN001, ANN202 - never called: only composed
    raise AssertionError("not built here")


def test_a_registered_familys_activation_is_its_own() -> None:
    """A family registered by the user's code may name a custom Keras activation: not checked against Keras's."""
    from dataclasses import dataclass

    from hydra.core.config_store import ConfigStore

    import recsearch
    from recsearch.models.registry import MODELS

    @dataclass
    class OwnConfig:
        name: str = "own_act"
        activation: str = "my_custom_act"

    recsearch.register_model("own_act", schema=OwnConfig)(_own_builder)
    try:
        assert compose_config(["model=own_act", "model.activation=my_other_act"]).model.activation == "my_other_act"
    finally:
        MODELS.pop("own_act", None)
        ConfigStore.instance().repo["model"].pop("own_act.yaml", None)
