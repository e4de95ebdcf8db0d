"""The user's own config files a sweep composed (`conf/search_space/mine.yaml`, `experiments/NAME.yaml`),
recorded in its study so that `recsearch worker` composes the same config on a machine or in a folder
without them.

A sweep records its overrides in the study; those name options by file name only. `recorded_files` reads
the files of the user's folders that the composition selected (Hydra's choices, nested defaults included);
`use_recorded_files` writes them into a folder searched before the user's own (`RECORDED_CONF_ENV`), which
spawned workers inherit. Packaged options are not recorded: the install has them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from recsearch.config.searchpath import RECORDED_CONF_ENV


def recorded_files(overrides: list[str] | tuple[str, ...]) -> dict[str, str]:
    """`{"<group>/<option>.yaml": text}` of the user's files (not the packaged ones) that composing `overrides`
    selects; {} without any user config folder, at no composing cost."""
    from recsearch.config.searchpath import experiments_dir, group_files, package_conf_dir, user_conf_dirs

    if not user_conf_dirs() and not any(experiments_dir().glob("*.yaml")):
        return {}
    packaged = package_conf_dir().resolve()
    files = {}
    for group, option in selected_options(overrides).items():
        path = group_files(group).get(option)
        if path is not None and not path.resolve().is_relative_to(packaged):
            files[f"{group}/{option}.yaml"] = path.read_text(encoding="utf-8")
    return files


def selected_options(overrides: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Hydra's choice of option per config group for `overrides` (`{"model": "small_mlp", ...}`)."""
    from hydra import compose, initialize_config_dir

    from recsearch.config.compose import _schema_keys_set, parse_overrides
    from recsearch.config.searchpath import composition_root

    with composition_root() as (root, searchpath), \
            initialize_config_dir(version_base="1.3", config_dir=str(root), job_name="recsearch"):
        cfg: Any = compose(config_name="config", return_hydra_config=True,
                           overrides=[*_schema_keys_set(overrides, parse_overrides(overrides)), searchpath])
    return {str(group): str(option) for group, option in cfg.hydra.runtime.choices.items()
            if option is not None and not str(group).startswith("hydra")}


def use_recorded_files(files: dict[str, str], folder: Path) -> None:
    """Write `files` (as `recorded_files` returns them) under `folder` and search it first in this process and
    the workers it starts: the study composes as it did where its sweep ran."""
    for name, text in files.items():
        group, _, option = name.rpartition("/")
        if not group or Path(option).name != option or ".." in Path(group).parts:
            continue  # not a name recorded_files writes: never a path outside the folder
        path = folder / group / option
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    os.environ[RECORDED_CONF_ENV] = str(folder)
