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

from recsearch.training.backend import OWN_XLA_FLAGS_ENV

NESTED = "RECSEARCH_TEST_OTHER_BACKEND"  # set in the other backend's session: it starts no session of its own
# What Keras does on a backend: every family built, trained, saved and loaded in a new process; fit's callbacks,
# pruning, early stopping, stall and divergence checks; each task's training; determinism across processes; a sweep
# of two worker processes; an exported trial trained again to its exact score; a model it saved loaded on JAX, and
# loaded compiled to train on.
ON_TENSORFLOW = ["tests/models", "tests/training/test_run.py", "tests/training/test_trainer_tasks.py",
                 "tests/training/test_stall.py", "tests/training/test_autorec_rows.py",
                 "tests/training/test_training_layers.py", "tests/search/test_pruning.py",
                 "tests/reproduce/test_determinism.py",
                 "tests/search/test_faults.py::test_two_workers_share_the_budget",
                 "tests/reproduce/test_export.py::test_export_trains_to_the_trials_exact_score",
                 "tests/api/test_api.py::test_load_model_in_a_fresh_process_predicts_what_the_trained_model_did",
                 "tests/api/test_api.py::test_a_model_loaded_compiled_in_a_new_process_trains_on"]
ON_JAX = ["tests/training/test_jax_loop.py", "tests/search/test_packing.py"]  # the tests that need JAX
# Tests in those files that force train.backend=jax: this session runs them already, on its own backend.
NOT_ON_TENSORFLOW = ["tests/training/test_stall.py::test_a_stalled_run_stops_in_the_jax_loop_as_the_command_runs_it"]


@pytest.mark.first
@pytest.mark.slow
@pytest.mark.timeout(1500)  # above the session's own limit below, so that a failure shows its output
@pytest.mark.skipif(bool(os.environ.get(NESTED)), reason="this is the other backend's session")
def test_the_other_backend_passes_its_tests_in_a_session_of_its_own() -> None:
    other, files = (("tensorflow", [*ON_TENSORFLOW, *(f"--deselect={t}" for t in NOT_ON_TENSORFLOW)])
                    if keras.backend.backend() == "jax" else ("jax", ON_JAX))
    env = {**os.environ, "KERAS_BACKEND": other, NESTED: "1"}
    own = set(env.pop(OWN_XLA_FLAGS_ENV, "").split())  # XLA flags this session chose: the other chooses its own
    env["XLA_FLAGS"] = " ".join(flag for flag in env.get("XLA_FLAGS", "").split() if flag not in own)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *files],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and " failed" not in summary, done.stdout[-500:]
