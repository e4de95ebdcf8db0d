"""`recsearch worker STORAGE_URL [STUDY_NAME]`: join a running study from any machine, with the config it records."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

HELP = ("Join an existing study as one more worker: the sweep's overrides are read from the study itself "
        "(recorded by `recsearch sweep`), so this machine needs no copy of them. "
        "Example: recsearch worker postgresql://user:pass@db-host/recsearch mlp-rating")

EPILOG = """examples:
  recsearch worker postgresql://user:pass@db-host/recsearch mlp-rating
  recsearch worker postgresql://user:pass@db-host/recsearch mlp-rating --device 1   # this worker on GPU 1 only
  for d in 0 1 2 3; do recsearch worker URL NAME --device $d & done; wait           # one worker per GPU

STUDY_NAME may be left out when the storage holds one study (a study folder or its study.journal always does).
The budget (search.n_trials) is the study's: workers stop when it is spent. A worker given a study folder (or
its study.journal) updates the tables in that folder; one given an RDB URL writes them under its own results/
folder. `recsearch leaderboard URL` and `recsearch report URL --study NAME` read the storage alone.
Exit status 2 when the worker stops short of the budget because the study's trials keep failing.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("storage", metavar="STORAGE_URL", help="the study's RDB URL (postgresql://..., mysql://..., "
                        "sqlite:///...), its journal file, or its study folder")
    parser.add_argument("study", metavar="STUDY_NAME", nargs="?", default=None,
                        help="the study to join (as `recsearch sweep` named it); optional when the storage holds one")
    parser.add_argument("--device", metavar="N", help="run on this accelerator only (sets CUDA_VISIBLE_DEVICES "
                        "before the framework starts); start one worker per device")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    parser.add_argument("extra", nargs="*", default=[], metavar="OVERRIDE",
                        help="overrides applied after the recorded ones, for this worker only (e.g. train.backend=jax)")
    parser.epilog = EPILOG


def run(args: argparse.Namespace) -> int:
    from recsearch.commands.common import console
    from recsearch.config.searchpath import RECORDED_CONF_ENV
    from recsearch.environ import environ_set
    from recsearch.commands.sweep_cmd import check_not_stopped_on_failures, print_report
    from recsearch.search.sweep import SweepInterrupted, run_sweep

    if args.device is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(args.device)
    study, extra = args.study, list(args.extra)
    if study is not None and "=" in study:  # `worker URL key=value`: no study name given, an override
        study, extra = None, [study, *extra]
    try:
        with tempfile.TemporaryDirectory(prefix="recsearch-study-conf-") as conf, \
                environ_set(**{RECORDED_CONF_ENV: ""}):  # the study's own config files, searched first until done
            overrides = worker_overrides(args.storage, study, extra, conf_folder=Path(conf))
            report = run_sweep(overrides, show_progress=not args.no_progress, record=False)
    except SweepInterrupted as stop:
        console().print(f"interrupted: finished trials are kept in the study; run the same command to rejoin "
                        f"({stop.report.folder})")
        return 130
    print_report(report)
    check_not_stopped_on_failures(report)
    return 0


def worker_overrides(storage: str, study: str | None, extra: list[str], *,
                     conf_folder: Path | None = None) -> list[str]:
    """The recorded sweep overrides of `study` (None: the storage's only study) in `storage`, pointed at that
    storage, then `extra`. The user's config files the sweep recorded with them (a `conf/search_space/mine.yaml`,
    an `experiments/NAME.yaml`) are written to `conf_folder` and searched first (`recsearch.config.recorded`):
    this machine needs no copy of them.

    Raises RecsearchError when the storage has no such study (or, with None, not exactly one) or the study was
    not started by `recsearch sweep`.
    """
    import optuna

    from recsearch.config import compose_config
    from recsearch.config.searchpath import quoted
    from recsearch.errors import ConfigError
    from recsearch.search.storage import open_storage, redact
    from recsearch.search.sweep import SWEEP_CONF_FILES, SWEEP_OVERRIDES

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    given, storage = storage, _existing_storage(storage)
    opened = open_storage(storage, setting="storage")
    names = optuna.get_all_study_names(opened)
    if study is None:
        if len(names) != 1:
            listed = f"{len(names)} studies ({', '.join(sorted(names))})" if names else "no study"
            raise ConfigError(f"storage {redact(storage)} holds {listed}; name the one to join: "
                              f"recsearch worker {redact(storage)} STUDY_NAME")
        study = names[0]
    if study not in names:
        known = ", ".join(sorted(names)) or "none"
        raise ConfigError(f"storage {redact(storage)} holds no study {study!r} (studies: {known}); start it with "
                          f"`recsearch sweep ... search.storage=URL search.study_name={study}`")
    loaded = optuna.load_study(study_name=study, storage=opened)
    recorded = loaded.user_attrs.get(SWEEP_OVERRIDES)
    if recorded is None:
        raise ConfigError(f"study {study!r} records no sweep config (it was not started by `recsearch sweep`); "
                          "join it by running the sweep's own command with search.storage=URL")
    trials = loaded.trials
    if "search.engine=kerastuner" in recorded or any("kerastuner_trial_id" in t.user_attrs for t in trials):
        raise ConfigError(f"study {study!r} is searched by KerasTuner, which runs a study in one process: no worker "
                          "can join it; run the sweep's own command to continue it")
    files = loaded.user_attrs.get(SWEEP_CONF_FILES)
    if files and conf_folder is not None:  # sets RECORDED_CONF_ENV: this process composes with them from now on
        from recsearch.config.recorded import use_recorded_files

        use_recorded_files(files, conf_folder)
    base = compose_config(list(recorded))
    seed = worker_seed(int(base.search.seed), len(trials))
    return [*recorded, f"search.storage={quoted(storage)}", f"search.study_name={study}", f"search.seed={seed}",
            *_study_folder_results(given, storage, study, str(base.experiment or "default")), *extra]


def _study_folder_results(given: str, storage: str, study: str, experiment: str) -> list[str]:
    """`paths.results_dir=...` that puts this worker's tables in the study's own folder, when the worker was given
    that folder (any storage its sweep.yaml names) or the journal a sweep keeps there, and the folder is laid out
    as a sweep writes it (`<results>/<experiment>/<study>/`): it updates that folder's tables, wherever it runs
    from. Empty for an RDB URL, or a journal kept elsewhere."""
    from recsearch.config.searchpath import quoted

    if Path(given).is_dir():
        folder = Path(given).resolve()
    elif "://" not in storage:
        folder = Path(storage).resolve().parent
    else:
        return []
    laid_out = (folder.name, folder.parent.name) == (study, experiment)
    return [f"paths.results_dir={quoted(str(folder.parent.parent))}"] if laid_out else []


def worker_seed(base: int, n_trials: int) -> int:
    """A sampler seed of its own for this worker: the study's seed `base` mixed with the trial count, host and pid.

    With the study's seed itself, a joining worker's sampler would start from the same random state as the
    first one and propose the very configs already run (the startup trials of TPE are seeded random draws).
    """
    import hashlib
    import socket

    key = f"{base}:{n_trials}:{socket.gethostname()}:{os.getpid()}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little") & 0x7FFFFFFF


def _existing_storage(storage: str) -> str:
    """An RDB URL as given; a study folder as its storage (as `report` takes it); a journal or SQLite file only
    when it exists: a mistyped path is an error, never a new empty journal or database and its folders."""
    from sqlalchemy.engine import make_url

    from recsearch.errors import ConfigError
    from recsearch.results.studies import folder_storage_url

    if "://" not in storage and Path(storage).is_dir():
        storage = folder_storage_url(Path(storage), command="worker")
    if "://" not in storage and not Path(storage).is_file():
        raise ConfigError(f"{storage}: no such journal file; pass the study's study.journal (or its folder) or "
                          "its RDB URL")
    if storage.startswith("sqlite"):
        database = make_url(storage).database
        if database and database != ":memory:" and not Path(database).is_file():
            raise ConfigError(f"{storage}: no such SQLite file {database}; pass the storage URL the study's sweep "
                              "used (sqlite:///relative/path or sqlite:////absolute/path)")
    return storage
