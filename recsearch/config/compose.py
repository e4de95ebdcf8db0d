"""Compose the config from `conf/` with Hydra's compose API, so the standard override grammar works."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from omegaconf import DictConfig

from recsearch.errors import ConfigError

_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def conf_dir() -> Path:
    """The Hydra config root: $RECSEARCH_CONF_DIR, else `conf/` beside the package."""
    path = Path(os.environ.get("RECSEARCH_CONF_DIR", _PACKAGE_ROOT / "conf")).resolve()
    if not (path / "config.yaml").is_file():
        raise ConfigError(f"config root {path} has no config.yaml; set RECSEARCH_CONF_DIR to a recsearch conf/ folder")
    return path


def experiments_dir() -> Path:
    """Where named experiments live: $RECSEARCH_EXPERIMENTS_DIR, else `conf/experiment` (links to experiments/)."""
    custom = os.environ.get("RECSEARCH_EXPERIMENTS_DIR")
    return Path(custom).resolve() if custom else (conf_dir() / "experiment").resolve()


@contextmanager
def _composition_root() -> Iterator[Path]:
    """The config dir Hydra composes from: conf/, or with $RECSEARCH_EXPERIMENTS_DIR a temp mirror of
    conf/ (symlinks) whose `experiment` group is that folder."""
    root = conf_dir()
    if not os.environ.get("RECSEARCH_EXPERIMENTS_DIR"):
        yield root
        return
    with tempfile.TemporaryDirectory(prefix="recsearch-conf-") as tmp:
        for entry in root.iterdir():
            if entry.name != "experiment":
                (Path(tmp) / entry.name).symlink_to(entry)
        (Path(tmp) / "experiment").symlink_to(experiments_dir(), target_is_directory=True)
        yield Path(tmp)


def group_options(group: str) -> list[str]:
    """The options of a config group, e.g. `group_options("model")` -> ["mlp", ...]."""
    folder = experiments_dir() if group == "experiment" else conf_dir() / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def compose_config(overrides: list[str] | tuple[str, ...] = (), *, validate: bool = True) -> DictConfig:
    """Compose `conf/config.yaml` with Hydra overrides and validate it against the schemas.

    Example: `compose_config(["model=mlp", "train.epochs=5"])`.
    """
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from recsearch.config.validate import validate_config

    try:
        with _composition_root() as root, \
                initialize_config_dir(version_base="1.3", config_dir=str(root), job_name="recsearch"):
            cfg = compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_one_line(exc)) from None
    cfg = validate_config(cfg) if validate else cfg
    name = _experiment_name(overrides)
    if name is not None:
        cfg.experiment = name
    return cfg


def _experiment_name(overrides: list[str] | tuple[str, ...]) -> str | None:
    """The experiment chosen by `+experiment=NAME` (recorded in the config as `experiment`)."""
    for item in overrides:
        key, _, value = item.partition("=")
        if key.lstrip("+") == "experiment" and value:
            return value
    return None


def _one_line(exc: Exception) -> str:
    """Hydra's messages span lines; keep them readable on one."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text.split(" Config search path:")[0].replace("\t", " ")


def load_config_file(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """A complete config saved earlier (a run's config.yaml, a study's best.yaml) plus `key=value` overrides.

    Group choices (`model=mf`) need composition from conf/ and are refused here.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    from recsearch.config.validate import validate_config

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        cfg = OmegaConf.load(path)
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as exc:
        raise ConfigError(_one_line(exc)) from None
    except Exception as exc:  # noqa: BLE001 - YAML errors come in several types
        raise ConfigError(f"config file {path}: not valid YAML ({_one_line(exc)})") from None
    for item in parsed:
        key = item.key_or_group
        if item.is_delete():
            _delete(cfg, key)
            continue
        if OmegaConf.select(cfg, key, default=None) is not None and isinstance(OmegaConf.select(cfg, key), DictConfig):
            raise ConfigError(f"override {item.input_line!r}: group choices need composition; drop --config")
        OmegaConf.update(cfg, key, item.value(), force_add=item.is_add())
    return validate_config(cfg)


def _delete(cfg: DictConfig, key: str) -> None:
    from omegaconf import OmegaConf

    parent, _, leaf = key.rpartition(".")
    node = OmegaConf.select(cfg, parent) if parent else cfg
    if node is None or leaf not in node:
        raise ConfigError(f"override '~{key}': no such key")
    del node[leaf]
