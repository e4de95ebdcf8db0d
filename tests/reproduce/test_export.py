"""export-best: the exported experiment composes to the trial's exact config and trains to its exact score."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from recsearch.cli import main
from recsearch.config import compose_config, experiments_dir, group_options
from recsearch.reproduce import export_trial, open_study, pick_trial, provenance_of
from recsearch.reproduce.export import default_name
from recsearch.search.objective import config_hash
from recsearch.runs import run_training

# An absolute POSIX path: a slash that starts a token (not a Hydra `override /group`), then a component.
ABSOLUTE = re.compile(r"(?<![\w.:/-])(?<!override )/[\w.-]+")


def test_export_trains_to_the_trials_exact_score(tiny_study, experiments: Path) -> None:
    study = open_study(str(tiny_study.folder)).study
    best = pick_trial(study)
    assert main(["export-best", str(tiny_study.folder)]) == 0
    path = experiments / "tiny-best.yaml"
    assert path.read_text().startswith("# @package _global_\n")
    assert "override /data: synthetic" in path.read_text()  # the default is ml_latest_small: the group switches
    task = OmegaConf.load(path).task  # a rating trial's experiment holds no ranking-only keys
    assert "clip_predictions" in task and not {"num_candidates", "negatives", "loss"} & set(task)
    cfg = compose_config(["+experiment=tiny-best"])
    assert config_hash(cfg) == best.user_attrs["config_hash"]
    record = run_training(cfg, save_model=False)
    assert record.summary["valid_rmse"] == best.values[0]  # bit-identical on CPU with the same seed
    assert record.summary["test_rmse"] == best.user_attrs["test_rmse"]
    assert record.run_dir.parent.parent.name == "tiny-best"


def test_export_leaks_no_path_or_storage_url(tiny_study, experiments: Path) -> None:
    assert main(["export-best", str(tiny_study.folder), "--name", "leak"]) == 0
    for file in (experiments / "leak.yaml", experiments / "leak.provenance.json"):
        text = file.read_text()
        assert "sqlite" not in text and "studies.db" not in text
        assert ABSOLUTE.findall(text) == [], file
    data = OmegaConf.load(experiments / "leak.yaml")
    assert "paths" not in data and "search" not in data and "experiment" not in data


def test_export_drops_credentials_and_absolute_data_path(tmp_path: Path, experiments: Path, monkeypatch) -> None:
    import optuna

    monkeypatch.chdir("/")  # the data folder shares only the root with the folder exporting

    folder = tmp_path / "my-data"
    folder.mkdir()
    cfg = compose_config(["data=custom", f"data.path={folder}",
                          "search.storage=postgresql://alice:s3cret@db.example.org/optuna"])
    study = optuna.create_study(study_name="pg/study")
    attrs = {"config": OmegaConf.to_yaml(cfg), "config_hash": config_hash(cfg), "seed": 42, "valid_rmse": 0.9,
             "data_checksum": "abc", "split_key": "def", "environment": {"python": "3.11.7", "packages": {}}}
    study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs=attrs))
    with pytest.warns(UserWarning, match=r"data.path .*my-data is an absolute path and was left out"):
        result = export_trial(study, pick_trial(study))
    assert result.name == "pg-study-best"
    for file in (result.path, result.provenance_path):
        text = file.read_text()
        assert "s3cret" not in text and "alice" not in text and "postgresql" not in text
        assert str(folder) not in text and ABSOLUTE.findall(text) == [], file
    assert "override /data: custom" in result.path.read_text()
    prov = json.loads(result.provenance_path.read_text())
    assert prov["search_value"] == 0.9 and prov["data_checksum"] == "abc" and prov["config"]["data"]["name"] == "custom"
    # The study-side provenance keeps the full config, with the password redacted.
    full = provenance_of(study.trials[0])
    assert full["config"]["search"]["storage"] == "postgresql://alice:***@db.example.org/optuna"
    assert full["config"]["data"]["path"] == str(folder)


def test_export_refuses_to_overwrite_without_force(tiny_study, experiments: Path, capsys) -> None:
    args = ["export-best", str(tiny_study.folder), "--name", "again", "--trial", "1"]
    assert main(args) == 0
    (experiments / "again.yaml").write_text("# @package _global_\n")
    capsys.readouterr()
    assert main(args) == 2
    assert "again.yaml exists; choose another --name or pass --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert "Trial 1 of study 'tiny'" in (experiments / "again.yaml").read_text()


def test_export_bad_inputs_have_clear_messages(tiny_study, tmp_path: Path, capsys) -> None:
    assert main(["export-best", str(tiny_study.folder), "--trial", "99"]) == 2
    assert "trial 99 cannot be used: there is no such trial; completed trials: 0, 1" in capsys.readouterr().err
    assert main(["export-best", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such study folder, journal file or storage URL" in capsys.readouterr().err
    empty = tmp_path / "empty-study"
    empty.mkdir()
    assert main(["export-best", str(empty)]) == 2
    assert "is not a study folder (no sweep.yaml)" in capsys.readouterr().err


def test_default_name_is_sanitized() -> None:
    assert default_name("mlp-rating") == "mlp-rating-best"
    assert default_name("my study/v2.1") == "my-study-v2-1-best"


def test_experiments_dir_follows_the_environment(experiments: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert experiments_dir() == experiments.resolve()
    (experiments / "tiny-lr.yaml").write_text("# @package _global_\ntrain:\n  learning_rate: 0.123\n")
    assert "tiny-lr" in group_options("experiment")
    assert compose_config(["+experiment=tiny-lr"]).train.learning_rate == 0.123
    monkeypatch.delenv("RECSEARCH_EXPERIMENTS_DIR")
    assert experiments_dir().name == "experiments"
    with pytest.raises(Exception, match="tiny-lr"):
        compose_config(["+experiment=tiny-lr"])


def test_portable_sections_drop_every_absolute_path() -> None:
    from recsearch.reproduce.export import portable_sections

    cfg = OmegaConf.create({
        "data": {"name": "custom", "path": "/srv/data/ml", "ratings_file": "/srv/data/ml/r.csv",
                 "items_file": "~/items.csv", "sep": ","},
        "split": {"method": "predefined", "train_file": "/home/me/u1.base", "test_file": "u1.test",
                  "valid_file": "~me/u1.valid"},
        "model": {"name": "neumf", "pretrained_gmf": "/runs/gmf/model.keras", "pretrained_mlp": None,
                  "layers": [64, "/tmp/x"]},
        "train": {"epochs": 3}, "task": {"name": "rating", "metric": "rmse"},
        "paths": {"data_dir": "/srv/data"},
    })
    out, notes = portable_sections(cfg)
    assert "path" not in out["data"] and "paths" not in out
    assert out["data"]["ratings_file"] is None and out["data"]["items_file"] is None and out["data"]["sep"] == ","
    assert out["split"]["train_file"] is None and out["split"]["valid_file"] is None
    assert out["split"]["test_file"] == "u1.test"  # relative: kept
    assert out["model"]["pretrained_gmf"] is None and out["model"]["layers"] == [64, None]
    assert out["train"] == {"epochs": 3} and out["task"]["metric"] == "rmse"
    text = "\n".join(notes)
    for key in ("data.path", "data.ratings_file", "data.items_file", "split.train_file", "split.valid_file",
                "model.pretrained_gmf", "model.layers[1]"):
        assert key in text
    assert len(notes) == 7 and all("absolute path" in n for n in notes)


def test_export_warns_and_nulls_absolute_file_paths(tmp_path: Path, experiments: Path) -> None:
    import optuna

    cfg = compose_config(["data=custom", "data.path=rel/folder", f"data.ratings_file={tmp_path}/ratings.csv"])
    study = optuna.create_study(study_name="files")
    attrs = {"config": OmegaConf.to_yaml(cfg), "config_hash": config_hash(cfg), "seed": 1, "valid_rmse": 0.9,
             "environment": {}}
    study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs=attrs))
    with pytest.warns(UserWarning, match=r"data.ratings_file .*ratings.csv is an absolute path and was set to null"):
        result = export_trial(study, pick_trial(study))
    for file in (result.path, result.provenance_path):
        assert str(tmp_path) not in file.read_text(), file
    assert OmegaConf.load(result.path).data.ratings_file is None
    # the data.path kept relative is read from the folder the export ran in: the experiment's header says so
    assert f"# data.path rel/folder is relative to {os.getcwd()}: run from there" in result.path.read_text()


def test_study_folder_with_a_redacted_storage_url_says_to_pass_the_url(tmp_path: Path) -> None:
    from recsearch.errors import ConfigError

    folder = tmp_path / "pg-study"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("storage: postgresql://u:***@127.0.0.1:1/db\nconfig: {}\n")
    with pytest.raises(ConfigError, match=r"redacted.*pass the full storage URL.*'postgresql://.*' --study pg-study"):
        open_study(str(folder))


def test_a_pruned_trial_is_named_as_pruned() -> None:
    """`--trial N` of a pruned trial says it was pruned (no full training to reproduce), not just "not finished"."""
    import optuna
    from optuna.distributions import IntDistribution

    from recsearch.errors import ConfigError
    from recsearch.reproduce.source import pick_trial

    study = optuna.create_study(study_name="p")
    for state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
        study.add_trial(optuna.trial.create_trial(
            state=state, value=1.0 if state.name == "COMPLETE" else None, params={"model.depth": 2},
            distributions={"model.depth": IntDistribution(1, 3)}, user_attrs={"config": {}},
            intermediate_values={0: 1.0}))
    with pytest.raises(ConfigError, match=r"trial 1 cannot be used: it was pruned \(stopped early\); "
                                          r"completed trials: 0$"):
        pick_trial(study, 1)


@pytest.mark.parametrize("name", ["../evil", "sub/evil", "..", ""])
def test_the_library_refuses_a_name_that_is_not_a_plain_file_name(name: str, tiny_study, tmp_path: Path) -> None:
    """`export_trial` itself, not only the CLI: `../evil` was cleaned into `evil` without a word."""
    from recsearch.errors import ConfigError

    study = open_study(str(tiny_study.folder)).study
    folder = tmp_path / "experiments"
    with pytest.raises(ConfigError, match=rf"^name {re.escape(repr(name))} is not a plain file name: .*"
                                          rf"{re.escape(str(folder))}/NAME\.yaml"):
        export_trial(study, pick_trial(study), name=name, folder=folder)
    assert not list(tmp_path.rglob("*.yaml"))
    assert export_trial(study, pick_trial(study), name="fine", folder=folder).path == folder / "fine.yaml"


def test_a_relative_data_path_is_stored_absolute_and_exported_relative(tmp_path: Path, monkeypatch) -> None:
    """Read from the folder the command ran in, kept absolute (a run found from elsewhere still reads it), and
    written relative again by an export from a folder it shares more than the root with."""
    from recsearch.reproduce.export import portable_sections

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    monkeypatch.chdir(project)
    cfg = compose_config(["data=custom", "data.path=data/r.csv"])
    assert cfg.data.path == str(project / "data" / "r.csv")
    sections, notes = portable_sections(cfg)
    assert sections["data"]["path"] == "data/r.csv" and notes == []
    monkeypatch.chdir(tmp_path)
    assert portable_sections(cfg)[0]["data"]["path"] == "project/data/r.csv"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert portable_sections(cfg)[0]["data"]["path"] == "../project/data/r.csv"  # as `../shared/r.csv` was typed
    monkeypatch.chdir("/")  # nothing in common but the root: a path of this machine
    sections, notes = portable_sections(cfg)
    assert "path" not in sections["data"] and "is an absolute path and was left out" in notes[0]


def test_an_experiment_of_a_local_model_option_composes_in_another_folder(tmp_path: Path, monkeypatch) -> None:
    """A trial of `conf/model/small_mlp.yaml` (`name: mlp`) was exported as `override /model: small_mlp`, so the
    experiment failed in any folder without that file, although it sets every model value itself."""
    from recsearch.config.view import relevant_view
    from recsearch.reproduce.export import experiment_yaml, group_choices, portable_sections

    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "conf" / "model").mkdir(parents=True)
    (project / "conf" / "model" / "small_mlp.yaml").write_text("name: mlp\ndepth: 1\nwidth: 16\n")
    monkeypatch.chdir(project)
    cfg = compose_config(["model=small_mlp", "data=synthetic"])
    sections, _ = portable_sections(cfg)
    assert group_choices(sections)["model"] == "mlp"
    (elsewhere / "experiments").mkdir(parents=True)
    (elsewhere / "experiments" / "small.yaml").write_text(experiment_yaml(sections, group_choices(sections), []))
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("RECSEARCH_EXPERIMENTS_DIR", raising=False)
    assert relevant_view(compose_config(["+experiment=small"]))["model"] == relevant_view(cfg)["model"]
