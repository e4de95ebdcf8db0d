"""Search tests: the fault suite's summary table at the end of the run."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the fault suite's rows: fault, faults injected, finished trials lost, repeated configs."""
    rows = getattr(config, "recsearch_fault_summary", None)
    if not rows:
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line(f"{'fault':<30} {'injected':>8} {'lost':>5} {'repeats':>7}")
    for name, injected, lost, repeats in rows:
        terminalreporter.write_line(f"{name:<30} {injected:>8} {lost:>5} {repeats:>7}")
