"""`recsearch reproduce`: re-run the best config(s) with fresh seeds; does the search's number hold?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PROGRESS_FILE = ".reproduce-progress.json"

HELP = ("Retrain the best config of a study (or its top K, or an exported experiment) with S fresh seeds on "
        "the same split; report the search's validation score, the mean and 95 percent t-interval of validation and "
        "test, a verdict (reproduced / optimistic / pessimistic) and, with K >= 2, which configs are ties "
        "(paired Wilcoxon on per-user rating errors; n/a on the ranking task and for AutoRec, which have none). "
        "Writes reproduce.csv (one row per config), reproduce_runs.csv (one per seed's run) and reproduce.md to the "
        "study folder; "
        "an interrupted reproduce continues from its finished re-runs when run again.")

EXAMPLES = """examples:
  recsearch reproduce results/default/mlp-rating --seeds 5 --refit
  recsearch reproduce results/default/mlp-rating --top 3 --seeds 3   # the 3 best configs, and which are ties
  recsearch reproduce mlp-best                                       # an exported experiment
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="STUDY_OR_EXPERIMENT",
                        help="a study folder (or its study.journal), an Optuna storage URL (with --study), or an "
                        "exported experiment: its name (in ./experiments or $RECSEARCH_EXPERIMENTS_DIR) or its file")
    parser.add_argument("--study", metavar="NAME", help="study name inside the storage (default: the only one)")
    parser.add_argument("--top", type=int, default=1, metavar="K", help="re-run the K best trials (default 1)")
    parser.add_argument("--seeds", type=int, default=5, metavar="S",
                        help="fresh seeds per config: train.seed+1 .. train.seed+S (default 5, at least 2)")
    parser.add_argument("--refit", action="store_true",
                        help="also retrain each seed's chosen epochs on train + validation and report that final "
                             "model's test metric beside (refit test)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar (as sweep's)")
    parser.add_argument("--out", metavar="DIR", help="where to write reproduce.csv, reproduce_runs.csv and .md "
                        "(default: the study folder; "
                        "results/<experiment>/ for an experiment)")


def run(args: argparse.Namespace) -> int:
    from recsearch.commands.common import console
    from recsearch.errors import ConfigError
    from recsearch.fileio import WriteError, ensure_writable, shown_path
    from recsearch.reproduce import reproduce, write_report

    if args.top < 1:
        raise ConfigError(f"--top {args.top}: must be at least 1")
    if args.seeds < 2:
        raise ConfigError(f"--seeds {args.seeds}: a confidence interval needs at least 2 seeds")
    candidates, folder, title = _candidates(args)
    try:
        ensure_writable(folder)  # before the re-runs: a read-only study folder fails now, not after training
    except WriteError as exc:
        raise exc.elsewhere("--out DIR") from None
    err = console(stderr=True)
    kept = Path(folder) / PROGRESS_FILE  # the re-runs finished so far: an interrupted command continues
    try:
        with _Progress(len(candidates) * args.seeds, enabled=not args.no_progress) as progress:
            report = reproduce(candidates, n_seeds=args.seeds, on_run=progress.advance, refit=args.refit,
                               on_warning=lambda note: err.print(f"[yellow]warning:[/] {note}"), progress=kept)
    except KeyboardInterrupt:
        err.print(f"interrupted: finished re-runs are kept in {kept}; run the same command to continue")
        return 130
    paths = write_report(report, folder, title)
    kept.unlink(missing_ok=True)
    out = console()
    out.print(_table(report, title))
    out.print(f"written: {', '.join(shown_path(p) for p in paths)}")
    return 0


def _candidates(args: argparse.Namespace) -> tuple[list[Any], Path, str]:
    """The configs to re-run, the folder for the tables, and a title."""
    from recsearch.reproduce import candidate_from_experiment, candidates_from_study, open_study
    from recsearch.results.studies import is_study_file
    from recsearch.search.storage import study_dir

    given, experiments = Path(args.source), None
    if given.suffix.lower() == ".yaml" and given.is_file() and not is_study_file(given):  # an exported experiment
        experiments, args.source = given.parent, given.stem
    elif given.exists() or "://" in args.source:  # a study folder, journal file or storage URL
        source = open_study(args.source, args.study)
        candidates = candidates_from_study(source.study, top=args.top)
        folder = Path(args.out) if args.out else source.folder or study_dir(candidates[0].cfg)
        return candidates, folder, source.study.study_name
    if args.top != 1:
        from recsearch.errors import ConfigError

        raise ConfigError("--top applies to a study; an experiment holds one config")
    cand = candidate_from_experiment(args.source, experiments)
    folder = Path(args.out) if args.out else Path(cand.cfg.paths.results_dir) / args.source
    return [cand], folder, args.source


class _Progress:
    """A rich progress bar over the re-runs, showing the last config, seed and validation value."""

    def __init__(self, total: int, *, enabled: bool = True):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("[bold]reproduce"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), transient=False,
                             disable=not enabled)
        self._task = self._bar.add_task("reproduce", total=total, detail="")

    def __enter__(self) -> "_Progress":
        self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.stop()

    def advance(self, run: Any) -> None:
        self._bar.update(self._task, advance=1, detail=f"{run.label} seed {run.seed}: valid {run.valid:.4f}")


def _table(report: Any, title: str) -> Any:
    from rich.table import Table

    from recsearch.reproduce.reproduce import vs_best_text

    m, t = report.metric, report.table
    table = Table(title=f"reproduce {title}: {report.n_seeds} seeds, 95% t-intervals", title_justify="left")
    for col in ("config", f"search valid {m}", f"valid {m} [95% CI]", f"test {m} [95% CI]", "verdict", "gap"):
        table.add_column(col)
    refit = "refit_test_mean" in t.columns
    if refit:
        table.add_column(f"refit test {m} [95% CI]")
    pairs = "vs_best" in t.columns
    if pairs:
        table.add_column("vs best (p, Holm)")
    colours = {"reproduced": "green", "optimistic": "yellow", "pessimistic": "cyan"}
    for r in t.itertuples():
        row = [r.config, _num(r.search_valid), f"{r.valid_mean:.4f} [{r.valid_lo:.4f}, {r.valid_hi:.4f}]",
               f"{r.test_mean:.4f} [{r.test_lo:.4f}, {r.test_hi:.4f}]",
               f"[{colours.get(r.verdict, 'white')}]{r.verdict}[/]", _num(r.gap, signed=True)]
        if refit:
            row.append(f"{r.refit_test_mean:.4f} [{r.refit_test_lo:.4f}, {r.refit_test_hi:.4f}]")
        if pairs:
            p = "p<0.0001" if r.p_vs_best < 1e-4 else f"p={_num(r.p_vs_best)}"
            row.append(vs_best_text(r.vs_best, r.vs_best_note) if r.vs_best in ("best", "n/a")
                       else f"{r.vs_best} ({p})")
        table.add_row(*row)
    return table


def _num(value: Any, *, signed: bool = False) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:+.4f}" if signed else f"{value:.4f}"
