"""The equal-budget comparison runner on tiny synthetic data: 2 variants x 2 trials."""

from __future__ import annotations

import pandas as pd
import pytest

from recsearch.search.compare import run_comparison

SYNTH = ["data=synthetic", "data.synthetic.n_users=60", "data.synthetic.n_items=200", "data.synthetic.n_ratings=2000",
         "train.epochs=2", "train.batch_size=256", "search.n_trials=2", "search.n_startup_trials=1"]


@pytest.mark.slow
def test_rating_comparison_tables(isolated_paths, capsys, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)  # train.backend=auto, as in a user's shell
    code = run_comparison([*SYNTH, "+experiment=compare_variants", "compare.variants=[mf,autorec]"],
                          show_progress=False)
    assert code == 0
    folder = isolated_paths / "compare_variants"
    printed = capsys.readouterr()
    out = printed.out  # each variant is named before its trials, and the run ends with where things are
    assert "variant mf (1/2)" in out and "variant autorec (2/2)" in out
    assert out.strip().splitlines()[-1].startswith(f"results: {folder / 'comparison.md'}")
    frame = pd.read_csv(folder / "comparison.csv")
    assert set(frame["variant"]) == {"mf", "autorec", "global_mean", "biases"}
    searched = frame[frame["kind"] == "search"].set_index("variant")
    assert (searched["trials_complete"] + searched["trials_pruned"] == 2).all()
    assert searched["valid"].notna().all() and searched["test"].notna().all() and (searched["n_params"] > 0).all()
    assert (frame["metric"] == "rmse").all() and (frame["second_metric"] == "mae").all()
    assert (searched["wall_seconds"] > 0).all()
    assert list(frame["valid"]) == sorted(frame["valid"])  # best (lowest RMSE) first
    base = pd.read_csv(folder / "baselines.csv")
    assert list(base.columns) == ["variant", "task", "metric", "valid", "test"]
    assert {"global_mean", "biases"} == set(base["variant"])
    assert "| mf" in (folder / "comparison.md").read_text() or "mf" in (folder / "comparison.md").read_text()
    assert "Optuna sampler `tpe`, pruner `median` (seed 0)" in (folder / "comparison.md").read_text().splitlines()[0]
    for v in ("mf", "autorec"):
        assert (folder / v / "trials.csv").is_file()
    # train.backend=auto as in a process of its own, whatever Keras this one imported: a study trains and scores
    # alike from any command (in a JAX process autorec's worker runs on TensorFlow; in a TensorFlow one, mf's on JAX)
    import keras

    from recsearch.reproduce import open_study

    for v, backend in (("mf", "jax"), ("autorec", "tensorflow")):
        trials = open_study(str(folder / v)).study.trials
        assert {t.user_attrs["environment"]["backend"] for t in trials} == {backend}, v
        note = f"model {v} trains on {backend} (train.backend=auto) in a worker process"
        assert (note in printed.err) == (backend != keras.backend.backend()), printed.err
    # the comparison's own search.study_name starts a new set of studies, <name>-<variant>, beside the first
    assert run_comparison([*SYNTH, "+experiment=compare_variants", "compare.variants=[mf]", "compare.baselines=false",
                           "search.n_trials=1", "search.study_name=v2"], show_progress=False) == 0
    assert pd.read_csv(folder / "comparison-v2.csv")["study"].tolist() == [str(folder / "v2-mf")]
    assert pd.read_csv(folder / "comparison.csv").equals(frame)  # the first set's tables are kept
    assert "results: " + str(folder / "comparison-v2.md") in capsys.readouterr().out
    assert (folder / "v2-mf" / "trials.csv").is_file() and (folder / "mf" / "trials.csv").is_file()


@pytest.mark.slow
def test_ranking_comparison_tables(isolated_paths):
    code = run_comparison([*SYNTH, "+experiment=compare_variants_ranking", "compare.variants=[mf,two_tower]",
                           "task.num_candidates=20"], show_progress=False)
    assert code == 0
    frame = pd.read_csv(isolated_paths / "compare_variants_ranking" / "comparison.csv")
    assert set(frame["variant"]) == {"mf", "two_tower", "most_popular"}
    assert (frame["metric"] == "ndcg@10").all()
    assert list(frame["valid"]) == sorted(frame["valid"], reverse=True)  # maximised: best first
    assert (frame["second_metric"] == "hr@10").all() and frame["second_test"].notna().all()  # HR@10 beside NDCG@10


def test_variant_overrides_pick_model_space_and_study():
    from recsearch.config import compose_config
    from recsearch.search.compare import variant_overrides

    cfg = compose_config(variant_overrides(["+experiment=compare_variants"], "gmf"))
    assert cfg.model.name == "gmf" and cfg.search.study_name == "gmf"
    # a comparison's own search.study_name names a new set of studies (the sweep's advice on a changed setting)
    named = compose_config(variant_overrides(["+experiment=compare_variants", "search.study_name=v2"], "gmf", "v2"))
    assert named.search.study_name == "v2-gmf"
    assert "model.l2" in cfg.search_space.params and "model.depth" not in cfg.search_space.params


def test_comparison_rejects_variant_without_the_task():
    from recsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="model 'autorec' does not support task 'ranking'"):
        run_comparison(["+experiment=compare_variants_ranking", "compare.variants=[mf,autorec]"], show_progress=False)


def test_comparison_md_shows_wall_seconds_with_one_decimal(isolated_paths, capsys):
    from recsearch.config import compose_config
    from recsearch.search.compare import COLUMNS, write_comparison

    cfg = compose_config(["+experiment=compare_variants", "compare.baselines=false"])
    row = dict.fromkeys(COLUMNS) | {"variant": "mf", "kind": "search", "task": "rating", "metric": "rmse",
                                     "valid": 0.91234, "wall_seconds": 2.1, "trials_complete": 2}
    write_comparison(cfg, [row, row | {"variant": "gmf", "valid": 0.95, "wall_seconds": 1234.56}])
    md = (isolated_paths / "compare_variants" / "comparison.md").read_text()
    mf = next(line for line in md.splitlines() if line.startswith("| mf "))
    gmf = next(line for line in md.splitlines() if line.startswith("| gmf "))
    assert "| 2.1 |" in mf and "2.1000" not in mf and "| 0.9123 |" in mf, mf
    assert "| 1,234.6 |" in gmf, gmf
    assert "| 2.1 |" in capsys.readouterr().out


def test_a_variant_with_more_trials_than_the_budget_is_noted(isolated_paths, capsys):
    """A study kept from an earlier, larger comparison makes the table unequal: comparison.md and stderr say so."""
    from recsearch.config import compose_config
    from recsearch.search.compare import COLUMNS, write_comparison

    cfg = compose_config(["+experiment=compare_variants", "compare.baselines=false", "search.n_trials=4"])
    row = dict.fromkeys(COLUMNS) | {"kind": "search", "task": "rating", "metric": "rmse", "valid": 0.9}
    write_comparison(cfg, [row | {"variant": "mf", "trials_complete": 3, "trials_pruned": 1},
                           row | {"variant": "gmf", "trials_complete": 5, "trials_pruned": 3}])
    md = (isolated_paths / "compare_variants" / "comparison.md").read_text()
    expected = "not an equal budget: finished trials gmf 8, more than this run's 4 per variant"
    assert expected in md and "mf 4" not in md
    assert expected in capsys.readouterr().err
    write_comparison(cfg, [row | {"variant": "mf", "trials_complete": 3, "trials_pruned": 1}])
    assert "equal budget" not in (isolated_paths / "compare_variants" / "comparison.md").read_text()


def test_variants_trained_with_other_settings_are_noted(isolated_paths, capsys):
    """A re-run with another train.epochs kept the variant it had finished at 2 epochs and ranked it beside one
    trained at 1, as an "equal-budget comparison", without a word."""
    from recsearch.config import compose_config
    from recsearch.search.compare import COLUMNS, write_comparison

    cfg = compose_config(["+experiment=compare_variants", "compare.baselines=false", "search.n_trials=2"])
    row = dict.fromkeys(COLUMNS) | {"kind": "search", "task": "rating", "metric": "rmse", "valid": 0.9,
                                    "trials_complete": 2}
    write_comparison(cfg, [row | {"variant": "gmf", "train_setting": {"train.epochs": 2, "train.seed": 42}},
                           row | {"variant": "mlp", "train_setting": {"train.epochs": 1, "train.seed": 42}}])
    expected = "not an equal setting: train.epochs 2 (gmf), 1 (mlp); the studies of an earlier run are kept"
    assert expected in (isolated_paths / "compare_variants" / "comparison.md").read_text()
    assert expected in capsys.readouterr().err
    write_comparison(cfg, [row | {"variant": v, "train_setting": {"train.epochs": 2}} for v in ("gmf", "mlp")])
    assert "equal setting" not in (isolated_paths / "compare_variants" / "comparison.md").read_text()


@pytest.mark.slow
def test_an_interrupted_comparison_says_so_and_notes_what_is_missing(isolated_paths, capsys, monkeypatch):
    """Ctrl-C during the second variant: the tables say which variants are short of the budget, the last line
    says how to resume, and the same command then finishes the comparison."""
    from recsearch.search import sweep as sweep_module

    real = sweep_module.run_sweep

    def interrupted_in_autorec(overrides, **kwargs):
        if "model=autorec" in overrides:  # one trial finishes, then Ctrl-C
            raise sweep_module.SweepInterrupted(real([*overrides, "search.n_trials=1"], **kwargs))
        return real(overrides, **kwargs)

    args = [*SYNTH, "+experiment=compare_variants", "compare.variants=[mf,autorec,gmf]", "compare.baselines=false"]
    monkeypatch.setattr(sweep_module, "run_sweep", interrupted_in_autorec)
    assert run_comparison(args, show_progress=False) == 130
    folder = isolated_paths / "compare_variants"
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == (f"interrupted: finished trials are kept in each variant's study under {folder}; run the same "
                    "command to resume"), last
    note = "not an equal budget yet: finished trials autorec 1, gmf 0 (not run), of 2 per variant"
    assert note in (folder / "comparison.md").read_text()
    monkeypatch.setattr(sweep_module, "run_sweep", real)
    assert run_comparison(args, show_progress=False) == 0
    assert "equal budget" not in (folder / "comparison.md").read_text()
    assert set(pd.read_csv(folder / "comparison.csv")["variant"]) == {"mf", "autorec", "gmf"}


def test_train_on_a_comparison_experiment_says_it_trains_one_model(isolated_paths, capsys):
    from recsearch.cli import main

    assert main(["train", *SYNTH, "+experiment=compare_variants", "train.epochs=1", "model=mf"]) == 0
    assert "compare.variants is used by `recsearch sweep`" in capsys.readouterr().err
