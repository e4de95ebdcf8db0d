"""What the running trials are doing right now (trial, epoch, latest metric), for the sweep's progress bar.

A Keras callback publishes the running trial's status at each epoch (and every `BATCH_EVERY_S` seconds
within an epoch). Where it goes depends on the process:

- in the sweep's own process (one worker), to the in-process board `SweepProgress` installed: the bar
  refreshes at once, without reading any file;
- in a spawned worker process (N workers), to a small JSON file per worker in the folder named by the
  environment variable `RECSEARCH_LIVE_DIR` (set by `SweepProgress`, inherited by the workers), written
  with a rename and no fsync: it is a hint for display, never a record.

With neither (e.g. `--no-progress`), publishing does nothing.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

LIVE_DIR_ENV = "RECSEARCH_LIVE_DIR"
# Set while the sweep logs one plain line per ended trial (output not a terminal), which carries a failed trial's
# reason: the worker then prints no line of its own for it (inherited by spawned workers, like LIVE_DIR_ENV).
PLAIN_LOG_ENV = "RECSEARCH_PLAIN_LOG"
BATCH_EVERY_S = 1.0
STALE_AFTER_S = 600.0


@dataclass
class TrialStatus:
    """One running trial: its number, the epoch being trained (1-based) of how many, and the latest metric with
    the epoch it scored (`scored`)."""

    trial: int
    epoch: int
    epochs: int
    metric: str
    value: float | None = None
    step: int | None = None
    steps: int | None = None
    pid: int = 0
    updated: float = 0.0
    scored: int | None = None  # the epoch (1-based) whose `value` it is: the one before `epoch` while that trains

    def text(self) -> str:
        """'trial 7 epoch 3/10 step 40/79, val_rmse 0.9123 after epoch 2' ('trial 7 epoch 1/10' before the first
        score): the score shown says which epoch it is of, since the epoch shown is the one training."""
        where = f" step {self.step}/{self.steps}" if self.step and self.steps else ""
        after = f" epoch {self.scored}" if self.scored else ""
        score = "" if self.value is None else f", {self.metric} {self.value:.4f} after{after or ' the last epoch'}"
        return f"trial {self.trial} epoch {self.epoch}/{self.epochs}{where}{score}"


_board: Callable[[TrialStatus | None, int], None] | None = None


def install_board(board: Callable[[TrialStatus | None, int], None] | None) -> None:
    """Route this process's statuses to `board(status, pid)` (None: the trial ended); None uninstalls."""
    global _board
    _board = board


def publish(status: TrialStatus | None, pid: int | None = None) -> None:
    """Send a running trial's status (None: this process's trial ended) to the installed board or the live folder."""
    pid = os.getpid() if pid is None else pid
    if _board is not None:
        _board(status, pid)
        return
    folder = os.environ.get(LIVE_DIR_ENV)
    if folder:
        write_status_file(Path(folder), pid, status)


def write_status_file(folder: Path, pid: int, status: TrialStatus | None) -> None:
    """worker-<pid>.json in `folder` (removed when `status` is None); renamed into place, not fsynced."""
    path = folder / f"worker-{pid}.json"
    try:
        if status is None:
            path.unlink(missing_ok=True)
            return
        tmp = folder / f".worker-{pid}.json.tmp"
        tmp.write_text(json.dumps(asdict(status)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:  # display only: a vanished folder must never fail a trial
        pass


def read_status_files(folder: Path, *, now: float | None = None) -> list[TrialStatus]:
    """The statuses in `folder`, by trial number; unreadable, half-written or stale files are skipped."""
    now = time.time() if now is None else now
    out = []
    for path in Path(folder).glob("worker-*.json"):
        try:
            status = TrialStatus(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if now - status.updated <= STALE_AFTER_S:
            out.append(status)
    return sorted(out, key=lambda s: s.trial)


def live_status(trial: Any, monitor: str) -> Any:
    """The Keras callback for an Optuna trial: `callbacks=[..., live_status(trial, "val_rmse")]`."""
    return _callback_class()(int(trial.number), monitor)


@functools.cache
def _callback_class() -> type:
    """The callback class, defined on first use: importing keras here, at import time, would fix the backend
    before `setup_backend` chooses it (this module is imported by the progress bar, before training starts)."""
    import keras

    class LiveStatus(keras.callbacks.Callback):
        """Publish the trial's epoch and latest `monitor` value while it trains; cheap (at most one write a second
        within an epoch) and never failing the trial."""

        def __init__(self, trial_number: int, monitor: str):
            super().__init__()
            self.status = TrialStatus(trial=trial_number, epoch=0, epochs=0, metric=monitor)
            self._last = 0.0

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.status.epochs = int(self.params.get("epochs") or 0)
            self.status.steps = self.params.get("steps")

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.status.epoch, self.status.step = epoch + 1, 0
            self._send()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if time.monotonic() - self._last >= BATCH_EVERY_S:
                self.status.step = min(batch + 1, self.status.steps or batch + 1)  # steps_per_execution overshoots
                self._send()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            value = (logs or {}).get(self.status.metric)
            if value is not None:
                self.status.value, self.status.scored = float(value), epoch + 1
            self.status.step = 0
            self._send()

        def on_train_end(self, logs: dict | None = None) -> None:
            publish(None)

        def _send(self) -> None:
            self._last = time.monotonic()
            self.status.updated, self.status.pid = time.time(), os.getpid()
            publish(TrialStatus(**asdict(self.status)))

    return LiveStatus


def failure_reason(exc: BaseException) -> str:
    """A failed trial's recorded reason: the error's type and the first line of its message, at most 500 chars."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:500]


def say_trial_failed(number: int, reason: str) -> None:
    """A failed trial's one line on stderr, unless the sweep's plain log prints the trial with its reason."""
    if os.environ.get(PLAIN_LOG_ENV) != "1":
        print(f"recsearch: trial {number} failed: {reason}", file=sys.stderr)
