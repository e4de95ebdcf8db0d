"""`search.engine=kerastuner`: KerasTuner's tuners choose the trials, recsearch trains and records them.

Each KerasTuner trial runs through the Optuna engine's own trial function (`objective.run_trial`, with an
`optuna.trial.FixedTrial` holding the tuner's values) and is then added to the study's Optuna storage with
the same attributes, so tables, leaderboards, reports, exports and reproductions read it unchanged.
KerasTuner keeps its own state in `<study>/kerastuner/`; re-running the same command resumes it.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from recsearch.errors import ConfigError
from recsearch.search.worker import MAX_FAILURES_IN_A_ROW, WorkerRun, WorkerSpec

PROJECT = "kerastuner"  # KerasTuner's project folder inside the study folder


def check_engine(cfg: Any) -> None:
    """Refuse, before any work, what KerasTuner cannot do: one ConfigError line naming the way out.

    Also imports a `model=hypermodel` builder now, so a wrong module name fails before the first trial.
    """
    kerastuner = cfg.search.engine == "kerastuner"
    if kerastuner:
        _refuse_unsupported(cfg)
    if cfg.model.name != "hypermodel" and not kerastuner:
        return
    from recsearch.training.backend import setup_for

    setup_for(cfg)  # the imports below load Keras: with the config's backend
    if cfg.model.name == "hypermodel":
        from recsearch.models.hypermodel import load_builder

        load_builder(cfg.model.builder)
    if kerastuner:
        from recsearch.search.kt.space import to_kerastuner
        from recsearch.search.parse import parse_space

        to_kerastuner(parse_space(cfg.search_space, cfg))  # continuous condition parents fail now


def _refuse_unsupported(cfg: Any) -> None:
    why = "search.engine=kerastuner"
    if cfg.search.objectives:
        raise ConfigError(f"{why}: KerasTuner optimises a single objective; drop search.objectives "
                          "or use search.engine=optuna for multi-objective studies")
    if cfg.search.storage:
        raise ConfigError(f"{why}: KerasTuner keeps its state in files in the study folder; drop search.storage "
                          "(journal file) or use search.engine=optuna for an RDB storage")
    if cfg.search.n_workers not in ("auto", 1):  # auto: one process under KerasTuner
        raise ConfigError(f"{why}: runs one process; set search.n_workers=1 or use search.engine=optuna "
                          "for parallel workers")
    if cfg.search.enqueue_defaults or cfg.search.enqueue_file:
        raise ConfigError(f"{why}: KerasTuner has no trial queue; drop search.enqueue_defaults/enqueue_file "
                          "or use search.engine=optuna")
    if int(cfg.search.pack_size) > 1:
        raise ConfigError(f"{why}: KerasTuner trains one trial at a time; drop search.pack_size or use "
                          "search.engine=optuna to pack trials")
    if cfg.search.fidelity != "none":
        raise ConfigError(f"{why}: search.fidelity={cfg.search.fidelity} needs Optuna's pruner to stop weak trials "
                          "between rungs (under KerasTuner every trial would run every rung); drop it or use "
                          "search.engine=optuna (search.tuner=hyperband budgets epochs by itself)")
    if cfg.model.name == "hypermodel":
        raise ConfigError(f"{why}: model=hypermodel runs under search.engine=optuna (its hp calls become Optuna "
                          "suggestions); or run your hypermodel with KerasTuner directly")
    if cfg.search.tuner == "bayesian":
        try:
            import sklearn  # noqa: F401
        except ImportError:
            from recsearch.extras import install_hint

            raise ConfigError(f"{why}: search.tuner=bayesian needs scikit-learn ({install_hint('sklearn')}); "
                              "or choose search.tuner=random|hyperband") from None


def make_oracle(cfg: Any, hyperparameters: Any) -> Any:
    """The KerasTuner oracle of `search.tuner` over `hyperparameters`, seeded from `search.seed`."""
    import keras_tuner as kt

    objective = kt.Objective(f"val_{cfg.task.metric}", "min" if cfg.task.direction == "minimize" else "max")
    common = {"objective": objective, "hyperparameters": hyperparameters, "allow_new_entries": False,
              "tune_new_entries": False, "seed": kerastuner_seed(int(cfg.search.seed)),
              "max_consecutive_failed_trials": MAX_FAILURES_IN_A_ROW}
    cap = 2 * int(cfg.search.n_trials) + MAX_FAILURES_IN_A_ROW  # the study budget stops the search first
    if cfg.search.tuner == "random":
        return kt.oracles.RandomSearchOracle(max_trials=cap, **common)
    if cfg.search.tuner == "bayesian":
        startup = int(cfg.search.n_startup_trials)
        return kt.oracles.BayesianOptimizationOracle(max_trials=cap, num_initial_points=startup, **common)
    return kt.oracles.HyperbandOracle(max_epochs=int(cfg.train.epochs), factor=3, hyperband_iterations=None, **common)


SEED_SPACING = 1_000_003  # a prime far beyond the draws of any one search


def kerastuner_seed(seed: int) -> int:
    """KerasTuner's oracle seed for `search.seed`: 1 for seed 0 (KerasTuner reads 0 as "random"), then spread far
    apart, because KerasTuner seeds one `random.Random` per sampled value from a counter that starts at the
    seed, so neighbouring seeds replay each other's draws shifted by a few values."""
    return 1 + seed * SEED_SPACING


def run_kerastuner(spec: WorkerSpec, *, on_trial_end: Callable[[], None] | None = None) -> WorkerRun:
    """Run KerasTuner's search until the study holds `search.n_trials` finished trials (or its trials keep
    failing); say how many ran and whether it gave up. A second process on the same study is refused: both would train the same trials past the budget."""
    from recsearch.search.storage import one_process_only

    with one_process_only(Path(spec.folder), "KerasTuner searches a study in one process"):
        return _search(spec, on_trial_end)


def _search(spec: WorkerSpec, on_trial_end: Callable[[], None] | None) -> WorkerRun:
    """run_kerastuner's search, in the process that holds the study folder."""
    import optuna

    from recsearch.config import compose_config
    from recsearch.search.kt.space import to_kerastuner
    from recsearch.search.kt.tuner import StudyTuner, StopSearch
    from recsearch.search.parse import parse_space
    from recsearch.search.storage import open_storage
    from recsearch.training.run import prepare_for

    cfg = compose_config(list(spec.overrides))
    space = parse_space(cfg.search_space, cfg)
    study = optuna.load_study(study_name=spec.study_name, storage=open_storage(spec.storage_url))  # engine checked
    data = prepare_for(cfg)
    with contextlib.redirect_stdout(io.StringIO()):  # KerasTuner prints "Reloading Tuner from ..." on a resume
        tuner = StudyTuner(make_oracle(cfg, to_kerastuner(space)), study=study, cfg=cfg, spec=spec, space=space,
                           data=data, on_trial_end=on_trial_end, directory=spec.folder, project_name=PROJECT)
    try:
        with warnings.catch_warnings():  # the Bayesian tuner's Gaussian process fits warn of convergence each trial
            warnings.filterwarnings("ignore", module=r"sklearn\.gaussian_process")
            tuner.search(verbose=0)
    except StopSearch:
        pass
    except RuntimeError as exc:
        if "consecutive failures" not in str(exc):
            raise
        print(f"recsearch: {MAX_FAILURES_IN_A_ROW} trials failed in a row; stopping. See fail_reason in trials.csv.",
              file=sys.stderr)
        return WorkerRun(tuner.ran, gave_up=True)
    return WorkerRun(tuner.ran)


def check_same_engine(study: Any, cfg: Any) -> None:
    """A study holds the trials of one engine (and KerasTuner tuner): refuse another before anything runs."""
    if cfg.search.engine == "kerastuner":
        _refuse_mixed_study(study, str(cfg.search.tuner))
        return
    searched = [t for t in study.get_trials(deepcopy=False) if "kerastuner_trial_id" in t.user_attrs]
    if searched:
        tuner = searched[0].user_attrs.get("kerastuner_tuner", "random")
        raise ConfigError(f"study {study.study_name!r} holds trials of search.engine=kerastuner; resume it with "
                          f"search.engine=kerastuner search.tuner={tuner}, or choose another search.study_name "
                          "for the optuna engine")


def _refuse_mixed_study(study: Any, tuner: str) -> None:
    """A study holds the trials of one engine and tuner: KerasTuner's state would not know the others."""
    trials = study.get_trials(deepcopy=False)
    if any("kerastuner_trial_id" not in t.user_attrs for t in trials):
        raise ConfigError(f"study {study.study_name!r} holds trials of search.engine=optuna; choose another "
                          "search.study_name for the kerastuner engine")
    other = {t.user_attrs.get("kerastuner_tuner") for t in trials} - {tuner}
    if other:
        raise ConfigError(f"study {study.study_name!r} was searched by search.tuner={other.pop()}; resume it with "
                          f"that tuner or choose another search.study_name for search.tuner={tuner}")


def record_trial(study: Any, *, number: int, params: dict[str, Any], space: Any, attrs: dict[str, Any],
                 values: list[float] | None, started: datetime, curve: list[float]) -> None:
    """Add a finished KerasTuner trial to the Optuna study: COMPLETE with its value, or FAIL."""
    import math

    import optuna
    from optuna.trial import TrialState

    dists = {p.key: p.distribution() for p in space.params if p.key in params}
    frozen = optuna.trial.FrozenTrial(
        number=number, state=TrialState.COMPLETE if values else TrialState.FAIL, value=None, values=values,
        datetime_start=started, datetime_complete=datetime.now(), params=params, distributions=dists,
        user_attrs=attrs, system_attrs={}, trial_id=0,
        intermediate_values={i + 1: v for i, v in enumerate(curve) if v is not None and math.isfinite(v)})
    study.add_trial(frozen)



def deadline_passed(spec: WorkerSpec) -> bool:
    """`search.timeout` spent: no new trial starts."""
    return spec.deadline is not None and time.time() >= spec.deadline
