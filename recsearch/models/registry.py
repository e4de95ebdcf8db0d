"""Explicit name -> model family table. Builders are imported only when a model is built."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsearch.errors import ConfigError
from recsearch.models.schemas import MlpConfig

if TYPE_CHECKING:
    import keras

    from recsearch.data.types import PreparedData


@dataclass(frozen=True)
class ModelSpec:
    """A model family: its config schema and the `module:function` that builds it from a config."""

    name: str
    schema: type
    builder: str  # "module:function" taking (model_cfg, data) and returning a keras.Model
    tasks: tuple[str, ...]
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mlp", MlpConfig, "recsearch.models.mlp:from_config", ("rating",),
                  "feedforward NCF: user/item embeddings concatenated through Dense layers"),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The registered family `name`, or a ConfigError listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}") from None


def model_schema(name: str) -> type:
    """The dataclass schema of model `name`."""
    return model_spec(name).schema


def build_model(model_cfg: Any, data: "PreparedData") -> "keras.Model":
    """Build the (uncompiled) Keras model described by `model_cfg` for `data`."""
    module, func = model_spec(model_cfg.name).builder.split(":")
    return getattr(importlib.import_module(module), func)(model_cfg, data)
