"""Where data and caches are looked for."""

from __future__ import annotations

from pathlib import Path

from recsearch.config.schema import DataConfig, PathsConfig
from recsearch.data import dataset_dir, resolve_cache_dir, resolve_data_dir


def test_config_beats_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RECSEARCH_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("RECSEARCH_CACHE_DIR", str(tmp_path / "envc"))
    assert resolve_data_dir(PathsConfig(data_dir=str(tmp_path / "cfg"))) == tmp_path / "cfg"
    assert resolve_data_dir(PathsConfig()) == tmp_path / "env"
    assert resolve_cache_dir(PathsConfig()) == tmp_path / "envc"


def test_default_is_user_cache(monkeypatch):
    monkeypatch.delenv("RECSEARCH_DATA_DIR", raising=False)
    monkeypatch.delenv("RECSEARCH_CACHE_DIR", raising=False)
    assert resolve_data_dir(PathsConfig()).parts[-2:] == ("recsearch", "datasets")
    assert resolve_cache_dir(PathsConfig()).name == "prepared"


def test_dataset_dir(tmp_path):
    assert dataset_dir(DataConfig(name="ml-1m", format="movielens_dat"), tmp_path) == tmp_path / "ml-1m"
    assert dataset_dir(DataConfig(name="x", format="interactions", path="/elsewhere"), tmp_path) == Path("/elsewhere")
