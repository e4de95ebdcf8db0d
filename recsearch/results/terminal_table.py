"""The leaderboard as a rich Table that fits the terminal.

Columns holding one value in every row go into the title line; when the rest is still wider than the
terminal, the least useful columns are left out (the caption names them: `--format csv` has all);
parameters are written with short names and wrap inside their own cell.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from recsearch.results.leaderboard import display_frame, fold_constant_columns, folded_text, format_params

# Left out first when the table is too wide; rank, study, valid and params always stay.
DROP_ORDER = ("experiment", "kind", "task", "data", "metric", "complete", "pruned", "failed", "wall_s", "duration_s",
              "epochs_run", "variant", "test", "n_params", "trial", "state")
PARAMS_MIN_WIDTH = 30
RIGHT = ("rank", "valid", "test", "trial", "complete", "pruned", "failed", "epochs_run", "wall_s", "duration_s",
         "n_params")


def terminal_table(frame: pd.DataFrame, width: int) -> Any:
    """A rich Table of the leaderboard `frame` at most `width` characters wide; baselines dimmed.

    Example: `Console().print(terminal_table(leaderboard(records, per_trial=True), 150))`.
    """
    from rich import box
    from rich.table import Table

    shown, folded = fold_constant_columns(display_frame(frame).assign(params=short_params(frame["params"])))
    shown, dropped = fit_columns(shown, width - PARAMS_MIN_WIDTH)
    metrics = list(dict.fromkeys(frame["metric"])) if len(frame) else ["metric"]
    title = (f"Leaderboard (validation {metrics[0]}, best first)" if len(metrics) == 1 else
             f"Leaderboard (validation {', '.join(map(str, metrics))}: ranked within each metric, best first)")
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
                         min_width=min(PARAMS_MIN_WIDTH, _column_width(shown, col)) if wrap else None)
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
    """Characters the table needs with no cell wrapped (SIMPLE_HEAD box: one space of padding each side)."""
    return sum(_column_width(shown, c) + 2 for c in shown.columns) + 2


def short_params(params: pd.Series) -> pd.Series:
    """Parameters as `k=v` text, each key cut to its last dotted part when that is unambiguous (model.depth -> depth)."""
    keys = {k for p in params for k in p}
    last = pd.Series([k.rsplit(".", 1)[-1] for k in keys], dtype=object)
    unique = set(last[~last.duplicated(keep=False)])
    short = {k: k.rsplit(".", 1)[-1] if k.rsplit(".", 1)[-1] in unique else k for k in keys}
    return params.map(lambda p: format_params({short[k]: v for k, v in p.items()}))


def _column_width(shown: pd.DataFrame, col: str) -> int:
    return max([len(col), *(len(str(v)) for v in shown[col])])
