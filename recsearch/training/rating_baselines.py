"""Rating baselines computed without search: the global mean, and user + item biases fitted by regularised
alternating least squares (closed form per bias, as in Koren's baseline predictors). Pure NumPy; each returns
{valid_<m>: ..., test_<m>: ...} like `TrainResult.metrics`. In the training package because training's stall
rule (`training.stall`) measures runs against them; `recsearch.baselines` shows them beside the results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
