"""`recsearch export-best`: write a study's best trial as experiments/<NAME>.yaml (+ provenance)."""

from __future__ import annotations

import argparse

HELP = ("Export the best (or a chosen) trial of a study as a self-contained experiment, "
        "experiments/<NAME>.yaml, that `recsearch train +experiment=NAME` runs; provenance goes beside it in "
        "<NAME>.provenance.json. No machine paths and no storage credentials are written.")

EXAMPLES = """examples:
  recsearch export-best results/default/mlp-rating --name mlp-best   # writes ./experiments/mlp-best.yaml
  recsearch train +experiment=mlp-best train.refit=true              # then train it
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="STUDY", help="a study folder (results/<exp>/<study>/) or an Optuna "
                        "storage URL (then name the study with --study)")
    parser.add_argument("--study", metavar="NAME", help="study name inside the storage (default: the only one)")
    parser.add_argument("--trial", type=int, metavar="N", help="export trial N instead of the best trial")
    parser.add_argument("--name", metavar="NAME", help="experiment name, a plain file name: the experiment is "
                        "written to experiments/NAME.yaml, in $RECSEARCH_EXPERIMENTS_DIR or ./experiments "
                        "(default: <study>-best)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing experiment of that name")


def run(args: argparse.Namespace) -> int:
    import warnings

    from recsearch.commands.common import console, key_value_table
    from recsearch.reproduce import export_trial, open_study, pick_trial
    from recsearch.reproduce.export import check_plain_name

    if args.name is not None:
        check_plain_name(args.name, label="--name")  # before the study is read: a bad name costs nothing
    source = open_study(args.source, args.study, command="export-best")
    trial = pick_trial(source.study, args.trial)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = export_trial(source.study, trial, name=args.name, force=args.force)
    out = console()
    for note in result.warnings:
        console(stderr=True).print(f"[yellow]warning:[/] {note}")
    out.print(key_value_table("recsearch export-best", [
        ("study", source.study.study_name), ("trial", trial.number), ("validation value", trial.values[0]),
        ("experiment", str(result.path)), ("provenance", str(result.provenance_path)),
        ("train it", f"{result.command} train +experiment={result.name}"
                     + (f" (from {result.run_from}: data.path is relative to it)" if result.run_from else "")),
        ("check it", f"{result.command} reproduce {result.name}")]))
    return 0
