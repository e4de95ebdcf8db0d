"""Config composition: defaults, the override grammar, typed validation naming the key."""

from __future__ import annotations

from pathlib import Path

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
    cfg = compose_config(["train.epochs=7", "model.activation=tanh", "split=per_user",
                          "~search_space.conditions"])
    assert cfg.train.epochs == 7 and cfg.model.activation == "tanh" and cfg.split.method == "per_user"
    assert "conditions" not in cfg.search_space and "model.depth" in cfg.search_space.params  # really removed


def test_a_schema_key_the_chosen_option_leaves_out_is_set_plainly() -> None:
    """ml_latest_small.yaml has no `path`, `sep` or `columns`, which the schema gives every data option: Hydra's
    "Could not override" (use `+key=`) would stop `data.path=...`, the way a user points MovieLens elsewhere."""
    cfg = compose_config(["data.path=/srv/ml", "data.columns.user=uid", "data.sep=';'", "train.epochs=2"])
    assert (cfg.data.path, cfg.data.columns.user, cfg.data.columns.item, cfg.data.sep) == ("/srv/ml", "uid",
                                                                                           "movieId", ";")
    with pytest.raises(ConfigError, match="'data.pth' is not a config key; did you mean data.path"):
        compose_config(["data.pth=/srv/ml"])
    columns = compose_config(["data.columns={user: uid, item: iid}"]).data.columns  # a section, schema-filled
    assert (columns.user, columns.item, columns.rating) == ("uid", "iid", "rating")


@pytest.mark.parametrize("before", [[], ["train.patience=1", "model.embedding_l2=0.1"]])
@pytest.mark.parametrize("key", ["train.patience", "model.embedding_l2", "task"])
def test_removing_a_schema_key_is_refused_not_silently_restored(key: str, before: list[str]) -> None:
    """Also when the key was set before the removal (`train.patience=1 ~train.patience` restored 3)."""
    with pytest.raises(ConfigError) as err:
        compose_config([*before, f"~{key}"])
    assert f"'~{key}'" in str(err.value) and "restore its default" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["model.depth=abc"], "model.depth"),
        (["+model.depht=3"], "model.depht"),
        (["+foo=1"], "'foo'"),
        (["train.optimizer=adagrad"], "adam, sgd, rmsprop, adamw"),
        (["train.learning_rate=-1"], "train.learning_rate"),
        (["model=nope"], "model=nope: no such model (the model options: autorec, deepfm, gmf, "),
        (["data=nope"], "(the data options: custom, ml_100k"),
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


def _user_folder(root, monkeypatch: pytest.MonkeyPatch):
    """A user's working folder with its own model option, an override of a packaged one and an experiment."""
    monkeypatch.delenv("RECSEARCH_EXPERIMENTS_DIR", raising=False)
    monkeypatch.delenv("RECSEARCH_CONF_DIR", raising=False)
    (root / "conf" / "model").mkdir(parents=True)
    (root / "conf" / "model" / "narrow_mlp.yaml").write_text("name: mlp\ndepth: 1\nwidth: 8\n")
    (root / "conf" / "model" / "mf.yaml").write_text("name: mf\nembedding_dim: 3\n")
    (root / "experiments").mkdir()
    (root / "experiments" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: narrow_mlp\ntrain:\n  epochs: 2\n")
    monkeypatch.chdir(root)


def test_working_directory_configs_come_before_the_packaged_ones(tmp_path, monkeypatch) -> None:
    _user_folder(tmp_path, monkeypatch)
    assert {"narrow_mlp", "mlp", "mf"} <= set(group_options("model"))
    assert {"mine", "compare_variants"} <= set(group_options("experiment"))
    assert compose_config(["model=narrow_mlp"]).model.width == 8
    assert compose_config(["model=mf"]).model.embedding_dim == 3  # the user's mf.yaml replaces the packaged one
    cfg = compose_config(["+experiment=mine"])
    assert cfg.model.width == 8 and cfg.train.epochs == 2 and cfg.experiment == "mine"
    assert compose_config(["+experiment=compare_variants"]).compare.variants  # packaged experiments still found


def test_environment_folders_are_searched(tmp_path, monkeypatch) -> None:
    from recsearch.config import experiments_dir

    _user_folder(tmp_path / "user", monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "model").mkdir(parents=True)
    (elsewhere / "model" / "wide_mlp.yaml").write_text("name: mlp\nwidth: 512\n")
    (tmp_path / "exps").mkdir()
    (tmp_path / "exps" / "other.yaml").write_text("# @package _global_\ntrain:\n  epochs: 4\n")
    monkeypatch.setenv("RECSEARCH_CONF_DIR", str(elsewhere))
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(tmp_path / "exps"))
    assert compose_config(["model=wide_mlp"]).model.width == 512
    assert compose_config(["model=narrow_mlp"]).model.width == 8  # ./conf still searched
    assert compose_config(["+experiment=other"]).train.epochs == 4
    assert experiments_dir() == (tmp_path / "exps").resolve()
    with pytest.raises(ConfigError, match="mine"):
        compose_config(["+experiment=mine"])  # ./experiments is replaced by $RECSEARCH_EXPERIMENTS_DIR


def test_a_comma_list_outside_multirun_says_how_to_run_it() -> None:
    with pytest.raises(ConfigError, match="recsearch train -m"):
        compose_config(["model=mlp,mf"])


def test_sweeping_a_users_model_option_without_a_search_space_says_what_to_give(tmp_path, monkeypatch, capsys) -> None:
    """`model=narrow_mlp` (the user's option) has no conf/search_space/narrow_mlp.yaml: one line naming it and
    the ways out; borrowing the mlp space then composes."""
    from recsearch.cli import main
    from recsearch.search.parse import parse_space

    _user_folder(tmp_path, monkeypatch)
    assert main(["sweep", "model=narrow_mlp", "search.n_trials=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("recsearch: error: search_space.params: nothing to search; a model option has its "
                          "search space in conf/search_space/<option>.yaml"), err
    assert "search_space=mlp" in err and len(err.splitlines()) == 1
    cfg = compose_config(["model=narrow_mlp", "search_space=mlp"])
    assert "model.depth" in parse_space(cfg.search_space, cfg).keys()


def test_a_users_file_that_is_not_valid_yaml_is_one_line_naming_it(tmp_path, monkeypatch, capsys) -> None:
    """A search space, model option or experiment of the user's with a YAML syntax error: the file, its line and
    PyYAML's reason in one line, from compose and from the CLI (not the parser's traceback)."""
    from recsearch.cli import main

    _user_folder(tmp_path, monkeypatch)
    (tmp_path / "conf" / "search_space").mkdir()
    bad = tmp_path / "conf" / "search_space" / "mine.yaml"
    bad.write_text("params:\n  model.depth: range(1, 3)\n  model.width: [16, 32\n")
    (tmp_path / "experiments" / "broken.yaml").write_text("# @package _global_\ntrain: {epochs: 2\n")
    with pytest.raises(ConfigError) as err:
        compose_config(["search_space=mine"])
    assert str(err.value).startswith(f"{bad.resolve()} line 4: not valid YAML: expected ',' or ']'"), err.value
    assert main(["config", "show", "+experiment=broken"]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith("recsearch: error: ") and "broken.yaml line 3: not valid YAML" in said, said
    assert len(said.splitlines()) == 1


def test_a_search_space_of_no_option_is_named_with_the_options() -> None:
    """`search_space=mpl`: the group is optional, so Hydra alone would compose an empty space ("nothing to
    search"); the misspelt option is named, with the near one."""
    with pytest.raises(ConfigError, match=r"^search_space=mpl: no such search space; did you mean search_space=mlp\? "
                                          r"\(the search_space options: autorec, .*mlp"):
        compose_config(["search_space=mpl"])
    with pytest.raises(ConfigError, match=r"^search_space=MLP: no such search space; did you mean search_space=mlp\? "):
        compose_config(["search_space=MLP"])
    with pytest.raises(ConfigError, match=r"^model=MLP: no such model; did you mean model=mlp\? "):
        compose_config(["model=MLP"])
    assert compose_config(["search_space=mf"]).search_space.params


def test_an_experiments_relative_data_path_is_found_from_any_folder(tmp_path: Path, monkeypatch) -> None:
    """`export-best` writes a project's data file relative to the project (`../data/a.csv`); run from another
    folder (RECSEARCH_EXPERIMENTS_DIR), the experiment read it from there and found nothing."""
    project, elsewhere = tmp_path / "project", tmp_path / "w2" / "sub"
    (project / "experiments").mkdir(parents=True)
    elsewhere.mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n")
    (project / "experiments" / "best.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: custom\n  - _self_\ndata:\n  path: ../data/a.csv\n")
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(project / "experiments"))
    monkeypatch.chdir(elsewhere)
    assert compose_config(["+experiment=best"]).data.path == str(tmp_path / "data" / "a.csv")
    assert compose_config(["+experiment=best", "data=custom"]).data.path == str(tmp_path / "data" / "a.csv")
    (tmp_path / "w2" / "data").mkdir()
    (tmp_path / "w2" / "data" / "a.csv").write_text("userId,movieId,rating,timestamp\n1,1,4,1\n")
    assert compose_config(["+experiment=best"]).data.path == str(tmp_path / "w2" / "data" / "a.csv")  # here first
    given = compose_config(["+experiment=best", "data.path=../nothing.csv"]).data.path  # what the user gives: kept
    assert given == str(tmp_path / "w2" / "nothing.csv")


def test_an_experiment_file_without_its_package_line_says_so(tmp_path: Path, monkeypatch) -> None:
    """Hydra said "Could not override 'model@experiment.model'. Did you mean to override model?", or that it
    cannot convert a DictConfig to a string: neither names the missing `# @package _global_` line."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "a.yaml").write_text("defaults:\n  - override /model: mf\ntrain:\n  epochs: 2\n")
    (tmp_path / "experiments" / "b.yaml").write_text("train:\n  epochs: 2\n")
    for name in ("a", "b"):
        with pytest.raises(ConfigError, match=rf"^{tmp_path / 'experiments' / name}.yaml: an experiment file must "
                                              r"start with the line `# @package _global_`"):
            compose_config([f"+experiment={name}"])
    (tmp_path / "experiments" / "b.yaml").write_text("# @package _global_\ntrain:\n  epochs: 2\n")
    assert compose_config(["+experiment=b"]).train.epochs == 2
