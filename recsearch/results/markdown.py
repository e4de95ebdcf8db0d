"""A small Markdown table writer (no extra dependency)."""

from __future__ import annotations

import math
import numbers

import pandas as pd


def markdown_table(frame: pd.DataFrame, *, floatfmt: str = ".4f") -> str:
    """Render `frame` as a GitHub-flavoured Markdown table."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: object, floatfmt: str) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"  # counts as in every table: 349,377
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        if 0 < abs(value) < 1e-2:  # a learning rate, L2 factor or weight decay: 0.003912, 1.157e-05, never 0.0000
            return f"{value:.4g}"
        return format(value, floatfmt) if abs(value) < 100 else f"{value:,.1f}"
    return str(value).replace("|", "\\|")
