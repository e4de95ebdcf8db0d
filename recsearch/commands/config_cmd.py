"""`recsearch config show`: print the resolved config (the keys its task reads, passwords masked)."""

from __future__ import annotations

import argparse
from typing import Any

from recsearch.commands.common import add_overrides

HELP = ("Show the resolved config after applying the overrides: `recsearch config show [OVERRIDES...]`. "
        "Only the task's keys are shown (no ranking keys under task=rating); storage passwords print as ***.")

EXAMPLES = """examples:
  recsearch config show model=mf train.epochs=5
  recsearch config show data=custom                          # your own data's settings
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show"], metavar="{show}",
                        help="show: print the composed, validated config as YAML")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    import recsearch

    print_config(recsearch.compose(args.overrides))
    return 0


def print_config(cfg: Any) -> None:
    """Print `cfg` as `config show` does."""
    from recsearch.config.view import config_yaml

    print(config_yaml(cfg), end="")
