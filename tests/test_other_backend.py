"""The README's test command runs on JAX, the backend `train.backend=auto` gives users. TensorFlow, which auto picks
for models trained on item rows and a user may choose, runs the tests of what Keras does per backend in a session
of its own here, so CI covers both (`KERAS_BACKEND=tensorflow python -m pytest` runs the whole suite on it; it
then runs the JAX-only tests in a JAX session instead)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

NESTED = "RECSEARCH_TEST_OTHER_BACKEND"  # set in the other backend's session: it starts no session of its own
# What Keras does on a backend: every family built, trained, saved and loaded in a new process; fit's callbacks,
# pruning, early stopping and stall checks; each task's training; determinism across processes.
ON_TENSORFLOW = ["tests/models", "tests/training/test_run.py", "tests/training/test_trainer_tasks.py",
                 "tests/training/test_stall.py", "tests/training/test_autorec_rows.py",
                 "tests/training/test_training_layers.py", "tests/search/test_pruning.py",
                 "tests/reproduce/test_determinism.py"]
ON_JAX = ["tests/training/test_jax_loop.py", "tests/search/test_packing.py"]  # the tests that need JAX


@pytest.mark.first
@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get(NESTED)), reason="this is the other backend's session")
def test_the_other_backend_passes_its_tests_in_a_session_of_its_own() -> None:
    other, files = ("tensorflow", ON_TENSORFLOW) if keras.backend.backend() == "jax" else ("jax", ON_JAX)
    env = {**os.environ, "KERAS_BACKEND": other, NESTED: "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *files],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " failed" not in summary, done.stdout[-500:]
