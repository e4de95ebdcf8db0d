"""Config builders and file writers shared by the data-layer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsearch.config.schema import DataConfig, SplitConfig, SyntheticConfig
from recsearch.data import load_interactions
from recsearch.errors import DataError


def small_cfg() -> DataConfig:
    return DataConfig(name="ml-latest-small", format="movielens_csv")


def ml100k_cfg() -> DataConfig:
    return DataConfig(name="ml-100k-mini", format="movielens_100k", rating_scale=[1.0, 5.0])


def ml1m_cfg() -> DataConfig:
    return DataConfig(name="ml-1m-mini", format="movielens_dat", rating_scale=[1.0, 5.0])


def synthetic_cfg(**kwargs) -> DataConfig:
    params = dict(n_users=200, n_items=100, n_ratings=4000, seed=0) | kwargs
    return DataConfig(name="synthetic", format="synthetic", synthetic=SyntheticConfig(**params))


def split_cfg(method: str = "random", **kwargs) -> SplitConfig:
    return SplitConfig(method=method, **kwargs)


def write_csv(path: Path, text: str, crlf: bool = False) -> Path:
    """Write `text` (LF lines) to `path`, with CRLF line endings if asked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.replace("\n", "\r\n" if crlf else "\n").encode())
    return path


def load_error(cfg: DataConfig, data_dir: Path) -> str:
    """The one-line DataError that loading `cfg` raises."""
    with pytest.raises(DataError) as info:
        load_interactions(cfg, data_dir)
    message = str(info.value)
    assert "\n" not in message
    return message
