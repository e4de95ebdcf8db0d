"""Statistics of a reproduction: t-intervals over seeds, verdicts, paired tests between configs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVEL = 0.95
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    """Mean and two-sided t-interval of a metric over seeds."""

    mean: float
    sd: float
    lo: float
    hi: float
    n: int


def t_interval(values: list[float] | np.ndarray, level: float = LEVEL) -> Interval:
    """The `level` t-interval of the mean of `values` (at least two finite values).

    Example: `t_interval([0.90, 0.92, 0.91])` -> Interval(mean=0.91, ..., lo≈0.885, hi≈0.935, n=3).
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"a t-interval needs at least two finite values, got {x.tolist()}")
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, df=x.size - 1)) * sd / np.sqrt(x.size)
    return Interval(mean, sd, mean - half, mean + half, int(x.size))


def verdict(score: float | None, interval: Interval, direction: str) -> tuple[str, float | None]:
    """`reproduced` when the search's `score` lies in the interval, else `optimistic` (on the good side:
    the winner's curse) or `pessimistic`; with the gap, how much better the search's score looked than the
    mean of the re-runs (positive: the search was optimistic). `n/a` when there is no search score.
    """
    if score is None or not np.isfinite(score):
        return "n/a", None
    gap = interval.mean - score if direction == "minimize" else score - interval.mean
    if interval.lo <= score <= interval.hi:
        return "reproduced", gap
    return ("optimistic" if gap > 0 else "pessimistic"), gap


def paired_wilcoxon(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test on paired per-user errors (1.0 when all equal)."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} vs {b.shape}")
    if a.size == 0 or np.all(a == b):
        return 1.0
    return float(stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of several p-values (controls the family-wise error rate)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
