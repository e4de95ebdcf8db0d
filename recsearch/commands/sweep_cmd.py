"""`recsearch sweep`: an Optuna study over the Hydra search space, resumable, with pruning and workers."""

from __future__ import annotations

import argparse

from recsearch.commands.common import add_overrides, console

HELP = ("Search the config's search_space with Optuna: each trial trains one sampled config on the same split; "
        "pruned, failed and interrupted trials are recorded; re-running the same command resumes the study. "
        "Writes results/<experiment>/<study>/ (trials.parquet/csv, best.yaml, sweep.yaml, summary.md, storage). "
        "Example: recsearch sweep model=mlp search.n_trials=50 search.sampler=tpe search.pruner=hyperband. "
        "The study is named search.study_name (default <model>-<task>; another name starts another study); "
        "'search.objectives=[params]' (or latency: ms per 1,000 predictions) adds objectives, minimized, and writes "
        "the Pareto front to pareto.csv; search.n_workers, search.timeout and search.storage=URL (workers on other machines: "
        "recsearch worker) set how it runs; `recsearch config show` lists every search.* key. "
        "search.engine=kerastuner search.tuner=random|bayesian|hyperband searches with KerasTuner instead; "
        "+experiment=compare_variants (or compare_search) runs one study per variant (or search strategy) and a "
        "comparison table. A single study's sweep that stops on failing trials before its budget exits 2.")

EXAMPLES = """examples:
  recsearch sweep model=mlp search.n_trials=20
  recsearch sweep model=mlp search.n_trials=40                # the same study again: runs 20 more trials
  recsearch sweep model=mlp search.sampler=random search.pruner=hyperband search.study_name=mlp-rnd
  recsearch sweep model=mf "++search_space.params={model.embedding_dim: 'choice(16, 32)'}"   # narrow one parameter
  recsearch sweep +experiment=compare_variants               # one study per variant, comparison.md
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from recsearch.config import compose_config
    from recsearch.fileio import shown_path
    from recsearch.search.sweep import SweepInterrupted, run_sweep

    out = console()
    compare = compose_config(args.overrides).compare
    if compare.strategies:
        from recsearch.search.race import run_race

        return run_race(args.overrides, show_progress=not args.no_progress)
    if compare.variants:
        from recsearch.search.compare import run_comparison

        return run_comparison(args.overrides, show_progress=not args.no_progress)
    try:
        report = run_sweep(args.overrides, show_progress=not args.no_progress)
    except SweepInterrupted as stop:
        out.print(f"interrupted: finished trials are kept in {shown_path(stop.report.folder)}; run the same command "
                  "to resume")
        return 130
    check_something_finished(report)
    print_report(report)
    check_not_stopped_on_failures(report)
    return 0


def check_something_finished(report) -> None:
    """A sweep in which no trial finished is an error: name the most common failure reason."""
    from recsearch.errors import RecsearchError

    if report.counts.get("complete", 0) + report.counts.get("pruned", 0) > 0:
        return
    failed = report.counts.get("fail", 0)
    reason, count = report.top_failure or ("no trial ran", 0)
    raise RecsearchError(f"no trial of study {report.study_name!r} finished ({failed} failed; {count} with: "
                         f"{reason}); fix the cause and run the same command (see fail_reason in "
                         f"{report.folder / 'trials.csv'})")


def check_not_stopped_on_failures(report) -> None:
    """A sweep that gave up on failing trials before its budget is an error (scripts and CI must see it)."""
    from recsearch.errors import RecsearchError

    if not report.stopped_on_failures:
        return
    finished = report.counts.get("complete", 0) + report.counts.get("pruned", 0)
    reason, count = report.top_failure or ("unknown", 0)
    raise RecsearchError(f"the sweep stopped short of its budget because its trials kept failing ({finished} of "
                         f"{report.n_trials} finished; most common, {count} trials: {reason}); fix the cause and "
                         f"run the same command (see fail_reason in {report.folder / 'trials.csv'})")


def print_report(report) -> None:
    """The top-10 table and where everything was written."""
    import pandas as pd
    from rich.table import Table

    from recsearch.fileio import shown_path
    from recsearch.results.leaderboard import format_count, is_missing
    from recsearch.results.study_tables import state_counts, top_trials

    out = console()
    frame = pd.read_parquet(report.folder / "trials.parquet")
    top = top_trials(frame, "value", report.direction)
    table = Table(title=f"study {report.study_name}: top {len(top)} ({state_counts(frame)})", title_justify="left")
    params = [c for c in frame.columns if c.startswith("params_")]
    objectives = [c for c in frame.columns if c.startswith("value_")]  # the other objectives of a Pareto study
    cols = [c for c in ["number", "value", *objectives, f"test_{report.metric}", "epochs_run", "n_params",
                        "duration_s"] if c in top.columns]
    for col in cols:
        table.add_column(f"valid_{report.metric}" if col == "value" else col, justify="right")
    front = _pareto_numbers(report.folder) if objectives else None
    if front is not None:
        table.add_column("pareto", justify="center")
    table.add_column("parameters", overflow="fold")
    for _, row in top.iterrows():
        sampled = " ".join(f"{c.removeprefix('params_').split('.')[-1]}={_fmt(row[c])}" for c in params
                           if not is_missing(row[c]))
        cells = [format_count(row[c]) if c == "n_params" else _fmt(row[c]) for c in cols]
        table.add_row(*cells, *(["yes" if row["number"] in front else ""] if front is not None else []), sampled)
    out.print(table)
    if front is not None:
        out.print(f"Pareto front: {len(front)} trial{'' if len(front) == 1 else 's'} (pareto.csv); the table is "
                  f"ordered by valid_{report.metric}")
    out.print(f"results: {shown_path(report.folder)}  (storage: {report.storage_url})")
    if report.timed_out_s is not None:
        finished = report.counts.get("complete", 0) + report.counts.get("pruned", 0)
        out.print(f"stopped by search.timeout={report.timed_out_s:g} s with {finished} of search.n_trials="
                  f"{report.n_trials} trials finished; run the same command to go on (each run gets the timeout)")


def _pareto_numbers(folder) -> set[int] | None:  # noqa: ANN001
    """The trial numbers of a multi-objective study's Pareto front, from its pareto.csv (None when unreadable)."""
    import pandas as pd

    try:
        return set(pd.read_csv(folder / "pareto.csv")["number"].astype(int))
    except (OSError, ValueError, KeyError, pd.errors.EmptyDataError):
        return None


def _fmt(value) -> str:
    from recsearch.results.leaderboard import is_missing

    if is_missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
