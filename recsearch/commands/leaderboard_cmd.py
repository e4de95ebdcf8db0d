"""`recsearch leaderboard [RESULTS_PATHS...]`: one ranked table across studies (and baselines)."""

from __future__ import annotations

import argparse

HELP = "Rank every study (or trial) under results/ or in an Optuna storage, with baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="RESULTS_PATH",
                        help="results folders (studies up to 4 folders down), study folders, journal files or "
                             "storage URLs (default: paths.results_dir, env RECSEARCH_RESULTS_DIR)")
    parser.add_argument("--study", help="only the study of this name (in a folder or a storage)")
    parser.add_argument("--metric", help="validation metric to rank on, e.g. rmse, mae (rating) or ndcg@10, hr@10 "
                                         "(ranking) (default: each study's task metric; studies with different "
                                         "task metrics are ranked in separate groups)")
    parser.add_argument("--top", type=int, metavar="N", help="show the N best rows (of each metric and dataset group)")
    parser.add_argument("--per-trial", action="store_true", help="one row per trial instead of per study")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep rows where a column or parameter equals VALUE (repeatable), e.g. variant=mlp")
    parser.add_argument("--format", default="table", choices=("table", "markdown", "csv", "html", "json"))


def run(args: argparse.Namespace) -> int:
    import sys

    import pandas as pd

    from recsearch.commands.common import console
    from recsearch.errors import RecsearchError
    from recsearch.results.leaderboard import leaderboard, render, top_rows
    from recsearch.results.studies import baseline_files, load_many, read_baselines

    paths = args.paths or [default_results_dir()]
    if args.top is not None and args.top < 1:
        raise RecsearchError(f"--top must be at least 1, got {args.top}")
    records = load_many(paths, args.study)
    files = baseline_files(paths)
    if not records and not files:
        raise RecsearchError(f"no study found under {', '.join(paths)}; run `recsearch sweep` first")
    baselines = pd.concat([read_baselines(f) for f in files], ignore_index=True) if files else None
    if args.metric:
        check_metric(args.metric, records, baselines)
    frame = leaderboard(records, baselines, metric=args.metric, per_trial=args.per_trial, filters=args.filter)
    if args.top:
        frame = top_rows(frame, args.top)
    if frame.empty and args.format in ("table", "markdown", "html"):
        print(f"recsearch: no row matches {' and '.join(args.filter) or 'these studies'}", file=sys.stderr)
        return 0
    out = console()
    if args.format == "table" and out.is_terminal:
        out.print(rich_table(frame, out.width))
    else:
        sys.stdout.write(render(frame, args.format))
    return 0


def check_metric(metric: str, records: list, baselines) -> None:  # noqa: ANN001 - pandas imported lazily
    """Refuse a --metric that no study or baseline reports, listing those that are available."""
    from recsearch.errors import RecsearchError

    available = list(dict.fromkeys(m for r in records for m in (r.metric, *study_metrics(r.config.get("task", {})))))
    if baselines is not None and "metric" in baselines:
        available += [m for m in dict.fromkeys(baselines["metric"].astype(str)) if m not in available]
    if metric not in available:
        raise RecsearchError(f"--metric {metric!r}: no study or baseline reports it; available: "
                             f"{', '.join(available) or '(none)'}")


def study_metrics(task: dict) -> list[str]:
    """The validation metrics a study of `task` records: rmse and mae (rating), or each ranking metric at each k."""
    if task.get("name", "rating") != "ranking":
        return ["rmse", "mae"]
    from recsearch.ranking.metrics import _AT_K

    return [f"{m}@{k}" for m in _AT_K for k in task.get("ks", [])] + ["mrr"]


def default_results_dir() -> str:
    """paths.results_dir of the default config (RECSEARCH_RESULTS_DIR or ./results)."""
    from recsearch.config import compose_config

    return str(compose_config([]).paths.results_dir)


def rich_table(frame, width: int = 150):  # noqa: ANN001, ANN201 - rich imported lazily
    """The leaderboard as a rich Table fitted to `width` columns (constant columns folded), baselines dimmed."""
    from recsearch.results.terminal_table import terminal_table

    return terminal_table(frame, width)
