"""Every search-space expression and condition translated to KerasTuner hyperparameters and back to the config."""

from __future__ import annotations

import optuna
import pytest
from omegaconf import OmegaConf

from recsearch.config import compose_config
from recsearch.errors import SearchSpaceError
from recsearch.search.kt.space import from_kerastuner, searched, to_kerastuner
from recsearch.search.parse import parse_space
from recsearch.search.space import to_overrides

EVERY_FORM = {
    "model.depth": "range(1, 5)",                            # int range
    "model.width": "range(16, 80, 16)",                      # int range with a step
    "model.dropout": "range(0.0, 0.5, 0.1)",                 # float range -> stepped float
    "train.batch_size": "shuffle(range(128, 513, 128))",     # shuffled range -> choice
    "model.activation": "choice(relu, tanh, gelu)",          # string choice
    "train.deterministic": "choice(true, false)",            # bool choice
    "model.embedding_dim": "tag(log, int(interval(8, 64)))",  # log int
    "model.l2": "tag(log, interval(1e-7, 1e-2))",            # log float
    "model.embedding_l2": "interval(0.0, 0.001)",            # linear float
    "train.patience": "int(interval(1, 5))",                 # linear int
    "train.seed": "7",                                       # fixed value
    "train.optimizer": "choice(adam, sgd, rmsprop, adamw)",
    "train.learning_rate": "tag(log, interval(1e-4, 1e-1))",
    "train.momentum": "interval(0.0, 0.9)",
    "model.width_schedule": "choice(constant, halving)",
    "train.weight_decay": "tag(log, interval(1e-5, 1e-1))",
}
CONDITIONS = {
    "train.momentum": {"train.optimizer": ["sgd", "rmsprop"]},       # value list
    "model.width_schedule": {"model.depth": ">= 2", "model.width": "> 16"},  # two comparisons: nested scopes
    "train.weight_decay": {"train.optimizer": "adamw", "model.dropout": "<= 0.2"},  # one value, float-step parent
}


def _space():
    cfg = compose_config([])
    return cfg, parse_space(OmegaConf.create({"params": EVERY_FORM, "conditions": CONDITIONS}), cfg)


def _kerastuner_samples(space, n: int) -> list[dict]:
    import keras_tuner as kt

    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_rmse", "min"), max_trials=n,
                                           hyperparameters=to_kerastuner(space), seed=3)
    return [oracle.populate_space(str(i))["values"] for i in range(n)]


def _check_active(space, values: dict) -> None:
    """Exactly the parameters whose conditions hold are present."""
    for p in space.params:
        cond = space.conditions.get(p.key)
        assert (p.key in values) == (cond is None or cond.holds(values)), (p.key, values)


def test_kerastuner_samples_map_back_to_the_same_config() -> None:
    cfg, space = _space()
    samples = _kerastuner_samples(space, 60)
    seen: dict[str, set] = {}
    for i, raw in enumerate(samples):
        values = from_kerastuner(space, raw)
        assert set(values) == set(raw)  # KerasTuner samples only active parameters, as the space does
        _check_active(space, values)
        params = searched(space, values)
        # every value lies in the Optuna distribution the Optuna engine records (create_trial validates)
        optuna.trial.create_trial(params=params, value=0.0,
                                  distributions={p.key: p.distribution() for p in space.params if p.key in params})
        if i < 8:  # composing is slow: the config of a few samples holds exactly the translated values
            trial_cfg = compose_config(to_overrides(values))
            for key, value in values.items():
                assert OmegaConf.select(trial_cfg, key) == value, key
        for key, value in values.items():
            seen.setdefault(key, set()).add(value)
    assert set(seen) == set(EVERY_FORM)  # every parameter, conditional ones included, was active somewhere
    assert seen["model.activation"] == {"relu", "tanh", "gelu"} and seen["train.deterministic"] == {True, False}
    assert seen["train.batch_size"] <= {128, 256, 384, 512} and seen["model.width"] <= {16, 32, 48, 64}
    assert seen["model.dropout"] <= {0.0, 0.1, 0.2, 0.3, 0.4} and seen["train.seed"] == {7}
    assert all(isinstance(v, int) for v in seen["model.embedding_dim"] | seen["train.patience"])
    assert all(1e-7 <= v <= 1e-2 for v in seen["model.l2"])


def test_optuna_samples_are_active_in_kerastuner_exactly_when_active_in_the_space() -> None:
    _, space = _space()
    declared = to_kerastuner(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        values = space.sample(study.ask())
        hp = declared.copy()
        hp.values = dict(values)
        assert {p.name for p in hp.space if hp.is_active(p)} == set(values)
        back = from_kerastuner(space, hp.values)
        assert back.keys() == values.keys()
        assert all(back[k] == (pytest.approx(v) if isinstance(v, float) else v) for k, v in values.items())


def test_log_and_types_carry_over() -> None:
    _, space = _space()
    hps = {p.name: p for p in to_kerastuner(space).space}
    assert hps["model.l2"].sampling == "log" and hps["model.embedding_dim"].sampling == "log"
    assert type(hps["model.depth"]).__name__ == "Int" and (hps["model.depth"].min_value, hps["model.depth"].max_value) == (1, 4)
    assert hps["model.width"].step == 16 and hps["model.dropout"].step == pytest.approx(0.1)
    assert type(hps["train.seed"]).__name__ == "Fixed"
    assert [c.name for c in hps["model.width_schedule"].conditions] == ["model.depth", "model.width"]
    assert list(hps["model.width_schedule"].conditions[0].values) == [2, 3, 4]


def test_a_condition_on_a_continuous_parameter_is_refused() -> None:
    cfg = compose_config([])
    space = parse_space(OmegaConf.create({"params": {"model.dropout": "interval(0.0, 0.5)", "model.l2": "interval(0.0, 0.1)"},
                                          "conditions": {"model.l2": {"model.dropout": "> 0.2"}}}), cfg)
    with pytest.raises(SearchSpaceError, match="model.dropout' is continuous.*search.engine=optuna"):
        to_kerastuner(space)


def test_search_seeds_give_kerastuner_disjoint_draws(tmp_path) -> None:
    """Neighbouring search.seed values must not replay each other's KerasTuner draws (its per-value counter
    starts at the oracle seed), so a race's seeds are really independent runs."""
    import contextlib
    import io

    from recsearch.search.kt.engine import make_oracle

    drawn = []
    for seed in (0, 1, 2):
        cfg = compose_config(["search.engine=kerastuner", "search.tuner=random", f"search.seed={seed}"])
        oracle = make_oracle(cfg, to_kerastuner(parse_space(cfg.search_space, cfg)))
        oracle._set_project_dir(str(tmp_path / f"seed{seed}"), "p")
        with contextlib.redirect_stdout(io.StringIO()):
            values = [oracle.create_trial(f"t{k}").hyperparameters.values for k in range(6)]
        drawn.append({round(v["train.learning_rate"], 9) for v in values})
    assert all(len(d) == 6 for d in drawn)
    assert not (drawn[0] & drawn[1]) and not (drawn[0] & drawn[2]) and not (drawn[1] & drawn[2])
