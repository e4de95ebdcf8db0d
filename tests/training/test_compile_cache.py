"""`train.compile_cache`: JAX keeps compiled programs on disk, so a later process skips compiling a shape it saw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _train(tiny: list[str], cwd: Path, cache: Path, *extra: str) -> dict:
    """`recsearch train` in a fresh process on JAX (the default for `mlp`), run from `cwd`; its metrics.json."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["RECSEARCH_CACHE_DIR"] = str(cache)
    runs = cwd / "results" / "default" / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    done = subprocess.run([sys.executable, "-m", "recsearch", "train", "--no-save-model", *tiny, *extra,
                           f"paths.results_dir={cwd / 'results'}"], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = set(runs.iterdir()) - before
    return json.loads((run / "metrics.json").read_text())


def _entries(cache: Path) -> set[str]:
    return {p.name for p in (cache / "xla").glob("jaxlib-*/*-cache")}


@pytest.mark.slow
def test_a_second_process_reuses_the_programs_and_trains_the_same(tiny: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _train(tiny, tmp_path, cache)
    entries = _entries(cache)
    assert any(name.startswith("jit__member_epoch_ordered") for name in entries), entries
    second = _train(tiny, tmp_path, cache)
    assert _entries(cache) == entries  # every program came from the cache: a compiled one would add a file
    assert second["valid_rmse"] == first["valid_rmse"] and second["test_rmse"] == first["test_rmse"]


@pytest.mark.slow
def test_compile_cache_false_writes_nothing(tiny: list[str], tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _train(tiny, tmp_path, cache, "train.compile_cache=false")
    assert not (cache / "xla").exists()


def test_an_unwritable_folder_leaves_the_cache_off_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # mkdir below a file fails, for root too
    code = ("import sys; from pathlib import Path; from recsearch.training.compile_cache import enable_compile_cache;"
            "import jax; folder = enable_compile_cache(Path(sys.argv[1]));"
            "print(folder, jax.config.jax_compilation_cache_dir)")
    done = subprocess.run([sys.executable, "-c", code, str(blocker / "xla")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["None", "None"]
    [line] = [x for x in done.stderr.splitlines() if x.startswith("recsearch:")]
    assert "compile cache off" in line and "paths.cache_dir" in line and str(blocker) in line
