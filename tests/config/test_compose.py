"""Config composition: defaults, the override grammar, typed validation naming the key."""

from __future__ import annotations

import pytest

from recsearch.config import compose_config, group_options, load_config_file
from recsearch.errors import ConfigError


def test_defaults_compose_and_validate() -> None:
    cfg = compose_config([])
    assert cfg.model.name == "mlp"
    assert cfg.data.name == "ml-latest-small"
    assert cfg.split.method == "random" and list(cfg.split.ratios) == [0.8, 0.1, 0.1] and cfg.split.seed == 42
    assert cfg.train.optimizer in ("adam", "sgd", "rmsprop", "adamw")
    assert "model.depth" in cfg.search_space.params


def test_override_grammar_set_add_remove_and_group_choice() -> None:
    cfg = compose_config(["train.epochs=7", "model.activation=tanh", "split=per_user", "~model.embedding_l2"])
    assert cfg.train.epochs == 7 and cfg.model.activation == "tanh" and cfg.split.method == "per_user"
    from recsearch.models.schemas import MlpConfig

    assert cfg.model.embedding_l2 == MlpConfig.embedding_l2  # a removed key falls back to the schema default


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model.depth=abc"], "model.depth"),
        (["+model.depht=3"], "model.depht"),
        (["+foo=1"], "'foo'"),
        (["train.optimizer=adagrad"], "adam, sgd, rmsprop, adamw"),
        (["train.learning_rate=-1"], "train.learning_rate"),
        (["model=nope"], "Available options in 'model'"),
        (["data=nope"], "Available options in 'data'"),
        (["model.depth=(1"], "model.depth"),
        (["search.sampler=bayes"], "search.sampler"),
    ],
)
def test_bad_config_names_the_key(overrides: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        compose_config(overrides)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_group_options_lists_files() -> None:
    assert "mlp" in group_options("model")
    assert "ml_latest_small" in group_options("data")


def test_load_config_file_round_trip(tmp_path) -> None:
    from omegaconf import OmegaConf

    cfg = compose_config(["model.depth=2"])
    path = tmp_path / "c.yaml"
    path.write_text(OmegaConf.to_yaml(cfg))
    again = load_config_file(path, ["train.epochs=3"])
    assert again.model.depth == 2 and again.train.epochs == 3
    with pytest.raises(ConfigError, match="model.depth"):
        load_config_file(path, ["model.depth=deep"])
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
