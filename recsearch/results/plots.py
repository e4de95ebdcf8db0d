"""Plotly figures of the report.

Where `optuna.visualization` draws the same plot (history, parallel coordinates, Pareto front) it draws it
from the study; the other figures take the DataFrames `recsearch.results.report` computes. Log-scaled
parameters get log axes; trial numbers get integer ticks.
"""

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


def history_figure(study: Any, metric: str) -> Any:
    """Optuna's optimization history: the validation metric of each finished trial and the best so far."""
    from optuna.visualization import plot_optimization_history

    numbers = [t.number for t in study.get_trials(deepcopy=False, states=_complete())]
    if not numbers:
        return empty_figure("no finished trial yet")
    fig = plot_optimization_history(study, target=_first_value(study), target_name=f"validation {metric}")
    fig.update_traces(line_shape="hv", name="best so far", selector={"mode": "lines"})
    integer_ticks(fig, max(numbers))
    fig.update_xaxes(title="trial")
    return _layout(fig, "Optimization history")


def integer_ticks(fig: Any, largest: int) -> None:
    """Whole-number ticks on the x axis (trial numbers): every one up to 10, else plotly's integer steps."""
    fig.update_xaxes(tickformat="d", **({"tick0": 0, "dtick": 1} if largest <= 10 else {}))


def importance_figure(importances: pd.DataFrame, note: str | None = None) -> Any:
    """Horizontal bars of parameter importances (fANOVA), most important on top."""
    import plotly.graph_objects as go

    if importances.empty:
        return empty_figure(note or "no parameter importances")
    order = importances.sort_values("importance")
    fig = go.Figure(go.Bar(x=order["importance"], y=order["param"], orientation="h", marker={"color": BLUE}))
    fig.update_xaxes(title="importance")
    return _layout(fig, "Parameter importances", height=max(260, 40 * len(order) + 120))


def parallel_figure(study: Any, metric: str) -> Any:
    """Optuna's parallel coordinates of the finished trials: log parameters on log10 axes, inactive ones at None."""
    from optuna.visualization import plot_parallel_coordinate

    trials = study.get_trials(deepcopy=False, states=_complete())
    if not any(t.params for t in trials):
        return empty_figure("no finished trial with a searched parameter yet")
    fig = plot_parallel_coordinate(study, target=_first_value(study), target_name=metric)
    fig = _layout(fig, "Parallel coordinates", height=480)
    # the title sits above the plot area and the top tick labels reach y=1.08: keep them apart
    fig.update_layout(title={"y": 0.98, "yref": "container", "yanchor": "top"}, margin={"t": 90, "b": 70})
    return fig


def slice_figure(slices: pd.DataFrame, metric: str, *, log_params: frozenset[str] = frozenset(),
                 columns: int = 3) -> Any:
    """One scatter per parameter (3 per row, so many parameters stay readable): the metric against its value.

    Parameters in `log_params` (sampled on a log scale) get a log x axis.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if slices.empty:
        return empty_figure("no finished trial yet")
    params = list(dict.fromkeys(slices["param"]))
    rows = math.ceil(len(params) / columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=params, vertical_spacing=0.5 / max(rows, 1) * 0.5)
    for k, param in enumerate(params):
        part = slices[slices["param"] == param]
        where = {"row": k // columns + 1, "col": k % columns + 1}
        fig.add_trace(go.Scatter(x=part["x"], y=part["value"], mode="markers", showlegend=False,
                                 text=[f"trial {n}" for n in part["number"]],
                                 marker={"color": part["number"], "colorscale": "Blues", "line": {"width": 0.5}}),
                      **where)
        if param in log_params:
            fig.update_xaxes(type="log", exponentformat="e", **where)
    fig.update_yaxes(title=metric, col=1)
    return _layout(fig, "Slice plots", height=260 * rows + 80)


def pareto_figure(study: Any, names: list[str]) -> Any:
    """Optuna's Pareto-front plot of a 2- or 3-objective study; `names` label the objectives' axes."""
    from optuna.visualization import plot_pareto_front

    if not study.get_trials(deepcopy=False, states=_complete()):
        return empty_figure("no finished trial yet")
    if len(study.directions) not in (2, 3):
        return empty_figure(f"a Pareto plot draws 2 or 3 objectives; this study has {len(study.directions)}")
    fig = plot_pareto_front(study, target_names=names)
    if len(names) == 2 and names[1] == "params":  # parameter counts span orders of magnitude
        fig.update_yaxes(type="log", exponentformat="SI")
    return _layout(fig, "Pareto front", height=480 if len(names) == 2 else 640)


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

    from recsearch.results.leaderboard import study_labels

    studies = board[(board["kind"] == "study") & board["valid"].notna()]
    if studies.empty:
        return empty_figure("no finished study")
    labels = [f"{v} / {s}" for v, s in zip(studies["variant"], study_labels(studies))]
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
    integer_ticks(fig, int(histories["number"].max()))
    fig.update_xaxes(title="trial")
    fig.update_yaxes(title=f"best validation {metric} so far")
    return _layout(fig, "Search histories")


def _complete() -> tuple:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE,)


def _first_value(study: Any) -> Any:
    """The target of a multi-objective study's plots: its first objective (the validation metric)."""
    return (lambda t: t.values[0]) if len(study.directions) > 1 else None


def _layout(fig: Any, title: str, *, height: int = 420) -> Any:
    fig.update_layout(title=title, height=height, template="plotly_white", margin={"l": 60, "r": 30, "t": 60, "b": 50})
    return fig
