"""Live progress: the running trial's epoch and latest metric reach the sweep's bar during the trial."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsearch.search import live
from recsearch.search.progress import SweepProgress, clock

SPACE = ["~search_space", "+search_space={params: {model.depth: 'range(1, 3)', model.width: 'choice(8, 16)'}}"]


class Recorder:
    """A board that keeps every status it is sent."""

    def __init__(self) -> None:
        self.sent: list[live.TrialStatus | None] = []

    def __call__(self, status: live.TrialStatus | None, pid: int) -> None:
        self.sent.append(status)


class FakeTrial:
    number = 7


def test_callback_sends_epoch_metric_and_steps(monkeypatch):
    import keras

    monkeypatch.setattr(live, "BATCH_EVERY_S", 0.0)
    recorder = Recorder()
    live.install_board(recorder)
    try:
        inp = keras.Input(shape=(2,))
        model = keras.Model(inp, keras.layers.Dense(1)(inp))
        model.compile(optimizer="sgd", loss="mse")
        x, y = np.random.default_rng(0).normal(size=(64, 2)), np.zeros(64)
        fit = model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=16, verbose=0,
                        callbacks=[live.live_status(FakeTrial(), "val_loss")])
    finally:
        live.install_board(None)
    assert recorder.sent[-1] is None  # training ended: the trial's status is withdrawn
    sent = [s for s in recorder.sent if s is not None]
    assert {s.trial for s in sent} == {7} and {s.epochs for s in sent} == {3}
    assert [s.epoch for s in sent] == sorted(s.epoch for s in sent) and sent[-1].epoch == 3
    assert any(s.step == 4 and s.steps == 4 for s in sent)  # within-epoch progress
    assert all(s.step <= s.steps for s in sent)
    ends = {s.epoch: s.value for s in sent if s.value is not None}
    assert ends[3] == pytest.approx(fit.history["val_loss"][2])
    assert sent[-1].text() == f"trial 7 epoch 3/3, val_loss {fit.history['val_loss'][2]:.4f} after epoch 3"
    shown = next(s for s in sent if s.epoch == 3 and s.scored == 2)  # epoch 3 training, epoch 2's score
    assert shown.text().endswith(f"epoch 3/3, val_loss {fit.history['val_loss'][1]:.4f} after epoch 2")


def test_status_files_are_read_back_skipping_stale_and_broken(tmp_path):
    now = time.time()
    live.write_status_file(tmp_path, 11, live.TrialStatus(3, 2, 5, "val_rmse", 0.91, pid=11, updated=now))
    live.write_status_file(tmp_path, 12, live.TrialStatus(1, 1, 5, "val_rmse", None, pid=12, updated=now - 3600))
    (tmp_path / "worker-13.json").write_text('{"trial": 4, "epo')  # a reader never sees this (renamed into place)
    got = live.read_status_files(tmp_path, now=now)
    assert [(s.trial, s.epoch, s.value) for s in got] == [(3, 2, 0.91)]
    live.write_status_file(tmp_path, 11, None)
    assert not (tmp_path / "worker-11.json").exists()
    assert json.loads((tmp_path / "worker-12.json").read_text())["trial"] == 1


def test_elapsed_and_eta_share_one_format():
    from rich.progress import Progress, TimeElapsedColumn

    now = [0.0]
    progress = Progress(get_time=lambda: now[0])
    task_id = progress.add_task("x")
    task = next(t for t in progress.tasks if t.id == task_id)
    now[0] = 97.4
    assert str(TimeElapsedColumn().render(task)) == clock(97.4) == "0:01:37"
    assert clock(3 * 3600 + 5) == "3:00:05" and clock(None) == "-:--:--"


def _record_bar(monkeypatch) -> list[tuple[str, list[live.TrialStatus]]]:
    """Every text the bar shows, with the statuses behind it, in order."""
    shown: list[tuple[str, list[live.TrialStatus]]] = []
    original = SweepProgress._show

    def spy(self):
        shown.append((self.detail(), self.statuses()))
        original(self)

    monkeypatch.setattr(SweepProgress, "_show", spy)
    return shown


@pytest.mark.slow
def test_one_worker_bar_shows_each_trials_epoch_and_metric_while_it_runs(tiny, monkeypatch):
    from recsearch.search.sweep import run_sweep

    shown = _record_bar(monkeypatch)
    report = run_sweep([*tiny, *SPACE, "search.n_trials=2", "search.study_name=live1", "search.pruner=none"])
    trials = pd.read_parquet(report.folder / "trials.parquet")
    texts = [text for text, _ in shown]
    for _, trial in trials[trials["state"] != "FAIL"].iterrows():  # a repeat is failed before it trains
        n, curve = int(trial["number"]), list(trial["val_curve"])
        first = next(i for i, t in enumerate(texts) if t.endswith(f"running 1: trial {n} epoch 1/2"))
        second = next(i for i, t in enumerate(texts)
                      if f"running 1: trial {n} epoch 2/2, val_rmse {curve[0]:.4f} after epoch 1" in t)
        done = next(i for i, t in enumerate(texts) if i > second and f"trial {n} " not in t)
        assert first < second < done  # shown during the trial, withdrawn after it
    assert texts[-1].endswith("running 0") and "best " in texts[-1]
    assert live._board is None and live.LIVE_DIR_ENV not in os.environ  # uninstalled after the sweep


@pytest.mark.slow
def test_workers_status_files_reach_the_bar(tiny, monkeypatch):
    """Two spawned workers write their running trials' statuses; the parent's bar shows them."""
    from recsearch.search import sweep
    from recsearch.search.sweep import run_sweep

    # a trial's epochs here last well under the parent's 1 s refresh (JAX), so it could miss them all
    monkeypatch.setattr(sweep, "POLL_S", 0.05)
    shown = _record_bar(monkeypatch)
    report = run_sweep([*tiny, *SPACE, "data.synthetic.n_users=1000", "data.synthetic.n_items=400",
                        "data.synthetic.n_ratings=100000", "train.epochs=3", "search.n_trials=2",
                        "search.n_workers=2", "search.study_name=live2", "search.pruner=none"])
    trials = pd.read_parquet(report.folder / "trials.parquet")
    seen = [s for _, statuses in shown for s in statuses]
    assert seen, "no running trial was ever shown"
    pid_of = dict(zip(trials["number"], trials["pid"]))
    for status in seen:  # each status names a real trial, written by the worker process that ran it
        assert status.pid == pid_of[status.trial] and 1 <= status.epoch <= 3 and status.epochs == 3
        assert status.metric == "val_rmse"
        if status.value is not None:
            curve = list(trials.set_index("number").loc[status.trial, "val_curve"])
            assert any(v == pytest.approx(status.value) for v in curve)
    assert any(f"trial {s.trial} epoch {s.epoch}/3" in text for text, statuses in shown for s in statuses)
    assert not any(Path(report.folder).glob("worker-*.json"))  # nothing left in the study folder


def test_eta_never_runs_past_the_timeout():
    import optuna

    study = optuna.create_study()
    bar = SweepProgress(study, 10_000, enabled=False, timeout=120.0)
    bar._start, bar._initial_done = time.time() - 30.0, 0
    assert bar._eta(0) == pytest.approx(90.0, abs=1.0)  # nothing done yet: the time budget left
    assert bar._eta(3) == pytest.approx(90.0, abs=1.0)  # 3 trials in 30 s would need a day for 10,000
    untimed = SweepProgress(study, 10, enabled=False)
    untimed._start, untimed._initial_done = time.time() - 30.0, 0
    assert untimed._eta(5) == pytest.approx(30.0, abs=1.0) and untimed._eta(0) is None


@pytest.mark.slow
def test_without_a_terminal_each_trial_that_ends_is_one_plain_line(tiny, capsys):
    """A log file gets one whole line per ended trial (not a bar cut to 80 columns); a resume lists only its own."""
    import re

    from recsearch.search.sweep import run_sweep

    args = [*tiny, *SPACE, "search.study_name=plain", "search.pruner=none", "search.sampler=random"]
    first = run_sweep([*args, "search.n_trials=2"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    trained = pd.read_parquet(first.folder / "trials.parquet").query("state == 'COMPLETE'")["number"].tolist()
    assert [line.split()[:3] for line in lines] == [["trial", str(n), "complete"] for n in trained], lines
    assert re.search(r"\| 2/2 pruned 0 failed 0 best \d\.\d{4}( \(repeats skipped \d+\))? \| elapsed "
                     r"\d:\d\d:\d\d eta \d:\d\d:\d\d$", lines[-1]), lines
    run_sweep([*args, "search.n_trials=3"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    assert len(lines) == 1 and int(lines[0].split()[1]) > max(trained), lines


@pytest.mark.slow
def test_a_failed_trial_is_one_line_in_the_plain_log_and_one_line_without_it(tiny, capsys):
    """Without a terminal a failed trial printed two lines: the worker's, and the log's with its reason cut to
    80 characters. The log's line now carries the whole reason; with no progress shown the worker's line stays."""
    from recsearch.errors import RecsearchError
    from recsearch.search.sweep import run_sweep

    args = [*tiny, "~search_space", "+search_space={params: {train.learning_rate: 'interval(1e7, 1e8)'}}",
            "search.n_trials=1", "search.pruner=none", "train.optimizer=sgd"]
    logged = run_sweep([*args, "search.study_name=fails-logged"])
    out, err = capsys.readouterr()
    failed = [line for line in out.splitlines() if line.startswith("trial ")]
    assert logged.counts.get("fail", 0) == len(failed) >= 3, out
    assert all(" failed: TrainingDiverged: " in line and "lower train.learning_rate |" in line for line in failed)
    assert "recsearch: trial" not in err, err
    quiet = run_sweep([*args, "search.study_name=fails-quiet"], show_progress=False)
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.startswith("recsearch: trial ")]
    assert len(said) == quiet.counts.get("fail", 0) >= 3 and all("TrainingDiverged" in line for line in said), err
    assert os.environ.get(live.PLAIN_LOG_ENV) is None
    try:  # the KerasTuner engine's trials alike
        run_sweep([*args, "search.study_name=fails-kt", "search.engine=kerastuner", "search.tuner=random"])
    except RecsearchError:
        pass  # KerasTuner gives up on trials that keep failing: what it printed until then is what counts
    out, err = capsys.readouterr()
    failed = [line for line in out.splitlines() if line.startswith("trial ") and " failed: " in line]
    assert failed and "recsearch: trial" not in err, (out, err)


def test_trials_ending_between_two_updates_each_get_their_own_count(capsys):
    """Two workers' trials can end between two looks at the storage: each line has the counts and best value as
    of its trial's end (1/4, 2/4, not 2/4 twice; the best then, not the best at the look)."""
    import optuna

    study = optuna.create_study()
    progress = SweepProgress(study, 4)
    assert progress._plain  # pytest's captured stdout is not a terminal
    progress.update()  # nothing has ended yet
    for value in (0.9, 0.8):
        study.add_trial(optuna.trial.create_trial(value=value))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    study.add_trial(optuna.trial.create_trial(value=0.7))
    progress.update()
    counts = [line.split("|")[1].strip() for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    assert counts == ["1/4 pruned 0 failed 0 best 0.9000", "2/4 pruned 0 failed 0 best 0.8000",
                      "2/4 pruned 0 failed 1 best 0.8000", "3/4 pruned 0 failed 1 best 0.7000"], counts


def test_a_trial_stopped_and_re_run_is_no_failure_in_the_progress_line():
    """As in the leaderboard: Ctrl-C's trial, once a later trial re-ran it, is not counted as failed."""
    import optuna
    from optuna.trial import TrialState, create_trial

    from recsearch.search.progress import _summary

    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    trials = [create_trial(state=TrialState.FAIL, params={"x": 0.5}, distributions=dist,
                           user_attrs={"fail_reason": "interrupted"}),
              create_trial(state=TrialState.FAIL, params={"x": 0.7}, distributions=dist),
              create_trial(value=0.9, params={"x": 0.5}, distributions=dist, user_attrs={"retry_of": 0})]
    for number, trial in enumerate(trials):
        trial.number = number
    assert _summary(trials, [optuna.study.StudyDirection.MINIMIZE]) == "pruned 0 failed 1 best 0.9000"
