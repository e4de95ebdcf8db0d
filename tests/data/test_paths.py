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


def test_the_ml_10m_zip_folder_is_used_as_it_is(tmp_path, fixtures_dir):
    """GroupLens' ml-10m.zip unpacks to ml-10M100K/: a data dir laid out like the zip needs no renaming."""
    from recsearch.data import fetch_dataset, load_interactions

    unzipped = tmp_path / "ml-10M100K"
    unzipped.mkdir()
    for name in ("ratings.dat", "movies.dat"):
        (unzipped / name).write_bytes((fixtures_dir / "ml-1m-mini" / name).read_bytes())
    cfg = DataConfig(name="ml-10m", format="movielens_dat", url="http://127.0.0.1:9/never.zip", rating_scale=[1.0, 5.0])
    assert dataset_dir(cfg, tmp_path) == unzipped
    assert fetch_dataset(cfg, tmp_path, progress=False) == unzipped  # laid out: no download
    assert len(load_interactions(cfg, tmp_path).ratings) == 30
    (tmp_path / "ml-10m").mkdir()
    assert dataset_dir(cfg, tmp_path) == tmp_path / "ml-10m"  # the documented name wins when both exist
