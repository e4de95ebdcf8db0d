"""Provenance's git commit: the checkout's own, and none for an installed package, even one installed in a venv
inside another git repository (the user's project)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from recsearch import provenance

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="runs from a git checkout")
def test_a_checkout_records_its_commit() -> None:
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert provenance.git_commit() in (head, f"{head}-dirty")


def test_an_installed_package_inside_a_users_repository_records_no_commit(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    package = project / ".venv" / "lib" / "python3" / "site-packages" / "recsearch"
    package.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'users-project'\n")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q",
                    "--allow-empty", "-m", "users"], check=True)
    monkeypatch.setattr(provenance, "__file__", str(package / "provenance.py"))
    assert provenance.git_commit() is None
