"""`recsearch train`: train and evaluate one configuration."""

from __future__ import annotations

import argparse

from recsearch.commands.common import add_overrides, console, key_value_table

HELP = ("Train one config on its dataset split, early-stop on validation, report validation and test metrics, "
        "and write a run folder (config, metrics.json, history, model) under results/.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", help="start from a complete saved config (a study's best.yaml, "
                        "a run's config.yaml) instead of composing conf/; overrides still apply")
    parser.add_argument("--no-save-model", action="store_true", help="do not write model.keras to the run folder")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from recsearch.config import compose_config, load_config_file
    from recsearch.training.run import run_training

    cfg = load_config_file(args.config, args.overrides) if args.config else compose_config(args.overrides)
    out = console()
    with out.status(f"training {cfg.model.name} on {cfg.data.name} ..."):
        record = run_training(cfg, save_model=not args.no_save_model)
    s = record.summary
    metrics = [(k.replace("_", " ", 1), s[k]) for k in s if k.startswith(("valid_", "test_"))]
    rows = [("model", s["model"]), ("dataset", s["dataset"]), ("task", s["task"]), *metrics,
            ("epochs run", s["epochs_run"]), ("best epoch", s["best_epoch"]), ("parameters", f"{s['n_params']:,}"),
            ("train time (s)", s["train_seconds"]), ("data prep time (s)", s["prepare_seconds"]),
            ("run folder", str(record.run_dir))]
    out.print(key_value_table("recsearch train", rows))
    return 0
