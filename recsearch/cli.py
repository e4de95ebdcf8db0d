"""Command line: `recsearch <command> [options] [hydra overrides...]`. Thin: parse, compose, call the library."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, NoReturn

from recsearch.errors import RecsearchError, describe_os_error, describe_yaml_error, os_error_in


def _groups_epilog() -> str:
    from recsearch.config import group_options

    lines = ["config groups (choose with GROUP=OPTION):"]
    for group in ("data", "split", "model", "train", "task", "search", "search_space", "paths", "experiment"):
        opts = group_options(group)
        label = f"+{group}" if group == "experiment" else group
        lines.append(f"  {label:<14}{', '.join(opts) if opts else '(none yet)'}")
    lines += ["", "your own data: data=custom data.path=FILE (CSV, TSV or Parquet); its columns",
              "  data.columns.user/item/rating/timestamp (rating or timestamp null when absent; 0-based numbers",
              "  with data.header=false), data.sep, data.rating_scale=[LOW,HIGH]; `recsearch config show",
              "  data=custom` shows them all.",
              "", "override grammar: key=value, +key=value, ~key, group=option; see `recsearch config show`.",
              "environment: RECSEARCH_DATA_DIR (datasets), RECSEARCH_CACHE_DIR (prepared splits),",
              "             RECSEARCH_RESULTS_DIR (results/), KERAS_BACKEND (tensorflow | jax; default:",
              "             train.backend=auto, JAX except AutoRec on TensorFlow)."]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-parser per command."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="recsearch", formatter_class=fmt,
        description="Hyperparameter search for neural recommender systems: Hydra configs define the model and "
                    "training search spaces, Optuna drives Keras trials, results land in leaderboards.",
        epilog=_groups_epilog())
    from recsearch import __version__

    parser.add_argument("--version", action="version", version=f"recsearch {__version__}")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (repeatable; before the command): your code that calls "
                             "recsearch.register_model, so its model families work here and in sweep workers; "
                             "the current folder is importable (also: env RECSEARCH_IMPORTS=a,b)")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    from recsearch.commands import COMMAND_MODULES, command_module

    for name in COMMAND_MODULES:
        module = command_module(name)
        p = sub.add_parser(name, help=module.HELP, description=module.HELP, formatter_class=fmt)
        module.add_arguments(p)
        examples = getattr(module, "EXAMPLES", "")
        if any(action.dest == "overrides" for action in p._actions):  # only commands that take overrides
            p.epilog = "\n".join(part for part in (examples, _groups_epilog()) if part)
        elif examples:
            p.epilog = "\n".join(part for part in (examples, p.epilog) if part)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `recsearch` console script."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if not args.command:
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        parser.print_help()
        return 1
    if extras:
        _take_extras(parser, args, extras)
    from recsearch.commands import command_module

    handler: Callable[[argparse.Namespace], int] = command_module(args.command).run
    try:
        from recsearch.plugins import IMPORTS_ENV, import_user_modules

        import_user_modules([*os.environ.get(IMPORTS_ENV, "").split(","), *args.imports])
        if getattr(args, "overrides", None):
            from recsearch.config.validate import check_overrides

            check_overrides(args.overrides, command=args.command, multirun=bool(getattr(args, "multirun", False)))
        return handler(args) or 0
    except RecsearchError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print("recsearch: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a file-system failure, however wrapped, is one line; bugs re-raise
        import yaml

        if isinstance(exc, yaml.MarkedYAMLError):  # a user's YAML file read outside the config's composition
            return _fail(describe_yaml_error(exc), 2)
        os_error = os_error_in(exc)
        if os_error is None:
            raise
        return _fail(describe_os_error(os_error), 2)


def _take_extras(parser: argparse.ArgumentParser, args: argparse.Namespace, extras: list[str]) -> None:
    """What argparse left over. Words after an option (`train model=mf --cfg job train.epochs=3`) join the
    command's trailing OVERRIDE list; an unknown option exits with one line naming it alone (never the overrides
    after it) and the commands it belongs to."""
    commands = _command_parsers(parser)
    own = commands[args.command]
    unknown = [word for word in extras if word.startswith("-")]
    trailing = next((a.dest for a in own._actions if not a.option_strings and a.nargs == "*"), None)
    if not unknown and trailing:
        setattr(args, trailing, [*getattr(args, trailing), *extras])
        return
    if not unknown:
        own.error(f"unrecognized arguments: {' '.join(extras)}")
    named = []
    for option in unknown:
        owners = [f"`recsearch {name}`" for name, sub in commands.items()
                  if option.split("=", 1)[0] in sub._option_string_actions]
        named.append(f"{option} (it belongs to {' and '.join(owners)})" if owners else option)
    plural = "s" if len(named) > 1 else ""
    own.error(f"unrecognized option{plural} {', '.join(named)}; see `recsearch {args.command} --help`")


def _command_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Command name -> its sub-parser, as `build_parser` made them."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(subparsers.choices)


def entry_point() -> NoReturn:
    """The `recsearch` console script: `main`, then the process ends without the interpreter's teardown
    (`process_exit`)."""
    from recsearch.process_exit import exit_now
    from recsearch.training.backend import keep_keras_lean

    keep_keras_lean()  # this process is recsearch's own: Keras without its scikit-learn wrappers
    exit_now(main())


def _fail(message: str, code: int) -> int:
    """Print `recsearch: error: MESSAGE` on one line of stderr and return the exit code."""
    from recsearch.redact import redact

    one_line = redact(" ".join(message.split()))
    print(f"recsearch: error: {one_line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
