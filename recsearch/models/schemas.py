"""Config schemas of the model families (pure dataclasses: importing them does not load Keras)."""

from __future__ import annotations

from dataclasses import dataclass

from recsearch.config.schema import ModelConfig


@dataclass
class MlpConfig(ModelConfig):
    """NCF-MLP: concatenated user/item embeddings through a stack of Dense layers."""

    name: str = "mlp"
    embedding_dim: int = 32
    depth: int = 3
    width: int = 128
    width_schedule: str = "halving"  # constant | halving | doubling
    activation: str = "relu"
    dropout: float = 0.2
    l2: float = 1e-5
    embedding_l2: float = 1e-6
