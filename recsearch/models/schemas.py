"""Config schemas of the model families (pure dataclasses: importing them does not load Keras)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING


@dataclass
class ModelConfig:
    """Base of every model schema: the registry name selects the builder."""

    name: str = MISSING


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


@dataclass
class MfConfig(ModelConfig):
    """Biased MF: dot(user, item) + biases; per-example L2 on the looked-up rows."""

    name: str = "mf"
    embedding_dim: int = 64
    l2: float = 0.08
    bias_l2: float = 0.02
    init_std: float = 0.05


@dataclass
class GmfConfig(ModelConfig):
    """GMF: element-wise product of the embeddings, learned output weights."""

    name: str = "gmf"
    embedding_dim: int = 32
    l2: float = 0.01
    dropout: float = 0.0


@dataclass
class NeuMfConfig(ModelConfig):
    """NeuMF: GMF and MLP branches fused; optionally initialised from trained GMF / MLP .keras files."""

    name: str = "neumf"
    mf_dim: int = 16
    embedding_dim: int = 32
    depth: int = 2
    width: int = 64
    width_schedule: str = "halving"
    activation: str = "relu"
    dropout: float = 0.1
    l2: float = 1e-5
    embedding_l2: float = 1e-3
    pretrained_gmf: Optional[str] = None
    pretrained_mlp: Optional[str] = None


@dataclass
class DeepFmConfig(ModelConfig):
    """DeepFM over user id, item id, item genres/tags and user demographics."""

    name: str = "deepfm"
    embedding_dim: int = 16
    depth: int = 2
    width: int = 64
    activation: str = "relu"
    dropout: float = 0.1
    l2: float = 1e-5
    embedding_l2: float = 1e-3
    use_tags: bool = True
    use_user_features: bool = True


@dataclass
class TwoTowerConfig(ModelConfig):
    """Two towers (ids plus side features through Dense stacks), dot-product score."""

    name: str = "two_tower"
    embedding_dim: int = 32
    depth: int = 1
    width: int = 64
    activation: str = "relu"
    dropout: float = 0.0
    l2: float = 1e-5
    embedding_l2: float = 1e-3
    use_tags: bool = True
    use_user_features: bool = True


@dataclass
class AutoRecConfig(ModelConfig):
    """I-AutoRec: item rows of the rating matrix through a one-hidden-layer autoencoder."""

    name: str = "autorec"
    hidden: int = 500
    activation: str = "sigmoid"
    output_activation: str = "linear"
    dropout: float = 0.0
    l2: float = 100.0  # the paper's lambda (objective summed over observed ratings)
    row_batch_size: int = 32  # items per training step (AutoRec trains on item rows, not on train.batch_size)
    center: str = "item"  # offset subtracted from observed ratings: none | global | item
    mean_shrinkage: float = 5.0  # item offset: item mean shrunk towards the global mean by this many ratings
