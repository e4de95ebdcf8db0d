"""`recsearch train`: train and evaluate one configuration, or every combination with -m/--multirun."""

from __future__ import annotations

import argparse
import sys

from recsearch.commands.common import add_overrides, console, key_value_table

HELP = ("Train one config on its dataset split, early-stop on validation, report validation and test metrics, "
        "and write a run folder (config, metrics.json, history, model) under results/. "
        "With -m, comma lists and ranges (model=mlp,mf 'train.epochs=range(1,4)') run every combination and "
        "write one table, results/multirun/<stamp>/runs.csv (a run that fails is a row with its error; the "
        "others still run, and the command exits 2). train.refit=true then retrains the chosen epochs "
        "on train + validation and reports test (the final model).")

EXAMPLES = """examples:
  recsearch train model=mlp train.epochs=20                  # one run: results/<experiment>/runs/<stamp>/
  recsearch train +experiment=mlp-best train.refit=true      # an exported best config, refit on train + validation
  recsearch train -m model=mlp,mf 'train.epochs=range(1,4)'  # every combination: results/multirun/<stamp>/runs.csv
  recsearch train model=neumf task=ranking split=leave_one_out
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="YAML", help="start from a complete saved config (a study's best.yaml, "
                        "a run's config.yaml) instead of composing the config groups; overrides still apply")
    parser.add_argument("-m", "--multirun", action="store_true",
                        help="run every combination of comma lists / range() / choice() values, as Hydra's -m")
    parser.add_argument("--cfg", choices=["job"], help="print the composed config (job) and exit, as Hydra's --cfg")
    parser.add_argument("--no-save-model", action="store_true", help="do not write model.keras to the run folder")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    import recsearch

    if args.multirun:
        return _multirun(args)
    cfg = recsearch.compose(args.overrides, config_file=args.config)
    if args.cfg:
        from recsearch.commands.config_cmd import print_config

        print_config(cfg)
        return 0
    out = console()
    if cfg.compare.variants or cfg.compare.strategies:  # an experiment made for `sweep`
        import sys

        print(f"recsearch: note: compare.{'variants' if cfg.compare.variants else 'strategies'} is used by "
              f"`recsearch sweep`, which runs the comparison; `train` trains this config's model={cfg.model.name} "
              "once", file=sys.stderr)
    what = f"training {cfg.model.name} on {cfg.data.name}"
    with out.status(f"{what} ...") as status:
        shown = EpochStatus(what, int(cfg.train.epochs), str(cfg.task.metric), str(cfg.task.direction)).start()
        record = recsearch.train(cfg, save_model=not args.no_save_model,
                                 on_epoch=lambda epoch, logs: status.update(shown.text(epoch, logs)))
    s = record.summary
    metrics = [(k.replace("_", " "), s[k]) for k in s if k.startswith(("valid_", "test_", "refit_"))]
    rows = [("model", s["model"]), ("dataset", s["dataset"]), ("task", s["task"]), *metrics,
            ("epochs run", s.get("epochs_run")), ("best epoch", s.get("best_epoch")),
            ("stopped: not learning", f"epoch {s['stalled_at']} (train.stall_epochs)" if s.get("stalled_at") else None),
            ("parameters", f"{s['n_params']:,}"),
            ("train time (s)", s["train_seconds"]), ("data prep time (s)", s["prepare_seconds"]),
            ("run folder", str(record.run_dir))]
    out.print(key_value_table("recsearch train", [(k, v) for k, v in rows if v is not None]))
    return 0


class EpochStatus:
    """The status line of a training run after each epoch: epoch e/E (early stopping may end the run before E),
    the validation metric and the best so far, and the time per epoch (the first epoch's own, which holds
    loading and compiling; then the mean of the later ones); during a refit (`refit_epochs` in the logs), its
    epoch and loss."""

    def __init__(self, what: str, epochs: int, metric: str, direction: str):
        self.what, self.epochs, self.key, self.minimize = what, epochs, f"val_{metric}", direction == "minimize"
        self.best: tuple[int, float] | None = None
        self.ends: list[float] = []  # perf_counter at each epoch's end, the run's start first

    def start(self) -> "EpochStatus":
        import time

        self.ends = [time.perf_counter()]
        return self

    def text(self, epoch: int, logs: dict[str, float]) -> str:
        import math
        import time

        now = time.perf_counter()
        if epoch == 1:  # a phase starts: the training on validation (from the run's start), then the refit
            self.ends = self.ends[-1:] or [now]
        self.ends.append(now)
        took = (f"{self.ends[1] - self.ends[0]:.1f} s" if epoch == 1 else
                f"{(self.ends[-1] - self.ends[1]) / (len(self.ends) - 2):.1f} s/epoch")
        if "refit_epochs" in logs:
            return (f"{self.what}: refit on train + validation, epoch {epoch}/{int(logs['refit_epochs'])}, "
                    f"loss {logs.get('loss', math.nan):.4f}, {took}")
        value = logs.get(self.key)
        if value is not None and math.isfinite(value) and (
                self.best is None or (value < self.best[1] if self.minimize else value > self.best[1])):
            self.best = (epoch, value)
        metric = "" if value is None else f", {self.key} {value:.4f}"
        best = "" if self.best is None else f" (best {self.best[1]:.4f}, epoch {self.best[0]})"
        return f"{self.what}: epoch {epoch}/{self.epochs}{metric}{best}, {took}"


def _multirun(args: argparse.Namespace) -> int:
    import recsearch
    from recsearch.errors import ConfigError

    if args.config or args.cfg:
        raise ConfigError("-m/--multirun composes the config groups: drop --config / --cfg")
    err = console(stderr=True)
    result = recsearch.train(args.overrides, multirun=True, save_model=not args.no_save_model,
                             on_run=lambda i, n, job: err.print(f"[bold]run {i + 1}/{n}[/]: {' '.join(job)}"))
    out = console()
    out.print(_runs_table(result.table))
    out.print(f"table: {result.table_path}")
    if result.failed:
        runs = ", ".join(f"{n + 1}/{len(result.table)}" for n in result.failed)
        print(f"recsearch: error: {len(result.failed)} of {len(result.table)} runs failed (run {runs}); their rows "
              "in the table have an error", file=sys.stderr)
        return 2
    return 0


def _runs_table(frame):  # noqa: ANN001, ANN201 - rich imported lazily
    """The combined table of a multirun: swept values, metrics, epochs, time, run folder."""
    from rich.table import Table

    from recsearch.commands.common import format_value

    keep = [c for c in frame.columns if c not in ("data_checksum", "split_key", "seed", "prepare_seconds")]
    table = Table(title=f"recsearch train -m: {len(frame)} runs", title_justify="left")
    for col in keep:
        table.add_column(col, justify="left" if col == "run_dir" else "right", overflow="fold")
    for _, row in frame[keep].iterrows():
        table.add_row(*[format_value(v) for v in row.tolist()])
    return table
