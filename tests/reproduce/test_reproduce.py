"""reproduce: fresh seeds, t-intervals, verdicts, ties between configs, warnings on a changed environment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.reproduce import Candidate, open_study, seeds_for
from recsearch.reproduce.reproduce import SeedRun, environment_drift, summary_table, user_errors


def test_reproduce_top_two_of_a_study(tiny_study, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tiny_study.folder.parent)  # the study given by its absolute path: printed from here
    assert main(["reproduce", str(tiny_study.folder), "--top", "2", "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "reproduce tiny: 2 seeds" in printed and "verdict" in printed
    assert f"written: {tiny_study.folder.name}/reproduce.csv, " in printed.replace("\n", ""), printed
    table = pd.read_csv(tiny_study.folder / "reproduce.csv")
    study = open_study(str(tiny_study.folder)).study
    best_two = sorted((t.values[0], t.number) for t in study.trials if t.values)[:2]
    assert table["trial"].tolist() == [n for _, n in best_two]
    assert table["search_valid"].tolist() == [v for v, _ in best_two]
    assert table["seeds"].tolist() == ["43 44", "43 44"]
    assert ((table["valid_lo"] <= table["valid_mean"]) & (table["valid_mean"] <= table["valid_hi"])).all()
    assert set(table["verdict"]) <= {"reproduced", "optimistic", "pessimistic"}
    assert sorted(table["vs_best"].str.split().str[0]) in (["best", "differs"], ["best", "tie"])
    runs = pd.read_csv(tiny_study.folder / "reproduce_runs.csv")
    assert len(runs) == 4 and runs["valid"].nunique() == 4  # different seeds, different results
    md = (tiny_study.folder / "reproduce.md").read_text()
    assert "95% t-interval" in md and "Wilcoxon" in md and "| trial " in md


@pytest.mark.parametrize("given", ["name", "file"])
def test_reproduce_experiment_warns_when_the_environment_changed(given, tiny_study, experiments: Path, tmp_path: Path,
                                                                  capsys, monkeypatch) -> None:
    """By name (in $RECSEARCH_EXPERIMENTS_DIR), or by its file from another folder with no such variable set."""
    assert main(["export-best", str(tiny_study.folder)]) == 0
    side = experiments / "tiny-best.provenance.json"
    prov = json.loads(side.read_text())
    prov["environment"]["keras"] = "2.0.0"
    prov["data_checksum"] = "0" * 64
    side.write_text(json.dumps(prov))
    capsys.readouterr()
    source = "tiny-best"
    if given == "file":
        source = str(experiments / "tiny-best.yaml")
        monkeypatch.delenv("RECSEARCH_EXPERIMENTS_DIR")
        monkeypatch.chdir(tmp_path)
    assert main(["reproduce", source, "--seeds", "2", "--no-progress", "--out", str(tmp_path / "out")]) == 0
    assert "RECSEARCH_EXPERIMENTS_DIR" not in os.environ or given == "name"  # set for the file's composing only
    err = capsys.readouterr().err
    assert "keras: recorded 2.0.0, now 3." in err
    assert "data checksum: recorded 0000000000000000..., now" in err
    table = pd.read_csv(tmp_path / "out" / "reproduce.csv")
    assert table["search_valid"].iloc[0] == prov["search_value"] and "vs_best" not in table
    assert "## Warnings" in (tmp_path / "out" / "reproduce.md").read_text()


def _runs(label: str, values: list[float], shift: float) -> list[SeedRun]:
    users = np.arange(60)
    base = 0.5 + 0.3 * np.sin(users)
    return [SeedRun(label, None, 43 + i, v, v + 0.01, 3, pd.Series(base + shift + 0.001 * i, index=users))
            for i, v in enumerate(values)]


def _candidate(label: str, score: float) -> Candidate:
    return Candidate(label, None, None, score, None)


def test_summary_table_verdicts_and_ties() -> None:
    cands = [_candidate("a", 0.80), _candidate("b", 0.905), _candidate("c", 0.97)]  # c: [0.905, 0.955]
    runs = _runs("a", [0.90, 0.91, 0.89], 0.0) + _runs("b", [0.90, 0.91, 0.89], 0.0) \
        + _runs("c", [0.93, 0.92, 0.94], 0.2)
    table = summary_table(cands, runs, "minimize").set_index("config")
    assert table.loc["a", "verdict"] == "optimistic" and table.loc["a", "gap"] == pytest.approx(0.10)
    assert table.loc["b", "verdict"] == "reproduced"
    assert table.loc["c", "verdict"] == "pessimistic"
    assert table.loc["a", "valid_mean"] == pytest.approx(0.90) and table.loc["a", "test_mean"] == pytest.approx(0.91)
    assert table.loc["a", "vs_best"] == "best"  # the first of equal means
    assert table.loc["b", "vs_best"] == "tie" and table.loc["b", "p_vs_best"] == 1.0
    assert table.loc["c", "vs_best"] == "differs" and table.loc["c", "p_vs_best"] < 1e-6


def test_environment_drift_lists_what_changed() -> None:
    recorded = {"environment": {"python": "3.11.7", "keras_backend": "tensorflow", "backend": "tensorflow",
                                "keras": "3.15.1", "tensorflow": "2.21.0", "cpu": "X", "gpu": None,
                                "git_commit": "abc", "packages": {"optuna": "5.0.0"}},
                "data_checksum": "d1", "split_key": "s"}
    same = {**recorded["environment"], "packages": {"optuna": "5.0.0"}}
    assert environment_drift(recorded, same, "d1") == []
    now = {**same, "backend": "jax", "keras_backend": "jax", "jax": "0.4", "packages": {"optuna": "4.0.0"},
           "xla_flags": "--xla_cpu_use_fusion_emitters=false"}
    notes = environment_drift(recorded, now, "d2")
    assert "backend: recorded tensorflow, now jax" in notes
    assert not any(n.startswith("xla_flags") for n in notes)  # not recorded (older runs): nothing to compare
    recorded["environment"]["xla_flags"] = ""
    drift = environment_drift(recorded, now, "d2")
    assert "xla_flags: recorded (none), now --xla_cpu_use_fusion_emitters=false" in drift
    # flags that differ only in a one-core worker's threads (a sweep of several workers) are said as such
    recorded["environment"]["xla_flags"] = "--xla_cpu_use_fusion_emitters=false --xla_cpu_multi_thread_eigen=false"
    assert "xla_flags: the trial ran in a one-thread worker (its sweep ran several), this re-run on all threads: " \
           "matrix products may differ in their last bits" in environment_drift(recorded, now, "d2")
    one_thread = {**now, "xla_flags": "--xla_cpu_use_fusion_emitters=false --xla_cpu_multi_thread_eigen=false"}
    recorded["environment"]["xla_flags"] = "--xla_cpu_use_fusion_emitters=false"
    assert "xla_flags: the trial ran on all threads, this re-run in a one-thread worker: matrix products may " \
           "differ in their last bits" in environment_drift(recorded, one_thread, "d2")
    recorded["environment"]["xla_flags"] = one_thread["xla_flags"] + " --xla_cpu_parallel_codegen_split_count=1"
    drift = environment_drift(recorded, one_thread, "d2")  # one thread both times: the plain line, no story
    assert any(n.startswith("xla_flags: recorded --xla_cpu_use_fusion_emitters=false") for n in drift), drift
    assert "optuna: recorded 5.0.0, now 4.0.0" in notes
    assert any(n.startswith("data checksum: recorded d1") for n in notes)
    assert environment_drift({}, same, "d1") == ["no provenance recorded: cannot check versions, backend or data"]


def test_user_errors_average_back_to_the_metric(tiny: list[str]) -> None:
    from recsearch.config import compose_config
    from recsearch.training.run import prepare_for
    from recsearch.training.trainer import train

    cfg = compose_config(tiny)
    data = prepare_for(cfg)
    result = train(cfg, data)
    per_user = user_errors(result.model, data.valid, cfg, data)
    counts = pd.Series(data.valid.users).value_counts().reindex(per_user.index)
    assert np.sqrt((per_user * counts).sum() / counts.sum()) == pytest.approx(result.metrics["valid_rmse"], rel=1e-5)


def test_seeds_leave_the_searched_seed_out() -> None:
    assert seeds_for(42, 3) == [43, 44, 45]


@pytest.mark.parametrize(("args", "message"), [
    (["--seeds", "1"], "--seeds 1: a confidence interval needs at least 2 seeds"),
    (["--top", "0"], "--top 0: must be at least 1"),
])
def test_reproduce_bad_options(tiny_study, capsys, args: list[str], message: str) -> None:
    assert main(["reproduce", str(tiny_study.folder), *args]) == 2
    assert message in capsys.readouterr().err


def test_reproduce_unknown_source(capsys) -> None:
    assert main(["reproduce", "no-such-experiment"]) == 2
    assert "'no-such-experiment' is not a study folder, a storage URL or an experiment in" in capsys.readouterr().err


def test_configs_without_per_user_errors_are_not_paired() -> None:
    runs = _runs("a", [0.90, 0.91, 0.89], 0.0) + [
        SeedRun("b", None, 43 + i, v, v, 3, None) for i, v in enumerate([0.92, 0.93, 0.94])]
    table = summary_table([_candidate("a", 0.9), _candidate("b", 0.93)], runs, "minimize").set_index("config")
    assert table.loc["a", "vs_best"] == "best" and table.loc["b", "vs_best"] == "n/a"
    assert np.isnan(table.loc["b", "p_vs_best"])


def test_reproduce_refit_reports_the_final_models_test_beside(tiny_study, capsys, tmp_path: Path) -> None:
    out = tmp_path / "refit"
    assert main(["reproduce", str(tiny_study.folder), "--seeds", "2", "--refit", "--out", str(out)]) == 0
    assert "refit test rmse" in capsys.readouterr().out
    table = pd.read_csv(out / "reproduce.csv")
    assert (table["refit_test_lo"] <= table["refit_test_mean"]).all()
    assert (table["refit_test_mean"] <= table["refit_test_hi"]).all()
    runs = pd.read_csv(out / "reproduce_runs.csv")
    assert runs["refit_test"].notna().all() and (runs["refit_test"] != runs["test"]).all()  # another model
    assert "refit test" in (out / "reproduce.md").read_text()


def test_load_study_from_a_folder_and_from_its_storage_url(tiny_study) -> None:
    import recsearch

    by_folder = recsearch.load_study(tiny_study.folder)
    by_url = recsearch.load_study(tiny_study.storage_url, "tiny")
    assert by_folder.name == by_url.name == "tiny" and by_url.folder is None
    assert len(by_folder.trials) == len(by_url.trials) == 2
    best = min(t.values[0] for t in by_folder.study.trials if t.values)
    assert by_folder.trials["value"].min() == best
    assert _same_config(by_folder.best_config, by_url.best_config) and by_url.best_config.model.name == "mlp"
    kept = by_folder.best_model()  # models/trial_<N>.keras of the best trial
    assert kept.count_params() == by_url.best_model().count_params()  # retrained from the recorded config


def _same_config(a, b) -> bool:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(a) == OmegaConf.to_container(b)


def _render(renderable) -> str:
    from rich.console import Console

    console = Console(record=True, width=300)
    console.print(renderable)
    return " ".join(console.export_text().split())


@pytest.mark.parametrize(("task", "model", "why"), [
    ("ranking", "mf", "n/a (ranking task: no per-user rating errors to pair)"),
    ("rating", "autorec", "n/a (model autorec: no per-user rating errors to pair)"),
])
def test_vs_best_says_why_it_is_not_available(task: str, model: str, why: str) -> None:
    """`vs best: n/a` says why in a few words, in the terminal table and in reproduce.md."""
    from omegaconf import OmegaConf

    from recsearch.commands.reproduce_cmd import _table
    from recsearch.reproduce.reproduce import ReproduceReport, report_markdown, runs_frame

    cfg = OmegaConf.create({"task": {"name": task}, "model": {"name": model}})
    runs = [SeedRun(label, None, 43 + i, v, v, 3, None) for label, values in (("a", [0.30, 0.31]), ("b", [0.2, 0.21]))
            for i, v in enumerate(values)]
    cands = [Candidate("a", None, cfg, 0.3, None), Candidate("b", None, cfg, 0.2, None)]
    table = summary_table(cands, runs, "maximize")
    assert table.set_index("config").loc["b", "vs_best"] == "n/a"
    report = ReproduceReport(table, runs_frame(runs), [], "ndcg@10", "maximize", 2)
    assert why in _render(_table(report, "t"))
    md = report_markdown(report, "t")
    assert why in md and "`n/a`" in md


def test_vs_best_says_when_the_best_has_nothing_to_pair_with() -> None:
    from omegaconf import OmegaConf

    autorec = OmegaConf.create({"task": {"name": "rating"}, "model": {"name": "autorec"}})
    runs = [SeedRun("a", None, 43 + i, v, v, 3, None) for i, v in enumerate([0.80, 0.81])] + _runs("b", [0.9, 0.91], 0)
    cands = [Candidate("a", None, autorec, 0.8, None), Candidate("b", None, None, 0.9, None)]
    row = summary_table(cands, runs, "minimize").set_index("config").loc["b"]
    assert (row["vs_best"], row["vs_best_note"]) == ("n/a", "the best, a: model autorec: no per-user rating errors to pair")


def test_reproduce_and_recommend_read_the_data_the_study_recorded(tiny: list[str], isolated_paths: Path,
                                                                  tmp_path: Path, monkeypatch, capsys) -> None:
    """A study trained on data in its `paths.data_dir`, read in a shell whose RECSEARCH_DATA_DIR points elsewhere:
    `reproduce` and `recommend` both read the folder the study recorded (reproduce used to look only in this
    shell's data dir and stop). Once that folder is gone (the study copied to another machine), both read this
    machine's."""
    import shutil

    fixture = Path(__file__).parents[1] / "fixtures" / "ml-1m-mini"
    recorded, here = tmp_path / "recorded", tmp_path / "here"
    for root in (recorded, here):
        shutil.copytree(fixture, root / "ml-1m")
    model = [o for o in tiny if o.startswith(("model.", "train."))]
    assert main(["sweep", "data=ml_1m", f"paths.data_dir={recorded}", *model, "search.n_trials=1",
                 "search.study_name=mini", "--no-progress"]) == 0
    study = isolated_paths / "default" / "mini"
    monkeypatch.setenv("RECSEARCH_DATA_DIR", str(tmp_path / "empty"))
    for gone in (False, True):
        if gone:
            shutil.rmtree(recorded)
            monkeypatch.setenv("RECSEARCH_DATA_DIR", str(here))
        capsys.readouterr()
        assert main(["reproduce", str(study), "--seeds", "2"]) == 0, capsys.readouterr().err
        assert main(["recommend", str(study), "--user", "1", "-n", "2"]) == 0, capsys.readouterr().err


def test_a_study_journal_stands_for_its_folder_and_a_yaml_is_no_study(tiny: list[str], isolated_paths: Path,
                                                                      experiments: Path, tmp_path: Path, capsys,
                                                                      monkeypatch) -> None:
    """reproduce and report given a study's study.journal write into that study's folder, not the working
    directory; a YAML file given where a study goes is refused in one line, not read as a journal."""
    from recsearch.search.sweep import run_sweep

    folder = run_sweep([*tiny, "search.n_trials=1", "search.study_name=j"], show_progress=False).folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    journal = str(folder / "study.journal")
    assert main(["reproduce", journal, "--seeds", "2"]) == 0
    assert main(["report", journal]) == 0
    assert (folder / "reproduce.csv").is_file() and (folder / "report.html").is_file()
    (folder / "reproduce.csv").unlink()
    assert main(["reproduce", str(folder / "best.yaml"), "--seeds", "2"]) == 0  # a table of it: the study too
    assert main(["leaderboard", str(folder / "best.yaml")]) == 0
    assert (folder / "reproduce.csv").is_file() and list(elsewhere.iterdir()) == []
    assert main(["export-best", str(folder)]) == 0
    capsys.readouterr()
    for command in ("leaderboard", "report", "recommend"):
        args = [command, str(experiments / "j-best.yaml")] + (["--user", "1"] if command == "recommend" else [])
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "unreadable record" not in err, err


def test_recommend_refuses_a_model_trained_on_other_data(tiny: list[str], isolated_paths: Path, tmp_path: Path,
                                                         capsys) -> None:
    """The data changed since the model trained (here: its last 3 ratings cut off): the user and item rows of
    a kept study model and of a run's model stand for other users and items now, so recommend says so in one
    line instead of printing wrong items."""
    import shutil

    shutil.copytree(Path(__file__).parents[1] / "fixtures" / "ml-1m-mini", tmp_path / "data" / "ml-1m")
    model = [o for o in tiny if o.startswith(("model.", "train."))]
    common = ["data=ml_1m", f"paths.data_dir={tmp_path / 'data'}", *model]
    assert main(["sweep", *common, "search.n_trials=1", "search.study_name=mini", "--no-progress"]) == 0
    assert main(["train", *common]) == 0
    run = next((isolated_paths / "default" / "runs").iterdir())
    targets = [isolated_paths / "default" / "mini", run]
    for target in targets:
        assert main(["recommend", str(target), "--user", "1", "-n", "2"]) == 0
    ratings = tmp_path / "data" / "ml-1m" / "ratings.dat"
    ratings.write_text("".join(ratings.read_text().splitlines(keepends=True)[:-3]))
    for target in targets:
        capsys.readouterr()
        assert main(["recommend", str(target), "--user", "1", "-n", "2"]) == 2
        err = capsys.readouterr().err.splitlines()  # a warning line may precede: the file's count changed
        assert "was trained on other data" in err[-1], err
        assert "the data files or a file beside them changed" in err[-1], err
        assert err[-1].startswith("recsearch: error: ") and all(line.startswith("recsearch: ") for line in err)
