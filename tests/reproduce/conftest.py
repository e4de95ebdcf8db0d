"""A tiny study shared by the package's tests, and a temp experiments folder for every test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _tiny(config: pytest.Config) -> list[str]:
    """TINY from tests/conftest.py (a module-scoped fixture cannot use the function-scoped `tiny`)."""
    root = config.pluginmanager.get_plugin(str(Path(__file__).resolve().parents[1] / "conftest.py"))
    return list(root.TINY)


@pytest.fixture(autouse=True)
def experiments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports go to a temp folder, never to the repository's experiments/."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, pytestconfig: pytest.Config) -> Any:
    """A 2-trial sweep on tiny synthetic data, stored in SQLite (so the URL must not leak into exports)."""
    from recsearch.search.sweep import run_sweep

    base = tmp_path_factory.mktemp("tiny-study")
    overrides = [*_tiny(pytestconfig), "search.n_trials=2", "search.study_name=tiny",
                 f"search.storage=sqlite:///{base}/studies.db"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSEARCH_RESULTS_DIR", str(base / "results"))
        mp.setenv("RECSEARCH_CACHE_DIR", str(shared_cache))
        report = run_sweep(overrides, show_progress=False)
    return report
