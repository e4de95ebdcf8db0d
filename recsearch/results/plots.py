"""Plotly figures of the report. Each takes the DataFrames `recsearch.results.report` computes; no study access."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"


def empty_figure(message: str) -> Any:
    """A blank figure that says why there is nothing to draw."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, "", height=220)


def history_figure(history: pd.DataFrame, metric: str) -> Any:
    """Validation metric of each finished trial and the best so far, by trial number."""
    import plotly.graph_objects as go

    if history.empty:
        return empty_figure("no finished trial yet")
    fig = go.Figure([
        go.Scatter(x=history["number"], y=history["value"], mode="markers", name="trial", marker={"color": BLUE}),
        go.Scatter(x=history["number"], y=history["best"], mode="lines", name="best so far",
                   line={"color": ORANGE, "shape": "hv"}),
    ])
    fig.update_xaxes(title="trial")
    fig.update_yaxes(title=f"validation {metric}")
    return _layout(fig, "Optimization history")


def importance_figure(importances: pd.DataFrame, note: str | None = None) -> Any:
    """Horizontal bars of parameter importances (fANOVA), most important on top."""
    import plotly.graph_objects as go

    if importances.empty:
        return empty_figure(note or "no parameter importances")
    order = importances.sort_values("importance")
    fig = go.Figure(go.Bar(x=order["importance"], y=order["param"], orientation="h", marker={"color": BLUE}))
    fig.update_xaxes(title="importance")
    return _layout(fig, "Parameter importances", height=max(260, 40 * len(order) + 120))


def parallel_figure(frame: pd.DataFrame, metric: str) -> Any:
    """Parallel coordinates of the finished trials: every parameter and the metric (categoricals coded)."""
    import plotly.graph_objects as go

    if frame.empty:
        return empty_figure("no finished trial yet")
    dims = [_dimension(frame[col], col) for col in frame.columns if col not in ("number", "value")]
    dims.append({"label": metric, "values": frame["value"].tolist()})
    line = {"color": frame["value"].tolist(), "colorscale": "Viridis_r", "showscale": True}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line))
    return _layout(fig, "Parallel coordinates", height=460)


def slice_figure(slices: pd.DataFrame, metric: str, *, columns: int = 3) -> Any:
    """One scatter per parameter: the metric against the parameter's value."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if slices.empty:
        return empty_figure("no finished trial yet")
    params = list(dict.fromkeys(slices["param"]))
    rows = math.ceil(len(params) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=params, vertical_spacing=0.5 / max(rows, 1) * 0.5)
    for k, param in enumerate(params):
        part = slices[slices["param"] == param]
        fig.add_trace(go.Scatter(x=part["x"], y=part["value"], mode="markers", showlegend=False,
                                 text=[f"trial {n}" for n in part["number"]],
                                 marker={"color": part["number"], "colorscale": "Blues", "line": {"width": 0.5}}),
                      row=k // columns + 1, col=k % columns + 1)
    fig.update_yaxes(title=metric, col=1)
    return _layout(fig, "Slice plots", height=260 * rows + 80)


def curves_figure(curves: pd.DataFrame, metric: str) -> Any:
    """Validation metric per epoch of the top trials (solid) and the pruned ones (dashed)."""
    import plotly.graph_objects as go

    if curves.empty:
        return empty_figure("no learning curve recorded")
    fig = go.Figure()
    for (group, number), part in curves.groupby(["group", "number"], sort=False):
        fig.add_trace(go.Scatter(x=part["epoch"], y=part["value"], mode="lines+markers",
                                 name=f"trial {number} ({group})",
                                 line={"dash": "dash" if group == "pruned" else "solid",
                                       "color": GREY if group == "pruned" else None}))
    fig.update_xaxes(title="epoch", dtick=1)
    fig.update_yaxes(title=f"validation {metric}")
    return _layout(fig, "Learning curves")


def comparison_bar_figure(board: pd.DataFrame, metric: str) -> Any:
    """Each study's best validation metric as a bar; baselines as dashed horizontal lines."""
    import plotly.graph_objects as go

    studies = board[(board["kind"] == "study") & board["valid"].notna()]
    if studies.empty:
        return empty_figure("no finished study")
    labels = [f"{v} / {s}" for v, s in zip(studies["variant"], studies["study"])]
    fig = go.Figure(go.Bar(x=labels, y=studies["valid"], marker={"color": BLUE}, name="best validation",
                           text=[f"{v:.4f}" for v in studies["valid"]], textposition="outside"))
    for _, base in board[board["kind"] == "baseline"].iterrows():
        fig.add_hline(y=base["valid"], line={"dash": "dash", "color": ORANGE},
                      annotation_text=f"baseline {base['variant']}: {base['valid']:.4f}")
    fig.update_yaxes(title=f"best validation {metric}")
    return _layout(fig, "Variants: best validation metric")


def histories_figure(histories: pd.DataFrame, metric: str) -> Any:
    """Best-so-far validation metric by trial number, one line per study."""
    import plotly.graph_objects as go

    if histories.empty:
        return empty_figure("no finished trial yet")
    fig = go.Figure()
    for study, part in histories.groupby("study", sort=False):
        fig.add_trace(go.Scatter(x=part["number"], y=part["best"], mode="lines+markers", name=str(study),
                                 line={"shape": "hv"}))
    fig.update_xaxes(title="trial")
    fig.update_yaxes(title=f"best validation {metric} so far")
    return _layout(fig, "Search histories")


def _dimension(values: pd.Series, label: str) -> dict[str, Any]:
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == values.notna().sum() and values.notna().any():
        return {"label": label, "values": numeric.tolist()}
    cats = sorted(values.fillna("-").astype(str).unique())
    codes = {c: i for i, c in enumerate(cats)}
    return {"label": label, "values": [codes[v] for v in values.fillna("-").astype(str)],
            "tickvals": list(range(len(cats))), "ticktext": cats}


def _layout(fig: Any, title: str, *, height: int = 420) -> Any:
    fig.update_layout(title=title, height=height, template="plotly_white", margin={"l": 60, "r": 30, "t": 60, "b": 50})
    return fig
