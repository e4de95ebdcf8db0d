"""The XLA flags recsearch adds for JAX on CPU: only for the jaxlib versions measured, never over the user's."""

from __future__ import annotations

import os

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
    assert backend._add_xla_flags(backend.CPU_XLA_FLAGS) == [backend.CPU_XLA_FLAGS]
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
