"""The XLA flags recsearch adds for JAX on CPU: only for the jaxlib versions measured, never over the user's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.training import backend


@pytest.mark.parametrize(("jaxlib", "added"), [("0.10.2", True), ("0.9.1", True), ("0.9.0", False),
                                               ("0.11.0", False), ("0.4.30", False)])
def test_flags_only_for_the_measured_jaxlib_versions(monkeypatch: pytest.MonkeyPatch, jaxlib: str,
                                                     added: bool) -> None:
    monkeypatch.setattr("importlib.metadata.version", lambda name: jaxlib)
    assert backend._cpu_xla_flags() == (backend.CPU_XLA_FLAGS if added else "")


def test_the_users_xla_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true --xla_dump_to=/tmp/x")
    backend._add_xla_flags("--xla_cpu_use_fusion_emitters=false --xla_cpu_multi_thread_eigen=false")
    assert os.environ["XLA_FLAGS"] == ("--xla_cpu_use_fusion_emitters=true --xla_dump_to=/tmp/x "
                                       "--xla_cpu_multi_thread_eigen=false")
    monkeypatch.delenv("XLA_FLAGS")
    backend._add_xla_flags("")
    assert "XLA_FLAGS" not in os.environ


@pytest.fixture
def flag_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The flag variables unset, and restored afterwards even when the code under test writes them itself."""
    for name in ("XLA_FLAGS", "RECSEARCH_XLA_FLAGS", backend.OWN_XLA_FLAGS_ENV):
        monkeypatch.setenv(name, "")  # records the session's value (or its absence) for restoring
        monkeypatch.delenv(name)
    return monkeypatch


def test_the_flags_recsearch_chose_are_remembered_for_worker_processes(flag_env: pytest.MonkeyPatch) -> None:
    """Only flags recsearch added count as its choice (a worker inherits XLA_FLAGS and the record alike)."""
    monkeypatch = flag_env
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    assert backend._add_xla_flags(backend.CPU_XLA_FLAGS) == backend.CPU_XLA_FLAGS.split()
    assert backend._add_xla_flags(backend.CPU_XLA_FLAGS) == []  # already there: the worker's case
    assert not backend.legacy_emitters_chosen_here()
    monkeypatch.setenv(backend.OWN_XLA_FLAGS_ENV, backend.CPU_XLA_FLAGS)
    assert backend.legacy_emitters_chosen_here()


def test_a_worker_inherits_recsearchs_choice_and_the_users_flags_are_never_recorded(
        flag_env: pytest.MonkeyPatch) -> None:
    """setup_backend's flag step in a parent, then in a worker that inherits its environment; then with the
    user's XLA_FLAGS or RECSEARCH_XLA_FLAGS choosing the emitters, which recsearch must not count as its own."""
    monkeypatch = flag_env
    monkeypatch.setattr(backend, "_cpu_xla_flags", lambda: backend.CPU_XLA_FLAGS)
    backend._apply_xla_flags()  # the parent
    assert backend.CPU_XLA_FLAGS in os.environ["XLA_FLAGS"] and backend.legacy_emitters_chosen_here()
    backend._apply_xla_flags()  # a worker: XLA_FLAGS and the record inherited, nothing added
    assert backend.legacy_emitters_chosen_here()
    monkeypatch.delenv(backend.OWN_XLA_FLAGS_ENV)
    monkeypatch.setenv("XLA_FLAGS", backend.CPU_XLA_FLAGS)  # the user's own
    backend._apply_xla_flags()
    assert not backend.legacy_emitters_chosen_here()
    monkeypatch.delenv("XLA_FLAGS")
    monkeypatch.setenv("RECSEARCH_XLA_FLAGS", backend.CPU_XLA_FLAGS)
    backend._apply_xla_flags()
    assert os.environ["XLA_FLAGS"] == backend.CPU_XLA_FLAGS and not backend.legacy_emitters_chosen_here()


def test_keras_fit_processes_keep_xlas_default_emitters(flag_env: pytest.MonkeyPatch) -> None:
    """Ranking and item-row models train through Keras `fit`, whose long epochs pay for the default emitters."""
    flag_env.setattr(backend, "_cpu_xla_flags", lambda: backend.CPU_XLA_FLAGS)
    backend._apply_xla_flags(legacy_emitters=False)
    assert "XLA_FLAGS" not in os.environ and not backend.legacy_emitters_chosen_here()
    flag_env.setenv("RECSEARCH_XLA_FLAGS", backend.CPU_XLA_FLAGS)  # the user's choice holds for them too
    backend._apply_xla_flags(legacy_emitters=False)
    assert os.environ["XLA_FLAGS"] == backend.CPU_XLA_FLAGS


@pytest.mark.parametrize(("threads", "measured", "split"), [(1, True, True), (2, True, False), (None, True, False),
                                                         (1, False, False)])
def test_a_one_core_process_generates_code_unsplit(flag_env: pytest.MonkeyPatch, threads: int | None,
                                                   measured: bool, split: bool) -> None:
    """A sweep worker on one core compiles without XLA:CPU's split for parallel codegen (threads it lacks);
    only for a jaxlib measured, and never over the user's own choice."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                 "TF_NUM_INTEROP_THREADS"):
        flag_env.setenv(name, "")
    flag_env.setattr(backend, "_cpu_xla_flags", lambda: backend.CPU_XLA_FLAGS if measured else "")
    if threads:
        backend._pin_threads("jax", threads)
    assert (backend.ONE_CORE_XLA_FLAGS in os.environ.get("XLA_FLAGS", "")) is split
    if split:
        flag_env.setenv("XLA_FLAGS", "--xla_cpu_parallel_codegen_split_count=4")
        backend._pin_threads("jax", 1)
        assert os.environ["XLA_FLAGS"].split() == ["--xla_cpu_parallel_codegen_split_count=4",
                                                   "--xla_cpu_multi_thread_eigen=false"]


@pytest.mark.parametrize(("overrides", "own_loop"), [
    (["model=mlp"], True), (["model=mf"], True), (["model=mlp", "task=ranking"], False), (["model=autorec"], False),
])
def test_which_configs_train_in_the_jax_loop(overrides: list[str], own_loop: bool) -> None:
    from recsearch.config import compose_config

    assert backend.trains_in_jax_loop(compose_config(overrides)) is own_loop


@pytest.mark.slow
def test_a_ranking_run_records_xlas_default_emitters_and_a_rating_run_the_legacy_ones(
        tiny: list[str], isolated_paths: Path) -> None:
    """As a user runs it (`recsearch train` from another folder, no flags set): the flags each process compiled
    with are in the run's provenance."""
    if not backend._cpu_xla_flags():
        pytest.skip("this jaxlib compiles with XLA's defaults in every process")
    env = {k: v for k, v in os.environ.items()
           if k not in ("XLA_FLAGS", "RECSEARCH_XLA_FLAGS", backend.OWN_XLA_FLAGS_ENV, "KERAS_BACKEND")}
    ranking = ["task=ranking", "split=leave_one_out", "task.num_candidates=20"]
    for name, overrides, legacy in (("rating", [], True), ("ranking", ranking, False)):
        results = isolated_paths / name
        done = subprocess.run([sys.executable, "-m", "recsearch", "train", "--no-save-model", *tiny, *overrides,
                               "train.backend=jax", "train.epochs=1"],
                              env={**env, "RECSEARCH_RESULTS_DIR": str(results)}, cwd=isolated_paths.parent,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        [metrics] = results.glob("*/runs/*/metrics.json")
        assert (backend.CPU_XLA_FLAGS in json.loads(metrics.read_text())["environment"]["xla_flags"]) is legacy, name
