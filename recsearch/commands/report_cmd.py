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

    from recsearch.commands.common import console
    from recsearch.errors import RecsearchError
    from recsearch.results.report import comparison_report, screenshot, study_report, write_report
    from recsearch.results.studies import (baseline_files, find_study_folders, is_storage, load_study_folder,
                                           load_target, read_baselines)

    target = Path(args.target)
    if not is_storage(args.target) and target.is_dir() and not (target / "sweep.yaml").is_file():
        folders = find_study_folders(target)
        if not folders:
            raise RecsearchError(f"{target} holds no study (no sweep.yaml under it)")
        files = [f for f in baseline_files([str(target)]) if f.parent == target]
        report = comparison_report(target, [load_study_folder(f) for f in folders],
                                   read_baselines(files[0]) if files else None)
        default = target / "report.html"
    else:
        record = load_target(args.target, args.study)
        report = study_report(record)
        default = (record.folder / "report.html") if record.folder else Path(f"report-{record.name}.html")
    path = write_report(report, Path(args.output) if args.output else default)
    out = console()
    out.print(f"report written to {path}")
    if args.screenshot:
        out.print(f"screenshot written to {screenshot(path, Path(args.screenshot))}")
    return 0
