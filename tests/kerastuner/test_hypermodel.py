"""A user's KerasTuner hypermodel under the Optuna engine: hp calls as suggestions, conditional scopes, pruning."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from recsearch.models.hypermodel import from_config, optuna_hyperparameters

HYPERMODEL = textwrap.dedent('''
    import keras
    from keras import layers


    def declare(hp):
        """The hp calls alone (for tests that need no model)."""
        kind = hp.Choice("kind", ["dot", "tower"])
        with hp.conditional_scope("kind", ["tower"]):
            units = hp.Int("units", 4, 64, sampling="log")
            deep = hp.Boolean("deep")
            rate = hp.Float("dropout", 0.0, 0.5, step=0.1)
        return kind, units, deep, rate, hp.Fixed("seedless", 3), hp.Float("l2", 1e-6, 1e-2, sampling="log")


    def build_model(hp, num_users, num_items, global_mean=0.0):
        kind, units, deep, rate, _, l2 = declare(hp)
        user = keras.Input(shape=(), dtype="int32", name="user")
        item = keras.Input(shape=(), dtype="int32", name="item")
        reg = keras.regularizers.L2(l2)
        u = layers.Embedding(num_users, 8, embeddings_regularizer=reg)(user)
        i = layers.Embedding(num_items, 8, embeddings_regularizer=reg)(item)
        if kind == "tower":
            x = layers.Dense(units, activation="relu")(layers.Concatenate()([u, i]))
            x = layers.Dense(units, activation="relu")(layers.Dropout(rate)(x)) if deep else x
        else:
            x = layers.Dot(axes=1)([u, i])
        out = layers.Dense(1, bias_initializer=keras.initializers.Constant(global_mean), name="rating")(x)
        return keras.Model({"user": user, "item": item}, layers.Reshape(())(out))
''')


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the user's module, as a user would run recsearch from their project."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "tiny_hm.py").write_text(HYPERMODEL)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_hp_calls_become_optuna_suggestions_under_their_conditional_scope(user_dir) -> None:
    import tiny_hm

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kinds = set()
    for _ in range(30):
        trial = study.ask()
        hp = optuna_hyperparameters(trial)
        kind, units, deep, rate, fixed, l2 = tiny_hm.declare(hp)
        kinds.add(kind)
        tower = {"model.hp.units", "model.hp.deep", "model.hp.dropout"}
        assert tower <= set(trial.params) if kind == "tower" else not tower & set(trial.params)
        assert set(trial.params) - tower == {"model.hp.kind", "model.hp.l2"}  # Fixed is a value, not a parameter
        assert fixed == 3 and 1e-6 <= l2 <= 1e-2
        assert trial.distributions["model.hp.l2"].log
        if kind == "tower":
            assert 4 <= units <= 64 and isinstance(units, int) and trial.distributions["model.hp.units"].log
            assert isinstance(deep, bool) and round(rate * 10, 9) == int(round(rate * 10, 9))
        else:
            assert units is None and deep is None
        # the values replayed through KerasTuner's own container give the same answers
        import keras_tuner as kt

        replay = kt.HyperParameters()
        replay.values.update(hp.values)
        assert tiny_hm.declare(replay) == (kind, units, deep, rate, fixed, l2)
        study.tell(trial, 0.0)
    assert kinds == {"dot", "tower"}


def test_a_hypermodel_trial_is_pruned_by_optuna(tiny, user_dir) -> None:
    from recsearch.config import compose_config
    from recsearch.search.objective import TrialContext, run_trial
    from recsearch.search.parse import parse_space
    from recsearch.training.run import prepare_for

    overrides = [*tiny[:5], "model=hypermodel", "model.builder=tiny_hm:build_model", "train.epochs=3",
                 "search_space=hypermodel"]
    cfg = compose_config(overrides)
    ctx = TrialContext(overrides, parse_space(cfg.search_space, cfg), prepare_for(cfg), [])
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1),
                                pruner=optuna.pruners.ThresholdPruner(upper=0.0))  # prunes at the first report
    trial = study.ask()
    outcome = run_trial(trial, ctx)
    assert outcome.pruned and trial.user_attrs["pruned_at"] == 1 and trial.user_attrs["epochs_run"] == 1
    assert {"model.hp.kind", "model.hp.l2", "train.learning_rate"} <= set(trial.params)
    recorded = yaml_hp(trial.user_attrs["config"])
    assert {f"model.hp.{k}": v for k, v in recorded.items() if k != "seedless"} == pytest.approx(
        {k: v for k, v in trial.params.items() if k.startswith("model.hp.")})
    assert recorded["seedless"] == 3
    rebuilt = from_config(compose_config([*overrides, *[f"+model.hp.{k}={v}" for k, v in recorded.items()]]).model,
                          ctx.data)
    assert rebuilt.count_params() == trial.user_attrs["n_params"]


def yaml_hp(config_text: str) -> dict:
    from omegaconf import OmegaConf

    return dict(OmegaConf.create(config_text).model.hp)


def test_hypermodel_sweep_from_the_users_folder_and_its_best_config_retrains(tiny, user_dir, isolated_paths) -> None:
    from recsearch.cli import main
    from recsearch.reproduce import open_study

    assert main(["sweep", "--no-progress", *tiny[:5], "model=hypermodel", "model.builder=tiny_hm:build_model",
                 "train.epochs=2", "search.n_trials=2", "search.pruner=none", "search.study_name=hm"]) == 0
    folder = isolated_paths / "default" / "hm"
    best = open_study(str(folder)).study.best_trial
    assert any(k.startswith("model.hp.") for k in best.params)
    proc = subprocess.run([sys.executable, "-m", "recsearch", "train", "--config", str(folder / "best.yaml")],
                          cwd=user_dir, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = (isolated_paths / "default" / "runs").iterdir()
    import json

    assert json.loads((run / "metrics.json").read_text())["valid_rmse"] == pytest.approx(best.value, rel=1e-4)


def test_a_builder_that_cannot_be_imported_is_one_error_line(tiny, user_dir, capsys) -> None:
    from recsearch.cli import main

    assert main(["sweep", "--no-progress", *tiny[:5], "model=hypermodel", "model.builder=nope_hm:build_model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("recsearch: error: model.builder 'nope_hm:build_model': cannot import 'nope_hm'")
    assert "PYTHONPATH" in err and len(err.splitlines()) == 1


def test_an_hp_call_of_another_kind_than_the_studys_fails_with_one_line(user_dir) -> None:
    """hp.Int("units") become hp.Choice("units") in the user's module: Optuna cannot mix the two in one study."""
    from recsearch.errors import ConfigError

    study = optuna.create_study()
    trial = study.ask()
    optuna_hyperparameters(trial).Int("units", 4, 64, sampling="log")
    study.tell(trial, 0.5)
    with pytest.raises(ConfigError, match=r"^hypermodel parameter 'units' is now Choice, searched otherwise than in "
                                          r"this study's earlier trials.*choose another search.study_name$"):
        optuna_hyperparameters(study.ask()).Choice("units", [8, 16, 32])
    with pytest.raises(ConfigError, match=r"^hypermodel parameter 'units' is now Int, searched otherwise"):
        optuna_hyperparameters(study.ask()).Int("units", 4, 64)  # no longer log
    assert isinstance(optuna_hyperparameters(study.ask()).Int("units", 4, 32, sampling="log"), int)  # a range: fine
    trial = study.ask()
    optuna_hyperparameters(trial).Choice("act", ["relu", "tanh"])
    study.tell(trial, 0.4)
    with pytest.raises(ConfigError, match=r"^hypermodel parameter 'act' is now Choice, searched otherwise"):
        optuna_hyperparameters(study.ask()).Choice("act", ["relu", "gelu"])  # other choices


def test_a_hypermodel_class_or_instance_gets_the_data_arguments_its_init_or_build_names() -> None:
    """A subclass is built with what its __init__ names; its build(hp, ...) gets what it names; an instance, the
    latter only. A build without them is called with hp alone, as KerasTuner calls it."""
    from types import SimpleNamespace

    import keras_tuner as kt

    from recsearch.models.hypermodel import build_function

    class Sized(kt.HyperModel):
        def __init__(self, num_users=None):
            super().__init__()
            self.num_users = num_users

        def build(self, hp, num_items=None, global_mean=None):
            return (self.num_users, num_items, global_mean)

    class Plain(kt.HyperModel):
        def build(self, hp):
            return "plain"

    data = SimpleNamespace(num_users=7, num_items=11, global_mean=3.5)
    assert build_function(Sized, data)(kt.HyperParameters()) == (7, 11, 3.5)
    assert build_function(Sized(), data)(kt.HyperParameters()) == (None, 11, 3.5)
    assert build_function(Plain, data)(kt.HyperParameters()) == "plain"
