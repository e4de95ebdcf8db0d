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
    assert md.splitlines()[0] == "| " + " | ".join(STUDY_COLUMNS) + " |"
    assert len(md.strip().splitlines()) == 2 + 4  # header, rule, 2 studies + 2 rmse baselines
    _, page, _ = cli(capsys, str(sweeps.results), "--format", "html")
    assert page.startswith("<table") and page.count("<tr") == 1 + 4 and "<th>params</th>" in page
    _, text, _ = cli(capsys, str(sweeps.results))  # captured: not a terminal, so plain text
    lines = text.strip().splitlines()
    assert lines[0].split()[:4] == ["rank", "kind", "experiment", "study"] and len(lines) == 5
    assert "┃" not in text and "│" not in text
    assert lines[1].split()[:2] == ["1", "baseline"]


def test_rich_table_in_a_terminal(sweeps):
    from rich.console import Console

    from recsearch.commands.leaderboard_cmd import rich_table
    from recsearch.results.leaderboard import leaderboard
    from recsearch.results.studies import load_many, read_baselines

    buf = io.StringIO()
    board = leaderboard(load_many([str(sweeps.results)]), read_baselines(sweeps.folder / "baselines.csv"))
    Console(file=buf, width=250, force_terminal=True, color_system=None).print(rich_table(board))
    text = buf.getvalue()
    assert "Leaderboard (validation rmse" in text and "┃" in text and "oracle" in text
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
    _, out, _ = cli(capsys, str(sweeps.results), "--format", "csv", "--filter", "variant=mlp", "--top", "1")
    top = pd.read_csv(io.StringIO(out))
    assert len(top) == 1 and top["kind"].iloc[0] == "study" and top["rank"].iloc[0] == 1


def test_bad_filter_and_bad_paths_say_why(sweeps, capsys, tmp_path):
    code, _, err = cli(capsys, str(sweeps.results), "--filter", "colour=red")
    assert code == 2 and "no column or parameter 'colour'" in err and "variant" in err
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
