"""Study storage and the folder a study writes to; recovery of trials left RUNNING by dead workers."""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

from recsearch.redact import redact  # noqa: F401 - re-exported: storage.redact is the name callers use
# opening a storage (and the recovering journal) lives a layer below, so `results` reads studies without `search`
from recsearch.storage import JOURNAL, RDB_PREFIXES, batched_writes, open_storage  # noqa: F401 - re-exported
from recsearch.storage import default_study_name


def study_name(cfg: Any) -> str:
    """`search.study_name`, defaulting to <model>-<task>."""
    return cfg.search.study_name or default_study_name(cfg.model.name, cfg.task.name)


def study_dir(cfg: Any) -> Path:
    """results/<experiment>/<study>/."""
    return Path(cfg.paths.results_dir) / (cfg.experiment or "default") / study_name(cfg)


def storage_url(cfg: Any, folder: Path) -> str:
    """The storage as a string: the RDB URL, or the path of the journal file in the study folder."""
    return str(cfg.search.storage) if cfg.search.storage else str(folder / JOURNAL)


@contextmanager
def study_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock of the study folder: budget checks and asks of local workers do not race."""
    with _file_lock(folder / ".budget.lock"):
        yield


@contextmanager
def one_process_only(folder: Path, why: str) -> Iterator[None]:
    """Hold the study folder for this process alone while the block runs: a second process started on the same
    study gets one ConfigError line (`why` says why the study takes one process) instead of racing it."""
    from recsearch.errors import ConfigError

    with ExitStack() as stack:
        try:
            stack.enter_context(_file_lock(folder / ".one-process.lock", wait=False))
        except BlockingIOError:
            raise ConfigError(f"study folder {folder} is being searched by another process ({why}); let it finish "
                              "or stop it, then run the same command to continue") from None
        yield


@contextmanager
def _file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """flock on `path` (created if missing); the kernel releases it when the process dies. Without `wait`, a lock
    held elsewhere raises BlockingIOError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def budget_lock(study: Any, folder: Path) -> Iterator[None]:
    """Exclusive budget claim across every process of the study, wherever it runs.

    RDB storages lock in the database itself (PostgreSQL transaction advisory lock, MySQL GET_LOCK;
    SQLite, a local file, a lock beside the database file), so machines with different results folders
    never overshoot `search.n_trials`. Journal storages lock the study folder that holds the journal.
    """
    rdb = _rdb_storage(study)
    dialect = rdb.engine.dialect.name if rdb is not None else None
    if dialect == "postgresql":
        with _postgres_lock(rdb.engine, _lock_key(study.study_name)):
            yield
    elif dialect == "mysql":
        with _mysql_lock(rdb.engine, f"recsearch-budget-{_lock_key(study.study_name)}"):
            yield
    elif dialect == "sqlite" and rdb.engine.url.database not in (None, "", ":memory:"):
        with _file_lock(Path(rdb.engine.url.database + ".recsearch.lock")):
            yield
    else:
        with study_lock(folder):
            yield


def _rdb_storage(study: Any) -> Any:
    """The RDBStorage behind a study (Optuna wraps it in a cache), or None for other storages."""
    from optuna.storages import RDBStorage

    storage = study._storage
    storage = getattr(storage, "_backend", storage)
    return storage if isinstance(storage, RDBStorage) else None


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for the study's advisory lock."""
    import hashlib

    return int.from_bytes(hashlib.sha256(f"recsearch-budget:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def _postgres_lock(engine: Any, key: int) -> Iterator[None]:
    """A transaction-level advisory lock: released on commit, or by the server when the client dies."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        yield


@contextmanager
def _mysql_lock(engine: Any, name: str) -> Iterator[None]:
    """MySQL's named lock, held by this connection (released by the server when the client dies)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        conn.execute(text("SELECT GET_LOCK(:name, -1)"), {"name": name})
        try:
            yield
        finally:
            conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": name})


SESSION_ENV = "RECSEARCH_SWEEP_SESSION"  # one id per sweep or worker command run (its worker processes inherit it)


def new_session() -> str:
    """Start a new sweep session: the trials this command's processes run record it (`process_identity`), so
    the time between two runs of a study (stopped, resumed) is told from the time between its trials."""
    session = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}"
    os.environ[SESSION_ENV] = session
    return session


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """host, pid and the process start time (pids are reused; start time tells them apart), and the sweep
    session (`new_session`) when there is one."""
    pid = os.getpid() if pid is None else pid
    session = os.environ.get(SESSION_ENV)
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _start_time(pid),
            **({"session": session} if session else {})}


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


CLAIM_GRACE_S = 120.0


def owner_is_dead(trial: Any) -> bool:
    """True when a RUNNING trial's owner ran on this host and that process is gone (or its pid was reused).

    A trial not yet claimed (no pid) is dead only after a grace period: another machine's worker may be
    between its ask and its claim.
    """
    attrs = trial.user_attrs
    if "pid" not in attrs:
        started = trial.datetime_start.timestamp() if trial.datetime_start else 0.0
        return time.time() - started > CLAIM_GRACE_S
    if attrs.get("host") != socket.gethostname():
        return False
    return _start_time(int(attrs["pid"])) != attrs.get("pid_start")


def recover_stale_trials(study: Any) -> list[int]:
    """Fail the RUNNING trials whose local owner died and enqueue their parameters again.

    Journal storage has no heartbeat in Optuna 5, so ownership is recorded per trial (host, pid,
    start time); RDB storages also have Optuna's heartbeat for workers on other machines.
    """
    import optuna
    from optuna.trial import TrialState

    optuna.storages.fail_stale_trials(study)  # RDB: other machines' workers whose heartbeat stopped (no-op else)
    recovered = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not owner_is_dead(trial):
            continue
        if _tell_from_attrs(study, trial):
            continue
        requeue = bool(trial.params)  # a trial killed before sampling has nothing to repeat
        reason = f"worker died (host {trial.user_attrs.get('host')}, pid {trial.user_attrs.get('pid')}): it stopped " \
            "before recording the trial's end (killed, crashed, or a write failed, e.g. a full disk)" + \
            ("; re-queued with the same parameters" if requeue else "")
        study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
        study.tell(trial.number, state=TrialState.FAIL)
        if requeue:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        recovered.append(trial.number)
    return recovered


def requeue_interrupted(study: Any) -> list[int]:
    """Enqueue again, once each, the parameters of trials a Ctrl-C or SIGTERM stopped (failed as interrupted):
    the next run trains them first, as it does a dead worker's, instead of leaving their configurations out.
    The kerastuner engine's are only listed: KerasTuner's oracle runs its stopped trials again itself."""
    from optuna.trial import TrialState

    from recsearch.search.interrupts import INTERRUPTED

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    stopped = [t for t in trials if t.state == TrialState.FAIL and t.params and t.number not in retried
               and t.user_attrs.get("fail_reason") == INTERRUPTED]
    for trial in stopped:
        if "kerastuner_trial_id" not in trial.user_attrs:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
    return [t.number for t in stopped]


def _tell_from_attrs(study: Any, trial: Any) -> bool:
    """Finish a trial that ran to its end but whose final record was lost (torn journal, kill in the tell).

    Its `timing` attr is written only after training and evaluation succeeded, and its metrics before it,
    so the objective is known: tell it from the attrs instead of training it again (single objective).
    """
    from optuna.trial import TrialState

    attrs, metric = trial.user_attrs, study.user_attrs.get("fingerprint", {}).get("metric")
    value = attrs.get(f"valid_{metric}")
    if "timing" not in attrs or len(study.directions) != 1 or value is None:
        return False
    if attrs.get("pruned_at") is not None:
        study.tell(trial.number, state=TrialState.PRUNED)
    else:
        study.tell(trial.number, [float(value)])
    return True


@contextmanager
def heartbeat(study: Any, trial: Any) -> Iterator[None]:
    """While a trial runs, record Optuna's heartbeat for it (RDB storages; ask/tell gets none otherwise)."""
    storage = study._storage
    interval = storage.get_heartbeat_interval() if hasattr(storage, "get_heartbeat_interval") else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                storage.record_heartbeat(trial._trial_id)
            except Exception:  # noqa: BLE001 - a missed beat must not kill the trial
                pass
            stop.wait(interval)

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
