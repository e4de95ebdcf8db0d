"""`recsearch config show`: print the resolved config."""

from __future__ import annotations

import argparse

from recsearch.commands.common import add_overrides

HELP = "Show the resolved config after applying the overrides: `recsearch config show [OVERRIDES...]`."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show"], help="show: print the composed, validated config as YAML")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from recsearch.config import compose_config

    print(OmegaConf.to_yaml(compose_config(args.overrides)), end="")
    return 0
