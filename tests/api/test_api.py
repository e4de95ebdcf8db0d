"""The Python API and the train command's Hydra conventions: -m/--multirun, --cfg job, refit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

import recsearch
from recsearch.api import keyword_overrides
from recsearch.cli import main
from recsearch.errors import ConfigError


def test_keyword_values_become_overrides() -> None:
    assert keyword_overrides({"model": "mf", "train": {"epochs": 2, "deterministic": False},
                              "search": {"storage": None, "objectives": ["params"]},
                              "data": {"path": "/a b/c"}}) == [
        "model=mf", "train.epochs=2", "train.deterministic=false", "search.storage=null",
        "search.objectives=[params]", "data.path='/a b/c'"]


def test_keyword_values_reach_hydra_as_they_were_given() -> None:
    """Backslashes were doubled (Hydra keeps a backslash that precedes no quote: `C:\\d` became `C:\\\\d`); a dict key
    Hydra reads unquoted (`a:b`, `my key`) is refused rather than misread."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for value in ["C:\\dir\\x", "a'b", "end\\", "a\\'b", "x y", {"model.width": "choice(1, 2)", "n": {"k": [1, "a"]}}]:
        (override,) = keyword_overrides({"data": {"path": value}})
        assert parser.parse_override(override).value() == value, override
    for key in ("a:b", "my key"):
        with pytest.raises(ConfigError, match="of a keyword dict"):
            keyword_overrides({"search_space": {"params": {"model.x": 1, key: 2}}})


def test_in_a_multirun_a_keyword_list_is_the_values_to_run() -> None:
    assert keyword_overrides({"model": ["mf", "gmf"], "train": {"learning_rate": (0.01, 0.001)},
                              "split": {"ratios": [[0.8, 0.1, 0.1], [0.7, 0.1, 0.2]]}}, each=True) == [
        "model=mf,gmf", "train.learning_rate=0.01,0.001", "split.ratios=[0.8,0.1,0.1],[0.7,0.1,0.2]"]


def test_compose_takes_overrides_keywords_and_a_dictconfig() -> None:
    assert recsearch.compose(data="synthetic", model="gmf").data.name == "synthetic"  # group choices by keyword
    cfg = recsearch.compose(["model=mf"], train={"epochs": 3})
    assert cfg.model.name == "mf" and cfg.train.epochs == 3
    again = recsearch.compose(cfg, train={"patience": 9})
    assert again.model.name == "mf" and again.train.epochs == 3 and again.train.patience == 9
    with pytest.raises(ConfigError, match="model.embedding_dim"):
        recsearch.compose(cfg, model={"embedding_dim": "wide"})


def test_a_search_space_given_as_a_keyword_dict_is_merged_or_replaces_the_models_space(tmp_path: Path) -> None:
    """`search_space={"params": {"model.width": ...}}` was flattened into `search_space.params.model.width` and
    refused by Hydra with advice that does not apply; a bad group value reached Hydra's own ValueError."""
    space = {"params": {"model.width": "choice(16, 32)"},
             "conditions": {"model.width_schedule": {"model.depth": ">= 2"}}}
    assert keyword_overrides({"search_space": space}) == [
        "++search_space.params={model.width: 'choice(16, 32)'}",
        "++search_space.conditions={model.width_schedule: {model.depth: '>= 2'}}"]
    merged = recsearch.compose(model="mlp", search_space=space).search_space
    assert merged.params["model.width"] == "choice(16, 32)" and "model.dropout" in merged.params  # the others stay
    assert dict(merged.conditions["model.width_schedule"]) == {"model.depth": ">= 2"}
    alone = recsearch.compose(["~search_space"], model="mlp", search_space={"params": {"model.depth": "range(1, 3)"}})
    assert dict(alone.search_space.params) == {"model.depth": "range(1, 3)"}
    onto = recsearch.compose(recsearch.compose(model="mlp"), search_space=space)  # a DictConfig, and a saved file
    assert onto.search_space.params["model.width"] == "choice(16, 32)" and "model.dropout" in onto.search_space.params
    OmegaConf.save(recsearch.compose(model="mlp"), tmp_path / "config.yaml")
    saved = recsearch.compose(config_file=tmp_path / "config.yaml", search_space=space)
    assert saved.search_space.params["model.width"] == "choice(16, 32)" and "model.dropout" in saved.search_space.params
    with pytest.raises(ConfigError, match="group choices need composition"):
        recsearch.compose(config_file=tmp_path / "config.yaml", model="mf")
    with pytest.raises(ConfigError, match="removing it would silently restore"):  # only a space may be re-filled so
        recsearch.compose(["~train"], train={"epochs": 3})
    with pytest.raises(ConfigError, match="'search_space' is a config group and takes the name of one of its options"):
        recsearch.compose(["search_space=null"])
    with pytest.raises(ConfigError, match="is a search expression, but a sweep searches only search_space.params"):
        recsearch.sweep(["model.width=choice(16,32)"], model="mlp")


def test_cfg_job_prints_the_config_and_trains_nothing(capsys: pytest.CaptureFixture, isolated_paths: Path) -> None:
    assert main(["train", "--cfg", "job", "model=mf", "search.storage=postgresql://u:secret@h/db"]) == 0
    printed = OmegaConf.create(capsys.readouterr().out)
    assert printed.model.name == "mf" and "secret" not in str(printed.search.storage)
    assert "num_candidates" not in printed.task and "clip_predictions" in printed.task  # rating keys only
    assert not isolated_paths.exists()


def test_config_show_prints_the_ranking_keys_only_under_ranking(capsys: pytest.CaptureFixture) -> None:
    assert main(["config", "show", "task=ranking"]) == 0
    task = OmegaConf.create(capsys.readouterr().out).task
    assert "num_candidates" in task and "clip_predictions" not in task


@pytest.mark.slow
def test_multirun_runs_every_combination_and_writes_one_table(tiny: list[str], isolated_paths: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    tiny = [o for o in tiny if not o.startswith("model.")] + ["train.epochs=1"]
    assert main(["train", "-m", "model=mlp,mf", *tiny, "--no-save-model"]) == 0
    out = capsys.readouterr().out
    tables = list((isolated_paths / "multirun").glob("*/runs.csv"))
    assert len(tables) == 1 and str(tables[0]) in out.replace("\n", "")
    table = pd.read_csv(tables[0])
    assert table["model"].tolist() == ["mlp", "mf"] and table["valid_rmse"].notna().all()
    for row in table.itertuples():  # each run folder holds the config of its combination
        assert OmegaConf.load(Path(row.run_dir) / "config.yaml").model.name == row.model


def test_a_failing_run_of_a_multirun_is_a_row_and_the_others_still_run(tiny: list[str], isolated_paths: Path,
                                                                         capsys: pytest.CaptureFixture) -> None:
    """A diverging combination used to end the multirun with one line: later runs never ran, and nothing said
    that the table held only the runs before it."""
    args = ["train", "-m", *tiny, "train.epochs=1", "train.optimizer=sgd", "train.learning_rate=1e25,0.01",
            "--no-save-model"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "run 1/2 failed: TrainingDiverged" in err and "1 of 2 runs failed (run 1/2); their rows in the" in err
    table = pd.read_csv(next((isolated_paths / "multirun").glob("*/runs.csv")))
    assert table["error"].notna().tolist() == [True, False] and table["valid_rmse"].isna().tolist() == [True, False]


def test_a_multirun_over_data_keeps_going_past_one_datas_error(tiny: list[str], isolated_paths: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    """`data.path=bad.csv,good.csv`: the bad file's error is its run's row and the good file still trains (it
    stopped the multirun, as an error of data every run shares still does)."""
    import numpy as np

    rng = np.random.default_rng(0)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    table = pd.DataFrame({"userId": rng.integers(0, 60, 3000), "movieId": rng.integers(0, 40, 3000),
                          "rating": rng.integers(1, 6, 3000).astype(float), "timestamp": np.arange(3000)})
    table.to_csv(good, index=False)
    bad.write_text(good.read_text().replace("rating", "score", 1))
    rest = [o for o in tiny if not o.startswith("data") and not o.startswith("train.epochs")]
    assert main(["train", "-m", "data=custom", f"data.path={bad},{good}", *rest, "train.epochs=1",
                 "train.seed=1,2", "--no-save-model"]) == 2
    err = capsys.readouterr().err
    assert "run 1/4 failed: " in err and "missing column 'rating'" in err, err
    assert err.count("missing column 'rating'") == 2  # run 2 on the same data: its error, without reading it again
    table = pd.read_csv(next((isolated_paths / "multirun").glob("*/runs.csv")))
    assert table["error"].notna().tolist() == [True, True, False, False]
    assert table["valid_rmse"].notna().tolist() == [False, False, True, True]
    assert main(["train", "-m", "data=custom", f"data.path={bad}", *rest, "train.epochs=1,2", "--no-save-model"]) == 2
    err = capsys.readouterr().err  # the same bad data in every run: its one line, and no run tried
    assert "missing column 'rating'" in err and "run 1/2 failed" not in err, err


def test_a_ctrl_c_that_c_code_turned_into_another_error_stops_a_multirun(tiny: list[str], isolated_paths: Path,
                                                                         monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture) -> None:
    """A failing run no longer ends a multirun, but a Ctrl-C that TensorFlow's C code made a SystemError (seen in
    CI) must: it is not that run's failure."""
    import signal

    from recsearch import runs

    calls = []

    def mangled_ctrl_c(cfg, **kwargs):
        calls.append(cfg)
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            raise SystemError("Objects/listobject.c:338: bad argument to internal function") from None

    monkeypatch.setattr(runs, "run_training", mangled_ctrl_c)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            recsearch.train([*tiny, "train.epochs=1,2"], multirun=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(calls) == 1 and "failed" not in capsys.readouterr().err  # not taken for the run's own failure
    assert not list(isolated_paths.glob("multirun/*/runs.csv"))  # no row: nothing finished


def test_multirun_validates_every_combination_before_training(tiny: list[str], isolated_paths: Path) -> None:
    with pytest.raises(ConfigError, match="train.optimizer"):
        recsearch.train([*tiny, "train.optimizer=adam,adagrad"], multirun=True)
    with pytest.raises(ConfigError, match="'train.optimizer': 'adagrad' is not one of"):  # a keyword list alike
        recsearch.train(tiny, multirun=True, train={"optimizer": ["adam", "adagrad"]})
    assert not isolated_paths.exists()


@pytest.mark.slow
def test_refit_retrains_the_chosen_epochs_on_train_and_validation(tiny: list[str]) -> None:
    record = recsearch.train([*tiny, "train.epochs=3", "train.refit=true"])
    s = record.summary
    assert s["refit_epochs"] == s["best_epoch"] and "refit_test_rmse" in s and "valid_rmse" in s
    history = pd.read_csv(record.run_dir / "history.csv")  # the run validated on validation
    assert len(history) == s["epochs_run"] and history["val_rmse"].min() == pytest.approx(s["valid_rmse"])
    refit = pd.read_csv(record.run_dir / "refit_history.csv")  # the saved model's: train + validation
    assert len(refit) == s["best_epoch"] and "loss" in refit and not any(c.startswith("val_") for c in refit)
    assert json.loads((record.run_dir / "metrics.json").read_text())["refit_test_rmse"] == s["refit_test_rmse"]
    again = recsearch.train([*tiny, "train.refit=true", "train.refit_epochs=1"])
    recorded = again.summary
    assert recorded["refit_epochs"] == 1 and "valid_rmse" not in recorded  # no first run when epochs are known
    assert not (again.run_dir / "history.csv").exists() and (again.run_dir / "refit_history.csv").is_file()


def test_register_model_refuses_a_schema_without_name() -> None:
    from dataclasses import dataclass

    @dataclass
    class NoName:
        width: int = 3

    with pytest.raises(ConfigError, match="`name` field"):
        recsearch.register_model("noname", schema=NoName)


def test_register_model_refuses_a_builtin_name() -> None:
    from recsearch.models.schemas import MfConfig

    with pytest.raises(ConfigError, match="built-in"):
        recsearch.register_model("mf", schema=MfConfig)(lambda cfg, data: None)


def _one_parameter_builder(model_cfg):  # noqa: ANN001, ANN202 - never called
    raise AssertionError("not built")


def test_register_model_refuses_a_builder_that_cannot_take_model_cfg_and_data() -> None:
    """`def build(model_cfg)` registered fine, then every trial of a sweep failed with the same TypeError."""
    from dataclasses import dataclass

    from recsearch.models.registry import MODELS

    @dataclass
    class OneConfig:
        name: str = "one_param"

    with pytest.raises(ConfigError, match=r"^register_model\('one_param'\): the builder is called as "
                                          r"_one_parameter_builder\(model_cfg, data\), but it takes \(model_cfg\)"):
        recsearch.register_model("one_param", schema=OneConfig)(_one_parameter_builder)
    assert "one_param" not in MODELS


@pytest.mark.slow
def test_load_model_in_a_fresh_process_predicts_what_the_trained_model_did(tiny: list[str],
                                                                         isolated_paths: Path) -> None:
    """A saved mf (custom layers) loads with recsearch.load_model from its file or its run folder, in a new
    interpreter that never imported recsearch's models, without KERAS_BACKEND set; a bad path is one clear error."""
    import os
    import subprocess
    import sys

    import numpy as np

    record = recsearch.train([*tiny[:4], "model=mf", "model.embedding_dim=8", "train.epochs=1"])
    batch = {"user": np.arange(5, dtype="int32"), "item": np.arange(5, dtype="int32")}
    expected = np.asarray(record.model.predict_on_batch(batch)).ravel()
    code = ("import sys, numpy as np, recsearch, recsearch.errors\n"
            "batch = {'user': np.arange(5, dtype='int32'), 'item': np.arange(5, dtype='int32')}\n"
            "for target in sys.argv[1:3]:\n"
            "    print(*np.asarray(recsearch.load_model(target).predict_on_batch(batch)).ravel())\n"
            "try:\n"
            "    recsearch.load_model(sys.argv[3])\n"
            "except recsearch.errors.RecsearchError as exc:\n"
            "    print('error:', exc)\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code, str(record.run_dir / "model.keras"), str(record.run_dir),
                           str(isolated_paths / "nothing.keras")], env=env, cwd=isolated_paths.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    for line in lines[:2]:
        np.testing.assert_allclose([float(v) for v in line.split()], expected, rtol=1e-5)
    assert lines[2] == f"error: {isolated_paths / 'nothing.keras'}: no such model file or folder"


def test_a_model_loaded_compiled_in_a_new_process_trains_on(tiny: list[str], isolated_paths: Path) -> None:
    """`load_model(..., compile=True)` in a new interpreter gives the model with its loss, metrics and the
    optimizer's state after its last epoch (steps taken, Adam's moments), with no Keras warning about skipped
    optimizer variables, and `fit` trains on from there."""
    import os
    import subprocess
    import sys

    import numpy as np

    record = recsearch.train([*tiny[:4], "model=mlp", "model.depth=1", "train.epochs=2"])
    trained = record.model.optimizer
    code = ("import sys, warnings, numpy as np, recsearch\n"
            "warnings.simplefilter('always')\n"
            "model = recsearch.load_model(sys.argv[1], compile=True)\n"
            "state = model.optimizer.variables\n"
            "print(int(model.optimizer.iterations), len(state), float(np.abs(np.asarray(state[2])).sum()))\n"
            "rows = {'user': np.arange(8, dtype='int32'), 'item': np.arange(8, dtype='int32')}\n"
            "model.fit(rows, np.full(8, 3.5, 'float32'), batch_size=4, epochs=1, verbose=0)\n"
            "print(int(model.optimizer.iterations))\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code, str(record.run_dir / "model.keras")], env=env,
                          cwd=isolated_paths.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Skipping variable loading" not in done.stderr, done.stderr[-2000:]
    loaded, after = done.stdout.strip().splitlines()[-2:]
    steps, count, first_slot = loaded.split()
    assert int(steps) == int(trained.iterations) > 0 and int(count) == len(trained.variables) > 2
    assert float(first_slot) == pytest.approx(float(np.abs(np.asarray(trained.variables[2])).sum()), rel=1e-5)
    assert float(first_slot) > 0 and int(after) == int(steps) + 2


def test_a_ranking_model_loaded_compiled_says_it_has_no_training_setup(tiny: list[str], isolated_paths: Path) -> None:
    """A ranking model trains inside a wrapper that is not saved: `compile=True` names that, instead of handing
    back an uncompiled model as if it were compiled."""
    from recsearch.errors import RecsearchError

    record = recsearch.train([*tiny, "task=ranking", "split=leave_one_out", "train.epochs=1"])
    path = record.run_dir / "model.keras"
    assert recsearch.load_model(path) is not None
    with pytest.raises(RecsearchError, match="saved without a training setup to compile it with .*compile=False"):
        recsearch.load_model(path, compile=True)


def test_recommendations_are_the_recommend_commands_table(tiny: list[str], isolated_paths: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """The model's top items for a user, as `recsearch recommend` lists them (asked twice: `recsearch.recommend`
    would be shadowed by the package of that name once imported)."""
    assert main(["train", *tiny]) == 0
    [run] = list((isolated_paths / "default" / "runs").iterdir())
    first = recsearch.recommendations(run, 3, n=4)
    again = recsearch.recommendations(str(run), "3", n=4)
    assert list(first.columns[:3]) == ["item_index", "item_id", "title"] and len(first) == 4
    assert first["score"].is_monotonic_decreasing and first.equals(again)
    capsys.readouterr()
    assert main(["recommend", str(run), "--user", "3", "-n", "4"]) == 0
    shown = capsys.readouterr().out
    assert all(f" {item} " in shown for item in first["item_id"]), shown


def test_train_reports_each_epoch_to_on_epoch_and_the_command_shows_it(tiny: list[str], isolated_paths: Path) -> None:
    """`recsearch train` on millions of ratings showed a spinner alone for minutes: no epoch, no metric."""
    import pandas as pd

    from recsearch.commands.train_cmd import EpochStatus

    seen: list[tuple[int, dict]] = []
    record = recsearch.train([*tiny, "train.epochs=3", "train.patience=3"],
                             on_epoch=lambda epoch, logs: seen.append((epoch, logs)))
    history = pd.read_csv(record.run_dir / "history.csv")
    assert [epoch for epoch, _ in seen] == history["epoch"].tolist() == list(range(1, record.summary["epochs_run"] + 1))
    assert [logs["val_rmse"] for _, logs in seen] == pytest.approx(history["val_rmse"].tolist())
    status = EpochStatus("training mf on ml", 10, "rmse", "minimize")
    status.text(1, {"val_rmse": 0.9})
    text = status.text(2, {"loss": 0.5, "val_rmse": 0.95})
    assert re.fullmatch(r"training mf on ml: epoch 2/10, val_rmse 0.9500 \(best 0.9000, epoch 1\), [0-9.]+ s/epoch",
                        text), text
    refit = status.text(1, {"loss": 0.4, "val_rmse": 0.8, "refit_epochs": 2.0})
    assert re.fullmatch(r"training mf on ml: refit on train \+ validation, epoch 1/2, loss 0.4000, [0-9.]+ s", refit)
    assert EpochStatus("t", 5, "ndcg@10", "maximize").start().text(1, {"val_ndcg@10": 0.3}).startswith(
        "t: epoch 1/5, val_ndcg@10 0.3000 (best 0.3000, epoch 1), ")
    refits: list[tuple[int, dict]] = []
    recsearch.train([*tiny, "train.epochs=2", "train.refit=true"], on_epoch=lambda e, logs: refits.append((e, logs)))
    assert [e for e, logs in refits if "refit_epochs" in logs] == list(range(1, int(refits[-1][1]["refit_epochs"]) + 1))
