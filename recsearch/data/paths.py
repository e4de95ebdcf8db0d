"""Where datasets live and where prepared splits are cached."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir


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
    """The dataset's folder (or file): `data.path` if set, else `<data_dir>/<data.name>`."""
    if data_cfg.path:
        return Path(data_cfg.path).expanduser()
    return Path(data_dir).expanduser() / str(data_cfg.name)


def _resolve(configured: str | None, env_var: str, leaf: str) -> Path:
    """The configured path, else the environment variable, else a folder in the user cache."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    return Path(user_cache_dir("recsearch")) / leaf
