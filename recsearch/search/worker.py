"""A sweep worker: claim a trial within the budget, run it, tell Optuna; until the budget is spent."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

MODELS_DIR = "models"
MAX_FAILURES_IN_A_ROW = 10


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs, picklable: it recomposes the config from the overrides."""

    overrides: tuple[str, ...]
    storage_url: str
    study_name: str
    folder: str
    deadline: float | None = None  # time.time() after which no new trial starts
    threads: int | None = None
    index: int = 0


def load_study(spec: WorkerSpec, cfg: Any, space: Any) -> Any:
    """The study with this worker's sampler (seed offset by the worker index) and pruner."""
    import optuna

    from recsearch.search.engine import make_pruner, make_sampler
    from recsearch.search.fidelity import max_resource
    from recsearch.search.storage import open_storage

    search = cfg.search.copy()
    search.seed = int(cfg.search.seed) + spec.index
    n_obj = 1 + len(cfg.search.objectives)
    return optuna.load_study(
        study_name=spec.study_name,
        storage=open_storage(spec.storage_url, heartbeat_interval=int(cfg.search.heartbeat_interval)),
        sampler=make_sampler(search, space, n_objectives=n_obj),
        pruner=make_pruner(cfg.search, max_epochs=max_resource(cfg), n_objectives=n_obj),
    )


def worker_process(spec: WorkerSpec) -> None:
    """Entry point of a spawned worker: dies with its parent, pins threads, then runs the loop."""
    _die_with_parent()
    from recsearch.config import compose_config
    from recsearch.training.backend import setup_backend

    cfg = compose_config(list(spec.overrides))
    setup_backend(cfg.train.backend, threads=spec.threads)
    try:
        run_worker(spec)
    except KeyboardInterrupt:
        sys.exit(130)


def run_worker(spec: WorkerSpec, *, on_trial_end: Callable[[], None] | None = None) -> int:
    """Run trials until the study holds `search.n_trials` finished-or-pruned trials; return how many ran."""
    from recsearch.config import compose_config
    from recsearch.search.objective import TrialContext
    from recsearch.search.parse import parse_space
    from recsearch.training.run import prepare_for

    cfg = compose_config(list(spec.overrides))
    space = parse_space(cfg.search_space, cfg)
    ctx = TrialContext(list(spec.overrides), space, prepare_for(cfg), list(cfg.search.objectives))
    study = load_study(spec, cfg, space)
    folder, ran, failures, in_a_row = Path(spec.folder), 0, 0, 0
    while spec.deadline is None or time.time() < spec.deadline:
        trial = claim_trial(study, folder, int(cfg.search.n_trials))
        if trial is None:
            break
        ok = _run_one(study, trial, ctx, folder, int(cfg.search.keep_models))
        failures, in_a_row, ran = failures + (not ok), 0 if ok else in_a_row + 1, ran + 1
        if on_trial_end:
            on_trial_end()
        if in_a_row >= MAX_FAILURES_IN_A_ROW or failures >= max(MAX_FAILURES_IN_A_ROW, int(cfg.search.n_trials)):
            print(f"recsearch: worker {spec.index}: {failures} trials failed ({in_a_row} in a row); stopping. "
                  "See fail_reason in trials.csv.", file=sys.stderr)
            break
    return ran


def claim_trial(study: Any, folder: Path, n_trials: int) -> Any:
    """Ask for a trial if finished + pruned + running trials are below the budget (under the study lock).

    Trials left RUNNING by dead workers are recovered first, so they do not hold the budget.
    """
    import warnings

    from optuna.trial import TrialState

    from recsearch.search.storage import process_identity, recover_stale_trials, study_lock

    with study_lock(folder):
        recover_stale_trials(study)
        states = [t.state for t in study.get_trials(deepcopy=False)]
        busy = sum(s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING) for s in states)
        if busy >= n_trials:
            return None
        with warnings.catch_warnings():  # Optuna warns that heartbeats expect Study.optimize: we beat ourselves
            warnings.filterwarnings("ignore", message="Heartbeat of storage")
            trial = study.ask()
        for key, value in process_identity().items():
            trial.set_user_attr(key, value)
    return trial


def _run_one(study: Any, trial: Any, ctx: Any, folder: Path, keep_models: int) -> bool:
    """Run one claimed trial and tell its outcome; False when it failed."""
    from optuna.trial import TrialState

    from recsearch.search.objective import run_trial
    from recsearch.search.storage import heartbeat

    try:
        with heartbeat(study, trial):
            outcome = run_trial(trial, ctx)
    except KeyboardInterrupt:
        _fail(study, trial, "interrupted (Ctrl-C); the same command resumes the sweep")
        raise
    except Exception as exc:  # noqa: BLE001 - a failing trial is recorded and the sweep goes on
        reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
        _fail(study, trial, reason)
        print(f"recsearch: trial {trial.number} failed: {reason}", file=sys.stderr)
        return False
    told = _tell(study, trial, state=TrialState.PRUNED) if outcome.pruned else _tell(study, trial, outcome.values)
    if told and not outcome.pruned and keep_models > 0:
        _keep_models_safely(study, folder, trial.number, outcome.model, keep_models)
    return told


def _tell(study: Any, trial: Any, values: Any = None, *, state: Any = None) -> bool:
    """Tell Optuna the outcome; False when the trial was already finished elsewhere (failed as stale)."""
    import optuna

    try:
        study.tell(trial, values, state=state)
    except optuna.exceptions.UpdateFinishedTrialError as exc:
        print(f"recsearch: trial {trial.number}: result not recorded ({exc})", file=sys.stderr)
        return False
    return True


def _fail(study: Any, trial: Any, reason: str) -> None:
    from optuna.trial import TrialState

    try:
        trial.set_user_attr("fail_reason", reason)
    except Exception:  # noqa: BLE001 - already finished elsewhere: telling below reports it
        pass
    _tell(study, trial, state=TrialState.FAIL)


def _keep_models_safely(study: Any, folder: Path, number: int, model: Any, keep: int) -> None:
    """Keep the best models under the study lock; a failed save warns and the sweep goes on."""
    from recsearch.search.storage import study_lock

    try:
        with study_lock(folder):
            keep_best_models(study, folder, number, model, keep)
    except Exception as exc:  # noqa: BLE001 - losing a kept model must not lose the sweep
        print(f"recsearch: trial {number}: model not kept ({type(exc).__name__}: {exc})", file=sys.stderr)


def keep_best_models(study: Any, folder: Path, number: int, model: Any, keep: int) -> None:
    """Save the model when its trial is among the `keep` best; remove models that dropped out."""
    from optuna.trial import TrialState

    sign = 1 if study.directions[0].name == "MINIMIZE" else -1
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.values]
    best = {t.number for t in sorted(done, key=lambda t: sign * t.values[0])[:keep]}
    models = folder / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    if number in best:
        tmp = models / f".tmp-{os.getpid()}-trial_{number}.keras"
        model.save(tmp)
        os.replace(tmp, models / f"trial_{number}.keras")
    for path in models.glob("trial_*.keras"):
        if int(path.stem.split("_")[1]) not in best:
            path.unlink(missing_ok=True)


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the sweep process dies (even by SIGKILL)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass
