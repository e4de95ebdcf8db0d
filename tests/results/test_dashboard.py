"""`recsearch dashboard`: optuna-dashboard on the study's storage, bound to 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

from results_helpers import RATING, fake_study

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
    fake_study(tmp_path / "results", "s", RATING, [0.9])  # an experiment folder: the studies in it are named
    assert main(["dashboard", str(tmp_path / "results" / "mixed")]) == 2
    assert "is not a study folder but holds 1 study (" in capsys.readouterr().err


def test_a_busy_port_fails_before_anything_is_announced(tmp_path, capsys):
    """Another server on the port: one error line naming the port and --port, and no `open http://...` first."""
    study = fake_study(tmp_path / "results", "s", RATING, [0.9])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["dashboard", str(study), "--port", str(port)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"recsearch: error: cannot listen on 127.0.0.1:{port}: "), lines
    assert "already in use" in lines[0] and "--port" in lines[0]


def test_a_file_that_is_no_journal_or_a_missing_sqlite_file_is_one_line_and_creates_nothing(tmp_path, capsys,
                                                                                           monkeypatch):
    """A CSV given as the journal: a warning per line, then an empty dashboard. `sqlite:///typo.db`: a new empty
    database file, and an empty dashboard on it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating\n1,2,3.5\n" * 50)
    assert main(["dashboard", "ratings.csv"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("recsearch: error: ratings.csv is a file, but not a study folder, journal file or storage "
                           "URL; pass a results folder, a study folder, its study.journal or a storage URL"), err
    for command in (["dashboard"], ["leaderboard"], ["report"]):
        assert main([*command, "sqlite:///typo.db"]) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"recsearch: error: sqlite:///typo.db: no such database file ({tmp_path}/typo.db); "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ratings.csv"]
