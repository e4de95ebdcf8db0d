"""The recovering journal backend, write errors and temp-file cleanup, on real files (no training)."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import optuna
import pytest

from recsearch.fileio import WriteError, atomic_write_text, remove_stale_temp_files
from recsearch.storage import journal as journal_module
from recsearch.storage.journal import StorageWriteError
from recsearch.search.storage import open_storage


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "_WARNED", set())


def _study_with_trials(path: Path, n: int = 3) -> optuna.Study:
    study = optuna.create_study(study_name="s", storage=open_storage(str(path)))
    for i in range(n):
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr("seed", i)
        study.tell(trial, float(i))
    return study


def _values(path: Path) -> list:
    study = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    return [(t.number, t.state.name, t.values) for t in study.trials]


def test_torn_tail_is_ignored_by_readers_then_cut_and_saved_before_the_next_append(tmp_path: Path, capsys) -> None:
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    whole = path.read_bytes()
    os.truncate(path, len(whole) - 20)
    assert [v[1] for v in _values(path)] == ["COMPLETE", "COMPLETE", "RUNNING"]  # the last tell is torn
    assert "ends in a torn record" in capsys.readouterr().err
    study = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    study.tell(2, 5.0)  # the next append cuts the torn bytes first
    err = capsys.readouterr().err
    assert "cut a torn last record (" in err and str(path) + ".torn" in err
    assert _values(path)[2] == (2, "COMPLETE", [5.0])
    torn = (tmp_path / "study.journal.torn").read_bytes()
    assert whole[whole.rindex(b"\n", 0, len(whole) - 1) + 1:len(whole) - 20] in torn
    assert all(json.loads(line) for line in path.read_bytes().splitlines())  # plain Optuna can read it again


def test_tail_missing_only_its_newline_is_completed(tmp_path: Path) -> None:
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    os.truncate(path, path.stat().st_size - 1)
    study = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    study.set_user_attr("k", 1)
    assert [v[1] for v in _values(path)] == ["COMPLETE"] * 3  # the record was kept, not cut
    assert not (tmp_path / "study.journal.torn").exists()


def test_unreadable_middle_line_is_skipped_with_its_line_number(tmp_path: Path, capsys) -> None:
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    lines = path.read_bytes().split(b"\n")
    target = next(i for i, line in enumerate(lines) if b'"user_attr":{"seed":1}' in line)
    lines[target] = b"\x00\xffnot json"
    path.write_bytes(b"\n".join(lines))
    assert [v[2] for v in _values(path)] == [[0.0], [1.0], [2.0]]
    assert f"line {target + 1}: unreadable record skipped" in capsys.readouterr().err
    _values(path)
    assert capsys.readouterr().err == ""  # reported once per process
    study = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    study.tell(study.ask(), 3.0)  # appending is safe: only that attr was lost, every record names its own trial
    assert [v[2] for v in _values(path)] == [[0.0], [1.0], [2.0], [3.0]]


@pytest.mark.parametrize("lost", ["create_trial", "create_study"])
def test_a_lost_creation_mid_file_refuses_to_append_and_changes_nothing(lost: str, tmp_path: Path, capsys) -> None:
    """The line that created trial 1 (or the study) unreadable: Optuna numbers trials by creation, so every later
    record reads onto another trial. Appending (a resume) would write that mix-up for good: refused, one line."""
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    lines = path.read_bytes().split(b"\n")
    creations = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4' if lost == "create_trial"
                                                                       else b'{"op_code":0')]
    target = creations[1] if lost == "create_trial" else creations[0]
    lines[target] = b"\x00\x00garbage" + lines[target][12:]
    path.write_bytes(b"\n".join(lines))
    damaged = path.read_bytes()
    storage = open_storage(str(path))
    with pytest.raises(journal_module.DamagedJournalError) as info:
        optuna.create_study(study_name="s", storage=storage, load_if_exists=True).tell(0, 9.0)
    message = str(info.value)
    assert f"line {target + 1} is damaged" in message and "search.study_name=NEW" in message and "\n" not in message
    assert path.read_bytes() == damaged
    assert f"line {target + 1} held the creation of a study or trial" in capsys.readouterr().err  # readers say so


def test_a_lost_creation_that_no_later_record_names_is_still_caught(tmp_path: Path) -> None:
    """Two enqueued trials (created whole, never named again): the first's creation damaged but still showing
    its op code. Nothing names trial 3 later, yet the second would read as it: appending is refused."""
    path = tmp_path / "study.journal"
    study = _study_with_trials(path)
    study.enqueue_trial({"x": 0.25})
    study.enqueue_trial({"x": 0.75})
    lines = path.read_bytes().split(b"\n")
    target = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4')][3]
    lines[target] = lines[target][:40] + b"\x00garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(journal_module.DamagedJournalError, match=f"line {target + 1} is damaged"):
        optuna.create_study(study_name="s", storage=open_storage(str(path)), load_if_exists=True)


def test_studies_created_twice_by_racing_starts_are_no_damage(tmp_path: Path) -> None:
    """Two processes starting the same study each append its creation (Optuna keeps the first), and a study
    deleted and made again gets a new id: neither reads as a lost creation after a harmless skipped line."""
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    optuna.create_study(study_name="s", storage=open_storage(str(path)), load_if_exists=True)  # a second start
    optuna.create_study(study_name="gone", storage=open_storage(str(path)))
    optuna.delete_study(study_name="gone", storage=open_storage(str(path)))
    again = optuna.create_study(study_name="gone", storage=open_storage(str(path)))
    again.tell(again.ask(), 1.0)
    lines = path.read_bytes().split(b"\n")
    target = next(i for i, line in enumerate(lines) if b'"user_attr":{"seed":1}' in line)
    lines[target] = b"\x00\xffnot json"
    path.write_bytes(b"\n".join(lines))
    storage = open_storage(str(path))
    optuna.load_study(study_name="gone", storage=storage).tell(optuna.load_study(study_name="gone",
                                                                                  storage=storage).ask(), 2.0)
    assert [t.value for t in optuna.load_study(study_name="gone", storage=open_storage(str(path))).trials] == [1.0, 2.0]


def test_garbage_after_the_last_record_is_skipped_and_appending_goes_on(tmp_path: Path) -> None:
    """A damaged line with no record after it shifted nothing: the study is resumed past it."""
    path = tmp_path / "study.journal"
    _study_with_trials(path)
    with open(path, "ab") as fh:
        fh.write(b"\x00\x01{garbage\n")
    study = optuna.load_study(study_name="s", storage=open_storage(str(path)))
    study.tell(study.ask(), 3.0)
    assert [v[2] for v in _values(path)] == [[0.0], [1.0], [2.0], [3.0]]


def test_record_appended_onto_a_torn_line_by_an_old_writer_is_recovered(tmp_path: Path) -> None:
    path = tmp_path / "study.journal"
    _study_with_trials(path, 2)
    data = path.read_bytes()
    last = data.rindex(b"\n", 0, len(data) - 1) + 1
    path.write_bytes(data[:-15] + data[last:])  # the torn tell, then the same record appended onto it
    assert [v[1] for v in _values(path)] == ["COMPLETE", "COMPLETE"]


def test_failed_append_leaves_no_torn_line_and_is_one_clear_error(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "study.journal"
    study = _study_with_trials(path, 1)
    size = path.stat().st_size
    real = os.pwrite

    def half_then_full(fd: int, data: bytes, offset: int) -> int:
        if len(data) > 10:
            real(fd, data[: len(data) // 2], offset)
            return len(data) // 2
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "pwrite", half_then_full)
    with pytest.raises(StorageWriteError, match=r"cannot write .*study.journal: No space left.*free disk space"):
        study.set_user_attr("big", "x" * 100)
    monkeypatch.undo()
    assert path.stat().st_size == size  # the half-written record was taken back
    assert [v[1] for v in _values(path)] == ["COMPLETE"]


def test_batch_writes_every_record_in_one_append(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "study.journal"
    study = _study_with_trials(path, 1)
    trial = study.ask()
    appends = []
    original = journal_module._write_all
    monkeypatch.setattr(journal_module, "_write_all",
                        lambda fd, size, data: (appends.append(data.count(b"\n")), original(fd, size, data)))
    from recsearch.search.objective import write_attrs

    write_attrs(trial, {f"k{i}": i for i in range(20)})
    assert appends == [20]
    assert optuna.load_study(study_name="s", storage=open_storage(str(path))).trials[1].user_attrs["k19"] == 19


def test_read_only_storage_is_read_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "study.journal"
    _study_with_trials(path, 2)
    os.truncate(path, path.stat().st_size - 5)
    before = path.read_bytes()
    assert len(_values(path)) == 2
    assert path.read_bytes() == before  # readers never repair


def test_atomic_write_reports_the_path_and_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "trials.csv"
    atomic_write_text(target, "old")

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("recsearch.fileio.os.fsync", full)
    with pytest.raises(WriteError, match=rf"cannot write {target}: No space left on device; free disk space"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert not list(tmp_path.glob(".*.tmp"))


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".trials.csv.999999-abcd1234.tmp"  # no such pid
    live = tmp_path / f".trials.parquet.{os.getpid()}-abcd1234.tmp"
    old = tmp_path / ".summary.md.zz9x.tmp"  # no pid: removed only when old
    young = tmp_path / ".best.yaml.zz9y.tmp"
    model = tmp_path / ".tmp-999999-trial_3.keras"
    for path in (dead, live, old, young, model):
        path.write_text("x")
    past = time.time() - 120
    for path in (dead, live, young, model):
        os.utime(path, (past, past))
    os.utime(old, (time.time() - 4000, time.time() - 4000))
    removed = set(remove_stale_temp_files(tmp_path))
    assert removed == {dead, old, model}
    assert live.exists() and young.exists()


def test_an_rdb_whose_tables_another_process_creates_at_the_same_moment_opens(tmp_path, monkeypatch) -> None:
    """Three machines starting on an empty PostgreSQL database: one lost the race to create Optuna's tables
    (a duplicate pg_type key) and stopped; it now opens the tables the winner created."""
    import optuna.storages
    from sqlalchemy.exc import IntegrityError

    from recsearch.storage import backends

    real, calls = optuna.storages.RDBStorage, []

    def racing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("CREATE TABLE studies", {}, Exception(
                'duplicate key value violates unique constraint "pg_type_typname_nsp_index"'))
        return real(*args, **kwargs)

    monkeypatch.setattr(optuna.storages, "RDBStorage", racing)
    monkeypatch.setattr(backends.time, "sleep", lambda s: None)
    storage = backends.open_storage(f"sqlite:///{tmp_path / 'race.db'}")
    assert isinstance(storage, real) and len(calls) == 2
