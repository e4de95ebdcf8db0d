"""Intervals, verdicts and paired tests, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.reproduce.stats import Interval, holm, paired_wilcoxon, t_interval, verdict


def test_t_interval_matches_hand_computation() -> None:
    iv = t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, df=2) * sd / sqrt(n), sd = 1
    assert iv.mean == 2.0 and iv.sd == 1.0 and iv.n == 3
    assert iv.lo == pytest.approx(2.0 - half) and iv.hi == pytest.approx(2.0 + half)


def test_t_interval_needs_two_finite_values() -> None:
    with pytest.raises(ValueError, match="at least two finite values"):
        t_interval([0.9])
    with pytest.raises(ValueError, match="at least two finite values"):
        t_interval([0.9, float("nan")])


@pytest.mark.parametrize(("score", "direction", "word", "gap"), [
    (0.90, "minimize", "reproduced", 0.0),
    (0.85, "minimize", "optimistic", 0.05),   # lower error than every re-run: the winner's curse
    (0.95, "minimize", "pessimistic", -0.05),
    (0.95, "maximize", "optimistic", 0.05),
    (0.85, "maximize", "pessimistic", -0.05),
])
def test_verdict_sides_and_gap(score: float, direction: str, word: str, gap: float) -> None:
    interval = Interval(mean=0.90, sd=0.01, lo=0.89, hi=0.91, n=5)
    got_word, got_gap = verdict(score, interval, direction)
    assert got_word == word and got_gap == pytest.approx(gap)


def test_verdict_without_a_search_score() -> None:
    assert verdict(None, Interval(0.9, 0.01, 0.89, 0.91, 5), "minimize") == ("n/a", None)


def test_paired_wilcoxon_tells_a_shift_from_noise() -> None:
    rng = np.random.default_rng(0)
    a = rng.gamma(2.0, 0.4, size=200)
    assert paired_wilcoxon(a, a + 0.05 + rng.normal(0, 0.01, 200)) < 1e-10
    assert paired_wilcoxon(a, a + rng.normal(0, 0.05, 200)) > 0.05
    assert paired_wilcoxon(a, a.copy()) == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        paired_wilcoxon(a, a[:-1])


def test_holm_adjustment() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.6, 0.7]) == [1.0, 1.0]
