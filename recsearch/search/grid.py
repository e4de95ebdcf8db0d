"""Optuna's grid sampler for ask-and-tell studies (recsearch's workers ask and tell; they never call optimize)."""

from __future__ import annotations

from typing import Any, Sequence

import optuna
from optuna.trial import TrialState


class AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler whose `after_trial` does not call `study.stop()`: outside `study.optimize` that raises, so the
    tell of the grid's last point failed the sweep. recsearch's workers stop asking once the grid is exhausted
    instead (`worker.claim_trial`)."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Sequence[float] | None) -> None:
        return None

    def all_started(self, study: Any) -> bool:
        """Whether every grid point is finished or running. Optuna's `is_exhausted` counts finished points only,
        and its ask then hands out a running point again: a second worker trained a duplicate of it."""
        started = {t.system_attrs["grid_id"] for t in study._storage.get_all_trials(study._study_id, deepcopy=False)
                   if "grid_id" in t.system_attrs and self._same_search_space(t.system_attrs["search_space"])
                   and (t.state.is_finished() or t.state == TrialState.RUNNING)}
        return len(started) >= self._n_min_trials
