"""Explicit name -> model family table. Builders are imported only when a model is built."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recsearch.errors import ConfigError
from recsearch.models.hypermodel import HyperModelConfig
from recsearch.models.schemas import (AutoRecConfig, DeepFmConfig, GmfConfig, MfConfig, MlpConfig, NeuMfConfig,
                                      TwoTowerConfig)

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
    trainer: str = "pairs"  # pairs: fit on (user, item) rows | item_rows: fit on item rows (AutoRec)
    # embedding columns used only through Dense layers, dot/elementwise products, sums and concatenation, so
    # zero columns stay zero and the JAX loop may train it at a wider embedding_dim (training/widths.py)
    pads_embedding: bool = False


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("mf", MfConfig, "recsearch.models.mf:from_config", ("rating", "ranking"),
                  "biased matrix factorisation: dot of user and item embeddings plus biases", pads_embedding=True),
        ModelSpec("gmf", GmfConfig, "recsearch.models.gmf:from_config", ("rating", "ranking"),
                  "generalised MF: element-wise product of embeddings, learned output weights", pads_embedding=True),
        ModelSpec("mlp", MlpConfig, "recsearch.models.mlp:from_config", ("rating", "ranking"),
                  "feedforward NCF: user/item embeddings concatenated through Dense layers", pads_embedding=True),
        ModelSpec("neumf", NeuMfConfig, "recsearch.models.neumf:from_config", ("rating", "ranking"),
                  "NeuMF: GMF and MLP branches fused, optionally from pretrained GMF/MLP", pads_embedding=True),
        ModelSpec("deepfm", DeepFmConfig, "recsearch.models.deepfm:from_config", ("rating", "ranking"),
                  "DeepFM: FM plus a deep part over ids, genres, tags and demographics", pads_embedding=True),
        ModelSpec("two_tower", TwoTowerConfig, "recsearch.models.two_tower:from_config", ("rating", "ranking"),
                  "two towers (ids plus side features) scored by a dot product", pads_embedding=True),
        ModelSpec("autorec", AutoRecConfig, "recsearch.models.autorec:from_config", ("rating",),
                  "I-AutoRec: item rating vectors reconstructed by an autoencoder", trainer="item_rows"),
        ModelSpec("hypermodel", HyperModelConfig, "recsearch.models.hypermodel:from_config", ("rating", "ranking"),
                  "your KerasTuner build_model(hp) or HyperModel (model.builder), its hp calls searched by Optuna"),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The registered family `name`, or a ConfigError listing the valid names."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))} (a family registered "
                          "by your own code needs it imported: recsearch --import MODULE ...)") from None


def model_ships_with_recsearch(cfg: Any) -> bool:
    """Whether the model's code is recsearch's own (a spawned worker imports it; its values are checked against
    `choices.MODEL_CHOICES`), not a registered or hypermodel builder that may live in the caller's script."""
    builders = [model_spec(str(cfg.model.name)).builder, str(cfg.model.get("builder") or "recsearch.")]
    return all(b.startswith("recsearch.") for b in builders)


def model_schema(name: str) -> type:
    """The dataclass schema of model `name`."""
    return model_spec(name).schema


# Modules outside the families that define Keras objects a saved model holds (losses and metrics in compile configs,
# e.g. the row loss of AutoRec's inner autoencoder, kept even when the outer model is loaded with compile=False).
SAVED_OBJECT_MODULES = ("recsearch.training.rows", "recsearch.training.metrics", "recsearch.training.ranking")


def register_layers() -> None:
    """Import every family's module, registering its custom Keras layers: call before `keras.saving.load_model`.

    Not done on `import recsearch.models` because config validation imports the schemas here, and that must
    stay free of Keras (a bad override fails in well under a second).
    """
    for module in (*(spec.builder.split(":")[0] for spec in MODELS.values()), *SAVED_OBJECT_MODULES):
        importlib.import_module(module)


def build_model(model_cfg: Any, data: "PreparedData") -> "keras.Model":
    """Build the (uncompiled) Keras model described by `model_cfg` for `data` (on JAX, weights drawn on the host)."""
    from recsearch.models.host_init import host_initial_values

    module, func = model_spec(model_cfg.name).builder.split(":")
    with host_initial_values():
        return getattr(importlib.import_module(module), func)(model_cfg, data)
