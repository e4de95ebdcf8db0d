"""recsearch against the searches a user would write instead, side by side on the same split and space
(the peers live in _peer_searches.py).

Contenders, each in its own process, interleaved (A B C D A B C D with --repeat 2):
  recsearch     `python -m recsearch sweep model=mlp ...` with its defaults (run from a temp folder), the compile
                cache off (`train.compile_cache=false`): a first sweep, as the peers' runs are
  optuna-loop   the ~40-line loop: Optuna TPE around a hand-built Keras NCF-MLP's `model.fit`
  kt-random     KerasTuner RandomSearch over the same space
  kt-hyperband  KerasTuner Hyperband over the same space (max_epochs = the epoch budget)
All train on recsearch's prepared ml-latest-small split (random 80/10/10, seed 42), report validation RMSE
of predictions clipped to the rating scale, use recsearch's batch size, patience and training seed, and
seed their sampler with --seed. The peers' space is conf/search_space/mlp.yaml written out by hand; it is
checked against recsearch's parse of that file before anything runs.

Modes: `trials` (same trial budget: 20 trials x 10 epochs) and `wall` (same wall-clock budget: 300 s counted
from the contender's start, imports included (recsearch: its `search.timeout`, from its sweep's start); no
trial starts after it). --quick: 3 trials x 2 epochs and 30 s. "wall s" is each process's whole run, "search s"
the span of its trials. Peers use the default Keras backend (or --backend); recsearch its own default.
Usage: python benchmarks/peers.py [--quick] [--mode trials|wall|both] [--repeat N] [--backend B] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(Path(__file__).parent), str(REPO)]  # this checkout's recsearch, whatever is installed
from _common import machine, median  # noqa: E402

from _peer_searches import BASE, check_space, load_split, run_peer  # noqa: E402

from recsearch.choices import BACKENDS  # noqa: E402

CONTENDERS = ("recsearch", "optuna-loop", "kt-random", "kt-hyperband")
PACKAGES = ("keras", "tensorflow", "jax", "optuna", "keras-tuner", "hydra-core", "numpy")


def child(args: argparse.Namespace) -> None:
    """In a peer's own process: run it and write what it found as JSON."""
    deadline = time.perf_counter() + args.wall if args.wall else None  # from the process's start, as recsearch's
    budget = {"trials": args.trials or None, "epochs": args.epochs, "deadline": deadline}  # 0: no limit
    found = run_peer(args.child, budget, args.seed, str(Path(args.out).with_suffix("")))
    Path(args.out).write_text(json.dumps(found))


# ---------------------------------------------------------------- the parent: run, collect, print

def command(name: str, args: argparse.Namespace, trials: int, wall: float, out: Path) -> tuple[list[str], dict]:
    """The command line and environment of one contender: recsearch's CLI, or this script as a peer."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "RECSEARCH_RESULTS_DIR": str(out.parent / "results"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    if name == "recsearch":
        budget = [f"search.n_trials={trials}"] if not wall else ["search.n_trials=1000000", f"search.timeout={wall}"]
        # cold, as a first sweep: no compiled program reused from an earlier run (compile_options.py --cache)
        return [sys.executable, "-m", "recsearch", "sweep", *BASE, f"train.epochs={args.epochs}",
                "train.compile_cache=false", f"search.study_name={out.stem}", *budget, *args.recsearch_override], env
    if args.backend:
        env["KERAS_BACKEND"] = args.backend
    return [sys.executable, str(Path(__file__).resolve()), "--child", name, "--trials", str(trials),
            "--epochs", str(args.epochs), "--wall", str(wall), "--seed", str(args.seed), "--out", str(out)], env


def run_contender(name: str, args: argparse.Namespace, trials: int, wall: float, work: Path, tag: str) -> dict:
    """Run one contender in a fresh process from `work`; its wall time and summarised trials."""
    out = work / f"peers-{tag}-{name}-{time.time_ns()}.json"
    cmd, env = command(name, args, trials, wall, out)
    start = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as sink:
        rc = subprocess.run(cmd, cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT).returncode
    wall_s = time.perf_counter() - start
    if rc != 0:
        tail = (out.with_suffix(".log").read_text().strip().splitlines() or ["(no output)"])[-1]
        return {"contender": name, "wall_s": wall_s, "error": f"exit {rc}: {tail} (log {out.with_suffix('.log')})"}
    found = recsearch_result(work / "results" / "default" / out.stem) if name == "recsearch" else \
        json.loads(out.read_text())
    return {"contender": name, "wall_s": wall_s, **summarise(found)}


def recsearch_result(folder: Path) -> dict:
    """Trials, epochs, backend and search span of a finished study, from its documented outputs."""
    import pandas as pd
    from omegaconf import OmegaConf

    frame = pd.read_parquet(folder / "trials.parquet")
    trials = [{"state": r.state, "value": r.value if r.state == "COMPLETE" else None} for r in frame.itertuples()]
    span = (frame["datetime_complete"].max() - frame["datetime_start"].min()).total_seconds() if trials else 0.0
    from recsearch.training.backend import resolve_backend

    return {"backend": resolve_backend(OmegaConf.load(folder / "sweep.yaml").config), "trials": trials,
            "epochs": int(frame["epochs_run"].fillna(0).sum()), "search_s": span}


def summarise(found: dict) -> dict:
    """Counts by state, epochs trained and the best validation RMSE of one contender's trials."""
    states = [t["state"] for t in found["trials"]]
    values = [t["value"] for t in found["trials"] if t["state"] == "COMPLETE" and t["value"] is not None]
    counts = {"complete": states.count("COMPLETE"), "pruned": states.count("PRUNED")}
    return {**found, **counts, "failed": len(states) - sum(counts.values()),
            "best_val_rmse": min(values) if values else float("nan")}


def add_ratios(runs: list[dict], key: Callable[[dict], float]) -> None:
    """Each run's `key` divided by recsearch's in the same round (None when either is missing)."""
    for r in runs:
        ref = next((x for x in runs if x["contender"] == "recsearch" and x["repeat"] == r["repeat"]), {"error": 1})
        r["ratio"] = key(r) / key(ref) if "error" not in ref and "error" not in r and key(ref) > 0 else None


def print_table(title: str, runs: list[dict], ratio_of: str) -> None:
    """One row per contender: medians over rounds, and the contender's ratio to recsearch."""
    print(f"\n{title}\n{'contender':<13} {'backend':<10} {'wall s':>7} {'search s':>8} {'complete':>8} {'pruned':>6} "
          f"{'failed':>6} {'epochs':>6} {'best val RMSE':>13} {ratio_of + ' / recsearch':>20}")
    for name in CONTENDERS:
        ok = [r for r in runs if r["contender"] == name and "error" not in r]
        for r in (r for r in runs if r["contender"] == name and "error" in r):
            print(f"{name:<13} {r['error']}")
        if ok:
            med = lambda key: median([float(r[key]) for r in ok if r[key] is not None])  # noqa: E731
            ratio = f"{med('ratio'):.2f}" if any(r["ratio"] is not None for r in ok) else "n/a"
            print(f"{name:<13} {ok[0]['backend']:<10} {med('wall_s'):>7.1f} {med('search_s'):>8.1f} "
                  f"{med('complete'):>8.0f} {med('pruned'):>6.0f} {med('failed'):>6.0f} {med('epochs'):>6.0f} "
                  f"{med('best_val_rmse'):>13.4f} {ratio:>20}")


def run_mode(mode: str, args: argparse.Namespace, work: Path) -> list[dict]:
    """Every contender `--repeat` times, interleaved (A B C D A B C D), then the mode's table."""
    trials, wall = (args.trials, 0.0) if mode == "trials" else (0, args.wall)
    runs = []
    for rep in range(args.repeat):
        for name in (c for c in CONTENDERS if c in args.only):
            runs.append({"mode": mode, "repeat": rep, **run_contender(name, args, trials, wall, work, f"{mode}{rep}")})
            r = runs[-1]
            done = r.get("error") or f"{r['wall_s']:.1f} s, {r['complete']}+{r['pruned']} trials, " \
                                     f"best {r['best_val_rmse']:.4f}"
            print(f"  {mode} round {rep + 1}: {name}: {done}", flush=True)
    if mode == "trials":
        add_ratios(runs, lambda r: r["wall_s"])
        print_table(f"Same trial budget: {trials} trials x {args.epochs} epochs", runs, "wall")
    else:
        add_ratios(runs, lambda r: r["complete"] + r["pruned"])
        print_table(f"Same wall-clock budget: {wall:.0f} s, up to {args.epochs} epochs per trial "
                    "(trials = complete + pruned)", runs, "trials")
    return runs


def parse_args() -> argparse.Namespace:
    """Options, with the budgets of the full or the --quick mode filled in."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 trials x 2 epochs, 30 s wall budget")
    parser.add_argument("--mode", choices=("trials", "wall", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="interleaved rounds of all contenders per mode")
    parser.add_argument("--trials", type=int, help="trial budget (default 20, quick 3)")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default 10, quick 2)")
    parser.add_argument("--wall", type=float, help="wall-clock budget in seconds (default 300, quick 30)")
    parser.add_argument("--seed", type=int, default=0, help="sampler seed of every contender")
    parser.add_argument("--backend", choices=BACKENDS, help="Keras backend of the peers (default: Keras's)")
    parser.add_argument("--recsearch-override", action="append", default=[], metavar="KEY=VALUE",
                        help="extra override for recsearch's sweep (repeatable), e.g. train.backend=jax")
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS), help="contenders to run")
    parser.add_argument("--json", metavar="OUT", help="also write every figure to this JSON file")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    parser.add_argument("--child", choices=CONTENDERS[1:], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.trials = args.trials if args.trials is not None else (3 if args.quick else 20)
    args.epochs = args.epochs or (2 if args.quick else 10)
    args.wall = args.wall if args.wall is not None else (30.0 if args.quick else 300.0)
    return args


def main() -> None:
    args = parse_args()
    if args.child:
        return child(args)
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    check_space()
    cfg, data = load_split()  # prepares the split cache once, so no contender pays for it
    header = {"machine": machine(), "versions": ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
              "recsearch": f"{REPO} @ {_commit()}",
              "shared": f"{data.name}, {cfg.split.method} split (seed {cfg.split.seed}), {len(data.train)} training "
                        f"ratings; batch {cfg.train.batch_size}, patience {cfg.train.patience}, training seed "
                        f"{cfg.train.seed}, sampler seed {args.seed}",
              "peers_backend": args.backend or "Keras default (KERAS_BACKEND, ~/.keras/keras.json, else tensorflow)",
              "recsearch_overrides": args.recsearch_override}
    print("\n".join(f"{k}: {v}" for k, v in header.items()))
    work = Path(tempfile.mkdtemp(prefix="peers-bench-"))
    modes = ("trials", "wall") if args.mode == "both" else (args.mode,)
    report = {mode: run_mode(mode, args, work) for mode in modes}
    print(f"\nlogs and studies: {work}")
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("child", "out")}
        Path(args.json).write_text(json.dumps({**header, "settings": settings, "modes": report}, indent=2, default=str))
    failed = [r["contender"] for runs in report.values() for r in runs if "error" in r]
    if failed:
        sys.exit(f"peers.py: {len(failed)} run(s) failed ({', '.join(failed)}); their rows above name the log")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The checkout's short commit, marked `+dirty` when it has uncommitted changes."""
    def git(*words: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *words], capture_output=True, text=True).stdout.strip()

    return (git("rev-parse", "--short", "HEAD") or "unknown") + ("+dirty" if git("status", "--porcelain") else "")


if __name__ == "__main__":
    main()
