"""`recsearch dashboard`: optuna-dashboard on the study's storage, bound to 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

from recsearch.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_serves_the_study(sweeps):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "recsearch", "dashboard", str(sweeps.a), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        studies, deadline = None, time.time() + 60
        while studies is None and time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as resp:
                    studies = json.load(resp)
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "dashboard did not answer"
        assert [s["study_name"] for s in studies["study_summaries"]] == ["a"]
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out


def test_dashboard_of_a_folder_without_study(capsys, tmp_path):
    assert main(["dashboard", str(tmp_path)]) == 2
    assert "not a study folder (no sweep.yaml)" in capsys.readouterr().err
