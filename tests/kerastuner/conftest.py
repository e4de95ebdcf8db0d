"""A small KerasTuner study shared by this package's tests; exports go to a temp experiments folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kt_helpers import KT_SPACE


@pytest.fixture(autouse=True)
def _exports_to_temp(experiments: Path) -> Path:
    """Every test here exports to a temp experiments folder (tests/conftest.py `experiments`)."""
    return experiments


@pytest.fixture(scope="session")
def kt_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, tiny_session: list[str]) -> Any:
    """A 3-trial KerasTuner random search on tiny synthetic data, with TensorBoard logs."""
    from recsearch.search.sweep import run_sweep

    base = tmp_path_factory.mktemp("kt-study")
    overrides = [*tiny_session, *KT_SPACE, "search.engine=kerastuner", "search.tuner=random",
                 "search.n_trials=3", "search.study_name=kt", "train.tensorboard=true"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSEARCH_RESULTS_DIR", str(base / "results"))
        mp.setenv("RECSEARCH_CACHE_DIR", str(shared_cache))
        report = run_sweep(overrides, show_progress=False)
    report.overrides = overrides
    report.results = base / "results"
    return report
