"""`export-best`: a study's best trial as a self-contained experiment file, with its provenance beside it.

The experiment (`experiments/<NAME>.yaml`) switches the config groups to the trial's and sets every value
of data, split, model, train and task, so `recsearch train +experiment=NAME` composes the trial's exact
config. No `paths` or `search` section is written: no machine paths, no storage credentials. Provenance
goes to a sidecar `experiments/<NAME>.provenance.json` (the schema rejects unknown keys, and a JSON file
stays machine-readable for `reproduce`); a short summary also heads the YAML as comments.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recsearch.errors import ConfigError
from recsearch.provenance import provenance_of

SECTIONS = ("data", "split", "model", "train", "task")
# The key that names a group's option inside its file (conf/<group>/<option>.yaml).
_GROUP_KEYS = {"data": "name", "split": "method", "model": "name", "task": "name"}


@dataclass
class ExportResult:
    """The written experiment, its provenance sidecar, and warnings about what was left out."""

    name: str
    path: Path
    provenance_path: Path
    trial: int
    warnings: list[str]
    command: str = "recsearch"  # how its commands start: `recsearch --import MODULE` for the user's own model
    run_from: str | None = None  # the folder its relative data.path is read from (None: no relative path)


def portable_sections(cfg: DictConfig) -> tuple[dict[str, Any], list[str]]:
    """The data/split/model/train/task sections of `cfg` (task keys of the other task left out) without
    machine paths, and warnings on what was cut.

    data.path is written relative to the working folder when the two share a folder below the root, else left
    out (the data group's default applies); any other absolute (or `~`)
    path anywhere in the sections (data.ratings_file, split.train_file, model.pretrained_gmf, ...) is set
    to null.
    """
    from recsearch.config.view import relevant_view

    view = relevant_view(cfg)  # without the task keys the trial's task ignores, as `config show` prints it
    out = {k: view[k] for k in SECTIONS if k in view}
    notes = []
    path = (out.get("data") or {}).get("path")
    near = _relative_to_working_folder(path) if isinstance(path, str) else None
    if near is not None:
        out["data"]["path"] = near  # a project's own data file: as the user would write it from here
    elif isinstance(path, str) and is_machine_path(path):
        del out["data"]["path"]
        notes.append(f"data.path {path} is an absolute path and was left out; "
                     f"pass data.path=... when you train the experiment on another machine")
    for key, value in _drop_machine_paths(out, ""):
        notes.append(f"{key} {value} is an absolute path and was set to null; "
                     f"pass {key}=... when you train the experiment on another machine")
    return out, notes


def _relative_to_working_folder(path: str) -> str | None:
    """`path` (stored absolute) as written from the working folder, `data/r.csv` or `../shared/r.csv`, when the
    two share a folder below the file system's root; else None (a path of this machine only)."""
    path, here = os.path.abspath(os.path.expanduser(path)), os.getcwd()
    try:
        common = os.path.commonpath([path, here])
    except ValueError:  # another drive
        return None
    if os.path.dirname(common) == common:  # only the root in common
        return None
    return os.path.relpath(path, here)


def is_machine_path(value: str) -> bool:
    """True for an absolute path or one starting with `~` (a path of this machine, not portable)."""
    return value.startswith("~") or Path(value).expanduser().is_absolute()


def _drop_machine_paths(node: Any, prefix: str) -> list[tuple[str, str]]:
    """Set every string value of `node` (nested dicts and lists) that is a machine path to None, in place;
    return the dotted keys and values that were dropped."""
    dropped = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        dotted = f"{prefix}{key}" if isinstance(node, dict) else f"{prefix.rstrip('.')}[{key}]"
        if isinstance(value, str) and is_machine_path(value):
            node[key] = None
            dropped.append((dotted, value))
        elif isinstance(value, (dict, list)):
            dropped += _drop_machine_paths(value, f"{dotted}.")
    return dropped


def group_choices(sections: dict[str, Any]) -> dict[str, str]:
    """The option of each config group that matches the trial's sections, e.g. {"data": "ml_latest_small"}; a
    model family registered by the user's code (`recsearch.register_model`) is its registered option.

    The option named as the value (`mlp` for `name: mlp`) comes first: an option of the user's own folder
    (`conf/model/small_mlp.yaml` with `name: mlp`) would make the experiment need that folder, while the
    experiment sets every value of the section itself."""
    from recsearch.config import group_files, group_options

    choices = {}
    for group, key in _GROUP_KEYS.items():
        wanted = (sections.get(group) or {}).get(key)
        files = group_files(group)
        for file in sorted(files.values(), key=lambda f: f.stem != wanted):
            if OmegaConf.load(file).get(key) == wanted:
                choices[group] = file.stem
                break
        else:
            if group == "model" and wanted in group_options("model"):
                choices[group] = wanted
            elif group == "model":
                raise ConfigError(f"model {wanted!r} has no conf/model/{wanted}.yaml and is not registered here, so "
                                  "it cannot be exported; a model registered by your code (recsearch.register_model) "
                                  "must be registered in this process too: recsearch --import MODULE export-best ...")
    return choices


def user_model_module(model: str) -> str | None:
    """The module that registered `model` when it is the user's own family (`--import` it to run the
    experiment), else None."""
    from recsearch.models.registry import MODELS

    spec = MODELS.get(model)
    if spec is None or spec.builder.startswith("recsearch."):
        return None
    return spec.builder.split(":")[0]


def experiment_yaml(sections: dict[str, Any], choices: dict[str, str], header: list[str]) -> str:
    """The text of an experiment file: package line, header comments, group overrides, then the values."""
    doc = {"defaults": [{f"override /{g}": o} for g, o in choices.items()], **sections}
    comments = "".join(f"# {line}\n" for line in header)
    return f"# @package _global_\n{comments}{OmegaConf.to_yaml(OmegaConf.create(doc))}"


def default_name(study_name: str) -> str:
    """`<study>-best`, with anything but letters, digits, `_` and `-` turned into `-`."""
    return sanitize_name(f"{study_name}-best")


def sanitize_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")
    if not clean:
        raise ConfigError(f"experiment name {name!r} has no usable characters (letters, digits, _ or -)")
    return clean


def check_plain_name(name: str, folder: Path | None = None, label: str = "name") -> None:
    """Refuse an experiment name that is not a plain file name (empty, `.`, `..`, or with a path separator).

    The experiment goes to `folder/NAME.yaml` (default `experiments_dir()`); a name like `../evil` would
    otherwise be cleaned into `evil` and written somewhere other than asked, without a word. `label` names the
    setting in the message (the CLI's `--name`)."""
    from recsearch.config import experiments_dir

    if name.strip() not in ("", ".", "..") and not any(sep in name for sep in "/\\"):
        return
    last = Path(name.replace("\\", "/")).name.strip()
    example = last if last not in ("", ".", "..") else "mlp-best"
    where = f"{folder}/NAME.yaml" if folder is not None else \
        f"{experiments_dir()}/NAME.yaml (set RECSEARCH_EXPERIMENTS_DIR to write elsewhere)"
    suggestion = f"{label} {example}" if label.startswith("--") else f"{label}={example!r}"
    raise ConfigError(f"{label} {name!r} is not a plain file name: the experiment is written to {where}; "
                      f"give a name without '/', e.g. {suggestion}")


def export_trial(study: Any, trial: Any, *, name: str | None = None, force: bool = False,
                 folder: Path | None = None) -> ExportResult:
    """Write `<experiments>/<NAME>.yaml` and `<NAME>.provenance.json` for `trial` of `study`.

    Example: `export_trial(study, pick_trial(study), name="mlp-best")`. Refuses to overwrite unless `force`.
    """
    from recsearch.config import experiments_dir
    from recsearch.fileio import atomic_write_json, atomic_write_text

    if name is not None:
        check_plain_name(name, folder)
    name = sanitize_name(name) if name else default_name(study.study_name)
    folder = Path(folder) if folder is not None else experiments_dir()
    path, side = folder / f"{name}.yaml", folder / f"{name}.provenance.json"
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; choose another --name or pass --force to overwrite it")
    cfg = OmegaConf.create(trial.user_attrs["config"])
    sections, notes = portable_sections(cfg)
    prov = provenance_of(trial, config=sections)
    metric, direction = cfg.task.metric, cfg.task.direction
    prov.update(study=study.study_name, metric=metric, direction=direction, search_value=trial.values[0],
                exported=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    module = user_model_module(str(sections["model"]["name"]))
    if module == "__main__":
        notes.append(f"model {sections['model']['name']!r} is registered by a script's __main__, so "
                     f"`recsearch train +experiment={name}` cannot find it; move the registration into a module "
                     "and run `recsearch --import MODULE train ...`")
    command = f"recsearch --import {module}" if module not in (None, "__main__") else "recsearch"
    header = _header(study, trial, prov, name, command)
    data_path = (sections.get("data") or {}).get("path")
    run_from = os.getcwd() if isinstance(data_path, str) and not is_machine_path(data_path) else None
    if run_from is not None and Path(path).resolve().parent.parent == Path(run_from).resolve():
        header.append(f"data.path {data_path} is relative to {run_from}, the folder of its experiments/: it is read "
                      "from there when the working folder has no such path")  # config/compose._absolute_data_path
        run_from = None
    elif run_from is not None:
        header.append(f"data.path {data_path} is relative to {run_from}: run from there, or pass data.path=...")
    text = experiment_yaml(sections, group_choices(sections), header)
    atomic_write_text(path, text)
    atomic_write_json(side, prov)
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return ExportResult(name, path, side, trial.number, notes, command, run_from)


def _header(study: Any, trial: Any, prov: dict[str, Any], name: str, command: str = "recsearch") -> list[str]:
    """The comment lines that head the experiment; `command` starts each command shown (with `--import` when
    the model is the user's own)."""
    env = prov["environment"]
    packages = env.get("packages") or {}
    backend = env.get("backend") or env.get("keras_backend")
    return [
        f"Trial {trial.number} of study {study.study_name!r}: valid {prov['metric']} = {trial.values[0]:.6f} "
        f"({prov['direction']}); exported {prov['exported']}",
        f"seed {prov['seed']}, data checksum {prov['data_checksum']}, split key {prov['split_key']}",
        f"recsearch {packages.get('recsearch')}, keras {env.get('keras')} on {backend} {env.get(str(backend))}, "
        f"optuna {packages.get('optuna')}, python {env.get('python')}"
        + (f", commit {env['git_commit']}" if env.get("git_commit") else ""),
        f"Full provenance: {name}.provenance.json. Run: {command} train +experiment={name}; "
        f"check: {command} reproduce {name}",
        *([f"Final model: {command} train +experiment={name} train.refit=true "
           f"train.refit_epochs={trial.user_attrs['best_epoch']} (the trial's best epoch)"]
          if trial.user_attrs.get("best_epoch") else []),
    ]
