"""Typed schemas of every config section: a wrong type or an unknown key fails before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional

from omegaconf import MISSING

from recsearch.bounds import BOUNDS, Bounds, bounded  # noqa: F401 - re-exported for schema readers


@dataclass
class ColumnsConfig:
    """Column names of a generic interactions file (CSV or Parquet); 0-based column numbers with data.header=false."""

    user: str = "userId"
    item: str = "movieId"
    rating: Optional[str] = "rating"
    timestamp: Optional[str] = "timestamp"


@dataclass
class SyntheticConfig:
    """Parameters of the synthetic rating generator (tests and scale runs)."""

    n_users: int = bounded(1000, ge=1)
    n_items: int = bounded(500, ge=1)
    n_ratings: int = bounded(50_000, ge=1)
    n_factors: int = bounded(8, ge=1)
    n_genres: int = bounded(12, ge=0)
    noise: float = bounded(0.3, ge=0)
    popularity_exponent: float = bounded(1.0, ge=0)
    seed: int = 0


@dataclass
class DataConfig:
    """One dataset: where its files are, their format, and where to download it from."""

    name: str = MISSING
    format: str = MISSING  # movielens_csv | movielens_100k | movielens_dat | interactions | synthetic
    path: Optional[str] = None  # a folder (or file) that replaces <paths.data_dir>/<name>
    url: Optional[str] = None
    sha256: Optional[str] = None
    n_ratings: Optional[int] = None  # the ratings the publisher ships (a copy with others is warned about)
    rating_scale: List[float] = field(default_factory=lambda: [0.5, 5.0])
    ratings_file: Optional[str] = None  # generic `interactions` format only
    items_file: Optional[str] = None
    sep: Optional[str] = None
    header: bool = True  # interactions format: false for a CSV/TSV without a header row (columns.* are positions)
    columns: ColumnsConfig = field(default_factory=ColumnsConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    description: str = ""


@dataclass
class SplitConfig:
    """How interactions are split into train / validation / test."""

    method: str = "random"  # random | per_user | temporal | leave_one_out | predefined
    ratios: List[float] = bounded(ge=0, le=1, factory=lambda: [0.8, 0.1, 0.1])
    seed: int = 42
    temporal_mode: str = "global"  # temporal only: global | per_user
    last_k: int = bounded(1, ge=1)  # temporal per_user: the last k interactions go to test, the k before to validation
    train_file: Optional[str] = None  # predefined only, relative to the dataset folder
    test_file: Optional[str] = None
    valid_file: Optional[str] = None
    valid_ratio: float = bounded(0.1, ge=0, lt=1)  # predefined without valid_file: share of train carved out as validation


@dataclass
class TrainConfig:
    """Optimisation of one training run."""

    backend: str = "auto"  # Keras backend: auto | tensorflow | jax (set before Keras is imported; auto: resolve_backend)
    optimizer: str = "adam"  # adam | sgd | rmsprop | adamw
    learning_rate: float = bounded(1e-3, gt=0)
    momentum: float = bounded(0.0, ge=0, lt=1)  # sgd and rmsprop
    weight_decay: float = bounded(0.004, ge=0)  # adamw
    batch_size: int = bounded(1024, ge=1)
    epochs: int = bounded(20, ge=1)
    patience: int = bounded(3, ge=0)
    stall_epochs: int = bounded(2, ge=0)  # rating: stop a run no better than the training mean after this many (0: off)
    seed: int = 42
    deterministic: bool = True
    jit_compile: bool = False
    compile_cache: bool = True  # JAX: keep compiled programs on disk under paths.cache_dir (training/compile_cache.py)
    pad_embeddings: bool = True  # JAX loop: train at embedding_dim rounded up, sharing programs (training/widths.py)
    steps_per_execution: int = bounded(16, ge=1)
    verbose: int = bounded(0, ge=0, le=2)
    refit: bool = False  # after training, retrain the chosen epochs on train + validation and report test
    refit_epochs: Optional[int] = None  # epochs of the refit (default: best_epoch of the run on train)
    tensorboard: bool = False  # per-run / per-trial TensorBoard logs (scalars per epoch, HParams)


@dataclass
class TaskConfig:
    """What is predicted and which validation metric selects models."""

    name: str = "rating"  # rating | ranking
    metric: str = "rmse"  # rating: rmse | mae; ranking: hr@K, ndcg@K, recall@K, precision@K, map@K, coverage@K, mrr
    direction: str = "minimize"
    clip_predictions: bool = True
    # ranking only (defaults keep rating configs valid)
    loss: str = "bce"  # bce (num_negatives sampled negatives) | bpr | softmax (sampled softmax)
    negatives: str = "sampled"  # sampled | in_batch (two_tower with the softmax loss)
    num_negatives: int = bounded(4, ge=1)
    implicit_threshold: Optional[float] = None  # positives: ratings >= this (None: every rating)
    protocol: str = "sampled"  # sampled (held-out item vs num_candidates sampled items) | full (all items)
    num_candidates: int = bounded(99, ge=1)
    ks: List[int] = bounded(ge=1, factory=lambda: [5, 10, 20])
    eval_seed: int = 0


@dataclass
class PathsConfig:
    """Where data is read and results are written. None means the user cache directory."""

    data_dir: Optional[str] = None
    cache_dir: Optional[str] = None
    results_dir: str = "results"


@dataclass
class SearchConfig:
    """The Optuna study: budget, sampler, pruner, storage, workers."""

    study_name: Optional[str] = None  # default: <model>-<task>
    n_trials: int = bounded(20, ge=1)
    timeout: Optional[float] = bounded(None, gt=0)  # seconds, wall clock, for this invocation
    sampler: str = "tpe"  # tpe | random | cmaes | gp | qmc | grid | nsga2
    pruner: str = "median"  # median | percentile | successive_halving | hyperband | none
    seed: int = 0
    n_startup_trials: int = bounded(5, ge=0)
    n_warmup_steps: int = bounded(2, ge=0)
    percentile: float = bounded(25.0, ge=0, le=100)
    objectives: List[str] = field(default_factory=list)  # extra objectives: params | latency
    storage: Optional[str] = None  # default: journal file in the study folder
    n_workers: Any = "auto"  # auto | N >= 1 worker processes (recsearch.search.parallel)
    enqueue_defaults: bool = False
    enqueue_file: Optional[str] = None
    keep_models: int = bounded(3, ge=0)
    pack_size: int = bounded(1, ge=1)  # trials of one shape trained as one program (JAX, rating on pairs)
    heartbeat_interval: int = bounded(60, ge=1)
    engine: str = "optuna"  # optuna | kerastuner
    tuner: str = "random"  # kerastuner engine: random | bayesian | hyperband
    fidelity: str = "none"  # none | data (rungs of a growing user sample, see recsearch.search.fidelity) | epochs
    fidelity_min_fraction: float = bounded(0.1, gt=0, le=1)  # data fidelity: the smallest rung's share of the users
    fidelity_eta: int = bounded(3, ge=2)  # data fidelity: each rung has eta times the users of the one before


@dataclass
class CompareConfig:
    """Equal-budget comparison: one study per variant, same split, budget, sampler seed and pruner."""

    variants: List[str] = field(default_factory=list)
    baselines: bool = True
    strategies: List[str] = field(default_factory=list)  # search strategies raced on one model (compare_search)
    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])  # search.seed of each strategy's runs
    budget_seconds: float = 300.0  # wall clock of each (strategy, seed) run


@dataclass
class RootConfig:
    """The composed config; model and search_space are validated by their own schemas."""

    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: Any = None
    train: TrainConfig = field(default_factory=TrainConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    search_space: Any = None
    paths: PathsConfig = field(default_factory=PathsConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    experiment: Optional[str] = None
