"""Optuna's grid sampler for ask-and-tell studies (recsearch's workers ask and tell; they never call optimize)."""

from __future__ import annotations

from typing import Any, Sequence

import optuna


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler whose `after_trial` does not call `study.stop()`: outside `study.optimize` that raises, so the
    tell of the grid's last point failed the sweep. recsearch's workers stop asking once the grid is exhausted
    instead (`worker.claim_trial`)."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Sequence[float] | None) -> None:
        return None
