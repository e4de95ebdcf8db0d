"""Baselines computed without search, shown next to the neural results.

Rating: the global mean, and user + item biases fitted by regularised alternating least squares
(closed form per bias, as in Koren's baseline predictors). Ranking: most-popular (train positive counts).
All pure NumPy; each returns {valid_<m>: ..., test_<m>: ...} like `TrainResult.metrics`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsearch.ranking.protocols import make_queries, positives
from recsearch.training.metrics import mae, rmse


def fit_biases(users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *, num_users: int, num_items: int,
               reg_user: float = 15.0, reg_item: float = 10.0, iters: int = 10) -> tuple[float, np.ndarray, np.ndarray]:
    """(mu, b_user, b_item) minimising sum (r - mu - b_u - b_i)^2 + reg_user |b_u|^2 + reg_item |b_i|^2.

    Each ALS half-step is the exact minimiser given the other biases: b_i = sum(r - mu - b_u) / (reg_item + n_i).
    """
    r = np.asarray(ratings, np.float64)
    mu = float(r.mean()) if r.size else 0.0
    bu, bi = np.zeros(num_users), np.zeros(num_items)
    n_u = np.bincount(users, minlength=num_users)
    n_i = np.bincount(items, minlength=num_items)
    for _ in range(iters):
        bi = np.bincount(items, weights=r - mu - bu[users], minlength=num_items) / (reg_item + n_i)
        bu = np.bincount(users, weights=r - mu - bi[items], minlength=num_users) / (reg_user + n_u)
    return mu, bu, bi


def _errors(pred_fn: Any, data: Any, clip: bool) -> dict[str, float]:
    low, high = data.rating_scale if clip else (-np.inf, np.inf)
    out = {}
    for prefix, part in (("valid", data.valid), ("test", data.test)):
        if len(part) == 0:
            out.update({f"{prefix}_rmse": float("nan"), f"{prefix}_mae": float("nan")})
            continue
        pred = np.clip(pred_fn(part.users, part.items), low, high)
        out.update({f"{prefix}_rmse": rmse(part.ratings, pred), f"{prefix}_mae": mae(part.ratings, pred)})
    return out


def global_mean_baseline(data: Any, *, clip: bool = True) -> dict[str, float]:
    """Every rating predicted as the training mean."""
    return _errors(lambda u, i: np.full(len(u), data.global_mean), data, clip)


def bias_baseline(data: Any, *, clip: bool = True, reg_user: float = 15.0, reg_item: float = 10.0,
                  iters: int = 10) -> dict[str, float]:
    """mu + b_u + b_i fitted on train by regularised ALS (`fit_biases`)."""
    t = data.train
    mu, bu, bi = fit_biases(t.users, t.items, t.ratings, num_users=data.num_users, num_items=data.num_items,
                            reg_user=reg_user, reg_item=reg_item, iters=iters)
    return _errors(lambda u, i: mu + bu[u] + bi[i], data, clip)


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
