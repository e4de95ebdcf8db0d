"""Sweeps end to end on small synthetic data: tables, resume, failures, seeds, workers, storages."""

from __future__ import annotations

import json
import os
import re

import optuna
import pandas as pd
import pytest

from recsearch.config import load_config_file
from recsearch.search.parallel import WORKER_MEMORY_BYTES, available_memory, usable_cores
from recsearch.search.sweep import run_sweep

pytestmark = pytest.mark.slow

def space(params: str) -> list[str]:
    """Overrides that replace the whole search space (a plain `key={...}` would merge into the default)."""
    return ["~search_space", f"+search_space={{params: {{{params}}}}}"]


SMALL_SPACE = space("model.depth: 'range(1, 3)', model.width: 'choice(8, 16)', "
                    "train.learning_rate: 'tag(log, interval(1e-3, 3e-2))'")


def _sweep(tiny: list[str], *extra: str):
    return run_sweep([*tiny, *SMALL_SPACE, *extra], show_progress=False)


def test_sweep_writes_every_table(tiny: list[str]) -> None:
    report = _sweep(tiny, "search.n_trials=3", "search.study_name=tables")
    folder = report.folder
    for name in ("trials.parquet", "trials.csv", "best.yaml", "sweep.yaml", "summary.md", "study.journal"):
        assert (folder / name).is_file(), name
    frame = pd.read_parquet(folder / "trials.parquet")
    assert len(frame) == 3 and frame["number"].tolist() == [0, 1, 2]
    expected = {"number", "state", "value", "params_model.depth", "params_model.width", "params_train.learning_rate",
                "val_curve", "epochs_run", "duration_s", "n_params", "seed", "config_hash", "fail_reason",
                "valid_rmse", "test_rmse"}
    assert expected <= set(frame.columns)
    done = frame[frame["state"] == "COMPLETE"]
    assert len(done) >= 1
    assert all(len(c) == e for c, e in zip(done["val_curve"], done["epochs_run"]))
    assert json.loads(pd.read_csv(folder / "trials.csv")["val_curve"][0])  # curve kept as JSON in the CSV
    assert "## Top 10" in (folder / "summary.md").read_text()
    # best.yaml is the complete config of the best trial and is runnable as is
    best = load_config_file(folder / "best.yaml")
    best_row = done.sort_values("value").iloc[0]
    assert best.model.depth == best_row["params_model.depth"]
    # the study is a plain Optuna study
    study = optuna.load_study(study_name="tables", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal"))))
    assert study.best_trial.number == int(best_row["number"])


def test_same_seed_samples_same_params(tiny: list[str]) -> None:
    a = _sweep(tiny, "search.n_trials=4", "search.n_startup_trials=2", "search.study_name=seed_a")
    b = _sweep(tiny, "search.n_trials=4", "search.n_startup_trials=2", "search.study_name=seed_b")
    cols = ["number", "params_model.depth", "params_model.width", "params_train.learning_rate"]
    fa, fb = (pd.read_parquet(r.folder / "trials.parquet")[cols] for r in (a, b))
    pd.testing.assert_frame_equal(fa, fb)


def test_rerun_runs_only_what_is_missing(tiny: list[str]) -> None:
    _sweep(tiny, "search.n_trials=2", "search.study_name=resume")
    report = _sweep(tiny, "search.n_trials=3", "search.study_name=resume")
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert frame["number"].tolist() == [0, 1, 2]
    again = _sweep(tiny, "search.n_trials=3", "search.study_name=resume")
    assert len(pd.read_parquet(again.folder / "trials.parquet")) == 3


def test_failed_trials_are_recorded_and_the_sweep_goes_on(tiny: list[str]) -> None:
    report = run_sweep([*tiny, "search.sampler=random", "search.n_trials=3", "search.study_name=fail",
                        *space("train.learning_rate: 'choice(0.01, 1e25)', model.width: 'choice(8, 16)'"),
                        "train.optimizer=sgd"], show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet")
    repeats = frame["fail_reason"].fillna("").str.startswith("sampler repeated")  # re-asked, never trained
    failed = frame[(frame["state"] == "FAIL") & ~repeats]
    assert len(failed) == 2, frame[["state", "params_train.learning_rate"]]
    assert all("diverged" in r or "not finite" in r for r in failed["fail_reason"])
    assert (failed["params_train.learning_rate"] == 1e25).all()
    # failures do not count against the budget of 3: all 4 configurations ran, then the space was used up
    assert (frame["state"] == "COMPLETE").sum() == 2 and len(frame[~repeats]) == 4


@pytest.mark.parametrize("sampler", ["random", "tpe", "grid"])
def test_a_sweep_stops_when_its_discrete_space_is_used_up(tiny: list[str], sampler: str,
                                                          capfd: pytest.CaptureFixture) -> None:
    """Two configurations and a budget of four: both trained once, then a one-line stop; a resume trains none."""
    args = [*tiny, *space("model.width: 'choice(8, 16)'"), f"search.sampler={sampler}", "train.epochs=1",
            f"search.study_name=used-up-{sampler}"]
    for budget in (4, 6):
        report = run_sweep([*args, f"search.n_trials={budget}"], show_progress=False)
        frame = pd.read_parquet(report.folder / "trials.parquet")
        trained = frame[~frame["fail_reason"].fillna("").str.startswith("sampler repeated")]
        assert sorted(trained["params_model.width"]) == [8, 16] and (trained["state"] == "COMPLETE").all(), frame
        assert "the study has tried all 2 configurations of its search space" in capfd.readouterr().err
        assert not report.stopped_on_failures  # a used-up space (its repeats failed as such) is not a failure
        if report.counts.get("fail"):  # and the closing table counts the repeats apart from failures
            from recsearch.commands.sweep_cmd import print_report

            print_report(report)
            title = next(line for line in capfd.readouterr().out.splitlines() if "top 2 (" in line)
            assert f"(complete 2, repeated or re-run {report.counts['fail']})" in title, title
            summary = (report.folder / "summary.md").read_text()  # summary.md and the report count alike
            assert f"- trials: complete 2, repeated or re-run {report.counts['fail']}\n" in summary, summary
            from recsearch.results.report import study_report
            from recsearch.results.studies import load_study_folder

            subtitle = study_report(load_study_folder(report.folder)).subtitle
            assert f"trials: complete 2, repeated or re-run {report.counts['fail']};" in subtitle, subtitle


def test_the_grid_sampler_trains_each_point_once_across_a_resume(tiny: list[str], capfd: pytest.CaptureFixture) -> None:
    """Grid ids name the same points in every claim and run: a 3 x 2 grid over two runs is six distinct trials."""
    args = [*tiny, *space("model.width: 'choice(8, 16, 32)', train.learning_rate: 'choice(0.01, 0.001)'"),
            "search.sampler=grid", "train.epochs=1", "search.study_name=grid-once"]
    cols = ["params_model.width", "params_train.learning_rate"]
    for budget in (4, 8):
        report = run_sweep([*args, f"search.n_trials={budget}"], show_progress=False)
        frame = pd.read_parquet(report.folder / "trials.parquet")
        configs = [tuple(row) for row in frame[cols].itertuples(index=False)]
        assert len(set(configs)) == len(configs) == min(budget, 6), frame[["number", "state", *cols]]
    assert "the study has tried all 6 configurations of its search space" in capfd.readouterr().err


def test_a_conditional_discrete_space_is_used_up_too(tiny: list[str], capfd: pytest.CaptureFixture) -> None:
    """momentum only with sgd: 2 widths * (2 momenta + adam) = 6 configurations, each trained once."""
    conditional = ["~search_space", "+search_space={params: {model.width: 'choice(8, 16)', "
                   "train.optimizer: 'choice(sgd, adam)', train.momentum: 'choice(0.0, 0.5)'}, "
                   "conditions: {train.momentum: {train.optimizer: sgd}}}"]
    report = run_sweep([*tiny, *conditional, "search.sampler=random", "train.epochs=1", "search.n_trials=9",
                        "search.study_name=used-up-conditional"], show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet")
    trained = frame[~frame["fail_reason"].fillna("").str.startswith("sampler repeated")]
    cols = ["params_model.width", "params_train.optimizer", "params_train.momentum"]
    configs = {tuple("-" if pd.isna(v) else v for v in row) for row in trained[cols].itertuples(index=False)}
    assert len(trained) == 6 and len(configs) == 6, trained[cols]
    assert "the study has tried all 6 configurations of its search space" in capfd.readouterr().err
    assert not report.stopped_on_failures


def test_no_more_workers_than_missing_trials(tiny: list[str]) -> None:
    """n_workers=3 for the one missing trial: it runs in this process, no worker process loads data for nothing."""
    report = _sweep(tiny, "search.n_trials=1", "search.n_workers=3", "search.study_name=few", "train.epochs=1")
    study = optuna.load_study(study_name="few", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(report.folder / "study.journal"))))
    assert [t.user_attrs.get("pid") for t in study.trials] == [os.getpid()]


def test_searching_the_model_group_as_the_cli_hint_says_trains_every_trial(tiny: list[str]) -> None:
    """`++search_space.params={model: 'choice(mlp, mf)'}` over mlp's space (the hint `sweep model=mlp,mf` gives):
    mf trials sample none of mlp's own keys, so none fails."""
    data_only = [o for o in tiny if o.startswith("data")]
    report = run_sweep([*data_only, "train.epochs=1", "search.sampler=random", "search.n_trials=6",
                        "search.study_name=families", "++search_space.params={model: 'choice(mlp, mf)'}"],
                       show_progress=False)
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert (frame["state"] == "COMPLETE").all() and set(frame["params_model"]) == {"mlp", "mf"}, frame
    assert frame.loc[frame["params_model"] == "mf", "params_model.depth"].isna().all()


def test_a_base_value_of_a_key_the_other_model_lacks_is_refused_and_its_fix_works(tiny: list[str]) -> None:
    """`model.depth=2` on the command line with `model: choice(mlp, mf)` would break every mf trial: refused
    before anything runs; the form it suggests fixes depth for mlp trials only."""
    from recsearch.errors import SearchSpaceError

    base = [o for o in tiny if o.startswith("data")] + ["train.epochs=1", "search.sampler=random"]
    with pytest.raises(SearchSpaceError, match=r"model=mf, which the search samples, has no model.depth, .*"
                                               r"\+\+search_space.params=\{model.depth: 2\}"):
        run_sweep([*base, "model.depth=2", "search.study_name=base-depth", "search.n_trials=2",
                   "++search_space.params={model: 'choice(mlp, mf)'}"], show_progress=False)
    report = run_sweep([*base, "search.study_name=space-depth", "search.n_trials=6",
                        "++search_space.params={model: 'choice(mlp, mf)', model.depth: 2}"], show_progress=False)
    import yaml

    study = optuna.load_study(study_name="space-depth", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(report.folder / "study.journal"))))
    models = [yaml.safe_load(t.user_attrs["config"])["model"] for t in study.trials]
    assert all(t.state.name == "COMPLETE" for t in study.trials) and {m["name"] for m in models} == {"mlp", "mf"}
    assert all(m["depth"] == 2 for m in models if m["name"] == "mlp")


def test_more_workers_than_cores_is_said_once(monkeypatch, capsys) -> None:
    """Workers beyond the cores share them (each with its own data and framework): one warning line."""
    from types import SimpleNamespace

    from omegaconf import OmegaConf

    from recsearch.search import parallel, sweep
    from recsearch.search.worker import WorkerSpec

    started = []
    monkeypatch.setattr(sweep, "_run_processes", lambda spec, n, progress, keras_backend: started.append(
        (n, spec.overrides, keras_backend)))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    cfg = SimpleNamespace(search=SimpleNamespace(n_trials=50, n_workers=8), train=SimpleNamespace(backend="tensorflow"),
                          model=OmegaConf.create({"name": "mlp"}))
    progress = SimpleNamespace(counts=lambda: {"complete": 40})
    sweep._run_workers(WorkerSpec(("model=mlp",), "journal", "s", "."), cfg, progress)
    # the workers run with the count, not auto, and with this process's backend choice, started on it
    assert started == [(8, ("model=mlp", "search.n_workers=8", "train.backend=tensorflow"), "tensorflow")]
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["recsearch: warning: search.n_workers=8 on 2 cores: the workers share them (each holds its "
                     "own copy of the data and framework); about one per core is fastest"]


@pytest.mark.skipif(usable_cores() < 2 or (available_memory() or 0) < 2 * WORKER_MEMORY_BYTES,
                    reason="auto starts one worker per core and 1.5 GiB: needs 2 cores and 3 GiB")
def test_auto_workers_run_one_per_core_and_never_repeat(tiny: list[str], capsys) -> None:
    """The default (`auto`) on a CPU machine with 2+ cores and 10 trials: two worker processes share the
    study (TPE with the constant liar), each trial's parameters drawn once, none lost."""
    report = _sweep(tiny, "search.n_trials=10", "search.study_name=auto", "search.pruner=none",
                    "search.n_startup_trials=2", "train.epochs=1")
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert sorted(frame["number"]) == list(range(10)) and (frame["state"] == "COMPLETE").all()
    assert frame["pid"].nunique() == 2 and os.getpid() not in set(frame["pid"])
    params = [c for c in frame.columns if c.startswith("params_")]
    assert not frame.duplicated(subset=params).any()
    notice = (f"recsearch: 2 worker processes on {usable_cores()} cores "
              "(search.n_workers=auto; search.n_workers=1 runs one)")
    assert notice in capsys.readouterr().err.splitlines()


def test_enqueue_defaults_runs_the_default_config_first(tiny: list[str]) -> None:
    report = _sweep(tiny, "search.n_trials=2", "search.study_name=warm", "search.enqueue_defaults=true",
                    "model.width=16", "train.learning_rate=0.005")
    first = pd.read_parquet(report.folder / "trials.parquet").iloc[0]
    assert first["params_model.width"] == 16 and first["params_train.learning_rate"] == 0.005


def test_multi_objective_writes_pareto_front(tiny: list[str], capsys: pytest.CaptureFixture) -> None:
    report = _sweep(tiny, "search.n_trials=3", "search.study_name=moo", "search.objectives=[params]",
                    "search.sampler=nsga2")
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert {"value", "value_params"} <= set(frame.columns)
    pareto = pd.read_csv(report.folder / "pareto.csv")
    assert 1 <= len(pareto) <= 3
    assert (frame.loc[frame["state"] == "COMPLETE", "value_params"] == frame.loc[frame["state"] == "COMPLETE",
                                                                               "n_params"]).all()
    from recsearch.commands.sweep_cmd import print_report

    print_report(report)  # the sweep's closing table: every objective, and which trials are on the front
    shown = capsys.readouterr().out
    assert "value_params" in shown and "pareto" in shown and f"Pareto front: {len(pareto)} trial" in shown, shown
    assert "and `params` (minimized): the Pareto front is in pareto.csv" in (report.folder / "summary.md").read_text()


@pytest.mark.parametrize("sampler", ["random", "qmc", "grid", "cmaes"])
def test_samplers_run(tiny: list[str], sampler: str) -> None:
    grid = space("model.depth: 'range(1, 3)', model.width: 'choice(8, 16)'")
    report = run_sweep([*tiny, *(grid if sampler == "grid" else SMALL_SPACE), f"search.sampler={sampler}",
                        "search.n_trials=2", f"search.study_name={sampler}", "search.pruner=none"], show_progress=False)
    assert report.counts.get("complete") == 2


@pytest.mark.skipif((available_memory() or 0) < 2 * WORKER_MEMORY_BYTES, reason="two worker processes: needs 3 GiB")
def test_sqlite_storage_shared_by_two_worker_processes(tiny: list[str], tmp_path) -> None:
    """One SQLite file, two worker processes writing to it: every trial of the budget finishes once, with no
    lock error and no parameter set drawn twice."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    report = _sweep(tiny, "search.n_trials=6", "search.study_name=rdb", f"search.storage='{url}'",
                    "search.n_workers=2", "search.pruner=none", "search.n_startup_trials=2", "train.epochs=1")
    study = optuna.load_study(study_name="rdb", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 6
    assert len({t.user_attrs["pid"] for t in study.trials}) == 2
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 6
    assert (report.folder / "trials.parquet").is_file()


def test_postgresql_storage(tiny: list[str]) -> None:
    url = os.environ.get("RECSEARCH_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI must start PostgreSQL and set RECSEARCH_TEST_POSTGRES_URL (see .ci/run)")
        pytest.skip("no PostgreSQL: set RECSEARCH_TEST_POSTGRES_URL (.ci/run does)")
    name = f"pg-{os.getpid()}"
    _sweep(tiny, "search.n_trials=2", f"search.study_name={name}", f"search.storage='{url}'")
    study = optuna.load_study(study_name=name, storage=url)
    assert sum(t.state.name == "COMPLETE" for t in study.trials) == 2
    optuna.delete_study(study_name=name, storage=url)


def test_timeout_stops_starting_new_trials(tiny: list[str], capsys) -> None:
    from datetime import datetime

    from recsearch.commands.sweep_cmd import print_report

    start = pd.Timestamp(datetime.now())  # naive local time, as Optuna records trial starts
    report = _sweep(tiny, "search.n_trials=1000", "search.study_name=timeout", "search.timeout=8")
    finished = report.counts.get("complete", 0) + report.counts.get("pruned", 0)
    assert 1 <= finished < 1000  # a trial in progress finishes; none starts after the cap
    starts = pd.to_datetime(pd.read_parquet(report.folder / "trials.parquet")["datetime_start"])
    assert (starts.max() - start).total_seconds() < 8 + 5  # the last start within the cap (plus the sweep's set-up)
    print_report(report)  # the user is told why the sweep stopped short, and how to go on
    assert f"stopped by search.timeout=8 s with {finished} of search.n_trials=1000" in capsys.readouterr().out
    within = _sweep(tiny, "search.n_trials=2", "search.study_name=timeout_ok", "search.timeout=600")
    assert within.timed_out_s is None  # a budget reached within the timeout is not a timeout


def test_enqueue_file_runs_given_configs_first(tiny: list[str], tmp_path) -> None:
    path = tmp_path / "warm.yaml"
    path.write_text("- {model.depth: 2, model.width: 8, train.learning_rate: 0.02}\n"
                    "- {model.depth: 1, model.width: 16, train.learning_rate: 0.003}\n")
    report = _sweep(tiny, "search.n_trials=3", "search.study_name=warmfile", f"search.enqueue_file={path}")
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert frame.loc[0, "params_model.width"] == 8 and frame.loc[1, "params_model.width"] == 16
    again = _sweep(tiny, "search.n_trials=4", "search.study_name=warmfile", f"search.enqueue_file={path}")
    assert len(pd.read_parquet(again.folder / "trials.parquet")) == 4  # enqueued once per study, not per run


def test_storage_password_is_never_stored_in_results(tiny: list[str], tmp_path) -> None:
    from omegaconf import OmegaConf

    from recsearch.config import compose_config
    from recsearch.search.objective import config_text

    cfg = compose_config([*tiny, "search.storage='postgresql://user:s3cret@db.example/studies'"])
    assert "s3cret" not in config_text(cfg) and "***" in config_text(cfg)
    plain = compose_config(tiny)
    assert config_text(plain) == OmegaConf.to_yaml(plain)  # the fast dump writes what OmegaConf writes
    report = _sweep(tiny, "search.n_trials=1", "search.study_name=prov")
    provenance = json.loads((report.folder / "provenance.json").read_text())
    assert provenance["0"]["data_checksum"] and provenance["0"]["environment"]["keras"]


def test_resuming_a_study_with_another_dataset_or_metric_is_refused(tiny: list[str]) -> None:
    from recsearch.errors import ConfigError

    _sweep(tiny, "search.n_trials=1", "search.study_name=guard")
    with pytest.raises(ConfigError, match=r"another setting \(data: synthetic-4000/random -> "
                                          r"synthetic-4000-seed5/random; data_checksum: "):  # names, then hashes
        _sweep(tiny, "search.n_trials=1", "search.study_name=guard", "data.synthetic.seed=5")
    with pytest.raises(ConfigError, match="metric"):
        _sweep(tiny, "search.n_trials=1", "search.study_name=guard", "task.metric=mae")


def test_storage_password_is_redacted_in_sweep_yaml(tiny: list[str], tmp_path) -> None:
    from recsearch.search.storage import redact

    assert redact("search.storage='postgresql://u:s3cret@h:5/db'") == "search.storage='postgresql://u:***@h:5/db'"
    assert redact("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_resume_continues_the_study_instead_of_replaying_it(tiny: list[str]) -> None:
    """Trials 2-3 of a resumed study are new configs, the same ones an uninterrupted run samples."""
    cols = ["params_model.depth", "params_model.width", "params_train.learning_rate"]
    quick = ["search.sampler=random", "train.epochs=1", "search.pruner=none"]
    _sweep(tiny, *quick, "search.n_trials=2", "search.study_name=cont")
    resumed = pd.read_parquet(_sweep(tiny, *quick, "search.n_trials=4", "search.study_name=cont").folder
                              / "trials.parquet")
    straight = pd.read_parquet(_sweep(tiny, *quick, "search.n_trials=4", "search.study_name=straight").folder
                               / "trials.parquet")
    configs = [tuple(row) for row in resumed[cols].itertuples(index=False)]
    assert len(set(configs)) == 4
    pd.testing.assert_frame_equal(resumed[cols], straight[cols])


def test_resume_with_other_training_settings_warns_in_one_line(tiny: list[str], capsys) -> None:
    """Trials trained for other epochs are not comparable: a resume says so (once, in one line) and still runs;
    searched keys and runtime-only settings (backend, verbosity) never warn. Another sampler is a note."""
    quick = ["search.sampler=random", "search.pruner=none", "search.study_name=changed"]
    _sweep(tiny, *quick, "train.epochs=1", "search.n_trials=1")
    same = _sweep(tiny, *quick, "train.epochs=1", "search.n_trials=2", "train.verbose=1")
    assert "warning" not in capsys.readouterr().err
    assert "settings differ" not in (same.folder / "summary.md").read_text()
    report = _sweep(tiny, *quick, "train.epochs=2", "search.n_trials=3")
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(lines) == 1 and "train.epochs=1 -> 2" in lines[0] and "search.study_name" in lines[0], lines
    assert report.counts.get("complete", 0) == 3
    # and the study's tables keep saying so, where its trials are reviewed: summary.md and the report
    from recsearch.results.report import study_report
    from recsearch.results.studies import load_study_folder

    mixed = "train.epochs 1 (trials 0-1), 2 (trials 2)"
    summary = (report.folder / "summary.md").read_text()
    assert f"**settings differ between trials** (resumed with other settings; their scores are not comparable " \
           f"as they stand): {mixed}\n" in summary, summary
    assert study_report(load_study_folder(report.folder)).subtitle.endswith(f"not comparable as they stand: {mixed}")
    from recsearch.cli import main

    capsys.readouterr()
    assert main(["leaderboard", str(report.folder), "--format", "csv"]) == 0
    assert capsys.readouterr().err == (f"recsearch: note: study changed: its trials ran with different settings, so "
                                       f"their scores are not comparable as they stand: {mixed}\n")
    assert main(["leaderboard", str(same.folder.parent), "--filter", "study=nothing"]) == 0  # no row: no note
    assert "its trials ran" not in capsys.readouterr().err
    _sweep(tiny, *quick[1:], "search.sampler=tpe", "train.epochs=2", "search.n_trials=4")  # another sampler: a note
    lines = [line for line in capsys.readouterr().err.splitlines() if "note:" in line]
    assert lines == ["recsearch: note: study 'changed' continues with another search (search.sampler=random -> tpe); "
                     "its earlier trials are kept and inform the new sampler"], lines
    _sweep(tiny, *quick[1:], "search.sampler=tpe", "search.seed=7", "train.epochs=2", "search.n_trials=5")
    assert "continues with another search (search.seed=0 -> 7)" in capsys.readouterr().err  # the draws change


def test_resume_with_an_incompatible_space_is_refused_before_any_trial(tiny: list[str]) -> None:
    """Other choices for a searched key: one line naming both, nothing added to the study; a new range is fine."""
    from recsearch.errors import ConfigError

    base = [*tiny, "search.study_name=respace", "search.sampler=random", "train.epochs=1"]
    run_sweep([*base, *space("model.width: 'choice(8, 16)', train.learning_rate: 'interval(0.001, 0.01)'"),
               "search.n_trials=1"], show_progress=False)
    with pytest.raises(ConfigError, match=r"searched model.width as choice\(8, 16\); this search space gives "
                                          r"choice\(8, 32\), which Optuna cannot mix"):
        run_sweep([*base, *space("model.width: 'choice(8, 32)', train.learning_rate: 'interval(0.001, 0.01)'"),
                   "search.n_trials=2"], show_progress=False)
    report = run_sweep([*base, *space("model.width: 'choice(8, 16)', train.learning_rate: 'interval(0.002, 0.005)'"),
                        "search.n_trials=2"], show_progress=False)
    assert report.counts == {"complete": 2}


def test_budget_reached_says_so_and_returns_before_data_and_tensorflow(tiny: list[str], isolated_paths,
                                                                       tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    _sweep(tiny, "search.n_trials=1", "search.study_name=full")
    again = _sweep(tiny, "search.n_trials=1", "search.study_name=full")  # in process: the report says the budget
    assert again.already_done and again.n_trials == 1 and again.counts == {"complete": 1}
    code = ("import sys, time; from recsearch.cli import main; t = time.time(); rc = main(sys.argv[1:]); "
            "print(rc, 'tensorflow' in sys.modules, round(time.time() - t, 2))")
    repo = str(Path(__file__).resolve().parents[2])
    run = subprocess.run([sys.executable, "-c", code, "sweep", "--no-progress", *tiny, *SMALL_SPACE,
                          "search.n_trials=1", "search.study_name=full"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": repo})
    rc, tf_loaded, _ = run.stdout.strip().splitlines()[-1].split()
    assert (rc, tf_loaded) == ("0", "False"), run.stderr
    assert run.stderr.strip() == ("recsearch: study 'full' already holds 1 finished trials (search.n_trials=1): "
                                  "nothing to run; raise search.n_trials to run more")
    import shutil

    moved = tmp_path / "moved"  # the results folder copied elsewhere (or mounted read-only there): the same study
    shutil.copytree(isolated_paths, moved)
    run = subprocess.run([sys.executable, "-c", code, "sweep", "--no-progress", *tiny, *SMALL_SPACE,
                          "search.n_trials=1", "search.study_name=full", f"paths.results_dir={moved}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": repo})
    assert run.stdout.strip().splitlines()[-1].split()[:2] == ["0", "False"], run.stderr


def test_sweep_with_no_finished_trial_exits_2_with_the_most_common_reason(tiny: list[str], capsys) -> None:
    from recsearch.cli import main

    rc = main(["sweep", "--no-progress", *tiny, "train.epochs=1", "search.sampler=random", "search.n_trials=2",
               "search.study_name=allfail", "train.optimizer=sgd",
               *space("train.learning_rate: 'interval(1e25, 1e26)'")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert re.match(r"recsearch: error: no trial of study 'allfail' finished \(1\d failed; 10 with: "
                    r"TrainingDiverged: .*diverged.*trials\.csv\)$", err[-1]), err[-1]


def _resume_into_divergence(tiny: list[str], study: str, n_trials: int, n_workers: int, capture) -> tuple[int, str]:
    """One trial finished with a sane learning rate, then a resume whose every trial diverges: its exit code and
    stderr (`capture`: capsys, or capfd for worker processes)."""
    from recsearch.cli import main

    base = ["sweep", "--no-progress", *tiny, "train.epochs=1", "search.sampler=random", f"search.study_name={study}",
            "train.optimizer=sgd"]
    assert main([*base, "search.n_trials=1", "search.n_workers=1",
                 *space("train.learning_rate: 'interval(0.001, 0.01)'")]) == 0
    capture.readouterr()
    rc = main([*base, f"search.n_trials={n_trials}", f"search.n_workers={n_workers}",
               *space("train.learning_rate: 'interval(1e25, 1e26)'")])
    return rc, capture.readouterr().err


def test_a_resume_that_gives_up_on_failing_trials_exits_2(tiny: list[str], capsys) -> None:
    """Earlier trials finished, but this run's all failed and it stopped short of its budget: not a success."""
    rc, err = _resume_into_divergence(tiny, "gaveup", 3, 1, capsys)
    last = err.strip().splitlines()[-1]
    assert rc == 2
    assert re.match(r"recsearch: error: the sweep stopped short of its budget because its trials kept failing "
                    r"\(1 of 3 finished; most common, 10 trials: TrainingDiverged: .*trials\.csv\)$", last), last


def test_worker_processes_that_give_up_make_the_sweep_exit_2(tiny: list[str], capfd) -> None:
    """The same with two worker processes: each one's exit code tells the parent it gave up."""
    rc, err = _resume_into_divergence(tiny, "gaveup2", 30, 2, capfd)
    assert rc == 2
    assert "worker 0:" in err and "worker 1:" in err and "stopping" in err, err
    assert "the sweep stopped short of its budget because its trials kept failing (1 of 30 finished" in err, err


def test_trial_config_applies_sampled_values_to_the_base_like_hydra(tiny: list[str]) -> None:
    from omegaconf import OmegaConf

    from recsearch.config import compose_config
    from recsearch.search.objective import TrialContext, trial_config
    from recsearch.search.parse import parse_space
    from recsearch.search.space import to_overrides

    base = compose_config(tiny)
    ctx = TrialContext(list(tiny), parse_space(base.search_space, base), None, [], base_cfg=base)
    params = {"model.width": 24, "train.learning_rate": 0.0123, "train.optimizer": "sgd"}
    fast = trial_config(ctx, params)
    assert OmegaConf.to_container(fast) == OmegaConf.to_container(compose_config([*tiny, *to_overrides(params)]))
    assert base.model.width == 16  # the base is not changed
    plain = TrialContext(["data=synthetic"], ctx.space, None, [], base_cfg=compose_config(["data=synthetic"]))
    assert trial_config(plain, {"model": "mf"}).model.name == "mf"  # a group choice is composed


def test_trials_record_where_their_time_went(tiny: list[str]) -> None:
    report = _sweep(tiny, "search.n_trials=1", "search.study_name=timing", "train.epochs=1")
    study = optuna.load_study(study_name="timing", storage=optuna.storages.journal.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(report.folder / "study.journal"))))
    timing = study.trials[0].user_attrs["timing"]
    assert {"config_s", "bookkeeping_s"} <= set(timing) and 0 <= timing["config_s"] < 5


def test_postgresql_budget_lock_excludes_other_processes() -> None:
    """The advisory lock is held in the database: a second holder waits for the first."""
    import threading
    import time as _time

    url = os.environ.get("RECSEARCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL: set RECSEARCH_TEST_POSTGRES_URL (.ci/run does)")
    from recsearch.search.storage import budget_lock, open_storage

    name = f"lock-{os.getpid()}-{int(_time.time())}"
    studies = [optuna.create_study(study_name=name, storage=open_storage(url), load_if_exists=True) for _ in range(2)]
    events = []

    def hold(study, tag, pause):
        with budget_lock(study, None):
            events.append((tag, "in", _time.monotonic()))
            _time.sleep(pause)
            events.append((tag, "out", _time.monotonic()))

    first = threading.Thread(target=hold, args=(studies[0], "a", 1.0))
    first.start()
    _time.sleep(0.3)
    hold(studies[1], "b", 0.0)
    first.join()
    optuna.delete_study(study_name=name, storage=url)
    order = [(tag, what) for tag, what, _ in events]
    assert order == [("a", "in"), ("a", "out"), ("b", "in"), ("b", "out")]


def test_missing_enqueue_file_is_refused_before_the_study_is_created(tiny: list[str], isolated_paths) -> None:
    from recsearch.errors import ConfigError

    with pytest.raises(ConfigError, match="search.enqueue_file: /nonexistent/warm.yaml does not exist"):
        _sweep(tiny, "search.n_trials=1", "search.study_name=nofile", "search.enqueue_file=/nonexistent/warm.yaml")
    assert not (isolated_paths / "default" / "nofile").exists()


def test_a_searched_key_set_on_the_command_line_is_sampled_and_says_how_to_fix_it(
        tiny: list[str], capfd: pytest.CaptureFixture) -> None:
    """`model.depth=2` on the command line while the space searches depth: one line per key says the trials
    sample it and what fixes it; that fix holds depth at 2 in every trial, with no such line."""
    quick = [*tiny, *SMALL_SPACE, "search.n_trials=3", "train.epochs=1", "search.sampler=random"]
    run_sweep([*quick, "search.study_name=noticed", "model.depth=2"], show_progress=False)
    err = capfd.readouterr().err
    assert ("recsearch: model.depth=2 is searched by search_space (range(1, 3)): the trials sample it; to fix it "
            "instead, add 'search_space.params={model.depth: 2}'") in err
    report = run_sweep([*quick, "search.study_name=fixed", "model.depth=2", "search_space.params={model.depth: 2}"],
                       show_progress=False)
    assert "model.depth=2 is searched" not in capfd.readouterr().err
    frame = pd.read_parquet(report.folder / "trials.parquet")
    assert "params_model.depth" not in frame and frame["params_model.width"].notna().all()
    assert {load_config_file(report.folder / "best.yaml").model.depth} == {2}


def test_a_pruner_given_to_a_multi_objective_study_is_said_unused_and_not_reported() -> None:
    """Optuna prunes single-objective studies only: the pruner was dropped without a word, and summary.md said
    "pruner hyperband" of a study that could not prune."""
    from recsearch.config import compose_config
    from recsearch.results.study_tables import search_method
    from recsearch.search.parse import parse_space, sweep_notices

    overrides = ["model=mf", "search.objectives=[params]", "search.pruner=hyperband"]
    cfg = compose_config(overrides)
    notes = sweep_notices(cfg, overrides, parse_space(cfg.search_space, cfg))
    assert any("search.pruner=hyperband is not used: Optuna prunes single-objective studies only" in n for n in notes)
    assert search_method(cfg.search).endswith("pruner none (multi-objective: Optuna prunes single-objective studies "
                                              "only)")
    assert search_method(compose_config(["model=mf"]).search).endswith("pruner `median`")


def test_a_refit_asked_of_a_sweep_is_said_unused() -> None:
    """A sweep chooses on validation and never refits: `train.refit=true` was dropped without a word."""
    from recsearch.config import compose_config
    from recsearch.search.parse import parse_space, sweep_notices

    def notes(overrides: list[str]) -> list[str]:
        cfg = compose_config(overrides)
        return sweep_notices(cfg, overrides, parse_space(cfg.search_space, cfg))

    assert any("train.refit=true is not used by a sweep" in n and "reproduce" in n and "--refit" in n
               for n in notes(["model=mf", "train.refit=true"]))
    assert not any("train.refit" in n for n in notes(["model=mf"]))


def test_a_pack_size_that_cannot_apply_is_said_so() -> None:
    """`search.pack_size=4 task=ranking` claimed 4 trials at a time and trained them one by one, without a word."""
    from recsearch.config import compose_config
    from recsearch.search.parse import parse_space, sweep_notices

    def notes(overrides: list[str]) -> str:
        cfg = compose_config(["search.pack_size=4", *overrides])
        return "\n".join(sweep_notices(cfg, overrides, parse_space(cfg.search_space, cfg)))

    assert "search.pack_size=4 does not apply here: packing trains rating models on (user, item) pairs, and this " \
           "is task=ranking with model=mf; its trials train one at a time" in notes(["model=mf", "task=ranking",
                                                                                  "split=leave_one_out"])
    assert "pack_size" not in notes(["model=mf", "train.backend=jax"]) and "pack_size" not in notes(["model=mf"])
    assert "packing needs the JAX backend, and this sweep trains on tensorflow" in notes(["train.backend=tensorflow"])


def test_a_local_model_option_of_a_familys_name_is_not_continued_by_that_family(tiny, tmp_path, monkeypatch) -> None:
    """./conf/model/small.yaml (name: mlp) and `model=mlp` both default to study mlp-rating: a later `model=mlp`
    sweep continued the other option's trials (its fixed values, another space) without a word, or reported
    them as its own when their count reached its budget."""
    from recsearch.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "small.yaml").write_text("name: mlp\ndepth: 1\nwidth: 8\nembedding_dim: 8\n")
    first = _sweep(tiny, "model=small", "search.n_trials=1")
    assert first.study_name == "mlp-rating" and first.counts.get("complete") == 1
    for n_trials in (1, 2):  # the budget already reached, and more trials
        with pytest.raises(ConfigError, match=r"^study 'mlp-rating' already holds trials of another setting "
                                              r"\(model_option: 'small' -> 'mlp'\); choose another search.study_name"):
            _sweep(tiny, "model=mlp", f"search.n_trials={n_trials}")
    again = _sweep(tiny, "model=small", "search.n_trials=2")  # the same option continues it
    assert again.counts.get("complete") == 2
