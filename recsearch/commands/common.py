"""Helpers shared by the command handlers: overrides argument, console, tables."""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table

OVERRIDES_HELP = ("Hydra overrides: key=value, +key=value (add), ~key (remove), group=option "
                  "(e.g. model=mlp train.epochs=5 data=ml_100k +experiment=NAME)")


def add_overrides(parser: argparse.ArgumentParser) -> None:
    """Positional Hydra overrides, optional: argparse makes a `*` positional without a default required, and
    `recsearch data` would then ask for OVERRIDE beside the action."""
    parser.add_argument("overrides", nargs="*", default=[], metavar="OVERRIDE", help=OVERRIDES_HELP)


def console(stderr: bool = False) -> Console:
    """A rich console; when piped, plain text wide enough that tables do not fold."""
    import sys

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def key_value_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of labelled values."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, format_value(value))
    return table


def format_value(value: Any) -> str:
    """A table cell: 4 decimals for floats (one for large ones), thousands separators for ints, yes/no."""
    if isinstance(value, bool):  # before int, which it is too (True printed as 1)
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
