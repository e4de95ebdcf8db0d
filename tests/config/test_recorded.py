"""The config files a study records for its workers (`recsearch.config.recorded`): what is recorded, and that
what a storage holds there is never written outside the worker's folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recsearch.config import compose_with_choices
from recsearch.config.recorded import recorded_files, use_recorded_files
from recsearch.config.searchpath import RECORDED_CONF_ENV


def recorded(overrides: list[str]) -> dict[str, str]:
    """What a sweep of `overrides` records, from the choices of its one composition."""
    return recorded_files(compose_with_choices(overrides, validate=False)[1])


def test_only_the_users_own_files_are_recorded_with_their_root_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECSEARCH_CONF_DIR", raising=False)
    monkeypatch.setenv("RECSEARCH_EXPERIMENTS_DIR", str(tmp_path / "experiments"))
    assert recorded(["model=mf"]) == {}  # no folder of the user's
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "small.yaml").write_text("name: mlp\ndepth: 1\n")
    assert recorded(["model=small"]) == {"model/small.yaml": "name: mlp\ndepth: 1\n"}
    assert recorded(["model=mf"]) == {}  # packaged options: the install has them
    from recsearch.config import package_conf_dir

    root = (package_conf_dir() / "config.yaml").read_text()
    (tmp_path / "conf" / "config.yaml").write_text(root)  # the user's own root config (its defaults list)
    assert recorded(["model=mf"]) == {"config.yaml": root}


@pytest.mark.parametrize("name", ["/tmp/recsearch-evil.yaml", "../evil.yaml", "model/../../evil.yaml", "model/..",
                                  "model/x.txt", ""])
def test_names_a_sweep_never_writes_are_not_written(name: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(RECORDED_CONF_ENV, "")  # restored after the test: use_recorded_files sets it
    folder = tmp_path / "worker" / "conf"
    folder.mkdir(parents=True)
    use_recorded_files({name: "x: 1\n", "search_space/mine.yaml": "params: {}\n"}, folder)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["worker/conf/search_space/mine.yaml"] and not Path("/tmp/recsearch-evil.yaml").exists()
    assert os.environ[RECORDED_CONF_ENV] == str(folder.resolve())
    use_recorded_files(["not", "a", "dict"], folder)  # whatever else a storage holds there: nothing written
    use_recorded_files({"model/a.yaml": 3}, folder)
    assert not (folder / "model").exists()
