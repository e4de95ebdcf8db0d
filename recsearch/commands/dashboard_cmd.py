"""`recsearch dashboard STUDY_OR_STORAGE`: serve optuna-dashboard on the study's storage, on 127.0.0.1 only."""

from __future__ import annotations

import argparse

from recsearch.errors import RecsearchError

HELP = "Start optuna-dashboard (bound to 127.0.0.1) on the storage of a study folder, a journal file or an RDB URL"
HOST = "127.0.0.1"

EXAMPLES = """examples:
  recsearch dashboard results/default/mlp-rating             # then open http://127.0.0.1:8080/
  recsearch dashboard results/default/mlp-rating/study.journal --port 8081
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", metavar="STUDY_OR_STORAGE",
                        help="a study folder (its sweep.yaml names the storage), a journal file or a storage URL")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")


def run(args: argparse.Namespace) -> int:
    from recsearch.commands.common import console
    from recsearch.results.studies import dashboard_storage

    if not 0 < args.port < 65536:
        raise RecsearchError(f"--port must be in 1..65535, got {args.port}")
    try:  # before the storage is opened: without it nothing here can run, whatever the target
        from optuna_dashboard import run_server
    except ImportError:
        from recsearch.extras import install_hint

        raise RecsearchError(f"optuna-dashboard is not installed: {install_hint('optuna_dashboard')}") from None
    url, storage = dashboard_storage(args.target)
    check_port(args.port)  # before announcing a URL that would not answer
    out = console()
    out.print(f"optuna-dashboard for {url}")
    out.print(f"open http://{HOST}:{args.port}/  (Ctrl-C stops it)", highlight=False)
    out.file.flush()
    try:
        run_server(storage, host=HOST, port=args.port)
    except OSError as exc:  # taken in the moment since check_port
        raise _cannot_listen(args.port, exc) from None
    return 0


def check_port(port: int) -> None:
    """Bind HOST:`port` and let it go again, as the server will bind it (SO_REUSEADDR): a port another server
    listens on fails here, in one line, before anything is printed."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise _cannot_listen(port, exc) from None


def _cannot_listen(port: int, exc: OSError) -> RecsearchError:
    return RecsearchError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}; choose another port with --port N")
