"""Shared test set-up: real data from ../shared/datasets, results and caches in temp folders, small configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("RECSEARCH_DATA_DIR", REPO.parent / "shared" / "datasets")).resolve()

# Small synthetic data and short training: for tests of mechanics, not of model quality.
TINY = [
    "data=synthetic", "data.synthetic.n_users=120", "data.synthetic.n_items=80", "data.synthetic.n_ratings=4000",
    "train.epochs=2", "train.batch_size=256", "model.depth=1", "model.width=16", "model.embedding_dim=8",
]


# Rows of the fault suite's table (tests/search/test_fault_suite.py): each test adds its row to its report's
# user_properties, which pytest-xdist carries from the worker that ran it to this process.
FAULT_ROWS: list[tuple[str, int, int, int]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":  # the teardown report carries the same properties
        FAULT_ROWS.extend(value for key, value in report.user_properties if key == "fault_suite")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the fault suite's rows: fault, faults injected, finished trials lost, repeated configs."""
    if not FAULT_ROWS or hasattr(config, "workerinput"):
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"{'fault':<30} {'injected':>8} {'lost':>5} {'repeats':>7}")
    for name, injected, lost, repeats in FAULT_ROWS:
        terminalreporter.write_line(f"{name:<30} {injected:>8} {lost:>5} {repeats:>7}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked `first` run first. pytest-xdist hands tests out in collection order, so the longest one,
    the other backend's session (tests/test_other_backend.py, minutes), would otherwise keep one worker busy alone
    at the end."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)  # stable: the rest keep their order


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("RECSEARCH_DATA_DIR", str(DATA_DIR))
    from recsearch.training.backend import setup_backend

    # JAX, as `train.backend=auto` gives users; TensorFlow's session: tests/test_other_backend.py
    setup_backend(os.environ.get("KERAS_BACKEND", "jax"))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One prepared-split cache for the whole session, so each split is prepared once."""
    return tmp_path_factory.mktemp("prepared-cache")


@pytest.fixture(autouse=True)
def isolated_paths(tmp_path: Path, shared_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes results under its own tmp folder; the data dir is the shared datasets."""
    monkeypatch.setenv("RECSEARCH_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("RECSEARCH_CACHE_DIR", str(shared_cache))
    monkeypatch.setenv("RECSEARCH_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture(scope="session")
def tiny_session() -> list[str]:
    """TINY for session-scoped fixtures (they cannot use the function-scoped `tiny`)."""
    return list(TINY)


@pytest.fixture
def experiments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exports go to a temp folder, never to the repository's experiments/ (autouse in the packages that export)."""
    folder = tmp_path / "experiments"
    folder.mkdir()
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(folder))
    return folder


# Overrides for tests that signal or kill a sweep mid-trial, on JAX: each trial trains ~10 epochs of ~0.1 s (a cached
# shape; a new shape compiles first), so a test that sees a trial early in its epochs can reach it before it ends.
MID_TRIAL = [
    "data=synthetic", "data.synthetic.n_users=400", "data.synthetic.n_items=200", "data.synthetic.n_ratings=30000",
    "train.batch_size=8", "train.epochs=10", "train.patience=10", "train.stall_epochs=0", "model.depth=1",
    "model.width=16", "model.embedding_dim=8",
]


@pytest.fixture
def mid_trial() -> list[str]:
    """MID_TRIAL: overrides whose trials last long enough to be signalled mid-trial."""
    return list(MID_TRIAL)


@pytest.fixture
def user_env(isolated_paths: Path) -> dict[str, str]:
    """The environment a user's shell gives a recsearch command: no KERAS_BACKEND, so it runs on its default
    backend (JAX) whichever backend this session runs on; results and caches in the test's folders."""
    return {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}


@pytest.fixture
def tiny() -> list[str]:
    """Overrides for a seconds-long run on small synthetic data."""
    return list(TINY)
