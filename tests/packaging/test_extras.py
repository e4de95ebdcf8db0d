"""Optional dependencies: every "pip install" hint names an extra that pyproject.toml defines, `all` holds every
extra, `dev` holds all but `gp` (PyTorch), and the guards fire with that hint when the module is missing."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from recsearch.errors import RecsearchError
from recsearch.extras import EXTRAS, install_hint

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
CORE = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def test_every_hint_names_a_defined_extra_and_all_and_dev_hold_them() -> None:
    for module, extra in EXTRAS.items():
        assert extra in OPTIONAL and install_hint(module) == f'pip install "recsearch[{extra}]"'
    (everything,) = OPTIONAL["all"]
    assert set(everything.removeprefix("recsearch[").removesuffix("]").split(",")) == set(EXTRAS.values())
    dev_extras = next(r for r in OPTIONAL["dev"] if r.startswith("recsearch["))
    assert set(dev_extras.removeprefix("recsearch[").removesuffix("]").split(",")) == set(EXTRAS.values()) - {"gp"}
    optional_names = {req.split("[")[0].split(">")[0] for extra in EXTRAS.values() for req in OPTIONAL[extra]}
    assert not optional_names & {req.split("[")[0].split(">")[0] for req in CORE}  # not also a core dependency


@pytest.mark.parametrize(("module", "trigger"), [
    ("torch", lambda: _sampler("gp")),
    ("optuna_dashboard", lambda: _dashboard()),
])
def test_guards_name_the_extra(module: str, trigger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # the dashboard opens its (throw-away) storage here
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: importing it raises ImportError
    with pytest.raises(RecsearchError) as err:
        trigger()
    assert f'pip install "recsearch[{EXTRAS[module]}]"' in str(err.value)


def _sampler(name: str) -> None:
    from omegaconf import OmegaConf

    from recsearch.search.engine import make_sampler

    make_sampler(OmegaConf.create({"sampler": name, "seed": 0, "n_startup_trials": 1, "n_workers": 1}), None)


def _dashboard() -> None:
    import argparse

    from recsearch.commands import dashboard_cmd

    dashboard_cmd.run(argparse.Namespace(target="sqlite:///unused.db", port=8080))
