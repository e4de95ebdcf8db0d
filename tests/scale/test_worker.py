"""`recsearch worker URL NAME`: a second machine joins a study with only the storage URL and the study name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pandas as pd
import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.slow

SPACE = ["~search_space", "+search_space={params: {model.embedding_dim: 'choice(4, 8, 16)', "
         "train.learning_rate: 'tag(log, interval(1e-3, 3e-2))'}}"]
SWEEP = ["model=mf", "data=synthetic", "data.synthetic.n_users=150", "data.synthetic.n_items=90",
         "data.synthetic.n_ratings=5000", "train.epochs=3", "train.batch_size=256", "search.pruner=none",
         "search.n_trials=6", *SPACE]
# More data in smaller batches: the joining test kills its first sweep after one trial, and on JAX SWEEP's whole
# budget can finish in less time than a poll takes to see it.
LONGER = ["data.synthetic.n_users=400", "data.synthetic.n_items=200", "data.synthetic.n_ratings=30000",
          "train.batch_size=8"]


def _postgres_url() -> str:
    url = os.environ.get("RECSEARCH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must start PostgreSQL and set RECSEARCH_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL: set RECSEARCH_TEST_POSTGRES_URL (.ci/run does)")
    return url


def _env() -> dict[str, str]:
    """A user's environment (the default backend, whichever this session runs on), without RECSEARCH_RESULTS_DIR:
    each process writes results/ in its own folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("RECSEARCH_RESULTS_DIR", "KERAS_BACKEND")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _recsearch(*args: str) -> list[str]:
    return [sys.executable, "-m", "recsearch", *args]


def _wait_complete(url: str, name: str, proc: subprocess.Popen, n: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            trials = optuna.load_study(study_name=name, storage=url).trials
        except KeyError:
            trials = []
        if sum(t.state.name == "COMPLETE" for t in trials) >= n:
            return
        time.sleep(0.1)
    raise AssertionError("the first worker did not finish a trial in time")


def test_second_worker_joins_with_only_url_and_name(tmp_path: Path) -> None:
    url, name = _postgres_url(), f"worker-{uuid.uuid4().hex[:10]}"
    first, second, third = (tmp_path / d for d in ("machine-a", "machine-b", "reader"))
    for folder in (first, second, third):
        folder.mkdir()
    try:
        proc = subprocess.Popen(_recsearch("sweep", "--no-progress", *SWEEP, *LONGER, f"search.study_name={name}",
                                           f"search.storage={url}"),
                                cwd=first, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_complete(url, name, proc, 1)
        proc.kill()  # machine A dies mid-study (SIGKILL: no chance to clean up); B must finish the budget
        proc.communicate(timeout=120)
        before = {t.number: t.params for t in optuna.load_study(study_name=name, storage=url).trials
                  if t.state.name == "COMPLETE"}  # A's trial left RUNNING is recovered by B (same host, pid dead)

        joined = subprocess.run(_recsearch("worker", url, name, "--no-progress"), cwd=second, env=_env(),
                                capture_output=True, text=True, timeout=600)
        assert joined.returncode == 0, joined.stderr

        study = optuna.load_study(study_name=name, storage=url)
        done = {t.number: t for t in study.trials if t.state.name == "COMPLETE"}
        assert len(done) == 6 and set(before) < set(done)
        assert {n: done[n].params for n in before} == before  # nothing finished was re-run or changed
        new = [done[n] for n in sorted(set(done) - set(before))]
        assert all(t.params not in before.values() for t in new)  # continued, not replayed
        for trial in new:  # ran the recorded config: mf, 3 epochs, the recorded space
            config = OmegaConf.create(trial.user_attrs["config"])
            assert config.model.name == "mf" and config.train.epochs == 3 and config.data.synthetic.n_ratings == 30000
            assert trial.params["model.embedding_dim"] in (4, 8, 16)
        assert (second / "results" / "default" / name / "trials.csv").is_file()

        board = subprocess.run(_recsearch("leaderboard", url, "--study", name, "--format", "json"), cwd=third,
                               env=_env(), capture_output=True, text=True, timeout=300)
        assert board.returncode == 0, board.stderr
        row = [r for r in json.loads(board.stdout) if r.get("study") == name][0]
        assert row["valid"] == pytest.approx(min(t.value for t in done.values()))
    finally:
        try:
            optuna.delete_study(study_name=name, storage=url)
        except KeyError:
            pass


def test_unknown_study_is_a_one_line_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.create_study(study_name="bare", storage=url)  # made by plain Optuna: no recorded config
    for study, expected in (("missing", "holds no study 'missing' (studies: bare)"),
                            ("bare", "records no sweep config")):
        done = subprocess.run(_recsearch("worker", url, study), cwd=tmp_path, env=_env(), capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 2 and done.stderr.startswith("recsearch: error: ")
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_without_a_study_name_a_worker_joins_the_only_study_or_is_told_to_name_one(tmp_path: Path) -> None:
    from recsearch.commands.worker_cmd import worker_overrides
    from recsearch.errors import ConfigError
    from recsearch.search.sweep import SWEEP_OVERRIDES

    url = f"sqlite:///{tmp_path / 'studies.db'}"
    optuna.storages.RDBStorage(url)  # an empty storage
    with pytest.raises(ConfigError, match="holds no study; name the one to join"):
        worker_overrides(url, None, [])
    optuna.create_study(study_name="first", storage=url).set_user_attr(SWEEP_OVERRIDES, ["model=mf"])
    overrides = worker_overrides(url, None, ["train.epochs=2"])
    assert overrides[0] == "model=mf" and "search.study_name=first" in overrides and overrides[-1] == "train.epochs=2"
    assert not any(line.startswith("paths.results_dir=") for line in overrides)  # a URL: its own results/
    optuna.create_study(study_name="second", storage=url)
    with pytest.raises(ConfigError, match=r"holds 2 studies \(first, second\); name the one to join"):
        worker_overrides(url, None, [])


def test_a_worker_whose_trials_keep_failing_exits_2(tmp_path: Path, tiny: list[str]) -> None:
    """`recsearch worker FOLDER` (no study name: the folder holds one) on a study whose every trial diverges:
    it gives up short of the budget and says so in its last line, exit status 2, as `sweep` does."""
    # Only the learning rate searched: every trial has tiny's shape, so each process compiles one program and its
    # ten failing trials take seconds, not ten sampled mlp shapes built and compiled (~1 min of CI).
    sweep = _recsearch("sweep", "--no-progress", *tiny, "train.epochs=1", "search.sampler=random",
                       "search.study_name=diverges", "search.n_trials=2", "search.n_workers=1", "train.optimizer=sgd",
                       "~search_space", "+search_space={params: {train.learning_rate: 'interval(1e25, 1e26)'}}")
    from recsearch.search.worker import MAX_FAILURES_IN_A_ROW

    env = _env()
    first = subprocess.run(sweep, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 2 and "no trial of study 'diverges' finished" in first.stderr, first.stderr[-800:]
    elsewhere = tmp_path / "elsewhere"  # another working folder, given the study folder
    elsewhere.mkdir()
    folder = tmp_path / "results" / "default" / "diverges"
    sweep_yaml = (folder / "sweep.yaml").read_text()
    joined = subprocess.run(_recsearch("worker", "--no-progress", str(folder)), cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=300)
    last = joined.stderr.strip().splitlines()[-1]
    assert joined.returncode == 2, joined.stderr[-800:]
    assert last.startswith("recsearch: error: the sweep stopped short of its budget because its trials kept failing "
                           "(0 of 2 finished"), last
    # the study folder's tables now list the worker's trials too; the sweep's own sweep.yaml is kept, and the
    # worker's seed of its own is no change of the study's search to note
    assert len(pd.read_csv(folder / "trials.csv")) == 2 * MAX_FAILURES_IN_A_ROW
    assert not (elsewhere / "results").exists()
    assert (folder / "sweep.yaml").read_text() == sweep_yaml
    assert "continues with another search" not in joined.stderr, joined.stderr[-800:]


def test_a_mistyped_journal_path_creates_nothing_and_a_study_folder_is_accepted(tmp_path: Path) -> None:
    from recsearch.commands.worker_cmd import worker_overrides
    from recsearch.errors import ConfigError
    from recsearch.search.storage import open_storage
    from recsearch.search.sweep import SWEEP_OVERRIDES

    typo = tmp_path / "nowhere" / "sub" / "study.journal"
    with pytest.raises(ConfigError, match="no such journal file; pass the study's study.journal"):
        worker_overrides(str(typo), "s", [])
    assert not (tmp_path / "nowhere").exists()
    folder = tmp_path / "results" / "default" / "s"
    folder.mkdir(parents=True)
    study = optuna.create_study(study_name="s", storage=open_storage(str(folder / "study.journal")))
    study.set_user_attr(SWEEP_OVERRIDES, ["model=mf"])
    overrides = worker_overrides(str(folder), "s", [])  # the folder, as `report` and `dashboard` take it
    assert overrides[:2] == ["model=mf", f"search.storage='{folder / 'study.journal'}'"]
    assert overrides[-1] == f"paths.results_dir='{(tmp_path / 'results').resolve()}'"  # tables: the study's folder
    from recsearch.commands.worker_cmd import _study_folder_results

    elsewhere = tmp_path / "kept" / "here.journal"  # a journal outside the <results>/<experiment>/<study>/ layout
    assert _study_folder_results(str(elsewhere), str(elsewhere), "s", "default") == []
    assert _study_folder_results("postgresql://u@h/db", "postgresql://u@h/db", "s", "default") == []
    assert worker_overrides(str(folder), None, []) == overrides  # its only study, named or not
    missing_db = tmp_path / "nope.db"
    with pytest.raises(ConfigError, match=f"no such SQLite file {missing_db}"):
        worker_overrides(f"sqlite:///{missing_db}", "s", [])
    assert not missing_db.exists()


def test_a_worker_whose_override_changes_the_study_is_told_to_drop_it(tmp_path: Path, capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from recsearch.cli import main

    monkeypatch.setenv("RECSEARCH_RESULTS_DIR", str(tmp_path / "results"))
    assert main(["sweep", "--no-progress", *SWEEP, "search.n_trials=1", "search.study_name=join"]) == 0
    journal = tmp_path / "results" / "default" / "join" / "study.journal"
    capsys.readouterr()
    assert main(["worker", "--no-progress", str(journal), "join", "split.seed=7"]) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds trials of another setting (split_key:" in err and "drop the worker's override" in err
    assert "search.study_name" not in err and len(err.splitlines()) == 1


def test_a_relative_data_path_is_recorded_absolute_for_workers_started_elsewhere(tmp_path: Path, monkeypatch) -> None:
    """A worker run from another folder used to look for the sweep's `data.path=ratings.csv` (and refuse its
    `search.enqueue_file=enq.yaml`) in its own folder."""
    from recsearch.search.sweep import portable_overrides

    monkeypatch.chdir(tmp_path)
    given = ["data=custom", "data.path=ratings.csv", "+data.path='my data/r.csv'", "data.path=/srv/r.csv",
             "data.path=null", "search.storage=postgresql://u:secret@h/db", "train.epochs=2",
             "search.enqueue_file=enq.yaml"]
    assert portable_overrides(given) == ["data=custom", f"data.path={tmp_path / 'ratings.csv'}",
                                         f"+data.path='{tmp_path / 'my data' / 'r.csv'}'", "data.path=/srv/r.csv",
                                         "data.path=null", "train.epochs=2"]  # the sweep enqueued the file


def test_a_worker_elsewhere_joins_a_study_that_its_sweep_composed_from_the_users_own_files(tmp_path: Path,
                                                                                         tiny: list[str]) -> None:
    """The sweep ran `+experiment=quick` of the project's `experiments/`, which selects the project's own
    `conf/search_space/mine.yaml`; a worker in a folder without either said "no such experiment". The study
    records those files, so the worker composes the sweep's config anywhere and continues its study."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (project / "conf" / "search_space").mkdir(parents=True)
    (project / "experiments").mkdir()
    elsewhere.mkdir()
    rates = [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]
    (project / "conf" / "search_space" / "mine.yaml").write_text(
        f"params:\n  train.learning_rate: choice({', '.join(map(str, rates))})\n")
    (project / "experiments" / "quick.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /search_space: mine\ntrain:\n  epochs: 1\n")
    env = {**_env(), "RECSEARCH_RESULTS_DIR": str(tmp_path / "results")}
    sweep = _recsearch("sweep", "--no-progress", "+experiment=quick", *tiny, "search.study_name=mine",
                       "search.n_trials=1", "search.n_workers=1", "search.sampler=random")
    first = subprocess.run(sweep, cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-800:]
    folder = tmp_path / "results" / "quick" / "mine"
    joined = subprocess.run(_recsearch("worker", "--no-progress", str(folder), "search.n_trials=2"), cwd=elsewhere,
                            env=env, capture_output=True, text=True, timeout=300)
    assert joined.returncode == 0, joined.stderr[-800:]
    trials = optuna.load_study(study_name="mine", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal")))).trials
    trials = [t for t in trials if "repeat_of" not in t.user_attrs]  # a sampled repeat is refused untrained
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    assert trials[0].params != trials[1].params
    assert all(set(t.params) == {"train.learning_rate"} and t.params["train.learning_rate"] in rates for t in trials)
    assert not (elsewhere / "conf").exists() and not (elsewhere / "experiments").exists()


def test_a_wrong_password_or_database_on_a_real_server_says_what_to_fix(capsys) -> None:
    """PostgreSQL's refusals named the problem only; each now ends with what to do, the password masked."""
    from sqlalchemy.engine import make_url

    from recsearch.cli import main

    url = make_url(_postgres_url())
    cases = {url.set(password="not-the-password", username=url.username or "postgres"):
             "check the user name and password in the URL",
             url.set(database=f"missing_{uuid.uuid4().hex[:8]}"):
             "create the database first (PostgreSQL: createdb NAME)"}
    for bad, remedy in cases.items():
        assert main(["leaderboard", bad.render_as_string(hide_password=False)]) == 2
        err = capsys.readouterr().err
        assert remedy in err and "not-the-password" not in err, err
