"""`recsearch sweep`: validate the space, open or resume the study, run the workers, write the tables."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from recsearch.environ import environ_set
from recsearch.errors import ConfigError, RecsearchError
from recsearch.search import interrupts
from recsearch.search.worker import GAVE_UP_EXIT, WorkerSpec, run_worker, worker_process


@dataclass
class SweepReport:
    """Where the study lives and how its trials ended."""

    folder: Path
    storage_url: str
    study_name: str
    counts: dict[str, int]
    recovered: list[int]
    metric: str = "rmse"
    direction: str = "minimize"
    interrupted: bool = False
    top_failure: tuple[str, int] | None = None  # the most common fail_reason and how many trials gave it
    already_done: bool = False  # the budget was reached before this run: nothing ran
    n_trials: int = 0  # search.n_trials
    timed_out_s: float | None = None  # search.timeout, when it ended this run before the budget was reached
    gave_up: bool = False  # a worker of this run stopped because its trials kept failing

    @property
    def stopped_on_failures(self) -> bool:
        """This run ended short of the budget because a worker gave up on failing trials (not a timeout, Ctrl-C,
        or a used-up space): the sweep did not do what was asked, so the command exits non-zero."""
        finished = self.counts.get("complete", 0) + self.counts.get("pruned", 0)
        return self.gave_up and not self.interrupted and finished < self.n_trials


def run_sweep(overrides: list[str], *, show_progress: bool = True, record: bool = True) -> SweepReport:
    """Run (or resume) the study of the composed config until `search.n_trials` trials finished or pruned.

    `record`: store the overrides in the study for `recsearch worker` (a joining worker itself does not).
    """
    from recsearch.config import compose_with_choices
    from recsearch.config.recorded import recorded_files
    from recsearch.search.engine import make_pruner, make_sampler
    from recsearch.search.kt.engine import check_engine
    from recsearch.search.fidelity import max_resource
    from recsearch.search.parse import check_group_overrides, parse_space, space_notes
    from recsearch.search.storage import storage_url, study_dir, study_name

    cfg, choices = compose_with_choices(overrides)
    check_engine(cfg)
    space = parse_space(cfg.search_space, cfg)
    check_group_overrides(overrides, space)
    n_obj = 1 + len(cfg.search.objectives)
    make_sampler(cfg.search, space, n_objectives=n_obj)
    make_pruner(cfg.search, max_epochs=max_resource(cfg), n_objectives=n_obj)
    if cfg.search.enqueue_file and record:  # a missing or malformed file is refused before any study is created
        _read_enqueue_file(Path(cfg.search.enqueue_file))  # (a joining worker: the sweep enqueued it already)
    folder, name = study_dir(cfg), study_name(cfg)
    url = storage_url(cfg, folder)
    option = choices.get("model", str(cfg.model.name))  # `small_mlp` for conf/model/small_mlp.yaml (name: mlp)
    for note in space_notes(cfg, choices, space) if record else ():  # a joining worker: its sweep said so
        _say_once(note)
    # before data and TensorFlow: a re-run with the budget reached returns at once
    done = _report_if_budget_reached(cfg, folder, url, name, option)
    if done is not None:
        return done
    from recsearch.search.storage import new_session
    from recsearch.training.run import prepare_for, check_something_to_learn

    data = prepare_for(cfg)  # data errors surface now, and workers then read the prepared-split cache
    check_something_to_learn(cfg, data)
    new_session()  # this run's trials tell it from earlier and later runs of the study (race.run_clock)
    from recsearch.fileio import WriteError, study_write_error
    from recsearch.storage import JOURNAL

    conf_files = recorded_files(choices) if record else None  # the user's files they name: a worker elsewhere has none
    try:
        return _sweep(cfg, overrides, space, data, folder, url, name, show_progress, conf_files, option)
    except WriteError as exc:  # in a study folder that holds trials: make it writable, not go elsewhere
        raise exc.in_study(folder / JOURNAL) from None
    except OSError as exc:  # a folder or file the sweep needs cannot be written: one line, the journal is intact
        raise study_write_error(exc.filename or folder, exc, folder / JOURNAL) from None


def _sweep(cfg: Any, overrides: list[str], space: Any, data: Any, folder: Path, url: str, name: str,
           show_progress: bool, conf_files: dict[str, str] | None, option: str) -> SweepReport:
    """Open or resume the study, run the workers, write the tables whatever happened.

    `conf_files`: the user's config files the sweep composed, recorded for `recsearch worker` (None: this is a
    joining worker, which records nothing); `option`: the model config option composed (`model=`)."""
    import optuna

    from recsearch.fileio import remove_stale_temp_files
    from recsearch.search.kt.engine import check_same_engine
    from recsearch.search.parse import sweep_notices
    from recsearch.search.progress import SweepProgress
    from recsearch.search.storage import budget_lock, open_storage, recover_stale_trials, redact, requeue_interrupted

    record = conf_files is not None
    n_obj = 1 + len(cfg.search.objectives)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(folder)
    remove_stale_temp_files(folder / "models")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=open_storage(url), load_if_exists=True,
                                directions=[cfg.task.direction] + ["minimize"] * (n_obj - 1))
    _check_same_study(study, _fingerprint(cfg, data, n_obj, option), joining=not record)
    check_same_engine(study, cfg)  # first: another engine's study is refused as such, whatever its space
    _check_same_space(study, space, kerastuner=cfg.search.engine == "kerastuner")
    _warn_if_trial_setting_changed(study, _trial_setting(cfg, space))
    _note_if_search_changed(study, cfg, joining=not record)
    if study.user_attrs.get("data_config") != _data_key(cfg):
        study.set_user_attr("data_config", _data_key(cfg))  # lets a re-run with the budget reached skip the data
    if record and study.user_attrs.get(SWEEP_OVERRIDES) != portable_overrides(overrides):
        study.set_user_attr(SWEEP_OVERRIDES, portable_overrides(overrides))  # what `recsearch worker URL NAME` runs
    if record and study.user_attrs.get(SWEEP_CONF_FILES, {}) != conf_files:
        study.set_user_attr(SWEEP_CONF_FILES, conf_files)
    if record or not _sweeps_own_yaml(folder, url):  # a worker in the sweep's own folder keeps the sweep's file
        _write_sweep_yaml(folder, cfg, overrides, url)
    with budget_lock(study, folder):
        recovered = recover_stale_trials(study)
        resumed = requeue_interrupted(study)
        _enqueue_once(study, cfg, space)
    spec = WorkerSpec(overrides=tuple(overrides), storage_url=url, study_name=name, folder=str(folder),
                      deadline=time.time() + float(cfg.search.timeout) if cfg.search.timeout else None)
    progress = SweepProgress(study, int(cfg.search.n_trials), enabled=show_progress,
                             timeout=float(cfg.search.timeout) if cfg.search.timeout else None)
    for line in sweep_notices(cfg, overrides, space):  # a searched key set on the command line is still sampled
        print(line, file=sys.stderr)
    if recovered:  # before any new trial's line: these trials run again first
        print(f"recsearch: re-queued trials left RUNNING by a dead worker: {recovered}", file=sys.stderr)
    if resumed:
        how = ("KerasTuner runs them again" if cfg.search.engine == "kerastuner"
               else "re-queued, they run first")
        print(f"recsearch: trials stopped by Ctrl-C or SIGTERM: {resumed} ({how})", file=sys.stderr)
    interrupted, tables_error, gave_up = False, None, False
    try:
        with progress, interrupts.ctrl_c_remembered():
            gave_up = _run_workers(spec, cfg, progress)
    except KeyboardInterrupt:
        interrupted = True
    finally:  # whatever happened, the tables show what the study holds
        tables_error = _write_tables(study, folder, cfg)
    if tables_error is not None:
        raise tables_error
    counts, n_trials = progress.counts(), int(cfg.search.n_trials)
    timed_out = (spec.deadline is not None and time.time() >= spec.deadline
                 and counts.get("complete", 0) + counts.get("pruned", 0) < n_trials)
    report = SweepReport(folder, redact(url), name, counts, recovered, cfg.task.metric, cfg.task.direction,
                         interrupted, top_failure(study), n_trials=n_trials,
                         timed_out_s=float(cfg.search.timeout) if timed_out else None, gave_up=gave_up)
    if interrupted:
        raise SweepInterrupted(report)
    return report


def _run_workers(spec: WorkerSpec, cfg: Any, progress: Any) -> bool:
    """One worker in this process, or several worker processes (`search.n_workers`, resolved by
    `parallel.sweep_workers`; never more than trials are missing: a worker without a trial to run would only
    load the data and the backend). The count goes to the workers as an override: TPE's constant liar is on
    when more than one runs. True when a worker gave up on failing trials."""
    from recsearch.search.parallel import backend_of_own_process, sweep_workers, usable_cores
    from recsearch.training.backend import resolve_backend

    counts = progress.counts()
    missing = int(cfg.search.n_trials) - counts.get("complete", 0) - counts.get("pruned", 0)
    n_workers, notice = sweep_workers(cfg, missing)
    cores = usable_cores()
    if notice:
        print(notice, file=sys.stderr)
    elif n_workers > cores:
        print(f"recsearch: warning: search.n_workers={n_workers} on {cores} cores: the workers share them (each "
              "holds its own copy of the data and framework); about one per core is fastest", file=sys.stderr)
    spec = replace(spec, overrides=(*spec.overrides, f"search.n_workers={n_workers}"))
    own = backend_of_own_process(cfg) if n_workers == 1 else None
    if n_workers == 1 and own is None:
        from recsearch.search.kt.engine import run_kerastuner
        from recsearch.training.backend import setup_for

        setup_for(cfg)
        runner = run_kerastuner if cfg.search.engine == "kerastuner" else run_worker
        return runner(spec, on_trial_end=progress.update).gave_up
    if own is not None:
        print(f"recsearch: note: model {cfg.model.name} trains on {own} (train.backend=auto) in a worker process: "
              f"this process runs Keras on {resolve_backend(cfg)}", file=sys.stderr)
    # the workers get this process's choice (a KERAS_BACKEND it set itself reads as `auto` only here), and start
    # on the backend it gives a fresh process, should the script they re-import load Keras before they set it up
    from recsearch.training.backend import auto_backend

    backend = own or str(cfg.train.backend)
    spec = replace(spec, overrides=(*spec.overrides, f"train.backend={backend}"))
    return _run_processes(spec, n_workers, progress, keras_backend=auto_backend(cfg) if backend == "auto" else backend)


def _write_tables(study: Any, folder: Path, cfg: Any) -> Exception | None:
    """Write the study's tables; return (not raise) a write failure, so it never hides another error."""
    from recsearch.fileio import WriteError, study_write_error
    from recsearch.results.study_tables import write_study_results
    from recsearch.storage import JOURNAL

    try:
        write_study_results(study, folder, cfg)
    except WriteError as exc:
        return exc.in_study(folder / JOURNAL)
    except OSError as exc:
        return study_write_error(exc.filename or folder, exc, folder / JOURNAL)
    return None


_SAID: set[str] = set()


def _say_once(note: str) -> None:
    """Print a note on stderr once per process: a comparison or race runs one sweep per variant or strategy."""
    if note not in _SAID:
        _SAID.add(note)
        print(note, file=sys.stderr)


def _report_if_budget_reached(cfg: Any, folder: Path, url: str, name: str, option: str) -> SweepReport | None:
    """When the study already holds `search.n_trials` finished trials: say so in one line, return its report."""
    from recsearch.search.storage import RDB_PREFIXES, open_storage, redact

    if not url.startswith(RDB_PREFIXES) and not Path(url).is_file():
        return None
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        return None
    if not _same_setting_without_data(study, cfg, option):
        return None  # the full path prepares the data and explains what changed
    counts: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    finished, n_trials = counts.get("complete", 0) + counts.get("pruned", 0), int(cfg.search.n_trials)
    if finished < n_trials:
        return None
    print(f"recsearch: study {name!r} already holds {finished} finished trials (search.n_trials={n_trials}): "
          "nothing to run; raise search.n_trials to run more", file=sys.stderr)
    if not _tables_match(study, folder):  # e.g. the last run filled the disk after its last trial
        error = _write_tables(study, folder, cfg)
        if error is not None:
            raise error
    return SweepReport(folder, redact(url), name, counts, [], cfg.task.metric, cfg.task.direction,
                       top_failure=top_failure(study), already_done=True, n_trials=n_trials)


def _same_setting_without_data(study: Any, cfg: Any, option: str) -> bool:
    """True when the study was run on this setting, judged without loading data: the fingerprint's
    model (and model option, when recorded), task, metric and directions, and the data and split config
    sections as last run."""
    recorded = study.user_attrs.get("fingerprint", {})
    now = {"model": cfg.model.name, "task": cfg.task.name, "metric": cfg.task.metric,
           "directions": [cfg.task.direction] + ["minimize"] * len(cfg.search.objectives)}
    return (all(recorded.get(k) == v for k, v in now.items()) and recorded.get("model_option", option) == option
            and study.user_attrs.get("data_config") == _data_key(cfg))


def _data_key(cfg: Any) -> str:
    """A hash of the data and split config sections and the data folder (not where results or caches go: a study
    read through another results folder is the same study)."""
    import hashlib

    sections = {k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "split")}
    sections["data_dir"] = str(cfg.paths.data_dir)
    return hashlib.sha256(repr(sorted(sections.items())).encode()).hexdigest()[:16]


def _tables_match(study: Any, folder: Path) -> bool:
    """True when trials.parquet lists the study's trials with their current states."""
    import pandas as pd

    try:
        frame = pd.read_parquet(folder / "trials.parquet", columns=["number", "state"])
    except Exception:  # noqa: BLE001 - missing or unreadable: write it again
        return False
    trials = study.get_trials(deepcopy=False)
    return frame["number"].tolist() == [t.number for t in trials] and \
        frame["state"].tolist() == [t.state.name for t in trials]


def top_failure(study: Any) -> tuple[str, int] | None:
    """The most common fail_reason among the study's failed trials, with its count."""
    from collections import Counter

    reasons = Counter(t.user_attrs.get("fail_reason", "no reason recorded") for t in study.get_trials(deepcopy=False)
                      if t.state.name == "FAIL" and "repeat_of" not in t.user_attrs)
    return reasons.most_common(1)[0] if reasons else None


SWEEP_OVERRIDES = "sweep_overrides"
SWEEP_CONF_FILES = "sweep_conf_files"  # {"search_space/mine.yaml": text}: `recsearch.config.recorded`
POLL_S = 1.0  # how often the parent of worker processes refreshes the bar from the storage and status files
WORKER_GRACE_S = 2.0  # after an interrupt, how long workers get to stop on their own before they are signalled


def portable_overrides(overrides: list[str]) -> list[str]:
    """The sweep's overrides for its workers: without `search.storage` (a password never goes into the study;
    workers name it) nor `search.enqueue_file` (the sweep enqueued it, once; a worker elsewhere lacks the file),
    and with a relative `data.path` made absolute, as the composed config holds it: a `recsearch worker` started
    from another folder reads the same file (one elsewhere gives its own data.path=...)."""
    import os

    kept = []
    for line in overrides:
        key, sep, value = line.partition("=")
        if key.lstrip("+~") in ("search.storage", "search.enqueue_file"):
            continue
        quote = value[0] if len(value) > 1 and value[0] == value[-1] and value[0] in "'\"" else ""
        path = value[1:-1] if quote else value
        if key.lstrip("+") == "data.path" and sep and path not in ("", "null") and "${" not in path \
                and not os.path.isabs(os.path.expanduser(path)):  # (an interpolation resolves where it runs)
            line = f"{key}={quote}{os.path.abspath(path)}{quote}"
        kept.append(line)
    return kept


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C: finished trials are kept, the running one is marked failed, the tables are written."""

    def __init__(self, report: SweepReport):
        super().__init__("sweep interrupted")
        self.report = report


def _run_processes(spec: WorkerSpec, n_workers: int, progress: Any, *, keras_backend: str | None = None) -> bool:
    """Start `n_workers` spawned processes sharing the study, each pinned to its share of the cores (and with
    KERAS_BACKEND=`keras_backend` when given); True when one of them gave up on failing trials (its exit code)."""
    from multiprocessing.connection import wait

    from recsearch.search.parallel import usable_cores

    threads = max(1, usable_cores() // n_workers)
    ctx = mp.get_context("spawn")
    errors = ctx.SimpleQueue()  # a worker's one-line error, reported once by this process
    procs = [ctx.Process(target=worker_process, name=f"recsearch-worker-{i}",
                         args=(WorkerSpec(**{**spec.__dict__, "threads": threads, "index": i}), errors))
             for i in range(n_workers)]
    with environ_set(**({"KERAS_BACKEND": keras_backend} if keras_backend else {})):  # read by spawn at start
        for proc in procs:
            proc.start()
    try:
        while any(p.is_alive() for p in procs):
            progress.update()
            wait([p.sentinel for p in procs if p.is_alive()], timeout=POLL_S)  # back at once when one ends
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too; a signal to this process alone is passed on
        _interrupt_workers(procs)
        raise
    finally:
        for proc in procs:
            proc.join(timeout=60)
            if proc.is_alive():
                proc.terminate()
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    if messages:
        raise RecsearchError(messages[0])
    bad = [p.exitcode for p in procs if p.exitcode not in (0, 130, -2, GAVE_UP_EXIT)]
    if bad:
        raise RecsearchError(f"{len(bad)} sweep worker(s) exited with codes {bad}; see the messages above "
                             "(finished trials are kept: the same command resumes)")
    return any(p.exitcode == GAVE_UP_EXIT for p in procs)


def _interrupt_workers(procs: list, grace_s: float = WORKER_GRACE_S) -> None:
    """SIGINT to the workers still running `grace_s` after this process was interrupted: each then fails its
    running trial as interrupted and exits, as on Ctrl-C in the terminal (which signals them all at once)."""
    import signal

    deadline = time.time() + grace_s
    while any(p.is_alive() for p in procs) and time.time() < deadline:
        time.sleep(0.1)
    for proc in procs:
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, signal.SIGINT)


def _fingerprint(cfg: Any, data: Any, n_obj: int, option: str) -> dict[str, Any]:
    """What must not change when a study is resumed: model, data, split, metric and directions; and the data's
    name (`data`: said when the data changed, never compared itself: a renamed file is the same data). The
    model config option too: a user's conf/model/small_mlp.yaml of family mlp gets mlp's default study name,
    and its trials (another space, other fixed values) must not be continued by `model=mlp`'s."""
    from recsearch.results.studies import data_label

    return {"model": cfg.model.name, "model_option": option, "task": cfg.task.name, "metric": cfg.task.metric,
            "directions": [cfg.task.direction] + ["minimize"] * (n_obj - 1),
            "data_checksum": data.checksum, "split_key": data.split_key,
            "data": data_label({k: OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "split")})}


def _check_same_study(study: Any, fingerprint: dict[str, Any], *, joining: bool = False) -> None:
    """Record the fingerprint of a new study; refuse to resume one that was run on something else (`joining`:
    for a `recsearch worker`, whose own overrides are what changed it)."""
    recorded = study.user_attrs.get("fingerprint")
    actual = [d.name.lower() for d in study.directions]
    if recorded is None and actual == fingerprint["directions"]:
        study.set_user_attr("fingerprint", fingerprint)
        return
    recorded = recorded or {"directions": actual}
    changed = [f"{k}: {recorded.get(k)!r} -> {v!r}" for k, v in fingerprint.items()
               if k in recorded and recorded[k] != v and k != "data"]
    data_changed = any(recorded.get(k) != fingerprint[k] for k in ("data_checksum", "split_key") if k in recorded)
    if data_changed and recorded.get("data", fingerprint["data"]) != fingerprint["data"]:  # the data by name
        changed.insert(0, f"data: {recorded['data']} -> {fingerprint['data']}")
    if changed:
        fix = ("a worker joins a study as its sweep ran it: drop the worker's override that changes this" if joining
               else "choose another search.study_name (or +experiment) for this sweep")
        raise ConfigError(f"study {study.study_name!r} already holds trials of another setting ({'; '.join(changed)}); "
                          f"{fix}")


def _check_same_space(study: Any, space: Any, *, kerastuner: bool = False) -> None:
    """Refuse, before any trial, a search space that gives a parameter of the study's trials a distribution
    Optuna cannot mix with the recorded one (another kind, log scale or choices): every trial would fail.
    Ranges may change (narrowing a space is a normal next step), except under KerasTuner, whose saved state
    (kerastuner/) keeps sampling the space of the study's first run."""
    from optuna.distributions import check_distribution_compatibility

    from recsearch.search.space import describe_distribution

    recorded: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        recorded.update(trial.distributions)
    for param in space.params:
        old, new = recorded.get(param.key), param.distribution()
        if old is None or new is None:
            continue
        searched = f"study {study.study_name!r} searched {param.key} as {describe_distribution(old)}"
        if kerastuner and old != new:
            raise ConfigError(f"{searched}; this search space gives {describe_distribution(new)}, but KerasTuner "
                              "resumes a study with the space of its first run (saved in its kerastuner/ folder); "
                              "keep the old expression or choose another search.study_name")
        try:
            check_distribution_compatibility(old, new)
        except ValueError:
            raise ConfigError(f"{searched}; this search space gives {describe_distribution(new)}, which Optuna "
                              "cannot mix in one study; keep the old expression (ranges may change) or choose "
                              "another search.study_name") from None


TRIAL_SETTING = "trial_setting"


def _trial_setting(cfg: Any, space: Any) -> dict[str, Any]:
    """The model and train values every trial of the sweep shares (`study_tables.trial_setting`)."""
    from recsearch.results.study_tables import trial_setting

    return trial_setting(OmegaConf.to_container(cfg, resolve=True), space.keys())


def _warn_if_trial_setting_changed(study: Any, setting: dict[str, Any]) -> None:
    """Record the shared trial setting of a new study; on a resume with another one (e.g. train.epochs), say in
    one line that the new trials are not comparable with the earlier ones. A warning, not a refusal: growing
    the epochs of a study can be what the user wants."""
    recorded = study.user_attrs.get(TRIAL_SETTING)
    if recorded is None:
        study.set_user_attr(TRIAL_SETTING, setting)
        return
    changed = [f"{key}={recorded.get(key)!r} -> {value!r}" for key, value in setting.items()
               if key in recorded and recorded[key] != value]
    if changed:
        shown = "; ".join(changed[:3]) + (f" (and {len(changed) - 3} more)" if len(changed) > 3 else "")
        print(f"recsearch: warning: study {study.study_name!r} was run with other settings ({shown}); its new "
              "trials will not be comparable with the earlier ones (another search.study_name keeps them apart)",
              file=sys.stderr)


SEARCH_SETTING = "search_setting"


def _note_if_search_changed(study: Any, cfg: Any, *, joining: bool = False) -> None:
    """Record the sampler, pruner and seed a study is searched with; a resume with others says so in one line. A
    note, not a warning: random trials first and TPE after is a normal plan, but a changed sampler must not go
    unseen (nor a seed: the same command no longer draws the same trials). A `joining` worker records nothing,
    the study's search being its sweep's, and its seed of its own (`worker_seed`) is no change to say."""
    setting = {"search.sampler": str(cfg.search.sampler), "search.pruner": str(cfg.search.pruner),
               "search.seed": str(cfg.search.seed)}
    recorded = study.user_attrs.get(SEARCH_SETTING)
    if joining and recorded:
        recorded = {**recorded, "search.seed": setting["search.seed"]}
    if recorded == setting or (joining and not recorded):
        return
    if not joining:
        study.set_user_attr(SEARCH_SETTING, setting)
    changed = [f"{key}={recorded[key]} -> {value}" for key, value in setting.items()
               if recorded and key in recorded and recorded[key] != value]
    if changed:
        print(f"recsearch: note: study {study.study_name!r} continues with another search ({'; '.join(changed)}); "
              "its earlier trials are kept and inform the new sampler", file=sys.stderr)


def _sweeps_own_yaml(folder: Path, url: str) -> bool:
    """Whether `folder` is the sweep's own, holding its sweep.yaml: the folder of the journal `url` names, or one
    whose sweep.yaml names `url` (a database). A joining worker writes its tables there (`recsearch worker
    FOLDER`) but keeps the sweep's record of how it was run."""
    from recsearch.search.storage import redact

    if not (folder / "sweep.yaml").is_file():
        return False
    if "://" not in url:
        return Path(url).resolve().parent == folder.resolve()
    try:
        return OmegaConf.load(folder / "sweep.yaml").get("storage") == redact(url)
    except (OSError, yaml.YAMLError):
        return False


def _write_sweep_yaml(folder: Path, cfg: Any, overrides: list[str], url: str) -> None:
    """sweep.yaml: the command's overrides and the composed config, as run (storage password redacted)."""
    from recsearch.fileio import atomic_write_text
    from recsearch.search.storage import redact

    doc = {"overrides": [redact(o) if "://" in o else o for o in overrides], "storage": redact(url),
           "config": OmegaConf.to_container(cfg)}
    doc["config"]["search"]["storage"] = redact(str(cfg.search.storage)) if cfg.search.storage else None
    atomic_write_text(folder / "sweep.yaml", OmegaConf.to_yaml(OmegaConf.create(doc)))


def _enqueue_once(study: Any, cfg: Any, space: Any) -> None:
    """Warm start: the model's defaults and/or configs from a YAML file, each enqueued only once per study."""
    done = set(study.user_attrs.get("enqueued", []))
    todo: list[tuple[str, list[dict]]] = []
    if cfg.search.enqueue_defaults and "defaults" not in done:
        todo.append(("defaults", [{p.key: OmegaConf.select(cfg, p.key) for p in space.params if p.kind != "fixed"}]))
    if cfg.search.enqueue_file and f"file:{cfg.search.enqueue_file}" not in done:
        todo.append((f"file:{cfg.search.enqueue_file}", _read_enqueue_file(Path(cfg.search.enqueue_file))))
    for tag, configs in todo:
        for params in configs:
            unknown = set(params) - set(space.keys())
            if unknown:
                raise ConfigError(f"search.enqueue_file: {sorted(unknown)} are not searched parameters")
            study.enqueue_trial(space.active(params), user_attrs={"enqueued": tag})
        done.add(tag)
    if todo:
        study.set_user_attr("enqueued", sorted(done))


def _read_enqueue_file(path: Path) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"search.enqueue_file: {path} does not exist")
    items = OmegaConf.to_container(OmegaConf.load(path))
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ConfigError(f"search.enqueue_file: {path} must hold a YAML list of {{param: value}} mappings")
    return items
