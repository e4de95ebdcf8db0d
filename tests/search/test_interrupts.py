"""Ctrl-C during a trial stops the sweep even when C code turned the KeyboardInterrupt into another error."""

from __future__ import annotations

import signal

import optuna
import pytest

from recsearch.search import interrupts
from recsearch.search.worker import run_one


def _mangled_ctrl_c(trial, ctx):
    """What CI saw: SIGINT arrived inside a C-level callback, which raised SystemError instead."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        raise SystemError("Objects/listobject.c:338: bad argument to internal function") from None
    raise AssertionError("SIGINT did not interrupt")


def _swallowed_ctrl_c(trial, ctx):
    """What CI saw: SIGTERM arrived inside JAX's garbage-collection callback, which printed "Exception ignored"
    and dropped the KeyboardInterrupt; the trial then finished as if nothing had happened."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass
    return None


def _failing_trial(trial, ctx):
    raise SystemError("a real error in a trial")


@pytest.fixture
def study():
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study()


@pytest.fixture(autouse=True)
def python_ctrl_c_handler():
    """Python's own SIGINT handler, as in a terminal (a background job, e.g. CI, starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("ctrl_c", ["mangled", "swallowed"])
def test_a_ctrl_c_that_c_code_mangled_or_swallowed_stops_the_sweep_and_marks_the_trial_interrupted(
        study, monkeypatch, tmp_path, ctrl_c):
    monkeypatch.setattr("recsearch.search.objective.run_trial",
                        {"mangled": _mangled_ctrl_c, "swallowed": _swallowed_ctrl_c}[ctrl_c])
    trial = study.ask()
    with interrupts.ctrl_c_remembered(), pytest.raises(KeyboardInterrupt):
        run_one(study, trial, None, tmp_path, keep_models=0)
    done = study.trials[0]
    assert done.state.name == "FAIL" and done.user_attrs["fail_reason"] == interrupts.INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back


def test_without_ctrl_c_the_same_error_only_fails_its_trial(study, monkeypatch, tmp_path):
    monkeypatch.setattr("recsearch.search.objective.run_trial", _failing_trial)
    trial = study.ask()
    with interrupts.ctrl_c_remembered():
        assert run_one(study, trial, None, tmp_path, keep_models=0) is False  # the sweep goes on
    assert study.trials[0].user_attrs["fail_reason"].startswith("SystemError: a real error")


def test_a_caller_s_own_sigint_handler_is_left_alone():
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGINT, mine)
    try:
        with interrupts.ctrl_c_remembered():
            assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_swallowed_ctrl_c_stops_training_at_the_epoch_s_end(study):
    from recsearch.search.pruning import OptunaPruning

    callback = OptunaPruning(study.ask(), "val_rmse")
    with interrupts.ctrl_c_remembered():
        callback.on_epoch_end(0, {"val_rmse": 1.0})  # no signal yet: the epoch is reported
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # swallowed, as a garbage-collection callback does
        with pytest.raises(KeyboardInterrupt):
            callback.on_epoch_end(1, {"val_rmse": 0.9})
    assert callback.curve == [1.0]
    callback.on_epoch_end(1, {"val_rmse": 0.9})  # outside a sweep's block, an old signal stops nothing
    assert callback.curve == [1.0, 0.9]


def test_a_ctrl_c_swallowed_before_the_sweeps_own_worker_started_still_stops_it():
    """The sweep's block remembered the signal; the in-process worker's block, opened after Keras's import (where
    a garbage-collection callback swallowed the KeyboardInterrupt), used to forget it: the sweep ran to its end."""
    with interrupts.ctrl_c_remembered():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # swallowed, as in JAX's callback
        with interrupts.ctrl_c_remembered(), pytest.raises(KeyboardInterrupt):
            interrupts.stop_if_interrupted()  # the worker's first check, before its first trial
    with interrupts.ctrl_c_remembered():  # a new outermost block starts afresh
        interrupts.stop_if_interrupted()


def test_a_ctrl_c_swallowed_in_a_finaliser_prints_no_traceback(monkeypatch):
    """A KeyboardInterrupt raised where Python can only ignore it (a finaliser; in CI and for users, JAX's
    garbage-collection callback) used to print 'Exception ignored in ...' and a traceback beside the sweep's
    one-line message. Inside the block it is remembered and not passed to sys.unraisablehook; other ignored
    errors still are, and the hook in place before is back afterwards."""
    import gc
    import sys

    seen = []

    def hook(unraisable):
        seen.append(type(unraisable.exc_value).__name__)

    monkeypatch.setattr(sys, "unraisablehook", hook)

    class Finalised:
        def __init__(self, error):
            self.error = error

        def __del__(self):
            if self.error is None:
                signal.raise_signal(signal.SIGINT)
            raise self.error

    with interrupts.ctrl_c_remembered():
        Finalised(ValueError("another error"))
        gc.collect()
        assert not interrupts.interrupted()
        Finalised(None)
        gc.collect()
        assert interrupts.interrupted()
    assert seen == ["ValueError"] and sys.unraisablehook is hook


def test_kerastuner_checks_for_a_swallowed_ctrl_c_before_each_trial(monkeypatch):
    """KerasTuner's engine has no trial loop of its own to check in: its tuner checks before creating a trial."""
    from types import SimpleNamespace

    from recsearch.search.kt.tuner import StudyTuner

    tuner = SimpleNamespace(study=SimpleNamespace(get_trials=lambda **kw: []), spec=SimpleNamespace(deadline=None),
                            cfg=SimpleNamespace(search=SimpleNamespace(n_trials=5)))
    with interrupts.ctrl_c_remembered():
        StudyTuner.pre_create_trial(tuner)  # nothing remembered: a trial may start
        monkeypatch.setattr(interrupts, "_seen", True)  # a signal whose KeyboardInterrupt was swallowed
        with pytest.raises(KeyboardInterrupt):
            StudyTuner.pre_create_trial(tuner)
