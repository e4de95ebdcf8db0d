"""`recsearch dashboard STUDY_OR_STORAGE`: serve optuna-dashboard on the study's storage, on 127.0.0.1 only."""

from __future__ import annotations

import argparse

HELP = "Start optuna-dashboard (bound to 127.0.0.1) on the storage of a study folder, a journal file or an RDB URL"
HOST = "127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="STUDY_OR_STORAGE",
                        help="a study folder (its sweep.yaml names the storage), a journal file or a storage URL")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")


def run(args: argparse.Namespace) -> int:
    from recsearch.commands.common import console
    from recsearch.errors import RecsearchError
    from recsearch.results.studies import dashboard_storage

    if not 0 < args.port < 65536:
        raise RecsearchError(f"--port must be in 1..65535, got {args.port}")
    url, storage = dashboard_storage(args.target)
    try:
        from optuna_dashboard import run_server
    except ImportError:
        from recsearch.extras import install_hint

        raise RecsearchError(f"optuna-dashboard is not installed: {install_hint('optuna_dashboard')}") from None
    out = console()
    out.print(f"optuna-dashboard for {url}")
    out.print(f"open http://{HOST}:{args.port}/  (Ctrl-C stops it)", highlight=False)
    out.file.flush()
    try:
        run_server(storage, host=HOST, port=args.port)
    except OSError as exc:
        raise RecsearchError(f"cannot listen on {HOST}:{args.port}: {exc.strerror or exc}") from None
    return 0
