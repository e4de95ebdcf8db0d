"""Ending a finished process early (`recsearch.process_exit`) loses nothing: buffered output, exit handlers and
the exit code all get through, and a thread still working keeps the normal exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import atexit, sys, threading, time
from pathlib import Path
from recsearch.process_exit import exit_now

out = Path(sys.argv[1])
atexit.register(lambda: (out / "handler").write_text("ran"))
sys.stdout.write("buffered, no newline")  # a pipe: block-buffered until flushed
if sys.argv[2] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.5), (out / "thread").write_text("done"))).start()
exit_now(3)
"""


def _run(tmp_path: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), mode], capture_output=True, text=True,
                          timeout=60)


def test_exit_now_flushes_output_runs_handlers_and_keeps_the_code(tmp_path: Path) -> None:
    done = _run(tmp_path, "alone")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, no newline"
    assert (tmp_path / "handler").read_text() == "ran"


def test_exit_now_waits_for_a_running_thread(tmp_path: Path) -> None:
    done = _run(tmp_path, "thread")
    assert done.returncode == 3, done.stderr
    assert (tmp_path / "thread").read_text() == "done"  # a normal exit joined it
    assert (tmp_path / "handler").read_text() == "ran" and done.stdout == "buffered, no newline"


def test_the_console_script_and_python_m_end_through_it(tmp_path: Path) -> None:
    """Both ways of running the CLI print all of a command's output and return its code."""
    for cli in ([sys.executable, "-m", "recsearch"],
                [sys.executable, "-c", "import sys; from recsearch.cli import entry_point; sys.argv[0] = 'recsearch'; "
                 "entry_point()"]):
        shown = subprocess.run([*cli, "config", "show", "model=mlp"], capture_output=True, text=True, timeout=120,
                               cwd=tmp_path)
        assert shown.returncode == 0 and shown.stdout.rstrip().endswith("experiment: null"), shown.stderr
        bad = subprocess.run([*cli, "config", "show", "model=nope"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
        assert bad.returncode == 2 and bad.stderr.startswith("recsearch: error: "), bad.stderr
