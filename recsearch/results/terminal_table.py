"""The leaderboard as a rich Table that fits the terminal.

Columns holding one value in every row go into the title line; when the rest is still wider than the
terminal, the least useful columns are left out (the caption names them: `--format csv` has all). Ranks restart
in each (metric, data) group, so each group is a table of its own, titled with both. Parameters are written
with short names and wrap between `key=value` items inside their own cell.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recsearch.results.leaderboard import display_frame, fold_constant_columns, folded_text, format_params

# Left out first when the table is too wide; rank, study, valid and params always stay.
DROP_ORDER = ("experiment", "kind", "task", "data", "metric", "complete", "pruned", "failed", "wall_s", "duration_s",
              "epochs_run", "variant", "test", "n_params", "trial", "state", "folder")
PARAMS_MIN_WIDTH = 30
RIGHT = ("rank", "valid", "test", "trial", "complete", "pruned", "failed", "epochs_run", "wall_s", "duration_s",
         "n_params")


def terminal_table(frame: pd.DataFrame, width: int) -> Any:
    """The leaderboard `frame` as rich Tables at most `width` characters wide, one per (metric, data) group, since
    ranks restart in each; baselines dimmed.

    Example: `Console().print(terminal_table(leaderboard(records, per_trial=True), 150))`.
    """
    from rich.console import Group

    short = short_params(frame["params"])  # names shortened alike in every group
    groups = [part for _, part in frame.groupby(["metric", "data"], sort=False, dropna=False)] if len(frame) else []
    if len(groups) <= 1:
        return _table(frame, short, width, f"Leaderboard (validation {_first(frame, 'metric')}, best first)")
    tables = [_table(part.drop(columns=["metric", "data"]), short, width,
                     f"Leaderboard (validation {_first(part, 'metric')} on {_first(part, 'data')}, best first)")
              for part in groups]
    return Group(*(item for table in tables for item in (table, "")))  # a blank line after each table


def _first(frame: pd.DataFrame, col: str) -> str:
    return str(frame[col].iloc[0]) if len(frame) else col


def _table(frame: pd.DataFrame, short: pd.Series, width: int, title: str) -> Any:
    """One rich Table of the ranked rows `frame` fitted to `width` characters; `short`: params text by row."""
    from rich import box
    from rich.table import Table

    shown, folded = fold_constant_columns(display_frame(frame).assign(params=short.loc[frame.index]))
    params_width = max(PARAMS_MIN_WIDTH, _longest_item(shown["params"]))  # an item never splits
    shown, dropped = fit_columns(shown, width - params_width - 3)
    if folded:
        title += f"\n{folded_text(folded)}"
    caption = (f"left out to fit {width} columns: {', '.join(dropped)} (--format csv has every column)"
               if dropped else None)
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left", box=box.SIMPLE_HEAD,
                  width=min(width, natural_width(shown)))
    for col in shown.columns:
        wrap = col == "params"
        table.add_column(col, justify="right" if col in RIGHT else "left", no_wrap=not wrap,
                         overflow="fold" if wrap else "ellipsis", ratio=1 if wrap else None,
                         min_width=min(params_width, _column_width(shown, col)) if wrap else None)
    for (_, row), kind in zip(shown.iterrows(), frame["kind"]):
        table.add_row(*row.tolist(), style="dim italic" if kind == "baseline" else None)
    return table


def fit_columns(shown: pd.DataFrame, width: int) -> tuple[pd.DataFrame, list[str]]:
    """Drop columns in DROP_ORDER until the columns other than params fit in `width`; return what was dropped."""
    dropped = []
    for col in DROP_ORDER:
        if natural_width(shown.drop(columns=["params"], errors="ignore")) <= width:
            break
        if col in shown.columns:
            shown, dropped = shown.drop(columns=[col]), [*dropped, col]
    return shown, dropped


def natural_width(shown: pd.DataFrame) -> int:
    """Characters the table needs with no cell wrapped (SIMPLE_HEAD box: one space of padding each side of a
    cell, one between columns, one at each edge)."""
    return sum(_column_width(shown, c) + 3 for c in shown.columns) + 1


def short_params(params: pd.Series) -> pd.Series:
    """Parameters as `k=v` text, each key cut to its last dotted part when that is unambiguous (model.depth -> depth)."""
    keys = {k for p in params for k in p}
    last = pd.Series([k.rsplit(".", 1)[-1] for k in keys], dtype=object)
    unique = set(last[~last.duplicated(keep=False)])
    short = {k: k.rsplit(".", 1)[-1] if k.rsplit(".", 1)[-1] in unique else k for k in keys}
    return params.map(lambda p: format_params({short[k]: v for k, v in p.items()}))


def _longest_item(params: pd.Series) -> int:
    """Characters of the longest `key=value` item of the parameters text."""
    return max([0, *(len(item) for text in params for item in str(text).split())])


def _column_width(shown: pd.DataFrame, col: str) -> int:
    return max([len(col), *(len(str(v)) for v in shown[col])])
