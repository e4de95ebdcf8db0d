"""Modules of the user's own code imported by the command line (`recsearch --import MODULE`), so a model family
registered there (`recsearch.register_model`) works with every command, and in every sweep worker."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from recsearch.errors import ConfigError

IMPORTS_ENV = "RECSEARCH_IMPORTS"  # the modules, comma-separated: worker processes import them too


def import_user_modules(names: Sequence[str]) -> None:
    """Import each module of `names` (the current folder importable first, as for `python -m`), and record them
    in IMPORTS_ENV for the worker processes this command starts. ConfigError names a module that fails."""
    names = [n for n in names if n]
    if not names:
        return
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):  # a module the user's module imports
                raise ConfigError(f"--import {name}: importing it failed: {exc}") from None
            raise ConfigError(f"--import {name}: no module {name!r} here; run from the folder that holds "
                              f"{name.replace('.', '/')}.py, or install the package that has it") from None
        except Exception as exc:  # the user's own code failed: one line, the cause named
            raise ConfigError(f"--import {name}: importing it failed: {type(exc).__name__}: {exc}") from None
    os.environ[IMPORTS_ENV] = _merged(os.environ.get(IMPORTS_ENV, ""), names)


def _merged(recorded: str, names: Sequence[str]) -> str:
    """The recorded modules and `names`, each once, in order."""
    return ",".join(dict.fromkeys([n for n in recorded.split(",") if n] + list(names)))


def import_recorded_modules() -> None:
    """In a worker process: import the modules its command imported (IMPORTS_ENV)."""
    import_user_modules(os.environ.get(IMPORTS_ENV, "").split(","))
