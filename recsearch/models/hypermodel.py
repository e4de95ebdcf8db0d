"""Bring your own KerasTuner hypermodel: `model=hypermodel model.builder=my_module:build_model`.

The builder is a KerasTuner `build_model(hp, ...)` function, a `keras_tuner.HyperModel` subclass or an
instance of one. It receives `num_users`, `num_items` and `global_mean` as keyword arguments where its
signature names them (the function's; a HyperModel's `__init__` or `build`), and must return a Keras model
taking {"user", "item"} int inputs and predicting a rating of shape (batch,). Under the Optuna engine each `hp.Int/Float/Choice/Boolean/Fixed` call (inside
`hp.conditional_scope` too) becomes an Optuna suggestion named `model.hp.<name>`; the values are stored in
`model.hp`, so the trial's config rebuilds the same model (best.yaml, export-best, reproduce).
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict

from recsearch.models.schemas import ModelConfig
from recsearch.errors import ConfigError

PREFIX = "model.hp."
DATA_KWARGS = ("num_users", "num_items", "global_mean")


@dataclass
class HyperModelConfig(ModelConfig):
    """A user's KerasTuner hypermodel: where to import it from, and the hyperparameter values to build with."""

    name: str = "hypermodel"
    builder: str = "recsearch.examples.my_hypermodel:build_model"  # module:attribute (the working directory is importable)
    hp: Dict[str, Any] = field(default_factory=dict)  # values by hp name; unset names take the hp's default


def load_builder(spec: str) -> Any:
    """The object named by `module:attribute` (or `path/to/file.py:attribute`); ConfigError saying what to fix."""
    module_name, _, attr = str(spec).partition(":")
    where = f"model.builder {spec!r}"
    if not module_name or not attr:
        raise ConfigError(f"{where}: expected module:attribute, e.g. my_module:build_model")
    try:
        module = _import(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import {module_name!r} from {os.getcwd()} ({exc}); run from the folder "
                          "that holds it or add that folder to PYTHONPATH") from None
    if not hasattr(module, attr):
        raise ConfigError(f"{where}: module {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _import(module_name: str) -> Any:
    """Import a module by name (the working directory first on the path), or a .py file by path."""
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        if not path.is_file():
            raise ImportError(f"no file {path}")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return importlib.import_module(module_name)


def build_function(builder: Any, data: Any) -> Callable[[Any], Any]:
    """`hp -> keras.Model` for a build function, a HyperModel subclass or a HyperModel instance."""
    import keras_tuner as kt

    extra = {"num_users": data.num_users, "num_items": data.num_items, "global_mean": float(data.global_mean)}
    if inspect.isclass(builder) and issubclass(builder, kt.HyperModel):
        builder = builder(**_accepted(builder.__init__, extra))
    if isinstance(builder, kt.HyperModel):  # its build(hp, ...) may name the data arguments as well
        own = getattr(builder, "_build", builder.build)  # KerasTuner wraps build in (hp, *args, **kwargs)
        hypermodel, build_kwargs = builder, _accepted(own, extra)
        return lambda hp: hypermodel.build(hp, **build_kwargs)
    if callable(builder):
        kwargs = _accepted(builder, extra)
        return lambda hp: builder(hp, **kwargs)
    raise ConfigError(f"model.builder: {builder!r} is neither a build_model(hp) function nor a KerasTuner HyperModel")


def _accepted(func: Any, extra: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(extra)
    return {k: v for k, v in extra.items() if k in params}


def from_config(cfg: Any, data: Any) -> Any:
    """Registry adapter: build the hypermodel with the values in `model.hp` (defaults for the rest)."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    hp.values.update(dict(cfg.hp))
    return build_function(load_builder(cfg.builder), data)(hp)


def sample_hypermodel(trial: Any, cfg: Any, data: Any) -> Any:
    """For model=hypermodel: build once with hp calls answered by `trial`, store the values in `model.hp`."""
    if cfg.model.name != "hypermodel":
        return cfg
    import keras

    hp = optuna_hyperparameters(trial, fixed=dict(cfg.model.hp))
    build_function(load_builder(cfg.model.builder), data)(hp)
    keras.backend.clear_session()  # the probe model is thrown away
    cfg.model.hp = dict(hp.values)
    return cfg


def optuna_hyperparameters(trial: Any, *, fixed: dict[str, Any] | None = None) -> Any:
    """A `keras_tuner.HyperParameters` whose active hp calls are answered by Optuna suggestions on `trial`
    (names prefixed `model.hp.`); values in `fixed` are used as given, not searched."""
    import keras_tuner as kt

    class OptunaHyperParameters(kt.HyperParameters):
        """KerasTuner's container (conditional scopes, name scopes, defaults) with Optuna choosing values."""

        def _register(self, hyperparameter: Any, overwrite: bool = False) -> Any:
            if self.is_active(hyperparameter) and hyperparameter.name not in self.values:
                self.values[hyperparameter.name] = suggest(trial, hyperparameter)
            return super()._register(hyperparameter, overwrite=False)

    hp = OptunaHyperParameters()
    hp.values.update(fixed or {})
    return hp


def suggest(trial: Any, hp: Any) -> Any:
    """The Optuna suggestion for one KerasTuner hyperparameter (Fixed: its value, not searched). A distribution
    Optuna cannot mix with the study's earlier trials of that name (an hp.Int become hp.Choice, other choices,
    another log scale) fails the trial with one line saying so."""
    from recsearch.errors import ConfigError

    try:
        return _suggest(trial, hp)
    except ValueError as exc:  # Optuna's check_distribution_compatibility, against the study's earlier trials
        if not any(text in str(exc) for text in ("Cannot set different", "does not support dynamic value space")):
            raise
        raise ConfigError(f"hypermodel parameter {hp.name!r} is now {type(hp).__name__}"
                          f"{' (log)' if getattr(hp, 'sampling', None) in ('log', 'reverse_log') else ''}, searched "
                          f"otherwise than in this study's earlier trials (another kind, log scale or choices), which "
                          f"Optuna cannot mix in one study; restore the earlier hp call or choose another "
                          f"search.study_name") from None


def _suggest(trial: Any, hp: Any) -> Any:
    from keras_tuner.engine import hyperparameters as hps

    name = PREFIX + hp.name
    if isinstance(hp, hps.Fixed):
        return hp.value
    if isinstance(hp, hps.Boolean):
        return trial.suggest_categorical(name, [False, True])
    if isinstance(hp, hps.Choice):
        return trial.suggest_categorical(name, list(hp.values))
    log = hp.sampling in ("log", "reverse_log")
    if isinstance(hp, hps.Int):
        if log and hp.step not in (None, 1):  # KerasTuner's log step multiplies: the values are a geometric series
            return trial.suggest_categorical(name, _geometric(hp.min_value, hp.max_value, hp.step, int))
        return trial.suggest_int(name, hp.min_value, hp.max_value, step=1 if log else (hp.step or 1), log=log)
    if log and hp.step:
        return trial.suggest_categorical(name, _geometric(hp.min_value, hp.max_value, hp.step, float))
    return trial.suggest_float(name, hp.min_value, hp.max_value, step=None if log else hp.step, log=log)


def _geometric(low: float, high: float, factor: float, kind: type) -> list[Any]:
    n = int(math.floor(math.log(high / low, factor) + 1e-9))
    return [kind(low * factor**k) for k in range(n + 1)]
