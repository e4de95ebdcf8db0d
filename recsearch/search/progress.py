"""Live progress of a sweep: trials done / pruned / failed, best value so far, ETA (read from the storage)."""

from __future__ import annotations

import time
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class SweepProgress:
    """A rich progress bar fed from the study's storage, so it sees every worker's trials."""

    def __init__(self, study: Any, n_trials: int, *, enabled: bool = True):
        self.study, self.n_trials, self.enabled = study, n_trials, enabled
        self._start = time.time()
        self._initial_done = None
        self._progress = Progress(
            TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), TextColumn("eta {task.fields[eta]}"), disable=not enabled, transient=False)
        self._task = self._progress.add_task("sweep", total=n_trials, detail="", eta="?")

    def __enter__(self) -> "SweepProgress":
        self._progress.start()
        self.update()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.update()
        self._progress.stop()

    def counts(self) -> dict[str, int]:
        """Trials by state name (complete, pruned, fail, running, waiting)."""
        out: dict[str, int] = {}
        for t in self.study.get_trials(deepcopy=False):
            out[t.state.name.lower()] = out.get(t.state.name.lower(), 0) + 1
        return out

    def update(self) -> None:
        """Refresh counts, best value and ETA from the storage."""
        if not self.enabled:
            return
        c = self.counts()
        done = c.get("complete", 0) + c.get("pruned", 0)
        if self._initial_done is None:
            self._initial_done = done
        best = self._best()
        detail = f"pruned {c.get('pruned', 0)} failed {c.get('fail', 0)} running {c.get('running', 0)} best {best}"
        self._progress.update(self._task, completed=min(done, self.n_trials), detail=detail, eta=self._eta(done))

    def _best(self) -> str:
        try:
            values = self.study.best_trial.values if len(self.study.directions) == 1 else None
        except ValueError:
            return "-"
        return f"{values[0]:.4f}" if values else "pareto"

    def _eta(self, done: int) -> str:
        new = done - (self._initial_done or 0)
        if new <= 0:
            return "?"
        seconds = (time.time() - self._start) / new * max(0, self.n_trials - done)
        return time.strftime("%H:%M:%S", time.gmtime(seconds))
