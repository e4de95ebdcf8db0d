"""A journal file that cannot lose a study: torn tails are cut and saved, unreadable lines skipped.

Optuna's `JournalFileBackend` appends records as JSON lines. A write cut short (disk full, SIGKILL in a
write, a truncated copy) leaves a last line without its newline; Optuna appends the next record onto it
and from then on every read fails. This backend:

- reads tolerantly: a line that is not JSON is skipped with its line number reported once per process
  (a torn line that had a record appended onto it gives that record back); a last line without its
  newline is not read (it may be a write in progress) and, when no writer holds the lock, is reported;
- refuses to append after a skipped line that created a study or trial (later records name more studies or
  trials than were created): Optuna numbers trials by their creation, so each later record now reads onto
  another trial, and a resume would write that mix-up into the file for good (`DamagedJournalError`);
- before every append, under the lock, cuts a torn tail and saves its bytes in `<journal>.torn`
  (a tail that is a complete record missing only its newline is completed instead);
- writes a batch of records in one write and one fsync, and undoes a write that failed half-way
  (disk full), so it never leaves a torn tail itself;
- locks with `flock` on the journal itself: the kernel releases the lock of a killed process, so no
  worker waits for a stale lock file, and reading commands need no write access.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from optuna.storages.journal import BaseJournalBackend

from recsearch.errors import RecsearchError
from recsearch.fileio import WriteError, study_write_error

TORN_SUFFIX = ".torn"
_WARNED: set[tuple[str, int | str]] = set()


class StorageWriteError(WriteError):
    """The study journal could not be written (disk full, read-only folder); nothing finished is lost."""


class DamagedJournalError(RecsearchError):
    """The journal lost a record that created a study or trial: appending would make its mix-up permanent."""


class RecoveringJournalBackend(BaseJournalBackend):
    """Optuna's journal file format, surviving torn and corrupt lines (see the module docstring)."""

    def __init__(self, file_path: str) -> None:
        self._file_path = file_path
        if not os.path.exists(file_path):
            open(file_path, "ab").close()
        # record number -> (byte offset, line number, the studies by id (a name, None once deleted) and the
        # number of trials created before it)
        self._offsets: dict[int, tuple[int, int, tuple, int]] = {0: (0, 1, (), 0)}
        self._skipped: int | None = None  # the line number of the last unreadable line read
        self._creation: bool = False  # whether its bytes still show a study's or trial's creation
        self._damaged: int | None = None  # that line, once a later record shows it created a study or trial
        self._pending: list[dict[str, Any]] | None = None

    def read_logs(self, log_number_from: int) -> Iterator[dict[str, Any]]:
        """Records from number `log_number_from` on, skipping unreadable lines."""
        start = log_number_from if log_number_from in self._offsets else max(
            n for n in self._offsets if n <= log_number_from)
        offset, line_no, studies, trials = self._offsets[start]
        number = start
        with open(self._file_path, "rb") as fh:
            fh.seek(offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    self._report_torn_tail(fh, offset, len(line))
                    return
                offset, line_no = offset + len(line), line_no + 1
                record = _parse(line, self._file_path, line_no - 1)
                if record is None:
                    self._skipped = line_no - 1
                    self._creation = any(code in line for code in (b'"op_code":0,', b'"op_code":4,'))
                    continue
                studies, trials = self._check_created(record, studies, trials)
                number += 1
                self._offsets.setdefault(number, (offset, line_no, studies, trials))
                if number > log_number_from:
                    yield record

    def _check_created(self, record: dict[str, Any], studies: tuple, trials: int) -> tuple[tuple, int]:
        """The studies by id (their names; None once deleted) and the number of trials created once `record` is
        applied, as Optuna numbers them (the name of a live study creates none, nor does a trial of a study not
        created). After an unreadable line, a record naming a study or trial not created yet, or any record after
        a line whose bytes still show a creation, marks that line as a lost creation (`_damaged`)."""
        op, study = record.get("op_code"), int(record.get("study_id", -1))
        if op == 0:  # CREATE_STUDY
            return (studies if record.get("study_name") in studies else (*studies, record.get("study_name"))), trials
        if op == 1 and 0 <= study < len(studies):  # DELETE_STUDY: its id is never given again, its name may be
            studies = (*studies[:study], None, *studies[study + 1:])
        trial = record.get("trial_id") if op != 4 else None
        ahead = (trial is not None and trial >= trials) or study >= len(studies)
        if self._skipped is not None and self._damaged is None and (ahead or self._creation):
            self._damaged = self._skipped
            _warn_once((self._file_path, "damaged"), f"{self._file_path} line {self._damaged} held the creation "
                       "of a study or trial: the trials after it are shown with other trials' records; restore "
                       "the file from a copy")
        return studies, trials + (op == 4 and 0 <= study < len(studies) and studies[study] is not None)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append records in one write and one fsync, after cutting a torn tail (under the lock)."""
        if self._pending is not None:
            self._pending.extend(logs)
            return
        if self._damaged is not None:
            raise DamagedJournalError(
                f"{self._file_path} line {self._damaged} is damaged and held the creation of a study or trial, so "
                "every later trial reads another's records; nothing was written, so that a copy of the file can "
                "be restored to go on; or start a new study (search.study_name=NEW)")
        data = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs).encode("utf-8")
        try:
            fd = os.open(self._file_path, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                _write_all(fd, _repair_tail(fd, self._file_path), data)
            finally:
                os.close(fd)  # releases the lock
        except OSError as exc:
            raise StorageWriteError(f"{study_write_error(self._file_path, exc, self._file_path)} (finished trials are "
                                    "kept)") from None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the records appended inside the block and write them in one append at its end."""
        if self._pending is not None:
            yield
            return
        self._pending = []
        try:
            yield
        finally:
            logs, self._pending = self._pending, None
            if logs:
                self.append_logs(logs)

    def _report_torn_tail(self, fh: Any, offset: int, length: int) -> None:
        """Warn about a last line without newline, unless a writer holds the lock (a write in progress)."""
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return
        try:
            if os.fstat(fh.fileno()).st_size > offset + length:  # completed meanwhile
                return
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
        _warn_once((self._file_path, "tail"), f"{self._file_path} ends in a torn record ({length} bytes, the last "
                   "write was cut short); it is ignored, and the next sweep saves it to "
                   f"{self._file_path}{TORN_SUFFIX} and cuts it")


def _parse(line: bytes, path: str, line_no: int) -> dict[str, Any] | None:
    """The record of a line; for a torn line with a record appended onto it, that record; else None."""
    try:
        record = json.loads(line)
        if isinstance(record, dict) and "op_code" in record:
            return record
    except ValueError:
        pass
    start = line.rfind(b'{"op_code":', 1)
    if start > 0:
        try:
            record = json.loads(line[start:])
            _warn_once((path, line_no), f"{path} line {line_no}: a torn record precedes the next one; "
                       "the torn part is skipped")
            return record
        except ValueError:
            pass
    _warn_once((path, line_no), f"{path} line {line_no}: unreadable record skipped ({len(line)} bytes)")
    return None


def _repair_tail(fd: int, path: str) -> int:
    """Cut a last line that lacks its newline (saving its bytes beside the journal); return the new size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    start = _last_line_start(fd, size)
    tail = os.pread(fd, size - start, start)
    try:
        complete = isinstance(json.loads(tail), dict)
    except ValueError:
        complete = False
    if complete:  # only the newline was lost
        _write_all(fd, size, b"\n")
        return size + 1
    side = Path(path + TORN_SUFFIX)
    with open(side, "ab") as out:
        out.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} cut at byte {start}\n".encode() + tail + b"\n")
        out.flush()
        os.fsync(out.fileno())
    os.ftruncate(fd, start)
    os.fsync(fd)
    _warn_once((path, f"cut{start}"), f"{path}: cut a torn last record ({len(tail)} bytes, saved to {side})")
    return start


def _last_line_start(fd: int, size: int, chunk: int = 1 << 16) -> int:
    """Byte offset where the last line of the file starts."""
    end = size
    while end > 0:
        begin = max(0, end - chunk)
        found = os.pread(fd, end - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        end = begin
    return 0


def _write_all(fd: int, size: int, data: bytes) -> None:
    """Write `data` at `size` and fsync; on failure cut the file back to `size` so no torn line is left."""
    try:
        done = 0
        while done < len(data):
            done += os.pwrite(fd, data[done:], size + done)
        os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        except OSError:
            pass  # the next append cuts what is left
        raise


def _warn_once(key: tuple[str, int | str], message: str) -> None:
    """One line on stderr per problem and process (reads repeat; warnings must not)."""
    if key not in _WARNED:
        _WARNED.add(key)
        print(f"recsearch: warning: {message}", file=sys.stderr)
