"""Live progress of a sweep: trials done / pruned / failed, best value, the running trials' epoch and latest
metric, elapsed time and ETA (both H:MM:SS).

Counts and the best value are read from the study's storage, so every worker's trials are seen; what the
running trials are doing comes from `recsearch.search.live` (in-process for one worker, per-worker files
for N workers), so the bar moves during a trial, not only when one ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from recsearch.results.study_tables import count_failed
from recsearch.search import live

SHOWN_RUNNING = 2  # running trials described in full; the others are counted


class SweepProgress:
    """A rich progress bar fed from the study's storage and from the running trials' live statuses."""

    def __init__(self, study: Any, n_trials: int, *, enabled: bool = True, timeout: float | None = None):
        self.study, self.n_trials, self.enabled, self.timeout = study, n_trials, enabled, timeout
        self._start = time.time()
        self._initial_done: int | None = None
        self._local: dict[int, live.TrialStatus] = {}
        self._running: set[int] = set()  # trial numbers RUNNING in the storage at the last update
        self._summary, self._live_dir, self._saved_env, self._saved_plain = "", None, None, None
        # Not a terminal (a log file, CI, nohup): no bar, which would be drawn once, cut to 80 columns, but one
        # plain line per trial that ends.
        self._plain = enabled and not Console().is_terminal
        self._logged: set[int] | None = None  # trials that had ended when last logged (plain mode)
        self._progress = Progress(
            TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TextColumn("elapsed"), TimeElapsedColumn(), TextColumn("eta {task.fields[eta]}"),
            disable=not enabled or self._plain, transient=False)
        self._task = self._progress.add_task("sweep", total=n_trials, detail="", eta=clock(None))

    def __enter__(self) -> "SweepProgress":
        self._saved_plain = os.environ.get(live.PLAIN_LOG_ENV)  # set either way: never an outer sweep's value
        os.environ[live.PLAIN_LOG_ENV] = "1" if self._plain else "0"  # the plain log says why a trial failed
        if self.enabled:
            self._live_dir = Path(tempfile.mkdtemp(prefix="recsearch-live-"))
            self._saved_env = os.environ.get(live.LIVE_DIR_ENV)
            os.environ[live.LIVE_DIR_ENV] = str(self._live_dir)  # inherited by spawned workers
            live.install_board(self.on_status)
        self._progress.start()
        self.update()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.update()
        self._progress.stop()
        restore = [(live.PLAIN_LOG_ENV, self._saved_plain)]
        if self.enabled:
            live.install_board(None)
            restore.append((live.LIVE_DIR_ENV, self._saved_env))
            shutil.rmtree(self._live_dir, ignore_errors=True)
        for name, saved in restore:
            if saved is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = saved

    def counts(self) -> dict[str, int]:
        """Trials by state name (complete, pruned, fail, running, waiting)."""
        return _tally(self.study.get_trials(deepcopy=False))

    def on_status(self, status: live.TrialStatus | None, pid: int) -> None:
        """A running trial of this process moved (epoch, step or metric): redraw its part of the bar now."""
        if status is None:
            self._local.pop(pid, None)
        else:
            self._local[pid] = status
        self._show()

    def statuses(self) -> list[live.TrialStatus]:
        """The running trials' statuses: this process's, and the workers' files of trials the storage holds RUNNING."""
        found = {s.trial: s for s in self._local.values()}
        if self._live_dir is not None:
            found.update({s.trial: s for s in live.read_status_files(self._live_dir) if s.trial in self._running})
        return [s for _, s in sorted(found.items())]

    def update(self) -> None:
        """Refresh counts, best value, running trials and ETA from the storage."""
        if not self.enabled:
            return
        trials = self.study.get_trials(deepcopy=False)
        c = _tally(trials)
        self._running = {t.number for t in trials if t.state.name == "RUNNING"}
        self._local = {pid: s for pid, s in self._local.items() if s.trial in self._running}  # e.g. a crashed trial
        done = c.get("complete", 0) + c.get("pruned", 0)
        if self._initial_done is None:
            self._initial_done = done
        self._summary = _summary(trials, self.study.directions)
        self._progress.update(self._task, completed=min(done, self.n_trials), eta=clock(self._eta(done)))
        if self._plain:
            self._log_ended(trials, done)
        self._show()

    def _log_ended(self, trials: list, done: int) -> None:
        """Plain mode: one line per trial that ended since the last update (not rejected repeats), in the order
        they ended, each with the counts and best value as of its end (several workers' trials may end between
        two updates); trials that had ended before this sweep started are not listed again."""
        ended = {t.number: t for t in trials if t.state.name in ("COMPLETE", "PRUNED", "FAIL")}
        if self._logged is None:
            self._logged = set(ended)
            return
        elapsed = time.time() - self._start
        new = sorted(set(ended) - self._logged, key=lambda n: _end_key(ended[n]))
        for number in new:
            t = ended[number]
            self._logged.add(number)
            if "repeat_of" in t.user_attrs:
                continue
            upto = [u for u in ended.values() if _end_key(u) <= _end_key(t)]
            counted = sum(u.state.name in ("COMPLETE", "PRUNED") for u in upto)
            what = (f"{t.state.name.lower()} {t.values[0]:.4f}" if t.values else
                    f"failed: {t.user_attrs.get('fail_reason', 'no reason recorded')}"
                    if t.state.name == "FAIL" else t.state.name.lower())
            print(f"trial {number} {what} | {min(counted, self.n_trials)}/{self.n_trials} "
                  f"{_summary(upto, self.study.directions)} | elapsed "
                  f"{clock(elapsed)} eta {clock(self._eta(done))}", flush=True)

    def detail(self) -> str:
        """The bar's text: counts and best, then what the running trials are doing."""
        statuses = self.statuses()
        if not statuses:
            return f"{self._summary} | running {len(self._running)}"
        shown = "; ".join(s.text() for s in statuses[:SHOWN_RUNNING])
        more = f"; +{len(statuses) - SHOWN_RUNNING} more" if len(statuses) > SHOWN_RUNNING else ""
        return f"{self._summary} | running {len(statuses)}: {shown}{more}"

    def _show(self) -> None:
        if self.enabled:
            self._progress.update(self._task, detail=self.detail())

    def _eta(self, done: int) -> float | None:
        """Seconds left: the trials still missing at the pace so far, never past `search.timeout`."""
        elapsed = time.time() - self._start
        left = None if self.timeout is None else max(0.0, self.timeout - elapsed)
        new = done - (self._initial_done or 0)
        if new <= 0:
            return left
        by_trials = elapsed / new * max(0, self.n_trials - done)
        return by_trials if left is None else min(by_trials, left)


def _summary(trials: list, directions: list) -> str:
    """'pruned P failed F best B' over `trials` (rejected repeats, which never trained, counted apart; trials
    stopped by Ctrl-C or a dead worker that a later trial re-ran are no failures, as in the leaderboard)."""
    c = _tally(trials)
    failed = count_failed([t.number for t in trials], [t.state.name for t in trials],
                          ["repeat_of" in t.user_attrs for t in trials], [t.user_attrs.get("retry_of") for t in trials])
    done = [t.values[0] for t in trials if t.state.name == "COMPLETE" and t.values]
    if not done:
        best = "-"
    elif len(directions) > 1:
        best = "pareto"
    else:
        best = f"{(min if directions[0].name == 'MINIMIZE' else max)(done):.4f}"
    skipped = sum(t.state.name == "FAIL" and "repeat_of" in t.user_attrs for t in trials)
    return (f"pruned {c.get('pruned', 0)} failed {failed} best {best}"
            + (f" (repeats skipped {skipped})" if skipped else ""))


def _end_key(trial: Any) -> tuple:
    """When a trial ended, for ordering (its number breaks ties; a trial with no end time sorts by number)."""
    end = trial.datetime_complete
    return (end.timestamp() if end is not None else float("inf"), trial.number)


def _tally(trials: list) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in trials:
        out[t.state.name.lower()] = out.get(t.state.name.lower(), 0) + 1
    return out


def clock(seconds: float | None) -> str:
    """Seconds as H:MM:SS, the format of rich's elapsed column ('-:--:--' when unknown)."""
    return "-:--:--" if seconds is None else str(timedelta(seconds=int(seconds)))
