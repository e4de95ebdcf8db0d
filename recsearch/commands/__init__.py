"""The CLI's commands: an explicit table of name -> module. Each module defines HELP, add_arguments, run."""

from __future__ import annotations

import importlib
from types import ModuleType

COMMAND_MODULES: dict[str, str] = {
    "train": "recsearch.commands.train_cmd",
    "sweep": "recsearch.commands.sweep_cmd",
    "worker": "recsearch.commands.worker_cmd",
    "leaderboard": "recsearch.commands.leaderboard_cmd",
    "report": "recsearch.commands.report_cmd",
    "dashboard": "recsearch.commands.dashboard_cmd",
    "recommend": "recsearch.commands.recommend_cmd",
    "export-best": "recsearch.commands.export_cmd",
    "reproduce": "recsearch.commands.reproduce_cmd",
    "config": "recsearch.commands.config_cmd",
    "data": "recsearch.commands.data_cmd",
}


def command_module(name: str) -> ModuleType:
    """The module implementing command `name` (imported on use; each keeps heavy imports inside `run`)."""
    return importlib.import_module(COMMAND_MODULES[name])
