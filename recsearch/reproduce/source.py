"""Where the configs to export or reproduce come from: a study (folder or storage URL) or an experiment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from recsearch.errors import ConfigError


@dataclass
class StudySource:
    """An opened Optuna study and the folder its tables live in (None for a bare storage URL)."""

    study: Any
    folder: Path | None
    label: str


def open_study(source: str, study: str | None = None) -> StudySource:
    """Open STUDY: a study folder (results/<exp>/<study>/ with study.journal or sweep.yaml) or a storage URL.

    Example: `open_study("results/default/mlp-rating")`, `open_study("sqlite:///s.db", "mlp-rating")`.
    """
    import optuna

    from recsearch.search.storage import JOURNAL, open_storage, redact

    path = Path(source)
    folder = None
    if path.is_dir():
        folder, url = path.resolve(), _folder_storage(path)
        study = study or _sweep_study_name(path)
    elif "://" in source:
        url = source
    else:
        raise ConfigError(f"{source!r} is neither a study folder (with {JOURNAL} or sweep.yaml) nor a storage URL")
    storage = open_storage(url)
    names = optuna.get_all_study_names(storage)
    if study is None and len(names) == 1:
        study = names[0]
    if study is None or study not in names:
        raise ConfigError(f"storage {redact(url)} holds studies {names}; choose one with --study NAME"
                          if study is None else f"storage {redact(url)} has no study {study!r} (it has {names})")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return StudySource(optuna.load_study(study_name=study, storage=storage), folder, redact(url))


def _folder_storage(folder: Path) -> str:
    """The storage of a study folder: its journal file, else the RDB URL its sweep.yaml names."""
    from recsearch.results.studies import RedactedStorageError, folder_storage_url
    from recsearch.search.storage import JOURNAL

    try:
        url = folder_storage_url(folder, command="reproduce")
    except RedactedStorageError as exc:
        raise ConfigError(f"{exc} and --study NAME") from None
    if "://" in url or Path(url).is_file():
        return url
    raise ConfigError(f"study folder {folder} has no {JOURNAL}")


def _sweep_yaml(folder: Path) -> dict:
    path = folder / "sweep.yaml"
    return OmegaConf.to_container(OmegaConf.load(path)) if path.is_file() else {}


def _sweep_study_name(folder: Path) -> str | None:
    cfg = _sweep_yaml(folder).get("config") or {}
    search, model, task = cfg.get("search") or {}, cfg.get("model") or {}, cfg.get("task") or {}
    if search.get("study_name"):
        return str(search["study_name"])
    return f"{model['name']}-{task['name']}" if model.get("name") and task.get("name") else None


def ranked_trials(study: Any) -> list[Any]:
    """COMPLETE trials with a recorded config, best first by the first objective."""
    from optuna.trial import TrialState

    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if t.values and "config" in t.user_attrs]
    sign = 1 if study.directions[0].name == "MINIMIZE" else -1
    return sorted(done, key=lambda t: (sign * t.values[0], t.number))


def pick_trial(study: Any, number: int | None = None) -> Any:
    """Trial `number` (it must be COMPLETE: a pruned trial stopped early), or the best trial of the study."""
    ranked = ranked_trials(study)
    if not ranked:
        raise ConfigError(f"study {study.study_name!r} has no finished trial with a recorded config")
    if number is None:
        from recsearch.results.study_tables import best_trial

        best = best_trial(study)
        return best if best is not None and "config" in best.user_attrs else ranked[0]
    match = [t for t in ranked if t.number == number]
    if not match:
        state = next((t.state.name.lower() for t in study.get_trials(deepcopy=False) if t.number == number), None)
        why = {None: "there is no such trial", "pruned": "it was pruned (stopped early)", "fail": "it failed",
               "complete": "it records no config"}.get(state, f"it is {state}")
        raise ConfigError(f"study {study.study_name!r}: trial {number} cannot be used: {why}; completed trials: "
                          f"{sorted(t.number for t in ranked)}")
    return match[0]


def trial_config(trial: Any) -> DictConfig:
    """The complete config a trial ran with, validated (as recorded by the sweep)."""
    from recsearch.config import validate_config

    return validate_config(OmegaConf.create(trial.user_attrs["config"]))
