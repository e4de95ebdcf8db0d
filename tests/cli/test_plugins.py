"""`recsearch --import MODULE`: a model family registered by the user's own code, used from the command line
(in sweep workers too), from the folder that holds the module, as a user runs it (the console script)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = '''
from dataclasses import dataclass

import recsearch
from recsearch.models.schemas import ModelConfig


@dataclass
class CliDotConfig(ModelConfig):
    name: str = "clidot"
    embedding_dim: int = 8


@recsearch.register_model("clidot", schema=CliDotConfig, tasks=("rating",),
                          search_space={"params": {"model.embedding_dim": "choice(4, 6, 8, 12, 16)"}})
def build_clidot(model_cfg, data):
    import keras  # imported here: recsearch picks the backend first

    user = keras.Input((), dtype="int32", name="user")
    item = keras.Input((), dtype="int32", name="item")
    u = keras.layers.Embedding(data.num_users, model_cfg.embedding_dim)(user)
    i = keras.layers.Embedding(data.num_items, model_cfg.embedding_dim)(item)
    score = keras.layers.Reshape(())(keras.layers.Dot(axes=1)([u, i]))
    return keras.Model({"user": user, "item": item}, keras.layers.Rescaling(1.0, offset=data.global_mean)(score))
'''
SYNTH = ["data=synthetic", "data.synthetic.n_users=120", "data.synthetic.n_items=80", "data.synthetic.n_ratings=3000",
         "train.epochs=1", "train.batch_size=256"]


def _recsearch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("recsearch")  # the console script: the folder is not on sys.path
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "recsearch"]
    env = {k: v for k, v in os.environ.items() if k not in ("RECSEARCH_RESULTS_DIR", "RECSEARCH_IMPORTS")}
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_model_registered_in_the_users_module_runs_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "mymodels.py").write_text(MODULE)
    sweep = _recsearch("--import", "mymodels", "sweep", "--no-progress", "model=clidot", *SYNTH, "search.n_trials=2",
                       "search.n_workers=2", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    import optuna

    journal = tmp_path / "results" / "default" / "clidot-rating" / "study.journal"
    study = optuna.load_study(study_name="clidot-rating", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(journal))))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == 2 and len({t.user_attrs["pid"] for t in done}) == 2  # both workers built the user's model
    recommended = _recsearch("--import", "mymodels", "recommend", "results/default/clidot-rating", "--user", "3",
                             "-n", "3", cwd=tmp_path)
    assert recommended.returncode == 0 and "Top 3 unseen items for user 3" in recommended.stdout, recommended.stderr
    without = _recsearch("recommend", "results/default/clidot-rating", "--user", "3", cwd=tmp_path)
    assert without.returncode == 2 and "recsearch --import MODULE" in without.stderr, without.stderr
    refused = _recsearch("export-best", "results/default/clidot-rating", cwd=tmp_path)
    assert refused.returncode == 2 and "recsearch --import MODULE export-best" in refused.stderr, refused.stderr

    exported = _recsearch("--import", "mymodels", "export-best", "results/default/clidot-rating", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    header = (tmp_path / "experiments" / "clidot-rating-best.yaml").read_text()
    run = "recsearch --import mymodels train +experiment=clidot-rating-best"
    assert run in exported.stdout and f"Run: {run};" in header, header
    trained = _recsearch(*run.split()[1:], "paths.results_dir=refit", cwd=tmp_path)  # the header's command
    configs = list((tmp_path / "refit" / "clidot-rating-best" / "runs").glob("*/config.yaml"))
    assert trained.returncode == 0 and len(configs) == 1, trained.stderr
    assert "name: clidot" in configs[0].read_text()


def test_an_import_that_fails_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom in the user code')\n")
    missing = _recsearch("--import", "nosuchmodule", "config", "show", cwd=tmp_path)
    assert missing.returncode == 2 and missing.stderr.strip() == (
        "recsearch: error: --import nosuchmodule: no module 'nosuchmodule' here; run from the folder that holds "
        "nosuchmodule.py, or install the package that has it"), missing.stderr
    broken = _recsearch("--import", "broken", "config", "show", cwd=tmp_path)
    assert broken.returncode == 2 and broken.stderr.strip() == (
        "recsearch: error: --import broken: importing it failed: RuntimeError: boom in the user code"), broken.stderr


def test_a_search_space_file_of_the_users_replaces_a_registered_familys_whole(tmp_path: Path) -> None:
    """A `conf/search_space/NAME.yaml` beside a family registered with its own search_space: the file wins whole,
    as a file for a packaged option does (Hydra merged the two, with a deprecation warning, three times)."""
    (tmp_path / "mymodels.py").write_text(MODULE.replace('"model.embedding_dim": "choice(4, 6, 8, 12, 16)"',
                                                         '"model.embedding_dim": "choice(4, 8)", '
                                                         '"train.learning_rate": "interval(0.001, 0.1)"'))
    (tmp_path / "conf" / "search_space").mkdir(parents=True)
    (tmp_path / "conf" / "search_space" / "clidot.yaml").write_text("params:\n  model.embedding_dim: choice(2, 3)\n")
    shown = _recsearch("--import", "mymodels", "config", "show", "model=clidot", "search_space=clidot", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    space = shown.stdout.split("search_space:\n", 1)[1].split("\npaths:", 1)[0]
    assert "choice(2, 3)" in space and "learning_rate" not in space, space
    assert "deprecated" not in shown.stderr, shown.stderr
    (tmp_path / "conf" / "search_space" / "clidot.yaml").unlink()  # without the file, the registered space
    shown = _recsearch("--import", "mymodels", "config", "show", "model=clidot", "search_space=clidot", cwd=tmp_path)
    assert "choice(4, 8)" in shown.stdout and "learning_rate" in shown.stdout, shown.stderr[-2000:]


@pytest.mark.slow
def test_a_builder_that_always_raises_stops_the_sweep_after_three_alike_failures(tmp_path: Path) -> None:
    """A user's builder that raised on every call failed ten trials of a budget of two, ten lines of the same error,
    before the sweep gave up."""
    broken = MODULE.replace("def build_clidot(model_cfg, data):\n",
                            "def build_clidot(model_cfg, data):\n    raise ValueError('no such layer: Dott')\n")
    (tmp_path / "mymodels.py").write_text(broken)
    sweep = _recsearch("--import", "mymodels", "sweep", "--no-progress", "model=clidot", *SYNTH, "search.n_trials=2",
                       cwd=tmp_path)
    assert sweep.returncode == 2, sweep.stderr[-2000:]
    assert ("its last 3 trials failed alike and no trial of the study has finished (ValueError: no such layer: "
            "Dott); stopping: fix that, then run the same command again") in sweep.stderr, sweep.stderr[-2000:]
    import pandas as pd

    trials = pd.read_csv(tmp_path / "results" / "default" / "clidot-rating" / "trials.csv")
    ran = trials[~trials["fail_reason"].str.startswith("sampler repeated")]  # repeats never reach the builder
    assert len(ran) == 3 and (trials["state"] == "FAIL").all(), trials
