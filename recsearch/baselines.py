"""Baselines computed without search, shown next to the neural results.

Rating: the global mean, and user + item biases (`recsearch.training.rating_baselines`). Ranking:
most-popular (train positive counts).
All pure NumPy; each returns {valid_<m>: ..., test_<m>: ...} like `TrainResult.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsearch.ranking.protocols import make_queries, positives
# the rating baselines live with training (its stall rule measures runs against them); public here too
from recsearch.training.rating_baselines import bias_baseline, fit_biases, global_mean_baseline  # noqa: F401


def popularity_scores(data: Any, threshold: float | None) -> np.ndarray:
    """Per item, its number of positive train interactions (ties broken by candidate order)."""
    _, items = positives(data.train, threshold)
    return np.bincount(items, minlength=data.num_items).astype(np.float64)


def ranking_baseline(scores: np.ndarray, queries: Any, *, ks: list[int], num_items: int) -> dict[str, float]:
    """Ranking metrics of fixed per-item scores on `queries` (excluded candidates scored -inf)."""
    from recsearch.ranking.evaluate import evaluate_queries
    from recsearch.ranking.scoring import ItemScores

    return evaluate_queries(queries, ItemScores(scores), ks=ks, num_items=num_items)


def most_popular_baseline(data: Any, task: Any) -> dict[str, float]:
    """Most-popular ranking under the task's protocol: valid_<m> and test_<m> for every ranking metric."""
    scores = popularity_scores(data, task.implicit_threshold)
    out = {}
    for prefix in ("valid", "test"):
        queries = make_queries(data, prefix, task)
        values = ranking_baseline(scores, queries, ks=list(task.ks), num_items=data.num_items)
        out.update({f"{prefix}_{m}": v for m, v in values.items()})
    return out


def baseline_metrics(data: Any, task: Any) -> dict[str, dict[str, float]]:
    """{baseline name: metrics} for the task: global_mean and biases (rating) or most_popular (ranking)."""
    if task.name == "ranking":
        return {"most_popular": most_popular_baseline(data, task)}
    clip = bool(task.clip_predictions)
    return {"global_mean": global_mean_baseline(data, clip=clip), "biases": bias_baseline(data, clip=clip)}


def baseline_rows(data: Any, task: Any) -> list[dict[str, Any]]:
    """Rows (variant, task, metric, valid, test) of every baseline and metric, for baselines.csv."""
    rows = []
    for name, metrics in baseline_metrics(data, task).items():
        names = sorted({k.split("_", 1)[1] for k in metrics})
        rows += [{"variant": name, "task": task.name, "metric": m, "valid": metrics.get(f"valid_{m}"),
                  "test": metrics.get(f"test_{m}")} for m in names]
    return rows
