"""Atomic writes: a crash never leaves a truncated table, config or half-written run folder.

A write that fails (disk full, read-only folder) leaves the previous file intact and raises `WriteError`,
one line naming the path and what to do. Temp files carry the writer's pid; `remove_stale_temp_files`
removes those a dead writer left behind.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from recsearch.errors import RecsearchError

STALE_TMP_S = 600.0  # a temp file this old is stale whoever wrote it
DEAD_WRITER_TMP_S = 60.0  # a temp file of a dead local writer is stale after this (no write takes so long)


class WriteError(RecsearchError):
    """A file or folder could not be written (disk full, read-only, permissions); the old file is kept.

    `where`, `reason`, `full` and the errno `code` (when known) let a command name its own way out
    (`elsewhere`, `in_study`)."""

    def __init__(self, message: str, *, where: Path | str | None = None, reason: str = "", full: bool = False,
                 code: int | None = None) -> None:
        super().__init__(message)
        self.where, self.reason, self.full, self.code = where, reason, full, code

    def elsewhere(self, option: str) -> "WriteError":
        """The same failure, pointing at the command's `option` that writes to another place."""
        if self.where is None:
            return self
        remedy = "free disk space there" if self.full else "make that folder writable"
        return WriteError(f"cannot write {self.where}: {self.reason}; write elsewhere with {option}, or {remedy}",
                          where=self.where, reason=self.reason, full=self.full, code=self.code)

    def in_study(self, journal: Path | str) -> "WriteError":
        """The same failure in a study folder whose `journal` exists (a resume): the folder is to be made
        writable, since another results folder would start a new, empty study. Unchanged for a full disk, a
        write outside that folder (a cache), or a folder with no study yet."""
        if (self.where is None or self.code not in READ_ONLY_CODES or KEPT_STUDY_HINT in str(self)
                or not Path(journal).is_file() or not _inside(self.where, Path(journal).parent)):
            return self
        return write_error(self.where, OSError(self.code, self.reason), readonly_hint=KEPT_STUDY_HINT)


READ_ONLY_CODES = (errno.EROFS, errno.EACCES, errno.EPERM)
KEPT_STUDY_HINT = ("make the folder writable: its study journal holds the finished trials (another paths.results_dir "
                   "would start a new, empty study; to go on elsewhere, copy this folder there first)")


def study_write_error(path: Path | str, exc: OSError, journal: Path | str) -> WriteError:
    """`write_error` for a write of a sweep or worker whose study journal is `journal` (see `WriteError.in_study`)."""
    return write_error(path, exc).in_study(journal)


def shown_path(path: Path | str) -> str:
    """`path` as a command prints it: relative to the working folder when under it, else absolute (so a study
    reached by an absolute path or through a worker prints as one reached from here)."""
    full = Path(os.path.abspath(path))
    for shown, here in ((full, Path(os.getcwd())), (full.resolve(), Path.cwd().resolve())):  # then via symlinks
        if shown.is_relative_to(here):
            return str(shown.relative_to(here))
    return str(full)


def _inside(path: Path | str, folder: Path) -> bool:
    try:
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(folder))
    except (OSError, ValueError):
        return False


def ensure_writable(folder: Path) -> None:
    """Create `folder` and write a probe file in it, or raise WriteError: checked before long work, so a
    read-only or full destination fails at once instead of after the work."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".recsearch-write-check-"):
            pass
    except OSError as exc:
        raise write_error(folder, exc) from None


def write_error(path: Path | str, exc: OSError, *, readonly_hint: str | None = None) -> WriteError:
    """A one-line WriteError naming `path`, the OS reason and what to do about it (`readonly_hint`: what to do
    when the folder is read-only or not ours, when the caller knows better than writing elsewhere)."""
    code = exc.errno
    full = code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    if full:
        hint = "free disk space (or raise the quota)"
    elif code in READ_ONLY_CODES:
        hint = readonly_hint or ("make the folder writable, or point paths.results_dir (env RECSEARCH_RESULTS_DIR) at "
                                 "a writable one")
    else:
        hint = "check the folder"
    where = _destination(exc.filename if exc.filename and str(path) not in str(exc.filename) else path)
    blocker = _file_in_the_way(where) if code in (errno.ENOTDIR, errno.EEXIST) else None
    if blocker is not None:
        hint = f"{blocker} is a file, not a folder: move it away or choose another folder"
    return WriteError(f"cannot write {where}: {exc.strerror or exc}; {hint}, then run the same command again",
                      where=where, reason=str(exc.strerror or exc), full=full, code=code)


def _file_in_the_way(path: Path | str) -> Path | None:
    """The first folder of `path` (itself included: a folder to create) that is a file (what ENOTDIR and a
    mkdir's EEXIST complain of), else None."""
    for parent in [*reversed(Path(path).parents), Path(path)]:
        if parent.is_file():
            return parent
    return None


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


# A temp file or folder of this module, `.NAME.<pid>-<8 random>.tmp` or `.NAME.<8 random>.tmp`, stands for NAME.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?:\d+-)?[a-z0-9_]{8}\.tmp$")


def _destination(path: Path | str) -> Path | str:
    """`path` with each temp name of this module replaced by the name it is written for (else `path` as given):
    an error names the file asked for (`report.html`, `runs/<run>/config.yaml`), not a hidden temp file."""
    parts = Path(path).parts
    if not any(_TEMP_NAME.match(part) for part in parts):
        return path
    return Path(*[match["name"] if (match := _TEMP_NAME.match(part)) else part for part in parts])


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """A temp file beside `path` for the block to fill; renamed over `path` when the block succeeds, removed
    when it fails (an OSError becomes a one-line WriteError naming `path`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        yield tmp
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to a temp file beside `path`, fsync it, then rename it over `path`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, then rename it over `path`."""
    with _replacing(Path(path)) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomically write `obj` as indented JSON (NaN kept as null)."""
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def atomic_write_frame(path: Path, frame: pd.DataFrame) -> None:
    """Atomically write a DataFrame as Parquet or CSV, chosen by the file suffix."""
    path = Path(path)
    with _replacing(path) as tmp:
        if path.suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)


def remove_stale_temp_files(folder: Path, patterns: tuple[str, ...] = (".*.tmp", ".tmp-*.keras")) -> list[Path]:
    """Remove temp files that crashed writers left in `folder`; return them.

    A temp file is stale when its writer (the pid in its name) is gone from this host and it is over
    a minute old, or when it is older than ten minutes: a live writer on another machine is never cut off.
    """
    removed = []
    for pattern in patterns:
        for path in Path(folder).glob(pattern):
            if _is_stale(path):
                try:
                    path.unlink() if path.is_file() else shutil.rmtree(path)
                    removed.append(path)
                except OSError:
                    pass  # a read-only folder: the next write reports it
    return removed


def _is_stale(path: Path) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    if age > STALE_TMP_S:
        return True
    pid = _writer_pid(path.name)
    return pid is not None and age > DEAD_WRITER_TMP_S and not _alive(pid)


def _writer_pid(name: str) -> int | None:
    """The pid in `.trials.csv.<pid>-xxxx.tmp` or `.tmp-<pid>-trial_3.keras`, else None."""
    match = re.search(r"(?:\.|^\.tmp-)(\d+)-", name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder beside `final`; on success it is renamed to `final`, on error removed."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.", suffix=".tmp"))
    except OSError as exc:
        raise write_error(final, exc) from None
    try:
        yield tmp
        try:
            os.replace(tmp, final)
        except OSError as exc:
            raise write_error(final, exc) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _jsonable(obj: Any) -> Any:
    """NumPy scalars and NaN made JSON-safe."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj
