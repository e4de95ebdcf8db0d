"""The README's "From Python" example, run as a notebook user would: its code block in a fresh interpreter,
from an empty working folder, with the installed package (no repository on the path but the package's own)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_python_example() -> str:
    """The first ```python block of the README's "## From Python" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_has_a_python_example() -> None:
    code = readme_python_example()
    for name in ("recsearch.train", "recsearch.sweep", "recsearch.load_study", "recsearch.leaderboard",
                 "recsearch.report", "recsearch.register_model", "recsearch.recommendations"):
        assert name in code


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path, shared_cache: Path) -> None:
    work = tmp_path / "notebook"
    work.mkdir()
    script = work / "example.py"
    script.write_text(readme_python_example())
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RECSEARCH_CACHE_DIR": str(shared_cache),
           "RECSEARCH_RESULTS_DIR": ""}
    env.pop("RECSEARCH_RESULTS_DIR")
    env.pop("KERAS_BACKEND", None)  # as a user runs it: the example imports Keras itself, before recsearch trains
    run = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (work / "results" / "default" / "mf-rating" / "report.html").is_file()  # written in the cwd
    assert list((work / "results" / "default" / "runs").glob("*-dot/model.keras"))  # the user's model family
    lines = run.stdout.strip().splitlines()
    assert 0.3 < float(lines[-1]) < 2.0  # the dot model's validation RMSE on ratings of 0.5..5
