"""The built wheel, installed into a fresh virtual environment outside the checkout, works from an empty folder:
`recsearch train`, a 2-trial sweep, a user's `./conf/model/` option and `./experiments/` file, export-best.

Dependencies come from the test interpreter's site-packages (a .pth line: no download, and its .pth files,
such as an editable install of this checkout, are not run), recsearch itself only from the wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("RECSEARCH_DATA_DIR", ROOT.parent / "shared" / "datasets")).resolve()

MODEL = "name: mlp\ndepth: 1\nwidth: 8\nembedding_dim: 8\n"
SPACE = "params:\n  train.learning_rate: tag(log, interval(1e-3, 1e-1))\n  model.width: choice(4, 8)\n"
EXPERIMENT = """# @package _global_
defaults:
  - override /data: synthetic
  - override /model: tiny_mlp
data:
  synthetic: {n_users: 100, n_items: 60, n_ratings: 3000}
train: {epochs: 1}
search: {n_trials: 2}
"""


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}: {done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (outside the checkout) with the wheel built from this checkout installed; returns its bin/."""
    base = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    source = base / "src"  # a clean copy: no stale build/ or egg-info of the checkout ends up in the wheel
    shutil.copytree(ROOT / "recsearch", source / "recsearch", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"),
          str(source)], base, env)
    wheel = next((base / "dist").glob("recsearch-*.whl"))
    _run([sys.executable, "-m", "venv", "--without-pip", str(base / "venv")], base, env)
    python = base / "venv" / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], base, env)
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base, env)
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib.stdout.strip()) / "_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    return python.parent


@pytest.mark.slow
def test_wheel_carries_the_configs_and_runs_from_an_empty_folder(installed: Path, tmp_path: Path,
                                                                 shared_cache: Path) -> None:
    user = tmp_path / "empty"
    (user / "conf" / "model").mkdir(parents=True)
    (user / "conf" / "search_space").mkdir()
    (user / "experiments").mkdir()
    (user / "conf" / "model" / "tiny_mlp.yaml").write_text(MODEL)
    (user / "conf" / "search_space" / "tiny_mlp.yaml").write_text(SPACE)
    (user / "experiments" / "quick.yaml").write_text(EXPERIMENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "RECSEARCH_"))}
    env.update(RECSEARCH_DATA_DIR=str(DATA_DIR), RECSEARCH_CACHE_DIR=str(shared_cache))

    where = _run([str(installed / "python"), "-c", "import recsearch, recsearch.config as c; "
                  "print(recsearch.__file__); print(c.package_conf_dir())"], user, env).stdout.split()
    assert all(str(installed.parent) in line for line in where), where  # the wheel's code and configs

    _run([str(installed / "recsearch"), "train", "train.epochs=1"], user, env)
    assert list((user / "results" / "default" / "runs").glob("*-mlp/model.keras"))

    _run([str(installed / "recsearch"), "sweep", "+experiment=quick", "--no-progress"], user, env)
    study = user / "results" / "quick" / "mlp-rating"
    import pandas as pd
    from omegaconf import OmegaConf

    trials = pd.read_csv(study / "trials.csv")
    assert len(trials) == 2 and set(trials["params_model.width"]) <= {4, 8}  # the user's search space
    best = OmegaConf.load(study / "best.yaml")
    assert best.model.depth == 1 and best.model.embedding_dim == 8 and best.data.name == "synthetic"

    _run([str(installed / "recsearch"), "export-best", str(study), "--name", "mine"], user, env)
    assert (user / "experiments" / "mine.yaml").is_file()  # into the working folder, not the install
    header = [line for line in (user / "experiments" / "mine.yaml").read_text().splitlines() if line.startswith("#")]
    assert any("optuna" in line for line in header) and not any("commit" in line for line in header)  # no git here
    shown = _run([str(installed / "recsearch"), "config", "show", "+experiment=mine"], user, env).stdout
    assert OmegaConf.create(shown).model.embedding_dim == 8
