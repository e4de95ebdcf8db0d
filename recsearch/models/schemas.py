"""Config schemas of the model families (pure dataclasses: importing them does not load Keras)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from omegaconf import MISSING

from recsearch.bounds import bounded


@dataclass
class ModelConfig:
    """Base of every model schema: the registry name selects the builder."""

    name: str = MISSING


@dataclass
class MlpConfig(ModelConfig):
    """NCF-MLP: concatenated user/item embeddings through a stack of Dense layers."""

    name: str = "mlp"
    embedding_dim: int = bounded(32, ge=1)
    depth: int = bounded(3, ge=0)
    width: int = bounded(128, ge=1)
    width_schedule: str = "halving"  # constant | halving | doubling
    activation: str = "relu"
    dropout: float = bounded(0.2, ge=0, lt=1)
    l2: float = bounded(1e-5, ge=0)
    embedding_l2: float = bounded(1e-6, ge=0)


@dataclass
class MfConfig(ModelConfig):
    """Biased MF: dot(user, item) + biases; per-example L2 on the looked-up rows."""

    name: str = "mf"
    embedding_dim: int = bounded(64, ge=1)
    l2: float = bounded(0.08, ge=0)
    bias_l2: float = bounded(0.02, ge=0)
    init_std: float = bounded(0.05, gt=0)


@dataclass
class GmfConfig(ModelConfig):
    """GMF: element-wise product of the embeddings, learned output weights."""

    name: str = "gmf"
    embedding_dim: int = bounded(32, ge=1)
    l2: float = bounded(0.01, ge=0)
    dropout: float = bounded(0.0, ge=0, lt=1)


@dataclass
class NeuMfConfig(ModelConfig):
    """NeuMF: GMF and MLP branches fused; optionally initialised from trained GMF / MLP .keras files."""

    name: str = "neumf"
    mf_dim: int = bounded(16, ge=1)
    embedding_dim: int = bounded(32, ge=1)
    depth: int = bounded(2, ge=0)
    width: int = bounded(64, ge=1)
    width_schedule: str = "halving"
    activation: str = "relu"
    dropout: float = bounded(0.1, ge=0, lt=1)
    l2: float = bounded(1e-5, ge=0)
    embedding_l2: float = bounded(1e-3, ge=0)
    pretrained_gmf: Optional[str] = None
    pretrained_mlp: Optional[str] = None


@dataclass
class DeepFmConfig(ModelConfig):
    """DeepFM over user id, item id, item genres/tags and user demographics."""

    name: str = "deepfm"
    embedding_dim: int = bounded(16, ge=1)
    depth: int = bounded(2, ge=0)
    width: int = bounded(64, ge=1)
    activation: str = "relu"
    dropout: float = bounded(0.1, ge=0, lt=1)
    l2: float = bounded(1e-5, ge=0)
    embedding_l2: float = bounded(1e-3, ge=0)
    use_tags: bool = True
    use_user_features: bool = True


@dataclass
class TwoTowerConfig(ModelConfig):
    """Two towers (ids plus side features through Dense stacks), dot-product score."""

    name: str = "two_tower"
    embedding_dim: int = bounded(32, ge=1)
    depth: int = bounded(1, ge=0)
    width: int = bounded(64, ge=1)
    activation: str = "relu"
    dropout: float = bounded(0.0, ge=0, lt=1)
    l2: float = bounded(1e-5, ge=0)
    embedding_l2: float = bounded(1e-3, ge=0)
    use_tags: bool = True
    use_user_features: bool = True


@dataclass
class AutoRecConfig(ModelConfig):
    """I-AutoRec: item rows of the rating matrix through a one-hidden-layer autoencoder."""

    name: str = "autorec"
    hidden: int = bounded(500, ge=1)
    activation: str = "sigmoid"
    output_activation: str = "linear"
    dropout: float = bounded(0.0, ge=0, lt=1)
    l2: float = bounded(100.0, ge=0)  # the paper's lambda (objective summed over observed ratings)
    row_batch_size: int = bounded(32, ge=1)  # items per training step (AutoRec trains on item rows, not on train.batch_size)
    center: str = "item"  # offset subtracted from observed ratings: none | global | item
    mean_shrinkage: float = bounded(5.0, ge=0)  # item offset: item mean shrunk towards the global mean by this many ratings
