"""The pruning callback reports every epoch and stops a trial the pruner prunes."""

from __future__ import annotations


import optuna
import pytest

from recsearch.config import compose_config
from recsearch.search.pruning import OptunaPruning
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train


@pytest.fixture(scope="module")
def setup(tiny_session):
    cfg = compose_config([*tiny_session, "train.epochs=4", "train.patience=10", "train.stall_epochs=0"])
    return cfg, prepare_for(cfg)


def test_reports_each_epoch_when_not_pruned(setup) -> None:
    cfg, data = setup
    study = optuna.create_study(pruner=optuna.pruners.NopPruner())
    trial = study.ask()
    cb = OptunaPruning(trial, "val_rmse")
    result = train(cfg, data, callbacks=[cb])
    assert not cb.pruned and len(cb.curve) == result.epochs_run == 4
    frozen = study.trials[0]
    assert sorted(frozen.intermediate_values) == [1, 2, 3, 4]
    assert frozen.intermediate_values[2] == pytest.approx(cb.curve[1])


def test_stops_training_when_pruned(setup) -> None:
    cfg, data = setup
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # prunes at the first report
    trial = study.ask()
    cb = OptunaPruning(trial, "val_rmse")
    result = train(cfg, data, callbacks=[cb])
    assert cb.pruned and cb.pruned_at == 1 and result.epochs_run == 1


def test_a_trial_that_ran_its_last_epoch_is_not_pruned(setup) -> None:
    """A pruner that would prune from epoch 4 on (say, median pruning with 3 warm-up steps): at the last
    epoch, pruning saves nothing, so the trial completes (it was marked PRUNED after all its epochs)."""
    cfg, data = setup

    class FromStep4(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:  # noqa: ANN001
            return trial.last_step >= 4

    study = optuna.create_study(pruner=FromStep4())
    cb = OptunaPruning(study.ask(), "val_rmse")
    result = train(cfg, data, callbacks=[cb])
    assert not cb.pruned and result.epochs_run == 4 and len(cb.curve) == 4
    five = cfg.copy()
    five.train.epochs = 5
    cb = OptunaPruning(study.ask(), "val_rmse")
    assert train(five, data, callbacks=[cb]).epochs_run == 4 and cb.pruned_at == 4  # one epoch saved: pruned


def test_without_keras_params_every_epoch_is_asked() -> None:
    """Called outside fit (no `params`, so no epoch count), the callback asks the pruner after every epoch."""
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=0.0))
    cb = OptunaPruning(study.ask(), "val_rmse")
    cb.set_model(type("M", (), {"stop_training": False})())
    cb.on_epoch_end(0, {"val_rmse": 1.0})
    assert cb.pruned and cb.pruned_at == 1


def test_missing_metric_is_a_clear_error(setup) -> None:
    cfg, data = setup
    trial = optuna.create_study().ask()
    with pytest.raises(KeyError, match="val_ndcg"):
        train(cfg, data, callbacks=[OptunaPruning(trial, "val_ndcg")])
