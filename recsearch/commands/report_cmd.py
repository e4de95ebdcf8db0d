"""`recsearch report STUDY`: one self-contained HTML report of a study or of a comparison experiment."""

from __future__ import annotations

import argparse

HELP = "Write an HTML report (plots, leaderboard, best config, environment) of a study or an experiment folder"

EPILOG = """examples:
  recsearch report results/default/mlp-rating                      # -> results/default/mlp-rating/report.html
  recsearch report results/cmp                                     # comparison of the studies in results/cmp
  recsearch report sqlite:///studies.db --study s1 --output s1.html
  recsearch report results/default/mlp-rating --screenshot report.png   # PNG via headless Chromium
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="STUDY",
                        help="a study folder, an experiment folder of several studies, a journal file or a storage URL")
    parser.add_argument("--study", help="the study to report when the storage holds several")
    parser.add_argument("--output", "-o", metavar="PATH", help="HTML file (default: <folder>/report.html)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="also render the report in headless Chromium (apt-get install chromium) to this PNG")
    parser.epilog = EPILOG


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import recsearch
    from recsearch.commands.common import console
    from recsearch.fileio import WriteError
    from recsearch.results.report import screenshot

    try:
        path = recsearch.report(args.target, study=args.study, output=args.output)
    except WriteError as exc:
        raise exc.elsewhere("--output PATH") from None
    out = console()
    out.print(f"report written to {path}")
    if args.screenshot:
        out.print(f"screenshot written to {screenshot(path, Path(args.screenshot))}")
    return 0
