"""`recsearch data list | info NAME | fetch NAME`: the datasets of conf/data/."""

from __future__ import annotations

import argparse

from recsearch.commands.common import add_overrides, console, key_value_table

HELP = ("Datasets: `list` the configured datasets and whether their files are present, `info NAME` loads one "
        "and prints its statistics, `fetch NAME` downloads it from GroupLens (checksum-verified) into the data "
        "directory (paths.data_dir / RECSEARCH_DATA_DIR).")

EXAMPLES = """examples:
  recsearch data list
  recsearch data info ml_latest_small
  recsearch data fetch ml_1m                                 # needs internet; offline, it says which file goes where
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["list", "info", "fetch"], metavar="{list,info,fetch}",
                        help="list: the configured datasets and whether their files are here; info NAME: load one and "
                             "print its statistics; fetch NAME: download it (checksum verified)")
    parser.add_argument("name", nargs="?", help="dataset: a conf/data option such as ml_latest_small (or ml-latest-small)")
    add_overrides(parser)


def run(args: argparse.Namespace) -> int:
    from recsearch.errors import ConfigError

    if args.name and "=" in args.name and not args.name.startswith("data="):  # `data list paths.data_dir=...`
        args.name, args.overrides = None, [args.name, *args.overrides]
    if args.action == "list":
        if args.name:
            raise ConfigError(f"`recsearch data list` takes no dataset name (got {args.name!r}); "
                              f"`recsearch data info {args.name}` describes one")
        return _list(args.overrides)
    if not args.name:
        raise ConfigError(f"`recsearch data {args.action}` needs a dataset NAME; see `recsearch data list`")
    cfg = _compose_for(args.name, args.overrides)
    from recsearch.data import dataset_summary, fetch_dataset, load_interactions, resolve_data_dir

    data_dir = resolve_data_dir(cfg.paths)
    if args.action == "fetch":
        path = fetch_dataset(cfg.data, data_dir, progress=True)
        console().print(f"{cfg.data.name}: ready in {path}")
        return 0
    summary = dataset_summary(load_interactions(cfg.data, data_dir))
    console().print(key_value_table(f"{cfg.data.name}", summary.items()))
    return 0


def _compose_for(name: str, overrides: list[str]):
    from recsearch.config import compose_config, group_options
    from recsearch.errors import ConfigError

    option = name.removeprefix("data=").replace("-", "_").lower()  # `data info data=custom`, as other commands take it
    if option not in group_options("data"):
        raise ConfigError(f"unknown dataset {name!r}; choose one of: {', '.join(group_options('data'))}")
    return compose_config([f"data={option}", *overrides])


def _list(overrides: list[str]) -> int:
    from rich.table import Table

    from recsearch.config import compose_config, group_options
    from recsearch.data import dataset_dir, resolve_data_dir
    from recsearch.data.download import is_laid_out

    root = resolve_data_dir(compose_config(list(overrides)).paths)
    table = Table(title=f"datasets (conf/data), looked for under {root} (paths.data_dir, RECSEARCH_DATA_DIR)",
                  title_justify="left")
    for col in ("option", "name", "format", "present", "description"):
        table.add_column(col)
    for option in group_options("data"):
        cfg = compose_config([f"data={option}", *overrides])
        if cfg.data.format == "synthetic":
            present = "generated"
        else:
            folder = dataset_dir(cfg.data, resolve_data_dir(cfg.paths))
            present = "yes" if is_laid_out(cfg.data, folder) else "partly" if _present(folder) else "no"
        table.add_row(option, cfg.data.name, cfg.data.format, present, cfg.data.description)
    console().print(table)
    return 0


def _present(path) -> bool:
    """Something is there (`partly` when the files a loader needs are not all there: `data info` names them)."""
    return path.exists() and (path.is_file() or any(path.iterdir()))
