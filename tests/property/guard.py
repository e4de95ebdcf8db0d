"""A wall-clock limit per hypothesis example: a hang fails the example instead of stalling the suite."""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator

from recsearch.errors import RecsearchError


class ExampleTimeout(Exception):
    """An example ran past its limit (a hang, or an enumeration that should have been refused)."""


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Raise ExampleTimeout in the block after `seconds` of wall time (SIGALRM, main thread)."""

    def expire(signum, frame):  # noqa: ANN001 - signal handler signature
        raise ExampleTimeout(f"example ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def valid_or_user_error(call, *, seconds: int = 10):  # noqa: ANN001, ANN201 - any callable, any result
    """`call()`'s result, or None when it raised a RecsearchError that is one line; anything else propagates."""
    with time_limit(seconds):
        try:
            return call()
        except RecsearchError as exc:
            assert str(exc) and "\n" not in str(exc).strip(), repr(str(exc))
            return None
