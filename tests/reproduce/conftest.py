"""A tiny study shared by the package's tests, and a temp experiments folder for every test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _exports_to_temp(experiments: Path) -> Path:
    """Every test here exports to a temp experiments folder (tests/conftest.py `experiments`)."""
    return experiments


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, tiny_session: list[str]) -> Any:
    """A 2-trial sweep on tiny synthetic data, stored in SQLite (so the URL must not leak into exports)."""
    from recsearch.search.sweep import run_sweep

    base = tmp_path_factory.mktemp("tiny-study")
    overrides = [*tiny_session, "search.n_trials=2", "search.study_name=tiny",
                 f"search.storage=sqlite:///{base}/studies.db"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSEARCH_RESULTS_DIR", str(base / "results"))
        mp.setenv("RECSEARCH_CACHE_DIR", str(shared_cache))
        report = run_sweep(overrides, show_progress=False)
    return report
