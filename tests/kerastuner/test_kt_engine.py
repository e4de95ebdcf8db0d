"""The kerastuner engine end to end: the study folder every reader knows, its refusals, Hyperband budgets."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from omegaconf import OmegaConf

from recsearch.cli import main
from recsearch.config import load_config_file
from recsearch.reproduce import open_study

pytestmark = pytest.mark.slow


def test_kerastuner_study_writes_the_usual_tables(kt_study) -> None:
    folder = kt_study.folder
    for name in ("trials.parquet", "trials.csv", "best.yaml", "sweep.yaml", "summary.md", "provenance.json",
                 "study.journal", "kerastuner/oracle.json"):
        assert (folder / name).is_file(), name
    frame = pd.read_parquet(folder / "trials.parquet")
    assert frame["number"].tolist() == [0, 1, 2] and set(frame["state"]) == {"COMPLETE"}
    assert {"params_model.depth", "params_model.width", "params_train.learning_rate", "valid_rmse", "test_rmse",
            "config_hash", "seed", "duration_s"} <= set(frame.columns)
    study = open_study(str(folder)).study
    assert len({t.user_attrs["kerastuner_trial_id"] for t in study.trials}) == 3
    for t in study.trials:  # the KerasTuner trial's values are the trial's config and its Optuna params
        kt_values = json.loads((folder / "kerastuner" / f"trial_{t.user_attrs['kerastuner_trial_id']}" /
                                "trial.json").read_text())["hyperparameters"]["values"]
        assert t.params == pytest.approx({k: v for k, v in kt_values.items()})
        assert ("model.width_schedule" in t.params) == (t.params["model.depth"] >= 2)
        assert len(t.user_attrs["val_curve"]) == t.user_attrs["epochs_run"] and t.datetime_complete > t.datetime_start
    best = load_config_file(folder / "best.yaml")
    assert best.model.depth == study.best_trial.params["model.depth"]
    assert best.search.engine == "kerastuner"
    summary = (folder / "summary.md").read_text()
    assert "KerasTuner tuner `random`" in summary and "sampler" not in summary  # names what chose the trials
    provenance = json.loads((folder / "provenance.json").read_text())
    assert set(provenance) == {"0", "1", "2"}
    assert list((folder / "models").glob("trial_*.keras"))


def test_leaderboard_export_and_reproduce_read_a_kerastuner_study(kt_study, capsys) -> None:
    from recsearch.config import compose_config

    study = open_study(str(kt_study.folder)).study
    assert main(["leaderboard", str(kt_study.folder), "--format", "csv"]) == 0
    board = pd.read_csv(io.StringIO(capsys.readouterr().out))
    row = board[board["kind"] == "study"].iloc[0]
    assert row["study"] == "kt" and int(row["trial"]) == study.best_trial.number
    assert row["valid"] == pytest.approx(study.best_value, abs=1e-4)
    assert main(["export-best", str(kt_study.folder), "--name", "kt-best"]) == 0
    exported = compose_config(["+experiment=kt-best"])
    assert {k: OmegaConf.select(exported, k) for k in study.best_trial.params} == pytest.approx(study.best_trial.params)
    assert main(["reproduce", str(kt_study.folder), "--seeds", "2"]) == 0
    table = pd.read_csv(kt_study.folder / "reproduce.csv")
    assert table["trial"].tolist() == [study.best_trial.number]
    assert table["search_valid"].iloc[0] == pytest.approx(study.best_value)


@pytest.mark.parametrize("extra, message", [
    (["search.objectives=[params]"], "single objective; drop search.objectives"),
    (["search.storage=sqlite:///x.db"], "drop search.storage"),
    (["search.n_workers=2"], "set search.n_workers=1"),
    (["search.enqueue_defaults=true"], "no trial queue"),
    (["search.pack_size=4"], "drop search.pack_size"),
    (["search.fidelity=data"], "search.fidelity=data needs Optuna's pruner"),
    (["model=hypermodel"], "model=hypermodel runs under search.engine=optuna"),
    (["+search_space.conditions={model.l2: {model.dropout: '> 0.1'}}"], "'model.dropout' is continuous"),
])
def test_what_kerastuner_lacks_is_one_error_line(extra, message, isolated_paths, capsys) -> None:
    assert main(["sweep", "--no-progress", "search.engine=kerastuner", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("recsearch: error:") and message in err and len(err.splitlines()) == 1
    assert not isolated_paths.exists()  # refused before any work


def test_a_kerastuner_sweep_does_not_resume_another_engines_or_tuners_study(kt_study, capsys) -> None:
    """Nor does an Optuna sweep take over a KerasTuner study: its state would not know the new trials."""
    import optuna

    from recsearch.errors import ConfigError
    from recsearch.search.storage import open_storage
    from recsearch.search.sweep import run_sweep

    base = [o for o in kt_study.overrides if not o.startswith(("search.engine", "search.study_name"))]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSEARCH_RESULTS_DIR", str(kt_study.results))
        run_sweep([*base, "search.study_name=mixed", "search.n_trials=1"], show_progress=False)
        with pytest.raises(ConfigError, match="holds trials of search.engine=optuna"):
            run_sweep([*base, "search.study_name=mixed", "search.n_trials=2", "search.engine=kerastuner"],
                      show_progress=False)
        with pytest.raises(ConfigError, match="was searched by search.tuner=random; resume it with that tuner"):
            run_sweep([*base, "search.study_name=kt", "search.n_trials=4", "search.engine=kerastuner",
                       "search.tuner=hyperband"], show_progress=False)
        capsys.readouterr()

        def count() -> int:
            return len(optuna.load_study(study_name="kt", storage=open_storage(kt_study.storage_url)).trials)

        before = count()
        with pytest.raises(ConfigError, match="holds trials of search.engine=kerastuner; resume it with "
                                              "search.engine=kerastuner search.tuner=random"):
            run_sweep([*base, "search.study_name=kt", "search.n_trials=9", "search.engine=optuna"], show_progress=False)
        assert count() == before  # nothing ran
        assert "note:" not in capsys.readouterr().err  # refused before any note about the changed search
        narrower = [o.replace("3e-2", "1e-2") for o in kt_study.overrides if not o.startswith("search.n_trials")]
        with pytest.raises(ConfigError, match=r"searched train.learning_rate as .*KerasTuner resumes a study with "
                                              r"the space of its first run"):
            run_sweep([*narrower, "search.n_trials=5"], show_progress=False)  # its saved state would sample the old
        assert count() == before


def test_hyperband_trains_each_trial_for_its_bracket_budget(tiny, isolated_paths) -> None:
    from recsearch.search.sweep import run_sweep

    from kt_helpers import KT_SPACE

    report = run_sweep([*tiny, *KT_SPACE, "search.engine=kerastuner", "search.tuner=hyperband", "train.epochs=3",
                        "train.patience=5", "search.n_trials=4", "search.study_name=hb"], show_progress=False)
    study = open_study(str(report.folder)).study
    assert len(study.trials) == 4 and {t.state.name for t in study.trials} == {"COMPLETE"}
    for t in study.trials:
        budget = t.user_attrs["tuner/epochs"]
        assert t.user_attrs["epochs_run"] == budget and f"epochs: {budget}\n" in t.user_attrs["config"]
    # max_epochs 3, factor 3: three configs for 1 epoch, then the best of them promoted to 3 epochs (from scratch)
    assert [t.user_attrs["tuner/epochs"] for t in study.trials] == [1, 1, 1, 3]
    first, promoted = study.trials[:3], study.trials[3]
    best = min(first, key=lambda t: t.value)
    assert promoted.user_attrs["tuner/trial_id"] == best.user_attrs["kerastuner_trial_id"]
    frame = pd.read_csv(report.folder / "trials.csv")  # which trial the bigger budget continues, as a column
    assert frame["promoted_from"][:3].isna().all()
    assert frame["promoted_from"][3] == best.number
    assert promoted.params == best.params
    from recsearch.results.study_tables import mixed_settings

    assert mixed_settings(study) == ""  # the budgets are Hyperband's search, not a resume with other settings
    assert "settings differ" not in (report.folder / "summary.md").read_text()


def test_a_second_process_on_a_kerastuner_study_is_refused(tiny, isolated_paths, capsys) -> None:
    """KerasTuner searches a study in one process: a second one started beside it would train the same trials
    past the budget, so it stops in one line and the study is untouched."""
    from kt_helpers import KT_SPACE

    from recsearch.search.storage import one_process_only

    folder = isolated_paths / "default" / "kt-busy"
    folder.mkdir(parents=True)
    with one_process_only(folder, "held by this test"):  # as the first process holds it while it searches
        code = main(["sweep", "--no-progress", *tiny, *KT_SPACE, "search.engine=kerastuner", "search.n_trials=2",
                     "search.study_name=kt-busy"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == (f"recsearch: error: study folder {folder} is being searched by another process "
                                     "(KerasTuner searches a study in one process); let it finish or stop it, then "
                                     "run the same command to continue"), err
    assert "COMPLETE" not in (folder / "trials.csv").read_text()
    assert main(["sweep", "--no-progress", *tiny, *KT_SPACE, "search.engine=kerastuner", "search.n_trials=2",
                 "search.study_name=kt-busy", "search.pruner=hyperband"]) == 0  # once it is free, it runs
    assert ("recsearch: note: search.pruner=hyperband is not used: search.engine=kerastuner searches with "
            "search.tuner=random") in capsys.readouterr().err  # an Optuna setting given to KerasTuner is said unused


def test_no_worker_joins_a_kerastuner_study(kt_study, capsys) -> None:
    """`recsearch worker` on a KerasTuner study says why none can join, not that a storage setting is wrong."""
    code = main(["worker", str(kt_study.folder), "kt"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == ("recsearch: error: study 'kt' is searched by KerasTuner, which runs a study in one "
                                 "process: no worker can join it; run the sweep's own command to continue it"), err
