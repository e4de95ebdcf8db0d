"""Where datasets live and where prepared splits are cached."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir

from recsearch.data.movielens import ZIP_FOLDERS
from recsearch.errors import DataError


def resolve_data_dir(paths_cfg: Any) -> Path:
    """`paths.data_dir`, else $RECSEARCH_DATA_DIR, else `<user cache>/recsearch/datasets`."""
    return _resolve(getattr(paths_cfg, "data_dir", None), "RECSEARCH_DATA_DIR", "datasets")


def resolve_cache_dir(paths_cfg: Any) -> Path:
    """`paths.cache_dir`, else $RECSEARCH_CACHE_DIR, else `<user cache>/recsearch/prepared`."""
    return _resolve(getattr(paths_cfg, "cache_dir", None), "RECSEARCH_CACHE_DIR", "prepared")


def resolve_compile_cache_dir(paths_cfg: Any) -> Path:
    """Compiled XLA programs: `<paths.cache_dir>/xla` (or `$RECSEARCH_CACHE_DIR/xla`), else `<user cache>/recsearch/xla`."""
    configured = getattr(paths_cfg, "cache_dir", None) or os.environ.get("RECSEARCH_CACHE_DIR")
    return Path(configured).expanduser() / "xla" if configured else Path(user_cache_dir("recsearch")) / "xla"


def dataset_dir(data_cfg: Any, data_dir: Path) -> Path:
    """The dataset's folder (or file): `data.path` if set, else `<data_dir>/<data.name>`, or the folder its
    zip unpacks to when only that one exists (`<data_dir>/ml-10M100K` for ml-10m)."""
    if data_cfg.path:
        return Path(data_cfg.path).expanduser()
    folder = Path(data_dir).expanduser() / str(data_cfg.name)
    unzipped = zip_folder(folder)
    return unzipped if not folder.exists() and unzipped.is_dir() else folder


def zip_folder(folder: Path) -> Path:
    """The folder a dataset's GroupLens zip unpacks to, beside `folder` (`ml-10M100K` for ml-10m; else `folder`)."""
    return folder.with_name(ZIP_FOLDERS.get(folder.name, folder.name))


def recorded_data_dir(data_cfg: Any, recorded_paths: Any) -> Path:
    """The data dir for a run recorded in a config (a study's trial, a run folder's config.yaml): the one it
    recorded while that still holds its dataset (the data it trained on), else this machine's
    (RECSEARCH_DATA_DIR or the default: a study copied from another machine). `recommend`, `recsearch.load_model`
    and `reproduce` find a study's data alike, whether or not RECSEARCH_DATA_DIR is set in this shell."""
    recorded = resolve_data_dir(recorded_paths)
    return recorded if dataset_dir(data_cfg, recorded).exists() else resolve_data_dir(None)


def require_recorded_data_path(data_cfg: Any) -> None:
    """Refuse, before reading it, a recorded run's own data (`data.path`, absolute: config/compose.py) that is
    gone: `recommend` and `reproduce` need the very data it trained on (its user and item indexes), and
    `data.path=...` is not theirs to change. Loading a kept model alone reads no data and needs none."""
    own = getattr(data_cfg, "path", None)
    if own and not Path(own).expanduser().exists():
        raise DataError(f"{own} is not there: it is the data.path the run or study trained on, and its model's "
                        "user and item indexes are that data's; put the data back there (or link it there)")


def _resolve(configured: str | None, env_var: str, leaf: str) -> Path:
    """The configured path, else the environment variable, else a folder in the user cache."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    return Path(user_cache_dir("recsearch")) / leaf
