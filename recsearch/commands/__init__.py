"""The CLI's commands: name -> (help, argument set-up, handler). Handlers import their library lazily."""

from __future__ import annotations

import argparse
from typing import Callable

from recsearch.commands import config_cmd, data_cmd, sweep_cmd, train_cmd

Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: dict[str, Command] = {
    "train": (train_cmd.HELP, train_cmd.add_arguments, train_cmd.run),
    "sweep": (sweep_cmd.HELP, sweep_cmd.add_arguments, sweep_cmd.run),
    "config": (config_cmd.HELP, config_cmd.add_arguments, config_cmd.run),
    "data": (data_cmd.HELP, data_cmd.add_arguments, data_cmd.run),
}
