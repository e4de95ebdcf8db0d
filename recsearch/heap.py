"""The heap of a long-lived training process: few malloc arenas, free pages handed back after each trial, and
the start-up objects left out of the per-trial garbage collection.

TensorFlow and XLA allocate from many threads, and glibc gives each thread its own arena (up to 8 per core),
so a worker's resident memory grew with every trial although nothing leaked: freed pages stayed spread over
those arenas. Measured with 10 gmf trials at 3M ratings (`benchmarks/scale.py`): +12.5% RSS from trial 1 to 10
with the default arenas and a trim after each trial, +0.6% with two arenas, and a fifth less memory overall.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import sys
from typing import Any, Iterator

ARENAS = 2  # glibc's M_ARENA_MAX for training processes, unless MALLOC_ARENA_MAX says otherwise
_M_ARENA_MAX = -8  # mallopt parameter number, from glibc's malloc.h


@functools.cache
def libc() -> Any:
    """The process's C library on Linux (loaded once: it is called after every trial), else None."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def limit_arenas() -> None:
    """Cap glibc's malloc arenas at ARENAS before the framework starts its threads (a no-op elsewhere).

    glibc fixes its arena limit when a process first needs more than 8 arenas, so this must run before the
    framework's thread pools allocate; a MALLOC_ARENA_MAX set by the user wins.
    """
    mallopt = getattr(libc(), "mallopt", None)  # musl and other libcs have none
    if mallopt is not None and "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(_M_ARENA_MAX, ARENAS)


def release_free_heap() -> None:
    """Return free heap pages to the OS (glibc `malloc_trim`; a no-op elsewhere)."""
    trim = getattr(libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


@contextlib.contextmanager
def startup_objects_frozen() -> Iterator[None]:
    """Leave the objects alive now (modules, prepared data, the study) out of cyclic garbage collection inside.

    `keras.backend.clear_session()` collects garbage after every trial, and with TensorFlow and Keras loaded
    that scanned ~460,000 start-up objects each time: 0.2 s per collection, about 0.4 s of every trial's
    fixed cost (`benchmarks/bench_sweep.py` prints it). Frozen objects are still freed when their reference
    count drops; they are unfrozen on exit, so a caller's objects are collectable again afterwards.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
