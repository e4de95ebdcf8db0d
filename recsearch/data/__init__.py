"""The data layer: dataset loading and download, id encoding, splits, caching, synthetic data."""

from recsearch.data.download import fetch_dataset
from recsearch.data.loaders import FORMATS, load_interactions
from recsearch.data.paths import dataset_dir, recorded_data_dir, resolve_cache_dir, resolve_data_dir
from recsearch.data.prepare import prepare_data
from recsearch.data.splits import METHODS as SPLIT_METHODS
from recsearch.data.summary import dataset_summary
from recsearch.data.synthetic import generate_synthetic
from recsearch.data.types import Interactions, PreparedData, SplitArrays

__all__ = [
    "FORMATS",
    "SPLIT_METHODS",
    "Interactions",
    "PreparedData",
    "SplitArrays",
    "dataset_dir",
    "dataset_summary",
    "fetch_dataset",
    "generate_synthetic",
    "load_interactions",
    "prepare_data",
    "recorded_data_dir",
    "resolve_cache_dir",
    "resolve_data_dir",
]
