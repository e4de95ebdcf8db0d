"""Claiming a trial when the budget is full only because a worker was killed between its ask and its claim."""

from __future__ import annotations

import time

import optuna
from optuna.distributions import FloatDistribution

from recsearch.search.worker import claim_trial


def test_a_trial_asked_but_never_claimed_is_waited_for_then_run_again(tmp_path, monkeypatch):
    monkeypatch.setattr("recsearch.search.storage.CLAIM_GRACE_S", 1.0)
    monkeypatch.setattr("recsearch.search.worker.UNCLAIMED_POLL_S", 0.1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    orphan = study.ask({"x": FloatDistribution(0.0, 1.0)})  # its worker was SIGKILLed before writing its pid

    start = time.time()
    trial = claim_trial(study, tmp_path, 1)  # the orphan fills the budget of 1
    assert trial is not None, "the worker gave up with the orphan still RUNNING: the budget is never finished"
    assert time.time() - start >= 1.0  # it waited for the grace period: a live worker could still claim it
    assert study.trials[orphan.number].state.name == "FAIL"
    assert trial.user_attrs["retry_of"] == orphan.number  # re-run with the same parameters, not replaced
    assert trial.suggest_float("x", 0.0, 1.0) == orphan.params["x"]


def test_a_full_budget_of_claimed_trials_returns_at_once(tmp_path):
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}")
    study.tell(study.ask(), 1.0)
    start = time.time()
    assert claim_trial(study, tmp_path, 1) is None
    assert time.time() - start < 1.0


def test_a_grid_point_still_running_is_not_handed_to_a_second_worker(tmp_path, monkeypatch):
    """Optuna's grid sampler hands out a running point once every point has started: with two workers, the second
    trained a duplicate of the first's last point. It now waits for the running point, then finds the grid done."""
    import threading

    from recsearch.config import compose_config
    from recsearch.search.grid import AskTellGridSampler
    from recsearch.search.parse import parse_space

    monkeypatch.setattr("recsearch.search.worker.UNCLAIMED_POLL_S", 0.1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = parse_space({"params": {"model.width": "choice(8, 16)"}}, compose_config(["model=mlp"]))
    study = optuna.create_study(study_name="g", storage=f"sqlite:///{tmp_path / 'g.db'}",
                                sampler=AskTellGridSampler(space.grid(), seed=0))
    first = claim_trial(study, tmp_path, 4, space=space)  # claiming samples the trial's parameters
    study.tell(first, 1.0)
    running = claim_trial(study, tmp_path, 4, space=space)  # the other point, still training
    assert {first.params["model.width"], running.params["model.width"]} == {8, 16}
    threading.Timer(1.0, lambda: study.tell(running, 2.0)).start()  # it ends a second later
    start = time.time()
    assert claim_trial(study, tmp_path, 4, space=space) is None  # not the running point again
    assert time.time() - start >= 0.9  # it waited for the running point
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
