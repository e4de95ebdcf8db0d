"""Shared pieces of the benchmark scripts: machine description and medians."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path


def machine() -> str:
    """CPU model, core count and Python version, for the header of every benchmark."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
