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
import re
from pathlib import Path
from typing import Any, Mapping

from recsearch.config.searchpath import RECORDED_CONF_ENV


def recorded_files(choices: Mapping[str, str]) -> dict[str, str]:
    """`{"<group>/<option>.yaml": text}` of the user's files (not the packaged ones) that a composition with
    Hydra's `choices` (`compose_with_choices`) selected; {} without any user config folder."""
    from recsearch.config.searchpath import conf_dirs, experiments_dir, group_files, package_conf_dir, user_conf_dirs

    if not user_conf_dirs() and not any(experiments_dir().glob("*.yaml")):
        return {}
    packaged = package_conf_dir().resolve()
    files = {}
    primary = next(d / "config.yaml" for d in conf_dirs() if (d / "config.yaml").is_file())
    if not primary.resolve().is_relative_to(packaged):  # the user's own root config: its defaults list too
        files["config.yaml"] = primary.read_text(encoding="utf-8")
    for group, option in choices.items():
        path = group_files(group).get(option)
        if path is not None and not path.resolve().is_relative_to(packaged):
            files[f"{group}/{option}.yaml"] = path.read_text(encoding="utf-8")
    return files


_RECORDED_NAME = re.compile(r"(?:[\w.-]+/)*[\w-][\w.-]*\.yaml")  # group/option.yaml, config.yaml: no absolute path


def use_recorded_files(files: Any, folder: Path) -> None:
    """Write `files` (as `recorded_files` returns them) under `folder`, and set RECORDED_CONF_ENV so that this
    process and the workers it starts search it first: the study composes as it did where its sweep ran.
    Anything else a storage may hold there (not a name of that form, a path out of `folder`) is not written."""
    root = Path(folder).resolve()
    for name, text in (files.items() if isinstance(files, dict) else ()):
        path = (root / str(name)).resolve()
        if not (isinstance(text, str) and _RECORDED_NAME.fullmatch(str(name)) and path.is_relative_to(root)):
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    os.environ[RECORDED_CONF_ENV] = str(root)
