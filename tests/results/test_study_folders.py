"""A study folder opens from its own files wherever it is: copied, renamed, moved, or missing its journal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from results_helpers import RATING, fake_study

import recsearch
from recsearch.errors import RecsearchError
from recsearch.reproduce import open_study
from recsearch.results.studies import load_many, load_study_folder


def _default_named(results: Path) -> Path:
    """A study named as a sweep names it by default (<model>-<task>, no search.study_name recorded), its
    sweep.yaml storage the relative journal path a sweep run from `results.parent` records."""
    folder = fake_study(results, "mf-rating", RATING, [0.91, 0.87])
    doc = yaml.safe_load((folder / "sweep.yaml").read_text())
    doc["storage"] = "results/mixed/mf-rating/study.journal"
    doc["config"].pop("search")
    (folder / "sweep.yaml").write_text(yaml.safe_dump(doc))
    return folder


def test_a_copy_without_its_journal_is_refused_not_read_from_another_folder(tmp_path, monkeypatch, capsys):
    """The journal path sweep.yaml recorded is relative to where the sweep ran: followed from there, a copy
    without its journal showed the original study's trials (or another study of that name) as its own."""
    from recsearch.cli import main

    original = _default_named(tmp_path / "results")
    copy = tmp_path / "backup" / "mf-rating"
    shutil.copytree(original, copy)
    (copy / "study.journal").unlink()
    monkeypatch.chdir(tmp_path)  # where the recorded relative path leads to the original's journal
    with pytest.raises(RecsearchError, match="has no study.journal"):
        load_study_folder(copy)
    assert main(["leaderboard", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no study.journal" in err[0] and "copy the study folder with it" in err[0]
    with pytest.raises(RecsearchError, match="has no study.journal"):
        open_study(str(copy))


def test_a_renamed_or_moved_study_folder_opens_under_its_studys_name(tmp_path, capsys):
    original = _default_named(tmp_path / "results")
    renamed = tmp_path / "archive" / "mf-old"
    shutil.copytree(original, renamed)
    assert load_study_folder(renamed).name == "mf-rating"
    assert open_study(str(renamed)).study.study_name == "mf-rating"
    assert [r.name for r in load_many([str(tmp_path / "archive")], "mf-rating")] == ["mf-rating"]
    best = recsearch.leaderboard(tmp_path / "archive", baselines=False)
    assert list(best["study"]) == ["mf-rating"] and best["valid"].iloc[0] == pytest.approx(0.87)
    assert recsearch.report(renamed).is_file()
    # a sweep.yaml that names nothing: the folder's journal holds its study alone
    (renamed / "sweep.yaml").write_text(yaml.safe_dump({"config": {}}))
    assert load_study_folder(renamed).name == "mf-rating"


def test_an_experiment_folder_given_for_a_study_lists_the_studies_in_it(mixed):
    folder = mixed / "mixed"
    for opener in (load_study_folder, recsearch.load_study, lambda f: open_study(str(f))):
        with pytest.raises(RecsearchError) as caught:
            opener(folder)
        message = str(caught.value)
        assert "is not a study folder but holds 3 studies" in message and str(folder / "b-rating") in message


def test_export_and_reproduce_open_a_journal_file_as_the_leaderboard_does(mixed):
    journal = mixed / "mixed" / "b-rating" / "study.journal"
    source = open_study(str(journal))  # a study folder's own journal stands for the folder (tables go there)
    assert source.study.study_name == "b-rating" and source.folder == journal.parent.resolve()
    with pytest.raises(RecsearchError, match="is the folder of study 'b-rating', not 'nosuch'"):
        open_study(str(journal), "nosuch")
    elsewhere = mixed / "loose.journal"  # a journal outside a study folder: a storage, no folder
    elsewhere.write_bytes(journal.read_bytes())
    loose = open_study(str(elsewhere))
    assert loose.study.study_name == "b-rating" and loose.folder is None
    with pytest.raises(RecsearchError, match="has no study 'nosuch'"):
        open_study(str(elsewhere), "nosuch")


def test_mixed_settings_name_what_differs_and_leave_searched_keys_out() -> None:
    """Shared settings that differ between finished trials, with the trials of each value; keys searched in some
    trial (a condition's) and keys of a searched config group (`model: choice(...)`) are no shared setting."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from recsearch.results.study_tables import mixed_settings

    def trial(number: int, params: dict, model: dict, train: dict) -> optuna.trial.FrozenTrial:
        dists = {k: FloatDistribution(0, 1) if isinstance(v, float) else CategoricalDistribution(["mlp", "mf"])
                 for k, v in params.items()}
        made = optuna.trial.create_trial(params=params, distributions=dists, value=1.0,
                                         user_attrs={"config": {"model": model, "train": train}})
        made.number = number
        return made

    study = optuna.create_study()
    for n, epochs in enumerate([2, 2, 2, 3, 2, 3]):
        study.add_trial(trial(n, {"train.momentum": 0.5} if n == 4 else {}, {"depth": 1},
                              {"epochs": epochs, "momentum": 0.5 if n == 4 else 0.0, "verbose": n}))
    assert mixed_settings(study) == "train.epochs 2 (trials 0-2, 4), 3 (trials 3, 5)"
    grouped = optuna.create_study()
    for n, (name, depth) in enumerate([("mlp", 1), ("mf", None)]):
        grouped.add_trial(trial(n, {"model": name}, {"name": name, "depth": depth}, {"epochs": 2}))
    assert mixed_settings(grouped) == ""
    hyper = optuna.create_study()  # a hypermodel's searched values live under model.hp: no shared setting
    for n, units in enumerate([0.25, 0.5]):
        hyper.add_trial(trial(n, {"model.hp.units": units}, {"name": "hypermodel", "hp": {"units": units}},
                              {"epochs": 2}))
    assert mixed_settings(hyper) == ""


def test_counts_and_trial_numbers_stay_integers_in_the_trials_frame() -> None:
    """`retry_of` (and the other counts) came back as floats (3.0) in the Python API's frame once a trial had none."""
    import optuna

    from recsearch.results.study_tables import trials_frame

    study = optuna.create_study()
    study.add_trial(optuna.trial.create_trial(value=1.0, user_attrs={"epochs_run": 3}))
    study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs={"epochs_run": 2, "retry_of": 0}))
    frame = trials_frame(study)
    assert str(frame["retry_of"].dtype) == "Int64" and frame["retry_of"].tolist()[1] == 0
    assert frame["retry_of"].isna().tolist() == [True, False]
    assert str(frame["epochs_run"].dtype) == "Int64" and frame["epochs_run"].astype(str).tolist() == ["3", "2"]


def test_a_ranking_study_has_no_empty_rating_metric_columns() -> None:
    """trials.csv of a ranking sweep had valid_rmse, valid_mae, test_rmse and test_mae columns, all empty."""
    import optuna

    from recsearch.results.study_tables import RATING_METRICS, trials_frame

    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(value=0.4, user_attrs={"valid_ndcg@10": 0.4, "test_ndcg@10": 0.38}))
    frame = trials_frame(study)
    assert not set(RATING_METRICS) & set(frame.columns) and frame["test_ndcg@10"].tolist() == [0.38]
    study = optuna.create_study()
    study.set_user_attr("fingerprint", {"task": "rating"})  # a rating study keeps them while no trial has any
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    assert set(RATING_METRICS) <= set(trials_frame(study).columns)
    study.add_trial(optuna.trial.create_trial(value=0.9, user_attrs=dict.fromkeys(RATING_METRICS, 0.9)))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL))
    frame = trials_frame(study)  # a rating study's, with a failed trial's cells empty
    assert set(RATING_METRICS) <= set(frame.columns) and frame["test_rmse"].isna().tolist() == [True, False, True]


def test_the_package_lists_its_api_only() -> None:
    assert dir(recsearch) == sorted(recsearch.__all__) and "Any" not in dir(recsearch)
