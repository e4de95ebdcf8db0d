"""The search-space grammar: every expression form, conditionals, and each validation error."""

from __future__ import annotations

import optuna
import pytest

from recsearch.config import compose_config
from recsearch.errors import SearchSpaceError
from recsearch.search.parse import parse_space
from recsearch.search.space import to_overrides


@pytest.fixture(scope="module")
def cfg():
    return compose_config([])


def _one(cfg, key: str, expr: str):
    return parse_space({"params": {key: expr}}, cfg).params[0]


def test_every_expression_form(cfg) -> None:
    p = _one(cfg, "model.width", "choice(32, 64)")
    assert (p.kind, p.choices) == ("categorical", (32, 64))
    p = _one(cfg, "model.depth", "range(1, 5)")
    assert (p.kind, p.low, p.high, p.step) == ("int", 1, 4, 1)  # stop excluded, as in Hydra
    p = _one(cfg, "model.width", "range(16, 129, 16)")
    assert (p.low, p.high, p.step) == (16, 128, 16)
    p = _one(cfg, "model.dropout", "range(0.0, 0.5, 0.1)")
    assert p.kind == "float" and p.step == pytest.approx(0.1) and p.high == pytest.approx(0.4)
    p = _one(cfg, "model.dropout", "interval(0.0, 0.5)")
    assert (p.kind, p.low, p.high, p.log) == ("float", 0.0, 0.5, False)
    p = _one(cfg, "model.embedding_dim", "int(interval(8, 128))")
    assert (p.kind, p.low, p.high) == ("int", 8, 128)
    p = _one(cfg, "train.learning_rate", "tag(log, interval(1e-4, 1e-1))")
    assert p.kind == "float" and p.log
    p = _one(cfg, "model.embedding_dim", "tag(log, int(interval(8, 128)))")
    assert p.kind == "int" and p.log
    p = _one(cfg, "model.activation", "tanh")
    assert (p.kind, p.choices) == ("fixed", ("tanh",))
    p = _one(cfg, "model.depth", "shuffle(range(1, 4))")
    assert p.kind == "categorical" and sorted(p.choices) == [1, 2, 3]


def test_distributions_sample_in_bounds(cfg) -> None:
    space = parse_space(cfg.search_space, cfg)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        values = space.sample(trial)
        assert 1 <= values["model.depth"] <= 4
        assert 8 <= values["model.embedding_dim"] <= 128
        assert 1e-4 <= values["train.learning_rate"] <= 1e-1
        study.tell(trial, 1.0)
        compose_config(to_overrides(values))  # every sample is a valid config


def _random_samples(space, n: int) -> list[tuple]:  # noqa: ANN001
    """n (trial, sampled values) pairs of `space` from a seeded random sampler, each trial told."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    samples = []
    for _ in range(n):
        trial = study.ask()
        samples.append((trial, space.sample(trial)))
        study.tell(trial, 1.0)
    return samples


def test_conditionals_sample_only_active_params(cfg) -> None:
    seen = set()
    for trial, values in _random_samples(parse_space(cfg.search_space, cfg), 60):
        opt = values["train.optimizer"]
        assert ("train.momentum" in values) == (opt in ("sgd", "rmsprop"))
        assert ("train.weight_decay" in values) == (opt == "adamw")
        assert ("model.width_schedule" in values) == (values["model.depth"] >= 2)
        assert set(trial.params) == set(values)  # inactive parameters were never suggested
        seen.add(opt)
    assert seen == {"adam", "sgd", "rmsprop", "adamw"}


def test_two_tower_samples_tower_settings_only_with_a_tower() -> None:
    """At depth 0 a tower has no hidden Dense layer: its width, activation and dropout would change nothing."""
    tt = compose_config(["model=two_tower"])
    depths = set()
    for _, values in _random_samples(parse_space(tt.search_space, tt), 30):
        depths.add(values["model.depth"])
        for key in ("model.width", "model.activation", "model.dropout"):
            assert (key in values) == (values["model.depth"] >= 1)
    assert 0 in depths and len(depths) > 1


def test_condition_dependencies_are_sampled_first(cfg) -> None:
    space = parse_space({"params": {"train.momentum": "interval(0, 0.9)", "train.optimizer": "choice(sgd, adam)"},
                         "conditions": {"train.momentum": {"train.optimizer": "sgd"}}}, cfg)
    assert space.keys() == ["train.optimizer", "train.momentum"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"params": {"model.depht": "range(1, 3)"}}, "search_space.params.model.depht: 'model.depht' is not a key"),
        ({"params": {"model.depth": "range(4, 1)"}}, "range(4, 1) is empty: it counts up from 4 and stops before 1 "
                                                     "(the stop is excluded: range(1, 4) is 1, 2, 3); did you mean "
                                                     "range(1, 4)?"),
        ({"params": {"model.depth": "range(1, 4, -1)"}}, "counts down from 1 and stops before 4 (the stop is "
                                                         "excluded: range(1, 4) is 1, 2, 3); did you mean "
                                                         "range(4, 1, -1)?"),
        ({"params": {"model.depth": "range(1, 4, 0)"}}, "range(1, 4, 0) has step 0, which never moves"),
        ({"params": {"model.depth": "range(3, 3)"}}, "range(3, 3) is empty: it counts up from 3 and stops before 3 "
                                                     "(the stop is excluded: range(1, 4) is 1, 2, 3)"),
        ({"params": {"model.dropout": "interval(0.5, 0.1)"}}, "inverted"),
        ({"params": {"model.l2": "tag(log, interval(0, 0.1))"}}, "log range must be > 0"),
        ({"params": {"model.depth": "range(1, 3"}}, "malformed expression"),
        ({"params": {"model.depth": "tag(fancy, interval(1, 3))"}}, "unknown tag"),
        ({"params": {"model.depth": "interval(0.5, 3.5)"}}, "does not fit the config"),
        ({"params": {"train.optimizer": "choice(adam, lbfgs)"}}, "search_space.params.train.optimizer"),
        ({"params": {}}, "search_space.params"),
        ({"params": {"model.depth": "range(1, 3)"}, "conditions": {"model.width": {"model.depth": 2}}},
         "not a searched parameter"),
        ({"params": {"model.depth": "range(1, 3)", "model.width": "choice(8, 16)"},
          "conditions": {"model.width": {"train.optimizer": "sgd"}}}, "condition on 'train.optimizer'"),
        ({"params": {"model.depth": "range(1, 3)", "model.width": "choice(8, 16)"},
          "conditions": {"model.width": {"model.depth": 2}, "model.depth": {"model.width": 8}}}, "circular"),
        ({"params": {"model.depth": "range(1, 3)"}, "extra": 1}, "unknown section"),
        ({"params": {"train.optimizer": "choice(adam, sgd)", "train.momentum": "interval(0, 0.9)"},
          "conditions": {"train.momentum": {"train.optimizer": ["sdg"]}}},  # would never hold: momentum never searched
         "search_space.conditions.train.momentum.train.optimizer: value 'sdg' does not fit the config"),
        ({"params": {"model.depth": "range(1, 3)", "model.width": "choice(8, 16)"},
          "conditions": {"model.width": {"model.depth": ["two"]}}}, "value 'two' does not fit the config"),
    ],
)
def test_validation_errors_name_key_and_problem(cfg, space: dict, message: str) -> None:
    with pytest.raises(SearchSpaceError) as err:
        parse_space(space, cfg)
    assert message in str(err.value)


def test_grid_needs_discrete_values(cfg) -> None:
    space = parse_space({"params": {"model.depth": "range(1, 3)", "model.width": "choice(8, 16)"}}, cfg)
    assert space.grid() == {"model.depth": [1, 2], "model.width": [8, 16]}
    with pytest.raises(SearchSpaceError, match="grid sampler needs discrete"):
        parse_space({"params": {"model.dropout": "interval(0, 0.5)"}}, cfg).grid()


def test_size_counts_configurations_of_active_parameters(cfg) -> None:
    """Conditions counted: sgd brings 3 momenta, adam none -> 2 * (3 + 1) configurations, not 2 * 2 * 3."""
    space = parse_space({"params": {"model.width": "choice(8, 16)", "train.optimizer": "choice(sgd, adam)",
                                    "train.momentum": "choice(0.0, 0.5, 0.9)"},
                         "conditions": {"train.momentum": {"train.optimizer": "sgd"}}}, cfg)
    assert space.size() == 8
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    sampled = {tuple(sorted(space.sample(study.ask()).items())) for _ in range(300)}
    assert len(sampled) == 8  # what sampling reaches, counted the same way
    assert parse_space({"params": {"model.depth": "range(1, 5)", "model.width": "choice(8, 16)"}}, cfg).size() == 8
    assert parse_space(cfg.search_space, cfg).size() == float("inf")  # continuous parameters
    wide = {f"model.{key}": "range(1, 30)" for key in ("depth", "width", "embedding_dim")}
    assert parse_space({"params": {**wide, "model.dropout": "choice(0.1, 0.2)"},
                        "conditions": {"model.dropout": {"model.depth": 2}}}, cfg).size() == float("inf")  # too many


def test_to_overrides_quotes_strings_when_needed() -> None:
    assert to_overrides({"model.activation": "relu", "train.learning_rate": 0.001, "model.depth": 2}) == [
        "model.activation=relu", "train.learning_rate=0.001", "model.depth=2"]


def test_keys_of_a_searched_group_are_active_only_with_the_options_that_have_them(cfg) -> None:
    """`model: choice(mlp, mf)` over mlp's keys: `model.depth` (mlp only) is sampled only with mlp, and mf's own
    `model.bias_l2`, absent from the base config (mlp), is checked against mf's; `embedding_dim` (both) always."""
    space = parse_space({"params": {"model": "choice(mlp, mf)", "model.depth": "range(1, 3)",
                                    "model.bias_l2": "tag(log, interval(1e-6, 1e-2))",
                                    "model.embedding_dim": "choice(8, 16)"}}, cfg)
    assert space.conditions["model.depth"].tests == (("model", "in", ("mlp",)),)
    assert space.conditions["model.bias_l2"].tests == (("model", "in", ("mf",)),)
    assert "model.embedding_dim" not in space.conditions
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = space.sample(study.ask())
        assert ("model.depth" in values) == (values["model"] == "mlp") and "model.embedding_dim" in values
        compose_config(to_overrides(values))  # every sample composes: no key of the other family
    with pytest.raises(SearchSpaceError, match="bias_l2"):
        parse_space({"params": {"model": "choice(mlp, mf)", "model.bias_l2": "interval(-1.0, 1.0)"}}, cfg)


def test_a_condition_on_a_value_the_narrowed_space_leaves_out_is_kept(cfg) -> None:
    """A value the config takes but the (narrowed) space does not: a space file's condition while the command
    line fixes the optimizer. Not a typo: accepted, and its parameter is simply never active."""
    space = parse_space({"params": {"train.optimizer": "adam", "train.momentum": "interval(0, 0.9)"},
                         "conditions": {"train.momentum": {"train.optimizer": ["sgd", "rmsprop"]}}}, cfg)
    assert space.conditions["train.momentum"].tests == (("train.optimizer", "in", ("sgd", "rmsprop")),)


def test_an_experiments_own_space_merged_into_the_models_is_noted_and_the_override_to_replace_it_works(
        tmp_path, monkeypatch) -> None:
    """An experiment listing two parameters was searched over the packaged mlp space's eleven, without a word."""
    from recsearch.config.compose import compose_with_choices
    from recsearch.search.parse import merged_space_note

    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    own = "search_space:\n  params:\n    model.depth: range(1, 3)\n"
    (tmp_path / "experiments" / "merge.yaml").write_text("# @package _global_\n" + own)
    (tmp_path / "experiments" / "alone.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /search_space: null\n" + own)
    merged, choices = compose_with_choices(["+experiment=merge"])
    note = merged_space_note(merged, choices)
    assert note.startswith("recsearch: note: experiment merge's search_space is merged into search_space=mlp, so "
                           "model.width, "), note
    assert "model.depth" not in note and note.endswith("add `- override /search_space: null` to its defaults")
    alone, choices = compose_with_choices(["+experiment=alone"])
    assert list(alone.search_space.params) == ["model.depth"] and merged_space_note(alone, choices) is None
    assert merged_space_note(*compose_with_choices(["model=mf"])) is None  # no experiment: nothing to say


@pytest.mark.parametrize("condition, never", [
    ("{train.momentum: {train.optimizer: [rmsprop]}}", [("train.momentum", "train.optimizer")]),
    ("{train.momentum: {model.depth: '>= 5'}}", [("train.momentum", "model.depth")]),
    ("{train.momentum: {model.dropout: '> 0.6'}}", [("train.momentum", "model.dropout")]),
    ("{train.momentum: {train.optimizer: [sgd], model.depth: '<= 2'}}", []),
    ("{train.momentum: {model.dropout: '== 0.25'}}", []),
    ("{train.momentum: {model.depth: [3]}}", [("train.momentum", "model.depth")]),  # range(1, 3): 1 and 2
    ("{train.momentum: {model.depth: '== 1.5'}}", [("train.momentum", "model.depth")]),
    ("{train.momentum: {model.depth: [2]}}", []),
])
def test_a_condition_no_value_of_the_space_passes_is_noted(cfg, condition, never) -> None:
    """{train.optimizer: [rmsprop]} with choice(adam, sgd), or depth >= 5 with range(1, 3): accepted without a
    word, and momentum was never sampled."""
    from omegaconf import OmegaConf

    from recsearch.search.parse import space_notes

    space = parse_space(OmegaConf.create(
        f"{{params: {{train.optimizer: 'choice(adam, sgd)', model.depth: 'range(1, 3)', "
        f"model.dropout: 'interval(0.0, 0.5)', train.momentum: 'interval(0.0, 0.9)'}}, conditions: {condition}}}"),
        cfg)
    assert space.never_active() == never
    notes = space_notes(cfg, {}, space)
    assert notes == [f"recsearch: note: {key} is never searched: its condition on {other} holds for no value this "
                     f"space gives {other}" for key, other in never]


def test_a_misspelt_key_in_a_space_gets_the_close_key_and_an_interval_on_a_whole_number_key_says_how(cfg) -> None:
    with pytest.raises(SearchSpaceError, match=r"^search_space.params.model.widht: 'model.widht' is not a key of the "
                                               r"composed config; did you mean model.width\? "):
        parse_space({"params": {"model.widht": "choice(8, 16)"}}, cfg)
    with pytest.raises(SearchSpaceError, match=r"is not a key of the composed config \(see"):
        parse_space({"params": {"zzz.qqq": "choice(8, 16)"}}, cfg)
    with pytest.raises(SearchSpaceError, match=r"could not be converted to Integer \(a whole-number key: search it "
                                               r"with range\(a, b\) or int\(interval\(a, b\)\)\)$"):
        parse_space({"params": {"model.depth": "interval(1, 4)"}}, cfg)
