"""`recsearch leaderboard` on results written by real sweeps: ranking, columns, formats, filters, storages."""

from __future__ import annotations

import io
import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.results.leaderboard import STUDY_COLUMNS, TRIAL_COLUMNS
from recsearch.search.storage import open_storage
from results_helpers import RATING, fake_study


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["leaderboard", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def expected_best(folder: Path, metric: str = "rmse") -> pd.Series:
    """The selected trial, computed independently from the sweep's trials.parquet."""
    trials = pd.read_parquet(folder / "trials.parquet")
    done = trials[trials["state"] == "COMPLETE"]
    return done.loc[done[f"valid_{metric}"].idxmin()]


def test_ranking_and_columns_across_studies(sweeps, capsys):
    code, out, _ = cli(capsys, str(sweeps.results), "--format", "csv")
    assert code == 0
    board = pd.read_csv(io.StringIO(out))
    assert list(board.columns) == STUDY_COLUMNS
    studies = board[board["kind"] == "study"].set_index("study")
    assert set(studies.index) == {"a", "b"}
    for name, folder in (("a", sweeps.a), ("b", sweeps.b)):
        best = expected_best(folder)
        trials = pd.read_parquet(folder / "trials.parquet")
        row = studies.loc[name]
        assert row["valid"] == pytest.approx(best["valid_rmse"], abs=5e-5)
        assert row["test"] == pytest.approx(best["test_rmse"], abs=5e-5)
        assert row["trial"] == best["number"] and row["n_params"] == best["n_params"]
        assert row["complete"] == (trials["state"] == "COMPLETE").sum()
        assert row["pruned"] == (trials["state"] == "PRUNED").sum()
        assert row["failed"] == (trials["state"] == "FAIL").sum()
        assert f"model.depth={int(best['params_model.depth'])}" in row["params"]
        assert row["variant"] == "mlp" and row["task"] == "rating" and row["experiment"] == "default"
    # ranked best first, baselines (rmse only) placed by their validation metric
    assert board["valid"].is_monotonic_increasing
    assert board["rank"].tolist() == list(range(1, len(board) + 1))
    assert board["variant"].iloc[0] == "oracle" and board["kind"].iloc[0] == "baseline"
    assert board["variant"].iloc[-1] == "global_mean"
    assert "user_mean" not in set(board["variant"])  # an mae baseline is not ranked on rmse


def test_default_results_dir_from_env(sweeps, capsys, monkeypatch):
    monkeypatch.setenv("RECSEARCH_RESULTS_DIR", str(sweeps.results))
    code, out, _ = cli(capsys, "--format", "json")
    rows = json.loads(out)
    assert code == 0 and {r["study"] for r in rows if r["kind"] == "study"} == {"a", "b"}
    assert all(isinstance(r["params"], dict) for r in rows)


def test_metric_option_selects_on_that_metric(sweeps, capsys):
    code, out, _ = cli(capsys, str(sweeps.results), "--metric", "mae", "--format", "json")
    rows = {r["study"]: r for r in json.loads(out)}
    assert code == 0 and rows["a"]["metric"] == "mae"
    best = expected_best(sweeps.a, "mae")
    assert rows["a"]["valid"] == pytest.approx(best["valid_mae"]) and rows["a"]["test"] == pytest.approx(best["test_mae"])
    assert rows["(baseline)"]["variant"] == "user_mean"  # only the mae baseline


def test_every_format(sweeps, capsys):
    _, md, _ = cli(capsys, str(sweeps.results), "--format", "markdown")
    assert md.splitlines()[0] == "| " + " | ".join(c for c in STUDY_COLUMNS if c != "folder") + " |"
    assert len(md.strip().splitlines()) == 2 + 4  # header, rule, 2 studies + 2 rmse baselines
    _, page, _ = cli(capsys, str(sweeps.results), "--format", "html")
    assert page.startswith("<table") and page.count("<tr") == 1 + 4 and "<th>params</th>" in page
    _, text, _ = cli(capsys, str(sweeps.results))  # captured: not a terminal, so plain text
    lines = text.strip().splitlines()
    assert lines[0].split()[:4] == ["rank", "kind", "experiment", "study"] and len(lines) == 5
    assert "┃" not in text and "│" not in text
    assert lines[1].split()[:2] == ["1", "baseline"]


def test_same_named_studies_from_two_folders_are_told_apart(sweeps, capsys, tmp_path, monkeypatch):
    """A copy of study `a` in another results folder: its rows read alike but for the folder, which every format
    then shows; csv and json always carry it, the others only when it tells rows apart."""
    import shutil

    other = tmp_path / "other-results"
    shutil.copytree(sweeps.a, other / "default" / "a")
    monkeypatch.chdir(tmp_path)
    _, out, _ = cli(capsys, str(sweeps.results), str(other), "--format", "csv", "--filter", "kind=study")
    board = pd.read_csv(io.StringIO(out))
    copies = board[board["study"] == "a"]
    assert sorted(copies["folder"]) == sorted([str(sweeps.a.resolve()), "other-results/default/a"])
    _, md, _ = cli(capsys, str(sweeps.results), str(other), "--format", "markdown")
    header = [c.strip() for c in md.splitlines()[0].strip("|").split("|")]
    assert header[header.index("study") + 1] == "folder" and "other-results/default/a" in md
    _, md, _ = cli(capsys, str(sweeps.results), "--format", "markdown")  # names unique: no folder column
    assert "folder" not in md.splitlines()[0]
    _, text, _ = cli(capsys, str(sweeps.results), str(other))
    assert "other-results/default/a" in text
    _, md, _ = cli(capsys, str(sweeps.results), str(other), "--format", "markdown", "--top", "1")
    assert "| folder |" in md.splitlines()[0]  # still told apart when --top leaves one of them
    _, out, _ = cli(capsys, str(sweeps.a / "study.journal"), "other-results/default/a/study.journal", str(other),
                    "./other-results", "--format", "csv", "--filter", "kind=study")
    board = pd.read_csv(io.StringIO(out))  # a study's own journal stands for its folder; each study once
    assert sorted(board["folder"]) == sorted([str(sweeps.a.resolve()), "other-results/default/a"])
    assert set(board["experiment"]) == {"default"}


def test_rich_table_in_a_terminal(sweeps):
    from rich.console import Console

    from recsearch.commands.leaderboard_cmd import rich_table
    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many, read_baselines

    buf = io.StringIO()
    board = leaderboard(load_many([str(sweeps.results)]), read_baselines(sweeps.folder / "baselines.csv"))
    Console(file=buf, width=250, force_terminal=True, color_system=None).print(rich_table(board))
    text = buf.getvalue()
    assert "Leaderboard (validation rmse" in text and "───" in text and "oracle" in text
    assert text.index("oracle") < text.index("global_mean")  # ranked rows in order


def test_filters_top_and_per_trial(sweeps, capsys):
    _, out, _ = cli(capsys, str(sweeps.results), "--per-trial", "--format", "csv")
    trials = pd.read_csv(io.StringIO(out))
    assert list(trials.columns) == TRIAL_COLUMNS
    n_a, n_b = (len(pd.read_parquet(f / "trials.parquet")) for f in (sweeps.a, sweeps.b))
    assert (trials["kind"] == "trial").sum() == n_a + n_b
    _, out, _ = cli(capsys, str(sweeps.results), "--per-trial", "--format", "csv", "--filter", "state=complete",
                    "--filter", "study=b")
    done_b = pd.read_csv(io.StringIO(out))
    parquet_b = pd.read_parquet(sweeps.b / "trials.parquet")
    assert sorted(done_b["trial"]) == sorted(parquet_b.loc[parquet_b["state"] == "COMPLETE", "number"])
    assert done_b["rank"].tolist() == list(range(1, len(done_b) + 1))  # ranks renumbered after filtering
    depth = int(parquet_b["params_model.depth"].iloc[0])
    _, out, _ = cli(capsys, str(sweeps.results), "--per-trial", "--format", "json", "--filter", f"model.depth={depth}")
    rows = json.loads(out)
    assert rows and all(r["params"]["model.depth"] == depth for r in rows)
    total = (pd.concat([pd.read_parquet(f / "trials.parquet") for f in (sweeps.a, sweeps.b)])["params_model.depth"]
             == depth).sum()
    assert len(rows) == total
    _, out, _ = cli(capsys, str(sweeps.results), "--per-trial", "--format", "json", "--filter", f"depth={depth}")
    assert json.loads(out) == rows  # a parameter by its last name, when only one parameter has it
    _, out, _ = cli(capsys, str(sweeps.results), "--format", "csv", "--filter", "variant=mlp", "--top", "1")
    top = pd.read_csv(io.StringIO(out))
    assert len(top) == 1 and top["kind"].iloc[0] == "study" and top["rank"].iloc[0] == 1


def test_bad_filter_and_bad_paths_say_why(sweeps, capsys, tmp_path):
    code, _, err = cli(capsys, str(sweeps.results), "--filter", "colour=red")
    assert code == 2 and "no column or parameter 'colour'" in err and "variant" in err
    assert "; parameters: " in err and "model.depth" in err
    assert "a study's row holds its best trial's parameters; if other trials searched colour, --per-trial" in err
    code, _, err = cli(capsys, str(sweeps.results), "--per-trial", "--filter", "colour=red")
    assert code == 2 and "no column or parameter 'colour'" in err and "best trial" not in err
    code, _, err = cli(capsys, str(sweeps.results), "--filter", "variant")
    assert code == 2 and "expected key=value" in err
    code, _, err = cli(capsys, str(tmp_path / "nowhere"))
    assert code == 2 and "no such results folder or storage" in err
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, str(tmp_path / "empty"))
    assert code == 2 and "no study found" in err


def test_bad_baselines_csv_names_the_missing_column(sweeps, capsys, tmp_path):
    import shutil

    copy = tmp_path / "exp"
    shutil.copytree(sweeps.a, copy / "a")
    pd.DataFrame({"variant": ["x"], "metric": ["rmse"], "valid": [1.0], "test": [1.0]}).to_csv(
        copy / "baselines.csv", index=False)
    code, _, err = cli(capsys, str(copy))
    assert code == 2 and "baselines.csv: missing column(s) task" in err


def test_storage_urls_journal_and_sqlite(sweeps, capsys, tmp_path):
    code, out, _ = cli(capsys, str(sweeps.a / "study.journal"), "--format", "json")
    rows = json.loads(out)
    assert code == 0 and [r["study"] for r in rows] == ["a"]
    assert rows[0]["valid"] == pytest.approx(expected_best(sweeps.a)["valid_rmse"])
    assert rows[0]["variant"] == "mlp"  # read from the trials' config attr
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    for folder in (sweeps.a, sweeps.b):
        optuna.copy_study(from_study_name=folder.name, from_storage=open_storage(str(folder / "study.journal")),
                          to_storage=url)
    _, out, _ = cli(capsys, url, "--format", "json")
    assert {r["study"] for r in json.loads(out)} == {"a", "b"}
    _, out, _ = cli(capsys, url, "--study", "b", "--format", "json")
    assert [r["study"] for r in json.loads(out)] == ["b"]
    code, _, err = cli(capsys, url, "--study", "zzz")
    assert code == 2 and "has no study 'zzz'; it holds: a, b" in err


# --- mixed tasks, redacted storages: tiny studies written directly (the user attrs a sweep writes) ---------------

def test_filter_on_task_ranks_on_that_tasks_metric(mixed, capsys):
    code, out, _ = cli(capsys, str(mixed), "--filter", "task=rating", "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [(r["study"], r["metric"], r["rank"]) for r in rows] == [("b-rating", "rmse", 1), ("c-rating", "rmse", 2)]
    assert [r["valid"] for r in rows] == [pytest.approx(0.8), pytest.approx(0.9)]  # best = lowest rmse
    code, out, _ = cli(capsys, str(mixed), "--filter", "task=ranking", "--format", "json")
    rows = json.loads(out)
    assert [(r["study"], r["metric"], r["rank"]) for r in rows] == [("a-rank", "ndcg@10", 1)]
    assert rows[0]["valid"] == pytest.approx(0.3) and rows[0]["test"] == pytest.approx(0.31)  # best = highest


def test_mixed_task_metrics_are_ranked_in_separate_groups(mixed, capsys):
    code, out, _ = cli(capsys, str(mixed), "--format", "json")
    rows = json.loads(out)
    assert code == 0
    got = [(r["study"], r["metric"], r["rank"], round(r["valid"], 4)) for r in rows]
    assert got == [("a-rank", "ndcg@10", 1, 0.3), ("b-rating", "rmse", 1, 0.8), ("c-rating", "rmse", 2, 0.9)]
    _, out, _ = cli(capsys, str(mixed), "--format", "json", "--top", "1")
    assert [(r["study"], r["rank"]) for r in json.loads(out)] == [("a-rank", 1), ("b-rating", 1)]


def test_explicit_metric_never_shows_another_metrics_value(mixed, capsys):
    code, out, _ = cli(capsys, str(mixed), "--metric", "ndcg@10", "--format", "json")
    rows = {r["study"]: r for r in json.loads(out)}
    assert code == 0 and rows["a-rank"]["rank"] == 1 and rows["a-rank"]["valid"] == pytest.approx(0.3)
    assert set(rows) == {"a-rank"}  # the rating studies record no ndcg@10 (their value is an rmse): not listed
    _, out, _ = cli(capsys, str(mixed), "--metric", "rmse", "--format", "json")
    assert [r["study"] for r in json.loads(out)][:2] == ["b-rating", "c-rating"]


def test_studies_on_different_data_are_ranked_apart(tmp_path, capsys):
    """A toy study on synthetic data does not outrank MovieLens studies: each dataset and split has its ranks."""
    results = tmp_path / "results"
    movielens = {**RATING, "data": {"name": "ml-latest-small"}, "split": {"method": "random"}}
    fake_study(results, "ml-a", movielens, [0.86])
    fake_study(results, "ml-b", movielens, [0.85])
    fake_study(results, "toy", {**RATING, "data": {"name": "synthetic"}, "split": {"method": "random"}}, [0.72])
    code, out, _ = cli(capsys, str(results), "--format", "json")
    assert code == 0
    assert [(r["study"], r["data"], r["rank"]) for r in json.loads(out)] == [
        ("ml-b", "ml-latest-small/random", 1), ("ml-a", "ml-latest-small/random", 2), ("toy", "synthetic/random", 1)]
    _, out, _ = cli(capsys, str(results), "--format", "json", "--top", "1")
    assert [r["study"] for r in json.loads(out)] == ["ml-b", "toy"]
    _, out, _ = cli(capsys, str(results), "--format", "json", "--filter", "data=synthetic/random")
    assert [r["study"] for r in json.loads(out)] == ["toy"]


def test_synthetic_data_of_other_sizes_and_custom_files_are_ranked_apart(tmp_path, capsys):
    """Generated data is named by its size and seed, a custom file by its folder: never one label for both."""
    results = tmp_path / "results"

    def synthetic(n: int, seed: int = 0) -> dict:
        return {**RATING, "data": {"name": "synthetic", "format": "synthetic",
                                   "synthetic": {"n_ratings": n, "seed": seed}}, "split": {"method": "random"}}

    fake_study(results, "small", synthetic(4000), [0.70])
    fake_study(results, "large", synthetic(25_000_000), [0.80])
    fake_study(results, "large-seed", synthetic(25_000_000, seed=3), [0.81])
    shop = {**RATING, "data": {"name": "custom", "path": "/srv/shop"}, "split": {"method": "random"}}
    fake_study(results, "shop", shop, [0.90])
    code, out, _ = cli(capsys, str(results), "--format", "json")
    assert code == 0 and sorted((r["study"], r["data"], r["rank"]) for r in json.loads(out)) == [
        ("large", "synthetic-25000000/random", 1), ("large-seed", "synthetic-25000000-seed3/random", 1),
        ("shop", "custom:shop/random", 1), ("small", "synthetic-4000/random", 1)]


def test_a_filter_matching_nothing_says_so_in_one_line(mixed, capsys):
    code, out, err = cli(capsys, str(mixed), "--filter", "task=ranking", "--filter", "variant=mlp")
    assert code == 0 and out == "" and err.count("\n") == 1
    assert err.startswith("recsearch: no row matches task=ranking and variant=mlp (variant has ")
    code, out, err = cli(capsys, str(mixed), "--filter", "task=ratng")  # a typo: what the key holds is said
    assert code == 0 and err.strip() == "recsearch: no row matches task=ratng (task has ranking, rating)"
    code, out, _ = cli(capsys, str(mixed), "--filter", "variant=mlp", "--format", "json")
    assert code == 0 and json.loads(out) == []  # machine formats stay parseable


def test_metric_direction_comes_from_the_chosen_metric():
    from recsearch.results.leaderboard import metric_ascending, selected_trial

    assert metric_ascending("rmse") and metric_ascending("mae")
    assert not metric_ascending("ndcg@10") and not metric_ascending("hr@10")
    frame = pd.DataFrame({"number": [0, 1, 2], "state": ["COMPLETE"] * 3, "value": [0.1, 0.3, 0.2]})
    assert selected_trial(frame, "ndcg@10", False)["number"] == 1
    assert selected_trial(frame, "rmse", True)["number"] == 0
    assert selected_trial(frame, "rmse", True, record_metric="ndcg@10") is None  # value is not an rmse


def test_metric_help_lists_ranking_metrics(capsys):
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "ndcg@10" in text and "hr@10" in text and "rmse" in text


def test_redacted_storage_folder_is_skipped_with_a_warning(mixed, capsys):
    folder = mixed / "mixed" / "d-pg"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("storage: postgresql://u:***@127.0.0.1:1/db\nconfig:\n"
                                       "  search: {study_name: d-pg}\n")
    code, out, err = cli(capsys, str(mixed), "--format", "json")
    assert code == 0
    assert {r["study"] for r in json.loads(out)} == {"a-rank", "b-rating", "c-rating"}
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "d-pg" in lines[0] and "redacted" in lines[0]
    assert "recsearch leaderboard 'postgresql://user:PASSWORD@host/db'" in lines[0]
    from recsearch.results.studies import RedactedStorageError, folder_storage_url, load_study_folder

    with pytest.raises(RedactedStorageError, match="pass the full storage URL"):
        load_study_folder(folder)
    assert folder_storage_url(mixed / "mixed" / "a-rank") == str(mixed / "mixed" / "a-rank" / "study.journal")


def test_a_scan_that_finds_only_redacted_storage_folders_says_where_their_trials_are(tmp_path, capsys):
    """Every study in a database: a skip warning each, then "no study found ...; run `recsearch sweep` first"."""
    for name in ("p1", "p2"):
        folder = tmp_path / "results" / "default" / name
        folder.mkdir(parents=True)
        (folder / "sweep.yaml").write_text(f"storage: postgresql://u:***@127.0.0.1:1/db\nconfig:\n"
                                           f"  search: {{study_name: {name}}}\n")
    code, _, err = cli(capsys, str(tmp_path / "results"))
    last = err.strip().splitlines()[-1]
    assert code == 2 and "run `recsearch sweep` first" not in err
    assert last == (f"recsearch: error: no study under {tmp_path / 'results'} could be read: 2 study folders skipped; "
                    "their trials are in a database: pass its full storage URL, e.g. "
                    "`recsearch leaderboard 'postgresql://user:PASSWORD@host/db'`")
    pd.DataFrame({"variant": ["oracle", "global_mean", "user_mean"], "task": ["rating"] * 3,  # still ranked
                  "metric": ["rmse", "rmse", "mae"], "valid": [0.05, 5.0, 0.9], "test": [0.06, 5.1, 0.95]}).to_csv(
        tmp_path / "results" / "default" / "baselines.csv", index=False)
    code, out, err = cli(capsys, str(tmp_path / "results"), "--format", "json")
    assert code == 0 and {r["variant"] for r in json.loads(out)} == {"oracle", "global_mean"}, err  # the rmse rows


def test_a_torn_first_journal_line_is_still_a_journal(sweeps, tmp_path, capsys):
    """The journal reader recovers from a torn first record; the check for a file that is no journal must not
    refuse such a journal."""
    torn = tmp_path / "torn.journal"
    torn.write_bytes(b'{"op_code":4,"wor\n' + (sweeps.a / "study.journal").read_bytes())
    code, out, err = cli(capsys, str(torn), "--format", "json")
    assert code == 0 and [r["study"] for r in json.loads(out)] == ["a"], err


def test_a_file_that_is_no_journal_is_refused_as_such(tmp_path, capsys):
    """`results` a plain file was read as a journal: an unreadable-record warning, then "holds no study"."""
    (tmp_path / "results").write_text("x\n")
    code, _, err = cli(capsys, str(tmp_path / "results"))
    assert code == 2 and "warning" not in err
    assert f"{tmp_path / 'results'} is a file, but not a study folder, journal file or storage URL" in err


def test_a_redacted_storage_folder_named_by_the_user_gets_the_command_to_run(mixed, capsys):
    """Named itself, the folder gave a skip warning and then "no study found"; `report` named `leaderboard` in its
    hint and showed the example URL's PASSWORD as ***; an experiment folder holding it wrote no report at all."""
    from recsearch.cli import main

    folder = mixed / "mixed" / "d-pg"
    folder.mkdir()
    (folder / "sweep.yaml").write_text("storage: postgresql://u:***@127.0.0.1:1/db\nconfig:\n"
                                       "  search: {study_name: d-pg}\n")
    for command, hint in (("leaderboard", " --study d-pg"), ("report", " --study d-pg"), ("worker", " d-pg")):
        assert main([command, str(folder)]) == 2, command
        err = capsys.readouterr().err
        assert f"`recsearch {command} 'postgresql://user:PASSWORD@host/db'{hint}`" in err, err
        assert "no study found" not in err and "warning" not in err
    assert main(["report", str(mixed / "mixed"), "--output", str(mixed / "r.html")]) == 0
    err = capsys.readouterr().err
    assert "warning: skipped" in err and "`recsearch report 'postgresql://" in err and (mixed / "r.html").is_file()


def test_records_and_errors_never_show_a_storage_password(monkeypatch):
    from optuna.storages import InMemoryStorage

    import recsearch.storage as storage_mod
    from recsearch.errors import RecsearchError
    from recsearch.results.studies import load_storage

    url = "postgresql://u:secret@h/db"
    memory = InMemoryStorage()
    monkeypatch.setattr(storage_mod, "open_storage", lambda _url, **_: memory)
    with pytest.raises(RecsearchError) as err:
        load_storage(url)
    assert "secret" not in str(err.value) and "u:***@h" in str(err.value)
    study = optuna.create_study(study_name="s", storage=memory)
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={"config": "task: {name: rating, metric: rmse}"}))
    (record,) = load_storage(url)
    assert record.storage_url == "postgresql://u:***@h/db"
    with pytest.raises(RecsearchError) as err:
        load_storage(url, "nope")
    assert "secret" not in str(err.value)


# --- numbers in files, counts everywhere, a terminal of 150 columns ------------------------------------------------

def test_wall_time_of_a_resumed_study_leaves_out_the_time_between_its_runs():
    """wall_s counts the seconds in which a trial ran: overlapping workers once, the hours between runs not at all."""
    from datetime import datetime, timedelta

    from recsearch.results.leaderboard import wall_seconds

    at = [datetime(2026, 1, 1) + timedelta(seconds=s) for s in range(0, 7200, 1)]
    frame = pd.DataFrame({"datetime_start": [at[0], at[4], at[3600], at[3610]],  # two workers, a resume an hour later
                          "datetime_complete": [at[10], at[12], at[3605], None]})  # the last trial still running
    assert wall_seconds(frame) == 17.0


def test_csv_columns_are_numbers(sweeps, capsys):
    """wall_s and duration_s are seconds (numbers), n_params a plain integer: the CSV is for computing."""
    from recsearch.results.leaderboard import wall_seconds

    _, out, _ = cli(capsys, str(sweeps.results), "--format", "csv", "--filter", "kind=study")
    board = pd.read_csv(io.StringIO(out)).set_index("study")
    for col in ("valid", "test", "wall_s", "n_params", "complete"):
        assert pd.api.types.is_numeric_dtype(board[col]), (col, board[col].tolist())
    trials = pd.read_parquet(sweeps.a / "trials.parquet")
    assert board.loc["a", "wall_s"] == pytest.approx(wall_seconds(trials), abs=1e-3)
    _, out, _ = cli(capsys, str(sweeps.results), "--per-trial", "--format", "csv", "--filter", "study=a")
    per_trial = pd.read_csv(io.StringIO(out)).set_index("trial").sort_index()
    assert pd.api.types.is_float_dtype(per_trial["duration_s"])
    np_trials = trials.set_index("number").sort_index()
    assert per_trial["duration_s"].tolist() == pytest.approx(np_trials["duration_s"].tolist(), abs=1e-3)


def test_parameter_counts_print_the_same_everywhere(sweeps, capsys):
    from recsearch.results.leaderboard import format_count

    assert format_count(349377) == "349,377" and format_count(349377.0) == "349,377" and format_count(None) == ""
    n = int(expected_best(sweeps.a)["n_params"])
    shown = f"{n:,}"
    assert n >= 1000 and "," in shown
    _, md, _ = cli(capsys, str(sweeps.results), "--format", "markdown")
    _, text, _ = cli(capsys, str(sweeps.results))
    summary = (sweeps.a / "summary.md").read_text()
    for output in (md, text, summary):
        assert shown in output and f" {n} " not in output and "e+0" not in output


def test_per_trial_fits_a_150_column_terminal(sweeps):
    """Every line within 150 characters; constant columns named in the title; each trial's row whole."""
    from rich.console import Console

    from recsearch.commands.leaderboard_cmd import rich_table
    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many

    board = leaderboard(load_many([str(sweeps.results)]), per_trial=True)
    buf = io.StringIO()
    Console(file=buf, width=150, force_terminal=True, color_system=None).print(rich_table(board, 150))
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 150
    text = buf.getvalue()
    assert ("same in every row: kind trial, experiment default, variant mlp, task rating, data synthetic-4000/random, "
            "metric rmse") in text
    header = next(line for line in lines if " valid " in line)
    assert header.split()[:3] == ["rank", "study", "valid"] and "variant" not in header
    for _, row in board.iterrows():  # one line per trial starts with its rank, study and validation value
        if pd.notna(row["valid"]):
            assert any(line.split()[:3] == [str(row["rank"]), row["study"], f"{row['valid']:.4f}"] for line in lines)
    assert "depth=" in text and "model.depth=" not in text  # short parameter names


def test_narrow_terminal_leaves_out_columns_and_says_which(sweeps):
    from rich.console import Console

    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many
    from recsearch.results.terminal_table import terminal_table

    board = leaderboard(load_many([str(sweeps.results)]), per_trial=True)
    buf = io.StringIO()
    Console(file=buf, width=80, force_terminal=True, color_system=None).print(terminal_table(board, 80))
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    flat = " ".join(text.split())
    assert "left out to fit 80 columns: duration_s, epochs_run, test, n_params (--format csv has every column)" in flat


@pytest.mark.parametrize("width", [80, 120, 180])
def test_the_terminal_table_never_splits_a_parameter_item(sweeps, width):
    """Parameters wrap between `key=value` items at any width: a value cut in two reads as another value."""
    from rich.console import Console

    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many
    from recsearch.results.terminal_table import short_params, terminal_table

    board = leaderboard(load_many([str(sweeps.results)]), per_trial=True)
    buf = io.StringIO()
    Console(file=buf, width=width, force_terminal=True, color_system=None).print(terminal_table(board, width))
    words = set(buf.getvalue().split())
    items = {item for text in short_params(board["params"]) for item in text.split()}
    assert items and items <= words, sorted(items - words)


def test_each_metric_and_dataset_is_a_table_of_its_own(mixed):
    """Ranks restart per (metric, data): each group gets its own table, titled with both, even when narrow."""
    from rich.console import Console

    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many
    from recsearch.results.terminal_table import terminal_table

    board = leaderboard(load_many([str(mixed)]))
    buf = io.StringIO()
    Console(file=buf, width=80, force_terminal=True, color_system=None).print(terminal_table(board, 80))
    lines = [line.rstrip() for line in buf.getvalue().splitlines()]
    titles = [line for line in lines if line.startswith("Leaderboard")]
    data = board["data"].iloc[0]
    assert titles == [f"Leaderboard (validation ndcg@10 on {data}, best first)",
                      f"Leaderboard (validation rmse on {data}, best first)"]
    ranking, rating = "\n".join(lines[:lines.index(titles[1])]), "\n".join(lines[lines.index(titles[1]):])
    assert "a-rank" in ranking and "b-rating" not in ranking and "b-rating" in rating and "c-rating" in rating
    headers = [line.split() for line in lines if " valid" in line]
    assert len(headers) == 2 and all("metric" not in h and "data" not in h for h in headers)


def test_an_unreadable_study_found_by_the_scan_is_skipped_not_fatal(mixed, capsys):
    """`leaderboard FOLDER` over many studies: one whose storage is gone is one warning; named alone it fails."""
    broken = mixed / "mixed" / "e-gone"
    broken.mkdir()
    journal = broken / "study.journal"  # never written: the storage is gone
    (broken / "sweep.yaml").write_text(f"storage: {journal}\nconfig:\n  search: {{study_name: e-gone}}\n")
    code, out, err = cli(capsys, str(mixed), "--format", "json")
    assert code == 0 and {r["study"] for r in json.loads(out)} == {"a-rank", "b-rating", "c-rating"}
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"warning: skipped {broken}: "), lines
    code, _, err = cli(capsys, str(broken))
    assert code == 2 and "e-gone" in err


def test_an_unknown_study_name_is_an_error_listing_the_studies(mixed, capsys):
    code, out, err = cli(capsys, str(mixed), "--study", "nosuch")
    assert code == 2 and out == ""
    assert "no study named 'nosuch'" in err and "(studies there: a-rank, b-rating, c-rating)" in err
    code, out, _ = cli(capsys, str(mixed), "--study", "b-rating", "--format", "json")
    assert code == 0 and [r["study"] for r in json.loads(out)] == ["b-rating"]


def test_summary_prints_small_factors_and_integer_parameters_as_they_are():
    """summary.md: an L2 of 1.157e-05 is not 0.0000, and an int parameter stays 9 when a failed trial lacks it."""
    from optuna.distributions import FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    from recsearch.config import compose_config
    from recsearch.results.study_tables import objective_names, summary_markdown, trials_frame

    cfg = compose_config([])
    study = optuna.create_study()
    dists = {"model.embedding_dim": IntDistribution(8, 128, log=True),
             "model.l2": FloatDistribution(1e-7, 1e-2, log=True),
             "train.learning_rate": FloatDistribution(1e-4, 1e-1, log=True)}
    study.add_trial(create_trial(value=0.86, params={"model.embedding_dim": 9, "model.l2": 1.157e-05,
                                                     "train.learning_rate": 0.003912},
                                 distributions=dists, user_attrs={"valid_rmse": 0.86}))
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={"fail_reason": "boom"}))
    names = objective_names(cfg)
    text = summary_markdown(study, trials_frame(study, names), cfg, names)
    row = next(line for line in text.splitlines() if line.startswith("| 0 |"))
    assert "| 9 |" in row and "1.157e-05" in row and "0.0000" not in row and "9.0000" not in row, row
    assert "| 0.003912 |" in row, row  # a learning rate keeps 4 significant digits, not 0.0039


def test_failed_counts_trials_that_failed_as_trials():
    """A sampled repeat (never trained) and an interrupted trial re-run later are not failures; a diverged one
    is, and so is an interrupted one not re-run yet."""
    from recsearch.results.study_tables import failed_count

    frame = pd.DataFrame({"number": [0, 1, 2, 3, 4, 5], "state": ["FAIL", "FAIL", "COMPLETE", "FAIL", "FAIL", "COMPLETE"],
                          "repeat_of": [None, 0.0, None, None, None, None],
                          "retry_of": [None, None, None, None, None, 3.0]})
    assert failed_count(frame) == 2  # trials 0 (diverged) and 4 (interrupted, not re-run yet)
    assert failed_count(frame.drop(columns=["repeat_of", "retry_of"])) == 4  # tables from before: every FAIL
    assert failed_count(frame.iloc[0:0]) == 0


def test_trials_csv_writes_whole_numbers_as_integers(tmp_path):
    """retry_of, pruned_at, seed... are whole numbers even when some trial has none (a float column in pandas)."""
    from optuna.trial import create_trial

    from recsearch.config import compose_config
    from recsearch.results.study_tables import write_study_results

    study = optuna.create_study()
    study.add_trial(create_trial(value=0.9, user_attrs={"seed": 7, "epochs_run": 3}))
    study.add_trial(create_trial(value=0.8, user_attrs={"seed": 8, "retry_of": 0, "epochs_run": 2, "pid": 4242}))
    write_study_results(study, tmp_path, compose_config([]))
    rows = pd.read_csv(tmp_path / "trials.csv", dtype=str, keep_default_na=False)
    assert rows["retry_of"].tolist() == ["", "0"] and rows["seed"].tolist() == ["7", "8"]
    assert rows["pid"].tolist() == ["", "4242"] and rows["epochs_run"].tolist() == ["3", "2"]
    assert pd.read_parquet(tmp_path / "trials.parquet")["retry_of"].isna().tolist() == [True, False]


def test_the_study_scan_looks_where_studies_are_written_not_the_whole_tree(tmp_path):
    """`leaderboard DIR` / `report DIR` find study folders up to 4 folders down, not inside a study folder, a
    hidden folder, a train multirun or a package tree: pointing at ~ or /tmp does not walk everything."""
    from recsearch.results.studies import find_study_folders

    wanted = [tmp_path / "results" / "default" / "mlp-rating", tmp_path / "a" / "b" / "c" / "d"]
    unwanted = [tmp_path / "p" / "q" / "r" / "s" / "t", tmp_path / ".cache" / "x", tmp_path / "results" / "runs" / "r",
                tmp_path / "venv" / "site-packages" / "pkg", wanted[0] / "models" / "inner", wanted[1] / "e"]
    for folder in wanted + unwanted:
        folder.mkdir(parents=True)
        (folder / "sweep.yaml").write_text("overrides: []\n")
    assert find_study_folders(tmp_path) == sorted(wanted)
    assert find_study_folders(wanted[0]) == [wanted[0]]


def test_the_python_leaderboard_refuses_what_the_cli_refuses(mixed):
    """recsearch.leaderboard is what the CLI calls: an unknown metric or top=0 is an error, not empty rows."""
    import recsearch
    from recsearch.errors import RecsearchError

    with pytest.raises(RecsearchError, match=r"metric 'nosuch': no study or baseline reports it; available: ndcg@10"):
        recsearch.leaderboard(mixed, metric="nosuch")
    with pytest.raises(RecsearchError, match="top must be at least 1, got 0"):
        recsearch.leaderboard(mixed, top=0)
    assert recsearch.leaderboard(mixed, metric="rmse", top=1)["study"].tolist()[:1] == ["b-rating"]
    as_list = recsearch.leaderboard([mixed], metric="rmse")  # a list of paths, as one would pass
    assert as_list.equals(recsearch.leaderboard(mixed, metric="rmse"))


def test_a_study_read_from_its_url_is_in_the_experiment_its_sweep_named(tmp_path, capsys):
    """A sweep without +experiment writes results/default/<study>; read from its storage URL it was listed
    under experiment `-`, and a plain Optuna study (no recsearch config) still is."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    ours = optuna.create_study(study_name="ours", storage=url)
    config = "model:\n  name: mf\ntask:\n  name: rating\n  metric: rmse\n  direction: minimize\nexperiment: null\n"
    ours.add_trial(optuna.trial.create_trial(value=0.9, user_attrs={"valid_rmse": 0.9, "config": config}))
    optuna.create_study(study_name="plain", storage=url).add_trial(optuna.trial.create_trial(value=1.0))
    code, out, _ = cli(capsys, url, "--format", "json")
    assert code == 0 and {r["study"]: r["experiment"] for r in json.loads(out)} == {"ours": "default", "plain": "-"}


def test_studies_on_other_data_or_another_split_of_one_label_are_ranked_apart():
    """Two files both named a.csv, and one of them split 50/25/25: one `custom:a.csv/random` label, three data.
    A new user's leaderboard ranked all three in one group (the sweep itself refuses to mix them)."""
    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import make_record

    config = {"data": {"name": "custom", "path": "/x/a.csv"}, "split": {"method": "random"},
              "task": {"name": "rating", "metric": "rmse"}, "model": {"name": "mf"}}
    records = []
    for name, checksum, split, value in [("a", "c1" * 8, "s1" * 8, 0.9), ("b", "c2" * 8, "s2" * 8, 0.5),
                                         ("c", "c1" * 8, "s3" * 8, 0.7), ("d", "c1" * 8, "s1" * 8, 0.8)]:
        study = optuna.create_study(study_name=name)
        study.set_user_attr("fingerprint", {"data_checksum": checksum, "split_key": split})
        study.add_trial(optuna.trial.create_trial(value=value, user_attrs={"valid_rmse": value}))
        records.append(make_record(study, "memory", "default", None, config))
    board = leaderboard(records, metric="rmse")
    groups = {data: sorted(zip(part["rank"], part["study"])) for data, part in board.groupby("data")}
    assert groups == {"custom:a.csv/random (data c1c1c1, split s1s1s1)": [(1, "d"), (2, "a")],
                      "custom:a.csv/random (data c2c2c2)": [(1, "b")],
                      "custom:a.csv/random (data c1c1c1, split s3s3s3)": [(1, "c")]}, groups
    assert len(leaderboard(records, metric="rmse", filters=["data=custom:a.csv/random"])) == 4  # the label still
    assert len(leaderboard(records, metric="rmse", filters=["data=custom:a.csv/random (data c2c2c2)"])) == 1
    assert leaderboard(records, metric="rmse", filters=["data=custom:a"]).empty  # no prefix of another's name
    plain = optuna.create_study(study_name="old")  # a study from before fingerprints: its label as it was
    plain.add_trial(optuna.trial.create_trial(value=0.6, user_attrs={"valid_rmse": 0.6}))
    board = leaderboard([*records, make_record(plain, "memory", "default", None, config)], metric="rmse")
    assert board.loc[board["study"] == "old", "data"].tolist() == ["custom:a.csv/random"]
    alone = leaderboard(records[:1] + records[3:], metric="rmse")  # one data: the label as it was
    assert set(alone["data"]) == {"custom:a.csv/random"}


def test_a_study_of_several_objectives_says_its_row_is_one_end_of_its_pareto_front(pareto_study, sweeps, capsys):
    """A two-objective study was an ordinary row, ranked by its validation metric without a word of its front."""
    code, out, err = cli(capsys, str(pareto_study.parent), str(sweeps.results), "--format", "csv")
    assert code == 0 and set(pd.read_csv(io.StringIO(out))["study"]) >= {"two", "a", "b"}
    front = pd.read_csv(pareto_study / "pareto.csv")
    assert (f"note: study two: it searched 2 objectives (validation rmse, params) and is ranked here by one "
            f"validation metric; its Pareto front of {len(front)} trial") in err, err
    assert f"pareto.csv in {pareto_study}" in err and "study a" not in err and "study b" not in err, err
