"""Fault tests of real sweep processes: SIGKILL then resume, Ctrl-C, and parallel workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest

from recsearch.search.sweep import run_sweep

pytestmark = pytest.mark.slow

SPACE = ["~search_space", "+search_space={params: {model.depth: 'range(1, 3)', model.width: 'choice(8, 16, 32)', "
         "train.learning_rate: 'tag(log, interval(1e-3, 3e-2))'}}"]


def _command(mid_trial: list[str], name: str, n_trials: int) -> list[str]:
    return [sys.executable, "-m", "recsearch", "sweep", "--no-progress", *mid_trial, *SPACE,
            f"search.n_trials={n_trials}", f"search.study_name={name}", "search.pruner=none"]


def _study(results: Path, name: str) -> optuna.Study:
    journal = results / "default" / name / "study.journal"
    storage = optuna.storages.journal.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    return optuna.load_study(study_name=name, storage=storage)


def _wait_for(results: Path, name: str, proc: subprocess.Popen, complete: int, timeout: float = 240,
              running: int = 1) -> None:
    """Wait until `complete` trials finished and `running` others are running, one of them with half its epochs
    or more left (MID_TRIAL's 10), so that a signal sent now lands in a running trial."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            trials = _study(results, name).trials
        except (KeyError, FileNotFoundError, ValueError):
            trials = []
        states = [t.state.name for t in trials]
        now = [t for t in trials if t.state.name == "RUNNING"]
        if states.count("COMPLETE") >= complete and len(now) == running and \
                all(len(t.params) == 3 for t in now) and any(len(t.intermediate_values) < 5 for t in now):
            return
        time.sleep(0.1)
    raise AssertionError("sweep did not reach the expected state in time")


def test_sigkill_then_rerun_completes_exact_budget(mid_trial: list[str], user_env: dict[str, str],
                                                  isolated_paths: Path) -> None:
    cmd = _command(mid_trial, "kill", 5)
    proc = subprocess.Popen(cmd, env=user_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(isolated_paths, "kill", proc, complete=2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: t.values for t in _study(isolated_paths, "kill").trials if t.state.name == "COMPLETE"}
    killed = [t for t in _study(isolated_paths, "kill").trials if t.state.name == "RUNNING"]
    assert len(killed) == 1

    rerun = subprocess.run(cmd, env=user_env, check=True, capture_output=True, text=True, timeout=600)
    assert f"re-queued trials left RUNNING by a dead worker: [{killed[0].number}]" in rerun.stderr

    trials = _study(isolated_paths, "kill").trials
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 5
    assert "RUNNING" not in states
    assert {t.number: t.values for t in trials if t.number in before} == before  # nothing finished was lost
    dead = trials[killed[0].number]
    assert dead.state.name == "FAIL" and "worker died" in dead.user_attrs["fail_reason"]
    retries = [t for t in trials if t.user_attrs.get("retry_of") is not None]
    assert [t.user_attrs["retry_of"] for t in retries] == [dead.number]  # finished trials are never re-run
    assert retries[0].params == dead.params and retries[0].state.name == "COMPLETE"
    frame = pd.read_parquet(isolated_paths / "default" / "kill" / "trials.parquet")
    assert sorted(frame["number"]) == list(range(len(trials)))


@pytest.mark.parametrize(("sig", "workers"), [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 2)])
def test_ctrl_c_or_sigterm_stops_cleanly_and_resumes(mid_trial: list[str], user_env: dict[str, str],
                                                     isolated_paths: Path, sig: int, workers: int) -> None:
    """The signal goes to the sweep process alone (as `kill` or a scheduler sends it; with workers, they are
    told in turn): finished trials kept, running ones failed as interrupted, tables written, exit 130; the
    same command then trains the interrupted configurations first and finishes the budget without re-running a
    finished one."""
    name = f"{signal.Signals(sig).name.lower()}-{workers}"
    cmd = [*_command(mid_trial, name, 4), f"search.n_workers={workers}"]
    # A shell's background job inherits SIGINT ignored, and Python then installs no Ctrl-C handler:
    # give the sweep the disposition an interactive terminal gives it.
    proc = subprocess.Popen(cmd, env=user_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_for(isolated_paths, name, proc, complete=1, running=workers)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "resume" in out
    trials = _study(isolated_paths, name).trials
    interrupted = [t for t in trials if t.state.name == "FAIL"]
    # one worker: the signal lands in its running trial; workers told in turn may be between two trials by then
    seen = [(t.number, t.state.name, t.user_attrs.get("fail_reason"), len(t.intermediate_values)) for t in trials]
    assert (len(interrupted) == 1 if workers == 1 else len(interrupted) <= workers), (seen, err[-2000:])
    assert all("interrupted" in t.user_attrs["fail_reason"] for t in interrupted)
    assert "RUNNING" not in [t.state.name for t in trials]
    finished = {t.number: t.params for t in trials if t.state.name == "COMPLETE"}
    assert (isolated_paths / "default" / name / "trials.parquet").is_file()
    resumed = subprocess.run(cmd, env=user_env, check=True, capture_output=True, text=True, timeout=600)
    after = _study(isolated_paths, name).trials
    assert [t.state.name for t in after].count("COMPLETE") == 4
    assert {t.number: t.params for t in after if t.number in finished} == finished  # nothing finished lost
    reran = [t.params for t in after if t.number not in finished and t.state.name == "COMPLETE"]
    assert not [p for p in reran if p in finished.values()]  # and none re-run
    stopped = {t.number: t.params for t in interrupted if t.params}
    retries = {t.user_attrs["retry_of"]: t for t in after if "retry_of" in t.user_attrs}
    assert {n: retries[n].params for n in stopped if n in retries} == stopped  # each interrupted config trained
    assert all(retries[n].state.name == "COMPLETE" for n in stopped)
    said = f"trials stopped by Ctrl-C or SIGTERM: {sorted(stopped)} (re-queued, they run first)"
    assert not stopped or said in resumed.stderr


def test_two_workers_share_the_budget(tiny: list[str], isolated_paths: Path) -> None:
    report = run_sweep([*tiny, *SPACE, "search.n_trials=4", "search.n_workers=2", "search.study_name=par",
                        "search.pruner=none"], show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert sorted(frame["number"]) == [0, 1, 2, 3]
    assert (frame["state"] == "COMPLETE").all()
    assert frame["pid"].nunique() == 2  # two worker processes, neither the parent
    assert os.getpid() not in set(frame["pid"])


def test_rdb_heartbeat_requeues_a_trial_of_a_dead_remote_worker(tiny: list[str], tmp_path: Path) -> None:
    """A worker on another machine stopped beating: the next sweep fails its trial and re-runs its params."""
    from recsearch.search.storage import open_storage

    url = f"sqlite:///{tmp_path / 'remote.db'}"
    overrides = [*tiny, *SPACE, "search.study_name=remote", f"search.storage='{url}'",
                 "search.heartbeat_interval=1", "search.pruner=none"]
    run_sweep([*overrides, "search.n_trials=1"], show_progress=False)
    study = optuna.load_study(study_name="remote", storage=open_storage(url, heartbeat_interval=1))
    ghost = study.ask({"model.depth": optuna.distributions.IntDistribution(1, 2)})
    for key, value in {"host": "another-machine", "pid": 4242, "pid_start": "1"}.items():
        ghost.set_user_attr(key, value)
    study._storage.record_heartbeat(ghost._trial_id)
    time.sleep(3)  # past the grace period of two heartbeat intervals
    run_sweep([*overrides, "search.n_trials=2"], show_progress=False)
    trials = optuna.load_study(study_name="remote", storage=url).trials
    assert trials[ghost.number].state.name == "FAIL"
    states = [t.state.name for t in trials]
    assert states.count("COMPLETE") == 2 and "RUNNING" not in states
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == ghost.number]
    assert len(retried) == 1 and retried[0].params["model.depth"] == ghost.params["model.depth"]


def test_a_model_that_cannot_be_saved_leaves_no_partial_file(tmp_path: Path, capsys) -> None:
    """A full disk while keeping a trial's model: one line, the sweep goes on, and the partial file is removed
    (left behind, it would keep the disk full for every later write)."""
    from recsearch.search.worker import keep_models_safely

    class FullDisk:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(b"x" * 4096)
            raise OSError(28, "No space left on device")

    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0))
    keep_models_safely(study, tmp_path, 0, FullDisk(), keep=1)
    assert "trial 0: model not kept (OSError: [Errno 28] No space left on device)" in capsys.readouterr().err
    assert list((tmp_path / "models").iterdir()) == []
