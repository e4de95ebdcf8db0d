"""A small KerasTuner study shared by this package's tests; exports go to a temp experiments folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kt_helpers import KT_SPACE


def tiny_overrides(config: pytest.Config) -> list[str]:
    """TINY from tests/conftest.py (a session-scoped fixture cannot use the function-scoped `tiny`)."""
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
def kt_study(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path, pytestconfig: pytest.Config) -> Any:
    """A 3-trial KerasTuner random search on tiny synthetic data, with TensorBoard logs."""
    from recsearch.search.sweep import run_sweep

    base = tmp_path_factory.mktemp("kt-study")
    overrides = [*tiny_overrides(pytestconfig), *KT_SPACE, "search.engine=kerastuner", "search.tuner=random",
                 "search.n_trials=3", "search.study_name=kt", "train.tensorboard=true"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RECSEARCH_RESULTS_DIR", str(base / "results"))
        mp.setenv("RECSEARCH_CACHE_DIR", str(shared_cache))
        report = run_sweep(overrides, show_progress=False)
    report.overrides = overrides
    report.results = base / "results"
    return report
