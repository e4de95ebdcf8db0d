"""File-system failures reaching the CLI are one line naming the path and what to do (exit 2, no traceback)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import types
from pathlib import Path
from typing import Iterator

import pytest

from recsearch.cli import main

TINY = ["data=synthetic", "data.synthetic.n_users=40", "data.synthetic.n_items=30", "data.synthetic.n_ratings=600",
        "train.epochs=1", "model.depth=1", "model.width=8", "model.embedding_dim=4"]


def _command(run) -> types.SimpleNamespace:
    """A stand-in command module whose `run` is `run`."""
    return types.SimpleNamespace(HELP="stand-in", add_arguments=lambda parser: None, run=run)


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("recsearch: error: "), err
    return lines[0]


@contextlib.contextmanager
def _mounted_tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted on a new `folder` with `options` (unmounted after); the test is skipped where this machine
    does not allow mounting."""
    folder.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.fixture
def read_only_dir(tmp_path: Path):
    """A real read-only file system (a tmpfs mounted ro), where this machine allows mounting."""
    with _mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        yield folder


def test_read_only_results_folder(read_only_dir, capsys) -> None:
    code = main(["sweep", *TINY, "search.n_trials=1", f"paths.results_dir={read_only_dir}/results"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and f"{read_only_dir}/results" in line and "read-only" in line.lower() and "RECSEARCH_RESULTS_DIR" in line


def test_a_results_path_that_is_a_file_is_named_as_the_file_in_the_way(tmp_path: Path, capsys) -> None:
    """`paths.results_dir=resfile` (a file): the line named only `resfile/default/<study>: Not a directory`."""
    (tmp_path / "resfile").write_text("")
    code = main(["sweep", *TINY, "search.n_trials=1", f"paths.results_dir={tmp_path}/resfile"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and f"{tmp_path}/resfile is a file, not a folder: move it away or choose another folder" in line


def test_a_study_folder_path_that_is_a_file_is_named_as_the_file_in_the_way(tmp_path: Path, capsys) -> None:
    """The study's own folder a file: the line said `File exists; check the folder`."""
    (tmp_path / "res" / "default").mkdir(parents=True)
    (tmp_path / "res" / "default" / "s").write_text("")
    code = main(["sweep", *TINY, "search.n_trials=1", "search.study_name=s", f"paths.results_dir={tmp_path}/res"])
    err = capsys.readouterr().err
    notes = "".join(line + "\n" for line in err.splitlines() if " is searched by search_space " in line)  # TINY's
    line = _one_error_line(err.replace(notes, ""))
    assert code == 2 and f"{tmp_path}/res/default/s is a file, not a folder: move it away" in line


@pytest.fixture
def study_turned_read_only(tmp_path: Path):
    """A 1-trial study on a tmpfs that is then remounted read-only (where this machine allows mounting)."""
    with _mounted_tmpfs(tmp_path / "ro-study", "size=20m") as folder:
        assert main(["sweep", "--no-progress", *TINY, "search.n_trials=1", "search.study_name=s",
                     f"paths.results_dir={folder}"]) == 0
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder / "default" / "s"


def test_report_and_reproduce_of_a_read_only_study_name_their_own_way_out(study_turned_read_only, capsys,
                                                                            tmp_path: Path) -> None:
    """Each says to write elsewhere with its own option (not paths.results_dir, which they do not read);
    reproduce says so before re-running anything; with that option both work."""
    study = str(study_turned_read_only)
    capsys.readouterr()
    assert main(["report", study]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "read-only" in line.lower() and "--output PATH" in line and "results_dir" not in line
    assert f"cannot write {study}/report.html:" in line and ".tmp" not in line  # the file asked for, not a temp
    assert main(["reproduce", study, "--seeds", "2"]) == 2
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "read-only" in line.lower() and "--out DIR" in line and "results_dir" not in line
    assert "valid" not in captured.out  # nothing was re-run
    assert main(["report", study, "--output", str(tmp_path / "r.html")]) == 0 and (tmp_path / "r.html").is_file()


def test_read_only_cache_folder(read_only_dir, capsys) -> None:
    code = main(["train", *TINY, f"paths.cache_dir={read_only_dir}/cache"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and f"{read_only_dir}/cache" in line and "read-only" in line.lower()


@pytest.mark.parametrize("error, words", [
    (PermissionError(errno.EACCES, "Permission denied", "/srv/results/default"), ["permission denied", "writable"]),
    (OSError(errno.ENOSPC, "No space left on device", "/srv/results/default/trials.csv"),
     ["no space left", "run the same command again"]),
    (OSError(errno.EROFS, "Read-only file system", "/srv/results/default"), ["read-only", "RECSEARCH_RESULTS_DIR"]),
])
def test_os_errors_however_wrapped_are_one_line(error, words, monkeypatch, capsys) -> None:
    def run(_args):
        try:
            raise error
        except OSError as exc:  # libraries (pyarrow, optuna) wrap OSErrors in their own types
            raise RuntimeError("write failed") from exc

    monkeypatch.setattr("recsearch.commands.command_module", lambda name: _command(run))
    code = main(["leaderboard"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and error.filename in line and all(word in line for word in words), line


def test_a_read_only_study_folder_is_to_be_made_writable_not_swapped(tmp_path) -> None:
    """Another results folder starts a new study: for a folder whose journal holds trials, the line says so
    instead of offering paths.results_dir; a full disk, or a folder with no study yet, keeps the usual advice."""
    from recsearch.fileio import study_write_error

    journal = tmp_path / "study.journal"
    denied = PermissionError(errno.EROFS, "Read-only file system", str(tmp_path / "trials.csv"))
    fresh = str(study_write_error(tmp_path / "trials.csv", denied, journal))
    assert "RECSEARCH_RESULTS_DIR" in fresh and "journal" not in fresh
    journal.write_text("")
    line = str(study_write_error(tmp_path / "trials.csv", denied, journal))
    assert line.startswith(f"cannot write {tmp_path / 'trials.csv'}: Read-only file system; make the folder writable: "
                           "its study journal holds the finished trials (another paths.results_dir would start a new, "
                           "empty study; to go on elsewhere, copy this folder there first), then run the same "
                           "command again"), line
    full = str(study_write_error(journal, OSError(errno.ENOSPC, "No space left on device", str(journal)), journal))
    assert "free disk space" in full and "journal holds" not in full
    cache = tmp_path.parent / "cache" / "split.npz"  # a write outside the study folder: not the study's advice
    elsewhere = str(study_write_error(cache, PermissionError(errno.EACCES, "Permission denied", str(cache)), journal))
    assert "RECSEARCH_RESULTS_DIR" in elsewhere and "journal holds" not in elsewhere


def test_resuming_a_study_in_a_folder_turned_read_only_says_to_make_it_writable(tmp_path, monkeypatch, capsys):
    """The tables and sweep.yaml go through fileio's atomic writes (a WriteError, not an OSError): on a resume
    their failure gets the study folder's advice too, and the trials already finished are still there."""
    import tempfile

    from recsearch.search.sweep import run_sweep

    args = [*TINY, "search.study_name=frozen", f"paths.results_dir={tmp_path / 'results'}"]
    folder = run_sweep([*args, "search.n_trials=1"], show_progress=False).folder
    real = tempfile.mkstemp

    def denied(*a, **kw):
        if str(kw.get("dir", "")).startswith(str(folder)):
            raise PermissionError(errno.EACCES, "Permission denied", str(kw["dir"]))
        return real(*a, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    code = main(["sweep", *args, "search.n_trials=2"])
    err = capsys.readouterr().err  # (TINY's fixed model values are noted first: the mlp space searches them)
    line = err.strip().splitlines()[-1]
    assert code == 2 and "Traceback" not in err and line.startswith("recsearch: error: cannot write "), err
    assert "make the folder writable: its study journal holds the finished trials" in line, line
    monkeypatch.setattr(tempfile, "mkstemp", real)
    assert main(["sweep", *args, "search.n_trials=2"]) == 0


def test_injected_permission_error_on_mkdir(monkeypatch, capsys, isolated_paths) -> None:
    real_mkdir = Path.mkdir

    def denied(self, *args, **kwargs):
        if str(self).startswith(str(isolated_paths)):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", denied)
    code = main(["sweep", *TINY, "search.n_trials=1"])
    line = _one_error_line(capsys.readouterr().err)
    assert code == 2 and str(isolated_paths) in line and "permission denied" in line.lower()


def test_a_bug_still_raises(monkeypatch) -> None:
    def run(_args):
        raise ZeroDivisionError("a bug, not a user error")

    monkeypatch.setattr("recsearch.commands.command_module", lambda name: _command(run))
    with pytest.raises(ZeroDivisionError):
        main(["leaderboard"])


@pytest.mark.parametrize("code, remedy, not_said", [(errno.ENOSPC, "free disk space", "writable"),
                                                     (errno.EROFS, "make that folder writable", "disk space")])
def test_a_commands_own_way_out_keeps_the_remedy_of_the_cause(code, remedy, not_said) -> None:
    """`report --output`/`reproduce --out` hints: a full disk is not cured by making a folder writable."""
    from recsearch.fileio import write_error

    error = write_error("/srv/study", OSError(code, os.strerror(code), "/srv/study/report.html"))
    line = str(error.elsewhere("--out DIR"))
    assert "--out DIR" in line and remedy in line and not_said not in line, line


def test_atomic_writes_name_the_destination_not_their_temp_file(read_only_dir) -> None:
    """A failed atomic write names the file (or run folder) it was writing, never the hidden temp file beside it."""
    import pandas as pd

    from recsearch.fileio import WriteError, atomic_dir, atomic_write_frame, atomic_write_text

    for write, target in [(lambda p: atomic_write_text(p, "x"), read_only_dir / "report.html"),
                          (lambda p: atomic_write_frame(p, pd.DataFrame({"a": [1]})), read_only_dir / "t.csv"),
                          (lambda p: atomic_dir(p).__enter__(), read_only_dir / "run-1")]:
        with pytest.raises(WriteError) as err:
            write(target)
        line = str(err.value)
        assert line.startswith(f"cannot write {target}: Read-only file system;") and ".tmp" not in line, line
        assert err.value.where == target


def test_a_failed_write_inside_an_atomic_run_folder_names_the_run_folder(tmp_path: Path, monkeypatch) -> None:
    """A disk that fills while a run folder is written: the error names the run's file, not the temp folder."""
    from recsearch.fileio import WriteError, atomic_dir, atomic_write_text

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    final = tmp_path / "runs" / "run-1"
    with pytest.raises(WriteError) as err, atomic_dir(final) as tmp:
        monkeypatch.setattr(os, "fsync", full)
        atomic_write_text(tmp / "config.yaml", "x")
    line = str(err.value)
    assert line.startswith(f"cannot write {final}/config.yaml: No space left on device;") and ".tmp" not in line
    assert not list((tmp_path / "runs").iterdir())  # the temp folder is gone
