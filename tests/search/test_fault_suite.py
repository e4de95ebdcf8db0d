"""The fault suite: real sweep processes under SIGKILL, torn and corrupt journals, a full disk, a folder
turning read-only, and concurrent starts. Every case ends with the same proof: exactly n_trials finished,
unique trial numbers, no repeated parameter sets, and trials.parquet equal to the storage.

Each test adds a row to the summary table printed after the run (fault, faults injected, finished trials
lost, repeated configs).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import optuna
import pandas as pd
import pytest

from recsearch.search.storage import open_storage

pytestmark = pytest.mark.slow

SPACE = ["~search_space", "+search_space={params: {model.width: 'choice(8, 16)', "
         "train.learning_rate: 'tag(log, interval(1e-3, 3e-2))'}}"]

Row = Callable[[str, int, int, int], None]  # fault, faults injected, finished trials lost, repeated configs


@pytest.fixture
def summary_row(request: pytest.FixtureRequest) -> Row:
    """Add this test's row to the table tests/conftest.py prints after the run (from any xdist worker)."""
    def add(fault: str, injected: int, lost: int, repeats: int) -> None:
        request.node.user_properties.append(("fault_suite", (fault, injected, lost, repeats)))
    return add


@pytest.fixture
def one_epoch(tiny: list[str]) -> list[str]:
    """Small data, one epoch a trial: for the faults that need no trial running when they strike (the others
    use MID_TRIAL, tests/conftest.py)."""
    return [*tiny, "train.epochs=1"]


def _cmd(base: list[str], name: str, n_trials: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "recsearch", "sweep", "--no-progress", *base, *SPACE,
            "search.pruner=none", f"search.n_trials={n_trials}", f"search.study_name={name}", *extra]


def _env(results: Path) -> dict[str, str]:
    """A user's environment (the default backend, whichever this session runs on), results under `results`."""
    repo = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    return {**env, "RECSEARCH_RESULTS_DIR": str(results),
            "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}


def _study(url: str, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=open_storage(url))


def _finished(study: optuna.Study) -> dict[int, tuple]:
    return {t.number: tuple(t.values) for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"}


def check_study(url: str, name: str, folder: Path, n_trials: int) -> int:
    """Exact budget, unique numbers, tables equal to the storage; return the number of repeated configs."""
    trials = _study(url, name).get_trials(deepcopy=False)
    done = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == n_trials, [(t.number, t.state.name) for t in trials]
    assert "RUNNING" not in {t.state.name for t in trials}
    numbers = [t.number for t in trials]
    assert len(set(numbers)) == len(numbers)
    repeats = len(done) - len({tuple(sorted(t.params.items())) for t in done})
    frame = pd.read_parquet(folder / "trials.parquet")
    assert frame["number"].tolist() == numbers
    assert frame["state"].tolist() == [t.state.name for t in trials]
    values = {t.number: t.values[0] for t in done if t.values}
    assert {int(r.number): r.value for r in frame.itertuples() if int(r.number) in values} == pytest.approx(values)
    return repeats


def _swept(base: list[str], results: Path, cwd: Path, name: str, n_trials: int) -> tuple:
    """Study `name` swept to `n_trials` by a real process: its folder, journal, the env used, its finished trials."""
    folder = results / "default" / name
    env = _env(results)
    subprocess.run(_cmd(base, name, n_trials), cwd=cwd, env=env, check=True, capture_output=True, timeout=300)
    return folder, folder / "study.journal", env, _finished(_study(str(folder / "study.journal"), name))


def _wait(proc: subprocess.Popen, until, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not until():
        time.sleep(0.2)


def test_sigkill_at_random_moments_over_five_rounds(mid_trial: list[str], isolated_paths: Path, tmp_path: Path,
                                                    summary_row: Row) -> None:
    name, n_trials, rng = "kills", 5, random.Random(7)
    folder = isolated_paths / "default" / name
    url = str(folder / "study.journal")
    kept: dict[int, tuple] = {}
    injected = 0  # kills of a running process (a round's sweep may have finished the budget before its kill)
    for _ in range(5):
        proc = subprocess.Popen(_cmd(mid_trial, name, n_trials), cwd=tmp_path, env=_env(isolated_paths),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(rng.uniform(2.0, 9.0))  # start-up, mid-trial, telling or writing tables
        injected += proc.poll() is None
        proc.kill()
        proc.wait()
        if Path(url).is_file():
            kept.update(_finished(_study(url, name)))
    done = subprocess.run(_cmd(mid_trial, name, n_trials), cwd=tmp_path, env=_env(isolated_paths), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _finished(_study(url, name))
    lost = sum(after.get(k) != v for k, v in kept.items())
    repeats = check_study(url, name, folder, n_trials)
    retries = [t for t in _study(url, name).trials if "retry_of" in t.user_attrs]
    assert all(t.params == _study(url, name).trials[t.user_attrs["retry_of"]].params for t in retries)
    summary_row("SIGKILL (random moments)", injected, lost, repeats)
    assert lost == 0 and repeats == 0 and injected >= 3


def test_torn_tail_and_corrupt_middle_line(one_epoch: list[str], isolated_paths: Path, tmp_path: Path,
                                           summary_row: Row) -> None:
    name = "torn"
    folder, journal, env, before = _swept(one_epoch, isolated_paths, tmp_path, name, 2)
    size = journal.stat().st_size
    os.truncate(journal, size - 60)  # the last record loses its end, as when the disk fills mid-write
    lines = journal.read_bytes().split(b"\n")
    middle = next(i for i in range(len(lines) // 2, len(lines)) if b'"user_attr":{"seed"' in lines[i])
    lines[middle] = lines[middle][:10] + b"#garbage#" + lines[middle][10:]  # a damaged record mid-file
    journal.write_bytes(b"\n".join(lines))

    board = subprocess.run([sys.executable, "-m", "recsearch", "leaderboard", str(isolated_paths)], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
    assert board.returncode == 0, board.stderr
    assert f"line {middle + 1}: unreadable record skipped" in board.stderr
    assert "ends in a torn record" in board.stderr and "Traceback" not in board.stderr

    again = subprocess.run(_cmd(one_epoch, name, 3), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "cut a torn last record" in again.stderr and "Traceback" not in again.stderr
    assert (folder / "study.journal.torn").read_bytes().count(b"\n") == 2  # header line + the torn bytes
    after = _finished(_study(str(journal), name))
    lost = sum(after.get(k) != v for k, v in before.items())
    repeats = check_study(str(journal), name, folder, 3)
    summary_row("torn tail + corrupt line", 2, lost, repeats)
    assert lost == 0 and repeats == 0  # the trial whose COMPLETE record was torn is told from its attrs


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                                capture_output=True).returncode == 0


def test_disk_full_mid_sweep(one_epoch: list[str], tmp_path: Path, summary_row: Row) -> None:
    disk = tmp_path / "disk"
    mounted = _mount_tmpfs(disk, "4m")
    results, name = disk / "results", "full"
    folder = results / "default" / name
    url = str(folder / "study.journal")
    try:
        subprocess.run(_cmd(one_epoch, name, 1, "search.keep_models=0"), cwd=tmp_path, env=_env(results), check=True,
                       capture_output=True, timeout=300)
        kept = _finished(_study(url, name))
        if mounted:  # fill the disk, leaving a few KiB: the next trial's records no longer fit
            free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
            (disk / "filler").write_bytes(b"\0" * max(0, free - 24 * 1024))
            limit = {}
        else:  # no tmpfs here: writes beyond the journal's size plus a few KiB fail in the OS (RLIMIT_FSIZE)
            limit = {"preexec_fn": _file_size_limit(Path(url).stat().st_size + 6 * 1024)}
        full = subprocess.run(_cmd(one_epoch, name, 4, "search.keep_models=0"), cwd=tmp_path, env=_env(results),
                              capture_output=True, text=True, timeout=300, **limit)
        err = full.stderr.strip().splitlines()
        assert full.returncode == 2, full.stderr
        assert err[-1].startswith("recsearch: error: cannot write") and "Traceback" not in full.stderr, full.stderr
        assert any(w in err[-1] for w in ("No space left", "too large")) and "free disk space" in err[-1]
        (disk / "filler").unlink(missing_ok=True)
        done = subprocess.run(_cmd(one_epoch, name, 4, "search.keep_models=0"), cwd=tmp_path, env=_env(results),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        after = _finished(_study(url, name))
        lost = sum(after.get(k) != v for k, v in kept.items())
        repeats = check_study(url, name, folder, 4)
        assert not list(folder.glob(".*.tmp"))
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    summary_row("disk full" + (" (tmpfs)" if mounted else " (RLIMIT_FSIZE)"), 1, lost, repeats)
    assert lost == 0 and repeats == 0


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _read_only(folder: Path) -> None:
    if os.geteuid() == 0:  # root ignores permissions: a read-only bind mount
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        # the remount fails with "mount point is busy" while the sweep holds a file in it open for writing
        # (a journal append, a model being saved): those are brief, so try again until it takes
        deadline = time.monotonic() + 30
        while (remount := subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)],
                                         capture_output=True, text=True)).returncode != 0:
            if time.monotonic() > deadline:
                subprocess.run(["umount", str(folder)], capture_output=True)
                raise AssertionError(f"could not make {folder} read-only: {remount.stderr.strip()}")
            time.sleep(0.02)
    else:
        folder.chmod(0o555)


def _writable(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_results_folder_turns_read_only_mid_sweep(mid_trial: list[str], isolated_paths: Path, tmp_path: Path,
                                                  summary_row: Row) -> None:
    name = "readonly"
    folder = isolated_paths / "default" / name
    url = str(folder / "study.journal")
    env = _env(isolated_paths)
    proc = subprocess.Popen(_cmd(mid_trial, name, 4), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    _wait(proc, lambda: Path(url).is_file() and len(_finished(_study(url, name))) >= 1)
    _read_only(folder)
    try:
        _, stderr = proc.communicate(timeout=300)
        kept = _finished(_study(url, name))
    finally:
        _writable(folder)
    err = stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in stderr, stderr
    assert err[-1].startswith(f"recsearch: error: cannot write {folder}"), err[-1]
    assert "make the folder writable: its study journal holds the finished trials" in err[-1], err[-1]
    assert "start a new, empty study" in err[-1]  # not just "point paths.results_dir elsewhere"
    done = subprocess.run(_cmd(mid_trial, name, 4), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lost = sum(_finished(_study(url, name)).get(k) != v for k, v in kept.items())
    repeats = check_study(url, name, folder, 4)
    summary_row("folder read-only mid-sweep", 1, lost, repeats)
    assert lost == 0 and repeats == 0


@pytest.mark.parametrize("starts", [2, 3])
def test_concurrent_starts_of_the_same_command(one_epoch: list[str], isolated_paths: Path, tmp_path: Path,
                                               starts: int, summary_row: Row) -> None:
    name = f"shells{starts}"
    folder = isolated_paths / "default" / name
    procs = [subprocess.Popen(_cmd(one_epoch, name, 4), cwd=tmp_path, env=_env(isolated_paths),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(starts)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    repeats = check_study(str(folder / "study.journal"), name, folder, 4)
    summary_row(f"{starts} concurrent starts", starts, 0, repeats)
    assert repeats == 0


def test_three_machines_share_a_postgresql_budget(one_epoch: list[str], tmp_path: Path, summary_row: Row) -> None:
    """Three processes with their own results and lock folders (as three machines) on one PostgreSQL study."""
    url = os.environ.get("RECSEARCH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must start PostgreSQL and set RECSEARCH_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL: set RECSEARCH_TEST_POSTGRES_URL (.ci/run does)")
    name = f"machines-{os.getpid()}-{int(time.time())}"
    procs = [subprocess.Popen(_cmd(one_epoch, name, 5, f"search.storage='{url}'"), cwd=tmp_path,
                              env=_env(tmp_path / f"machine{i}"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for i in range(3)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
        folders = [tmp_path / f"machine{i}" / "default" / name for i in range(3)]
        last = max(folders, key=lambda f: (f / "trials.parquet").stat().st_mtime)  # the tables written last
        repeats = check_study(url, name, last, 5)
        summary_row("3 machines on PostgreSQL", 3, 0, repeats)
        assert repeats == 0
    finally:
        optuna.delete_study(study_name=name, storage=url)


def test_lost_trial_creation_mid_journal(one_epoch: list[str], isolated_paths: Path, tmp_path: Path,
                                         summary_row: Row) -> None:
    """The line that created trial 1 damaged (bit rot): every later record would read onto another trial. The
    resume refuses in one line and writes nothing; with the file restored from a copy it continues."""
    name = "lost-create"
    folder, journal, env, before = _swept(one_epoch, isolated_paths, tmp_path, name, 3)
    copy = journal.read_bytes()
    lines = copy.split(b"\n")
    second = [i for i, line in enumerate(lines) if line.startswith(b'{"op_code":4')][1]
    lines[second] = b"\x00\x00garbage" + lines[second][12:]
    journal.write_bytes(b"\n".join(lines))
    damaged = journal.read_bytes()

    again = subprocess.run(_cmd(one_epoch, name, 4), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"line {second + 1} is damaged and held the creation of a study or trial" in again.stderr.splitlines()[-1]
    assert journal.read_bytes() == damaged  # nothing written into the mix-up

    journal.write_bytes(copy)  # the user's remedy: the copy restored
    subprocess.run(_cmd(one_epoch, name, 4), cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    after = _finished(_study(str(journal), name))
    lost = sum(after.get(k) != v for k, v in before.items())
    repeats = check_study(str(journal), name, folder, 4)
    summary_row("lost trial creation", 1, lost, repeats)
    assert lost == 0 and repeats == 0
