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


def open_study(source: str, study: str | None = None, *, command: str = "reproduce") -> StudySource:
    """Open STUDY: a study folder (results/<exp>/<study>/), a journal file or a storage URL (`study` names one
    when it holds several), as the leaderboard opens it.

    Example: `open_study("results/default/mlp-rating")`, `open_study("sqlite:///s.db", "mlp-rating")`.
    """
    from recsearch.results.studies import load_target

    record = load_target(source, study, command=command)
    return StudySource(record.study, record.folder.resolve() if record.folder else None, record.storage_url)


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
                          f"{', '.join(str(n) for n in sorted(t.number for t in ranked))}")
    return match[0]


def trial_config(trial: Any) -> DictConfig:
    """The complete config a trial ran with, validated (as recorded by the sweep)."""
    from recsearch.config import validate_config

    return validate_config(OmegaConf.create(trial.user_attrs["config"]))
