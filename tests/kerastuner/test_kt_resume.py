"""A KerasTuner study killed with SIGKILL mid-trial continues on re-run: nothing finished is re-run or lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kt_helpers import KT_SPACE
from recsearch.errors import RecsearchError

pytestmark = pytest.mark.slow


def _study(folder: Path):
    from recsearch.reproduce import open_study

    return open_study(str(folder)).study


def _kt_trials(folder: Path) -> dict[str, dict]:
    """KerasTuner's own record of its trials: trial_id -> trial.json."""
    return {p.parent.name.removeprefix("trial_"): json.loads(p.read_text())
            for p in (folder / "kerastuner").glob("trial_*/trial.json")}


def _wait_until_running_after(folder: Path, proc: subprocess.Popen, complete: int, timeout: float = 300) -> str:
    """Wait until `complete` trials are recorded and KerasTuner runs another one; return its id."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            recorded = {t.user_attrs["kerastuner_trial_id"] for t in _study(folder).trials}
            running = [i for i, t in _kt_trials(folder).items() if t["status"] == "RUNNING" and i not in recorded]
        except (RecsearchError, KeyError, FileNotFoundError, ValueError, json.JSONDecodeError):
            recorded, running = set(), []
        if len(recorded) >= complete and running:
            return running[0]
        time.sleep(0.3)
    raise AssertionError("the KerasTuner sweep did not reach the expected state in time")


def test_sigkill_then_rerun_continues_the_kerastuner_search(tiny, isolated_paths, tmp_path) -> None:
    folder = isolated_paths / "default" / "ktkill"
    cmd = [sys.executable, "-m", "recsearch", "sweep", "--no-progress", *tiny, *KT_SPACE, "train.epochs=3",
           "search.engine=kerastuner", "search.n_trials=3", "search.study_name=ktkill"]
    # On TensorFlow (KerasTuner's trials through Keras's fit): a trial lasts seconds, long enough for the wait below
    # to see one running; a tiny trial on JAX can end between two of its looks.
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_id = _wait_until_running_after(folder, proc, complete=1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {t.number: (t.params, t.values, t.user_attrs["kerastuner_trial_id"]) for t in _study(folder).trials}
    killed_values = _kt_trials(folder)[killed_id]["hyperparameters"]["values"]

    subprocess.run(cmd, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=600)

    trials = _study(folder).trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 3
    assert {t.number: (t.params, t.values, t.user_attrs["kerastuner_trial_id"]) for t in trials
            if t.number in before} == before  # finished trials are kept as they were, never re-run
    ids = [t.user_attrs["kerastuner_trial_id"] for t in trials]
    assert len(set(ids)) == 3 and killed_id in ids
    retried = trials[ids.index(killed_id)]
    assert retried.params == pytest.approx(killed_values)  # the interrupted trial ran again with its parameters
    assert len(_kt_trials(folder)) == 3  # KerasTuner continued its own search instead of starting over


def test_ctrl_c_in_a_kerastuner_trial_records_it_and_the_rerun_retries_it(tiny, isolated_paths, monkeypatch, capsys):
    """As with the Optuna engine: the stopped trial is a FAIL row saying so, the same command trains it again
    (marked `retry_of`, so it is not counted as a failure), and nothing is enqueued that KerasTuner would not run."""
    from optuna.trial import TrialState

    from recsearch.results.study_tables import failed_count, trials_frame
    from recsearch.search import objective
    from recsearch.search.interrupts import INTERRUPTED
    from recsearch.search.sweep import SweepInterrupted, run_sweep

    real, calls = objective.run_trial, []

    def ctrl_c_in_the_second(trial, ctx):
        calls.append(trial.number)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(trial, ctx)

    overrides = [*tiny, *KT_SPACE, "train.epochs=2", "search.engine=kerastuner", "search.n_trials=3",
                 "search.study_name=ktctrlc"]
    monkeypatch.setattr(objective, "run_trial", ctrl_c_in_the_second)
    with pytest.raises(SweepInterrupted):
        run_sweep(overrides, show_progress=False)
    stopped = _study(isolated_paths / "default" / "ktctrlc").trials[-1]
    assert stopped.state == TrialState.FAIL and stopped.user_attrs["fail_reason"] == INTERRUPTED

    monkeypatch.setattr(objective, "run_trial", real)
    capsys.readouterr()
    run_sweep(overrides, show_progress=False)
    said = f"trials stopped by Ctrl-C or SIGTERM: [{stopped.number}] (KerasTuner runs them again)"
    resumed = capsys.readouterr()
    assert said in resumed.err and "Reloading Tuner" not in resumed.out  # KerasTuner's own print is not shown
    study = _study(isolated_paths / "default" / "ktctrlc")
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    retry = trials[2]
    assert retry.user_attrs["retry_of"] == stopped.number and retry.params == stopped.params
    assert retry.user_attrs["kerastuner_trial_id"] == stopped.user_attrs["kerastuner_trial_id"]
    assert "retry_of" not in trials[3].user_attrs and not study.get_trials(states=(TrialState.WAITING,))
    assert failed_count(trials_frame(study)) == 0
