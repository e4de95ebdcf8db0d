"""`recsearch leaderboard [RESULTS_PATHS...]`: one ranked table across studies (and baselines)."""

from __future__ import annotations

import argparse

HELP = ("Rank every study (or trial) under results/ or in an Optuna storage, with the non-neural baselines "
        "of comparison experiments (compare_variants*)")

EXAMPLES = """examples:
  recsearch leaderboard                                      # every study under results/
  recsearch leaderboard --format markdown --top 10 --filter task=rating
  recsearch leaderboard results/default/mlp-rating --per-trial --filter model.depth=2
  recsearch leaderboard postgresql://user:PASSWORD@host/db --study mlp-25m
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="RESULTS_PATH",
                        help="results folders (studies up to 4 folders down), study folders, journal files or "
                             "storage URLs (default: paths.results_dir, env RECSEARCH_RESULTS_DIR)")
    parser.add_argument("--study", help="only the study of this name (in a folder or a storage)")
    parser.add_argument("--metric", help="validation metric to rank on, e.g. rmse, mae (rating) or ndcg@10, hr@10 "
                                         "(ranking); only the studies that record it are listed (default: each "
                                         "study's task metric; studies with different task metrics are ranked in "
                                         "separate groups)")
    parser.add_argument("--top", type=int, metavar="N", help="show the N best rows (of each metric and dataset group)")
    parser.add_argument("--per-trial", action="store_true", help="one row per trial instead of per study")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="keep rows where a column or parameter equals VALUE (repeatable), e.g. variant=mlp or "
                             "model.depth=2 (depth=2 when only one parameter is called depth)")
    parser.add_argument("--format", default="table", choices=("table", "markdown", "csv", "html", "json"),
                        help="output format: table (for the terminal), markdown, csv (numbers kept as numbers, "
                             "seconds in seconds), html or json (default: table)")


def run(args: argparse.Namespace) -> int:
    import sys

    from recsearch.api import leaderboard
    from recsearch.commands.common import console
    from recsearch.results.leaderboard import render

    frame = leaderboard(*args.paths, study=args.study, metric=args.metric, per_trial=args.per_trial,
                        filters=args.filter, top=args.top)
    if frame.empty and args.format in ("table", "markdown", "html"):
        hint = f" ({frame.attrs['no_match']})" if frame.attrs.get("no_match") else ""
        print(f"recsearch: no row matches {' and '.join(args.filter) or 'these studies'}{hint}", file=sys.stderr)
        return 0
    out = console()
    if args.format == "table" and out.is_terminal:
        out.print(rich_table(frame, out.width))
    else:
        sys.stdout.write(render(frame, args.format))
    for label, note in frame.attrs.get("pareto", {}).items():
        print(f"recsearch: note: study {label}: {note}", file=sys.stderr)
    for label, mixed in frame.attrs.get("mixed_settings", {}).items():
        print(f"recsearch: note: study {label}: its trials ran with different settings, so their scores are not "
              f"comparable as they stand: {mixed}", file=sys.stderr)
    return 0


def rich_table(frame, width: int = 150):  # noqa: ANN001, ANN201 - rich imported lazily
    """The leaderboard as a rich Table fitted to `width` columns (constant columns folded), baselines dimmed."""
    from recsearch.results.terminal_table import terminal_table

    return terminal_table(frame, width)
