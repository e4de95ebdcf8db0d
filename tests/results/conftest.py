"""Real tiny sweeps shared by the results tests: two studies in one experiment folder, plus baselines.csv."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from results_helpers import RANKING, RATING, fake_study


def _root_conftest():
    """tests/conftest.py (its TINY overrides and DATA_DIR), loaded by path: this file shadows its name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tests_root_conftest", Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TINY, DATA_DIR = _root_conftest().TINY, _root_conftest().DATA_DIR

BASELINES = pd.DataFrame({"variant": ["oracle", "global_mean", "user_mean"], "task": ["rating"] * 3,
                          "metric": ["rmse", "rmse", "mae"], "valid": [0.05, 5.0, 0.9], "test": [0.06, 5.1, 0.95]})


@dataclass
class Sweeps:
    results: Path   # the results dir (paths.results_dir)
    folder: Path    # results/default: the experiment folder holding both studies
    a: Path
    b: Path


def tiny_sweep(results: Path, cache: Path, name: str, *extra: str) -> Path:
    from recsearch.search.sweep import run_sweep

    overrides = [*TINY, f"paths.results_dir={results}", f"paths.cache_dir={cache}", f"paths.data_dir={DATA_DIR}",
                 f"search.study_name={name}", *extra]
    return run_sweep(overrides, show_progress=False).folder


@pytest.fixture(scope="session")
def sweeps(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Sweeps:
    """Study `a` (3 trials) and study `b` (4 trials of 3 epochs, aggressive pruning) under results/default."""
    results = tmp_path_factory.mktemp("sweeps") / "results"
    a = tiny_sweep(results, shared_cache, "a", "search.n_trials=3")
    b = tiny_sweep(results, shared_cache, "b", "search.n_trials=4", "train.epochs=3", "search.n_startup_trials=1",
                   "search.n_warmup_steps=0", "search.seed=1")
    BASELINES.to_csv(a.parent / "baselines.csv", index=False)
    return Sweeps(results=results, folder=a.parent, a=a, b=b)


@pytest.fixture(scope="session")
def pareto_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    """A study of 4 trials on 2 objectives: validation rmse and the model's parameter count."""
    results = tmp_path_factory.mktemp("pareto") / "results"
    return tiny_sweep(results, shared_cache, "two", "search.n_trials=4", "search.objectives=[params]")


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A ranking study first in sorted order (ndcg@10, maximize), then two rating studies (rmse, minimize)."""
    results = tmp_path / "results"
    fake_study(results, "a-rank", RANKING, [0.1, 0.3, 0.2])
    fake_study(results, "b-rating", RATING, [0.95, 0.8])
    fake_study(results, "c-rating", RATING, [0.9, 1.1])
    return results
