"""compare_search: strategies raced over seeds with an equal wall-clock budget; tables, curves and plot."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsearch.search.race import run_clock, run_race, spread_over_seeds


def _trial(start: float, end: float, session: str | None = None) -> SimpleNamespace:
    t0 = datetime(2026, 1, 1)
    return SimpleNamespace(datetime_start=t0 + timedelta(seconds=start), datetime_complete=t0 + timedelta(seconds=end),
                           user_attrs={"session": session} if session else {})


def test_run_clock_counts_sampler_time_but_not_a_stop_and_resume() -> None:
    # without sessions (older studies): 10 s trial, 2 s of sampling, 10 s trial, a 1-hour pause, 5 s trial
    assert run_clock([_trial(0, 10), _trial(12, 22), _trial(3622, 3627)]) == [10.0, 22.0, 27.0]
    # with them: the time between two runs of the command is never the strategy's, however short (other
    # strategies ran meanwhile), while the time between trials of one run is, however long
    assert run_clock([_trial(0, 10, "a"), _trial(12, 22, "a"), _trial(47, 52, "b"), _trial(92, 97, "b")]) == \
        [10.0, 22.0, 27.0, 72.0]


def test_an_interrupted_race_says_so_in_its_table(tiny, isolated_paths) -> None:
    from recsearch.config import compose_config
    from recsearch.search.race import INTERRUPTED_NOTE, write_race

    overrides = [*tiny, "+experiment=compare_search", "compare.strategies=[random]", "compare.seeds=[0]"]
    write_race(compose_config(overrides), overrides, ["random"], [0], interrupted=True)
    assert f"**Note:** {INTERRUPTED_NOTE}" in (isolated_paths / "compare_search" / "comparison.md").read_text()
    write_race(compose_config(overrides), overrides, ["random"], [0])
    assert "Note" not in (isolated_paths / "compare_search" / "comparison.md").read_text()


def test_spread_over_seeds_is_a_step_function_of_the_best_so_far() -> None:
    curves = pd.DataFrame({"strategy": ["a"] * 4, "seed": [0, 0, 1, 1], "trial": [1, 2, 1, 2],
                           "seconds": [1.0, 3.0, 2.0, 4.0], "best": [0.9, 0.8, 1.0, 0.7]})
    spread = spread_over_seeds(curves, "seconds", np.array([0.5, 1.5, 2.5, 5.0]))
    assert np.isnan(spread["mean"][0])  # no run has finished a trial yet
    assert spread["mean"].tolist()[1:] == pytest.approx([0.9, 0.95, 0.75])
    assert spread["min"].tolist()[3] == 0.7 and spread["max"].tolist()[3] == 0.8


@pytest.mark.slow
def test_race_of_two_strategies_over_two_seeds(tiny, isolated_paths, experiments, capsys) -> None:
    shutil.copy(Path(__file__).resolve().parents[2] / "recsearch" / "conf" / "experiment" / "compare_search.yaml", experiments)
    overrides = [*tiny, "+experiment=compare_search", "model.depth=1", "compare.strategies=[random,kt_random]",
                 "compare.seeds=[0,1]", "compare.budget_seconds=600", "search.n_trials=1"]
    assert run_race(overrides, show_progress=False) == 0
    folder = isolated_paths / "compare_search"
    out = capsys.readouterr().out  # each run is named before its trials, and the run ends with where things are
    assert "strategy random, seed 1: 600 s of its budget left" in out and "strategy kt_random, seed 0:" in out
    assert out.strip().splitlines()[-1].startswith(f"results: {folder / 'comparison.md'} (and comparison.html")
    runs = pd.read_csv(folder / "runs.csv")
    assert sorted(zip(runs["strategy"], runs["seed"])) == [("kt_random", 0), ("kt_random", 1), ("random", 0),
                                                           ("random", 1)]
    assert (runs["trials"] == 1).all() and runs["best_valid"].notna().all()
    from recsearch.reproduce import open_study

    for _, run in runs.iterrows():  # the selected trial's validation and test values, as the study holds them
        best = open_study(run["study"]).study.best_trial
        assert run["best_valid"] == pytest.approx(best.value) and run["selected_test"] == pytest.approx(
            best.user_attrs["test_rmse"])
    table = pd.read_csv(folder / "comparison.csv").set_index("strategy")
    for strategy, part in runs.groupby("strategy"):
        assert table.loc[strategy, "best_valid_mean"] == pytest.approx(part["best_valid"].mean())
        assert table.loc[strategy, "seeds"] == 2
    curves = pd.read_csv(folder / "curves.csv")
    for _, run in curves.groupby(["strategy", "seed"]):
        assert (np.diff(run["best"]) <= 1e-12).all() and (np.diff(run["seconds"]) > 0).all()
    html = (folder / "comparison.html").read_text()
    assert "kt_random" in html and "against wall time" in html and "against trials" in html
    assert "| random |" in (folder / "comparison.md").read_text()
    # the seeds really differ, and each run is a study every other command reads
    first = [open_study(str(folder / f"random-seed{s}")).study.trials[0].params for s in (0, 1)]
    assert first[0] != first[1]
    for run in ("random-seed0", "kt_random-seed0"):  # both engines' trials record their run of the command
        assert open_study(str(folder / run)).study.trials[0].user_attrs["session"]
    assert run_race(overrides, show_progress=False) == 0  # re-running a finished race runs nothing new
    assert pd.read_csv(folder / "runs.csv")["trials"].tolist() == runs["trials"].tolist()
