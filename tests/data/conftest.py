"""Fixtures of the data-layer tests: the real datasets folder, the hand-written fixtures, config builders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """$RECSEARCH_DATA_DIR, else ../shared/datasets next to the repository."""
    path = Path(os.environ.get("RECSEARCH_DATA_DIR") or Path(__file__).parents[2].parent / "shared" / "datasets")
    if not (path / "ml-latest-small" / "ratings.csv").is_file():
        pytest.fail(f"ml-latest-small not found under {path}: set RECSEARCH_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES

