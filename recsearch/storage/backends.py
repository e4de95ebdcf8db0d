"""Opening a study's Optuna storage: an RDB URL (heartbeat, retry) or a journal file that recovers from damage.

Below both `recsearch.search` (which runs studies) and `recsearch.results` (which reads them).
"""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from recsearch.errors import ConfigError
from recsearch.redact import redact

JOURNAL = "study.journal"
RDB_PREFIXES = ("sqlite:", "postgresql", "mysql", "oracle", "mssql")


def default_study_name(model: str, task: str) -> str:
    """A sweep's study name when `search.study_name` is unset, <model>-<task>: the sweep names its study so, and
    `results` finds a copied or renamed study folder's study by it."""
    return f"{model}-{task}"


def open_storage(url: str, *, heartbeat_interval: int = 60, setting: str = "search.storage") -> Any:
    """An Optuna storage for `url`: an RDB URL (with heartbeat and retry) or a journal file path. `setting`
    names where the URL came from in errors (a command's argument is no `search.storage`)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalStorage

    from recsearch.fileio import study_write_error
    from recsearch.storage.journal import RecoveringJournalBackend, StorageWriteError

    if url.startswith(RDB_PREFIXES):
        for attempt in range(SCHEMA_RACE_TRIES):
            try:
                with warnings.catch_warnings():  # heartbeats are experimental in Optuna: said once per reader else
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(url, heartbeat_interval=heartbeat_interval, grace_period=2 * heartbeat_interval,
                                      heartbeat_stale_trial_callback=_retry_stale(RetryHeartbeatStaleTrialCallback),
                                      engine_kwargs={"pool_pre_ping": True})
            except (ImportError, ModuleNotFoundError) as exc:
                from recsearch.extras import install_hint

                need = (f"PostgreSQL needs {install_hint('psycopg')}" if url.startswith("postgres")
                        else "MySQL: pip install pymysql, and write the URL as mysql+pymysql://..."
                        if url.startswith("mysql")
                        else "install the Python driver that the URL's scheme names (SQLAlchemy's dialect docs)")
                raise ConfigError(f"{setting} {redact(url)}: database driver missing ({exc}); {need}") from None
            except Exception as exc:  # noqa: BLE001 - SQLAlchemy raises many types for a bad URL or server
                if attempt + 1 < SCHEMA_RACE_TRIES and _schema_race(exc):
                    time.sleep(0.5 * (attempt + 1))  # another process created the tables this moment: they exist now
                    continue
                raise ConfigError(f"{setting} {redact(url)}: cannot open ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0]}){_remedy(str(exc))}") from None
    if "://" in url:
        raise ConfigError(f"{setting} {redact(url)!r}: not a supported RDB URL (sqlite, postgresql, mysql)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        Path(url).parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(RecoveringJournalBackend(url))
    except OSError as exc:
        raise StorageWriteError(str(study_write_error(url, exc, url))) from None


SCHEMA_RACE_TRIES = 3
_REMEDIES = (  # (a pattern of the driver's message, what to do), the first match wins
    (r"password authentication failed|access denied|role \S+ does not exist",
     "check the user name and password in the URL"),
    (r"database \S+ does not exist|unknown database",
     "create the database first (PostgreSQL: createdb NAME), or name one that exists in the URL's path"),
    (r"connection refused|could not translate host|name or service not known|timeout|timed out|can't connect",
     "check that the database server is running and that the URL's host and port reach it"),
)


def _remedy(message: str) -> str:
    """`; <what to do>` for a database error whose cause is common (wrong password, missing database, server
    down), else ""."""
    import re

    return next((f"; {what}" for pattern, what in _REMEDIES if re.search(pattern, message, re.IGNORECASE)), "")


def _schema_race(exc: Exception) -> bool:
    """Whether opening an empty database failed because another process (a second machine starting at the same
    moment) created Optuna's tables or types concurrently: PostgreSQL's duplicate pg_type key, or "already
    exists"."""
    text = str(exc)
    return type(exc).__name__ in ("IntegrityError", "ProgrammingError") and (
        "already exists" in text or "duplicate key" in text)


@contextmanager
def batched_writes(study: Any) -> Iterator[None]:
    """Journal storages: the records written inside the block go to the file in one append and one fsync."""
    backend = getattr(study._storage, "_backend", None)
    batch = getattr(backend, "batch", None)
    if batch is None:
        yield
        return
    with batch():
        yield


def _retry_stale(callback: type) -> Any:
    """Optuna's heartbeat re-queue of trials whose worker stopped beating (experimental in Optuna 5)."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return callback(max_retry=3)
