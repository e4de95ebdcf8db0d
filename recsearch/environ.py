"""Environment variables set for a block only (a config composed from another folder, workers spawned with a
backend of their own), restored after it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def environ_set(**values: str) -> Iterator[None]:
    """Set `values` in os.environ inside the block; afterwards each name is as it was (unset if it was)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
