"""Where configs are found: the user's folders first, then the configs packaged with recsearch.

Order (the first file found wins; group listings are the union):
`$RECSEARCH_EXPERIMENTS_DIR` or `./experiments` (the `experiment` group), `./conf`, `$RECSEARCH_CONF_DIR`,
then `pkg://recsearch.conf` (the install's own `recsearch/conf/`), then options registered in Hydra's
ConfigStore (e.g. by `recsearch.register_model`). A joining `recsearch worker` searches the config files its
study recorded before all of these (`RECORDED_CONF_ENV`).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

PACKAGE_CONF = "pkg://recsearch.conf"


def package_conf_dir() -> Path:
    """The `recsearch/conf/` folder installed with the package."""
    return Path(__file__).resolve().parents[1] / "conf"


RECORDED_CONF_ENV = "RECSEARCH_RECORDED_CONF_DIR"  # set by `recsearch worker`: the files its study recorded


def user_conf_dirs() -> list[Path]:
    """Config roots searched before the packaged one: `./conf`, then `$RECSEARCH_CONF_DIR` (existing only); first
    of all, in a joining worker, the config files its study recorded (`recsearch.config.recorded`)."""
    dirs = [Path(os.environ[RECORDED_CONF_ENV])] if os.environ.get(RECORDED_CONF_ENV) else []
    dirs.append(Path.cwd() / "conf")
    if os.environ.get("RECSEARCH_CONF_DIR"):
        dirs.append(Path(os.environ["RECSEARCH_CONF_DIR"]))
    return [d.resolve() for d in dirs if d.is_dir()]


def conf_dirs() -> list[Path]:
    """Every config root in search order, the packaged one last."""
    return [*user_conf_dirs(), package_conf_dir()]


EXPERIMENTS_ENV = "RECSEARCH_EXPERIMENTS_DIR"


def experiments_dir() -> Path:
    """The user's experiments folder (export-best writes here): `$RECSEARCH_EXPERIMENTS_DIR`, else `./experiments`."""
    return Path(os.environ.get(EXPERIMENTS_ENV) or Path.cwd() / "experiments").resolve()


def group_files(group: str) -> dict[str, Path]:
    """Option name -> the YAML file that defines it, the first in search order winning."""
    folders = [d / group for d in conf_dirs()]
    if group == "experiment":  # as `composition_root` links it: a joined study's recorded ones, else the user's
        recorded = os.environ.get(RECORDED_CONF_ENV)
        folders.insert(1 if recorded and (Path(recorded) / group).is_dir() else 0, experiments_dir())
    found: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found.setdefault(path.stem, path)
    return found


def experiment_setting(name: str, key: str) -> tuple[Path | None, Any]:
    """The file of experiment `name` and the value it sets itself for `key` (None when it sets none, or when the
    file is missing or unreadable): what the experiment says, apart from what composing it merged in."""
    import yaml
    from omegaconf import OmegaConf

    source = group_files("experiment").get(name)
    try:
        return source, OmegaConf.select(OmegaConf.load(source), key, default=None) if source else None
    except (OSError, yaml.YAMLError):
        return source, None


def group_options(group: str) -> list[str]:
    """The options of a config group, e.g. `group_options("model")` -> ["mlp", ...] (files and registered)."""
    import sys

    store = sys.modules.get("hydra.core.config_store")  # loaded by whatever registered an option (register_model)
    registered = store.ConfigStore.instance().repo.get(group, {}) if store else {}
    return sorted({*group_files(group), *(name.removesuffix(".yaml") for name in registered)})


@contextmanager
def composition_root() -> Iterator[tuple[Path, str]]:
    """Hydra's primary config dir and the `hydra.searchpath=[...]` override that lists the rest.

    The primary dir is a temporary folder of two links: `experiment` to the experiments folder (Hydra searches
    it first, so `./experiments/NAME.yaml` is `+experiment=NAME`) and `config.yaml` to the first root config
    found (Hydra reads the primary config before it applies `hydra.searchpath`).
    """
    roots = [f"file://{d}" for d in user_conf_dirs()] + [PACKAGE_CONF]
    override = "hydra.searchpath=[" + ",".join(quoted(r) for r in roots) + "]"
    with tempfile.TemporaryDirectory(prefix="recsearch-conf-") as tmp:
        recorded = Path(os.environ.get(RECORDED_CONF_ENV) or tmp) / "experiment"  # a joined study's own, first
        if recorded.is_dir() or experiments_dir().is_dir():
            (Path(tmp) / "experiment").symlink_to(recorded if recorded.is_dir() else experiments_dir(),
                                                  target_is_directory=True)
        primary = next(d / "config.yaml" for d in conf_dirs() if (d / "config.yaml").is_file())
        (Path(tmp) / "config.yaml").symlink_to(primary)
        with _files_shadow_registered():
            yield Path(tmp), override


@contextmanager
def _files_shadow_registered() -> Iterator[None]:
    """Options registered in ConfigStore that a config file of the same group and name shadows are hidden while
    Hydra composes: the file wins whole, as the order above says. (Hydra would merge the two, the file into the
    registered node as its schema, with a deprecation warning: a `conf/search_space/NAME.yaml` for a family
    registered with its own search_space got that space's other params too.)"""
    import sys

    store = sys.modules.get("hydra.core.config_store")  # loaded by whatever registered an option (register_model)
    repo = store.ConfigStore.instance().repo if store else {}
    files = {g: group_files(g) for g, node in repo.items() if isinstance(node, dict) and g != "hydra"}
    shadowed = [(group, name) for group, found in files.items()
                for name in [n for n in repo[group] if n.endswith(".yaml")] if name.removesuffix(".yaml") in found]
    hidden: dict[tuple[str, str], Any] = {}
    try:
        for group, name in shadowed:
            hidden[(group, name)] = repo[group].pop(name)
        yield
    finally:
        for (group, name), node in hidden.items():
            repo[group][name] = node


def quoted(text: str) -> str:
    """A single-quoted string of Hydra's override grammar."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
