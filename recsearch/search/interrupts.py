"""Ctrl-C while trials run, recognised even when C code turned its KeyboardInterrupt into another error.

A SIGINT that lands while TensorFlow is inside a Python callback can surface as, e.g., `SystemError:
Objects/listobject.c:338: bad argument to internal function` (seen in CI); without this, that trial failed
with that error and the sweep went on instead of stopping. The handler remembers the signal, so the worker
treats any error raised after it as the interruption it is. SIGTERM (`kill`, `timeout`, a batch scheduler's
stop) is handled the same way, so it too keeps finished trials and writes the tables. A KeyboardInterrupt
that Python swallows outright (raised inside a garbage-collection callback, such as JAX's: "Exception
ignored in ...", seen in CI) is caught at the worker's next check: each epoch's end and each trial's; the
traceback Python would print for it is left out (the sweep says "interrupted" in one line).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any, Iterator

INTERRUPTED = "interrupted (Ctrl-C or SIGTERM); the same command resumes the sweep"  # the fail_reason of such trials

_seen = False
_depth = 0  # how many `ctrl_c_remembered` blocks are open


def _remember_sigint(signum: int, frame: Any) -> None:
    global _seen
    _seen = True
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as Python's own handler does


@contextlib.contextmanager
def ctrl_c_remembered() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM are remembered and raise KeyboardInterrupt; only where Python's default
    handling is in place (main thread, the signal not ignored or handled by the caller). A block opened inside
    another (a sweep's own worker inside the sweep) keeps what the outer one remembered: a Ctrl-C swallowed
    while the worker started (in a garbage-collection callback during Keras's import) used to be forgotten."""
    global _seen, _depth
    if _depth == 0:
        _seen = False
    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    installed = [signum for signum, default in defaults.items()
                 if threading.current_thread() is threading.main_thread() and signal.getsignal(signum) is default]
    for signum in installed:
        signal.signal(signum, _remember_sigint)
    hook = sys.unraisablehook

    def quiet(unraisable: Any) -> None:
        """A remembered KeyboardInterrupt that Python swallowed prints nothing; the rest go to `hook`."""
        if not (_seen and _depth and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            hook(unraisable)

    if installed:
        sys.unraisablehook = quiet
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for signum in installed:
            signal.signal(signum, defaults[signum])
        if installed and sys.unraisablehook is quiet:  # not over a hook installed inside the block
            sys.unraisablehook = hook


def interrupted() -> bool:
    """True once SIGINT arrived inside `ctrl_c_remembered`."""
    return _seen


def stop_if_interrupted() -> None:
    """Inside `ctrl_c_remembered`: raise KeyboardInterrupt when a signal arrived whose own KeyboardInterrupt
    was swallowed on the way."""
    if _seen and _depth:
        raise KeyboardInterrupt(INTERRUPTED)


def raise_if_interrupted(exc: BaseException) -> None:
    """Raise KeyboardInterrupt (from `exc`) when Ctrl-C arrived: `exc` is what C code made of it."""
    if _seen:
        raise KeyboardInterrupt(INTERRUPTED) from exc
