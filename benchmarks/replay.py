"""The same trials, timed under different code or settings: how much a change to the trial path saves a sweep.

A sweep's wall time depends on which architectures its sampler draws, and TPE's draws drift with the last
float digit of each result, so two sweeps of different code rarely train the same trials. This replays a
fixed list instead: the 96 configurations TPE drew in a 300 s sweep of the default `mlp` space
(`benchmarks/data/tpe_mlp_300s.yaml`), enqueued in order (`search.enqueue_file`) in a `recsearch sweep` with
peers.py's settings (10 epochs, median pruning, no compile cache: a first sweep). Each variant is a
checkout and overrides, run in its own process; variants alternate over rounds. Prints per variant: wall
time, trials per hour, seconds from the command's start to its first trial's start ("to first": imports,
config, data, workers) and from its last trial's end to the command's exit ("after last": tables, workers'
and its own exit), trials that compiled a program, compile seconds per trial, epochs and best RMSE.
Usage: python benchmarks/replay.py [--quick] [--rounds N]
           [--variant 'NAME=CHECKOUT[;KEY=VALUE...]' ...]   (default: this checkout, as it is)
  e.g. --variant 'before=../base' --variant 'after=.' --variant 'no padding=.;train.pad_embeddings=false'
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median  # noqa: E402

HERE = Path(__file__).resolve().parent
TRIALS = HERE / "data" / "tpe_mlp_300s.yaml"
SETTINGS = ["model=mlp", "train.epochs=10", "train.compile_cache=false", "search.sampler=tpe",
            "search.pruner=median"]  # peers.py's recsearch command, less its budget


def run_variant(checkout: Path, overrides: list[str], trials: Path, n: int, work: Path, tag: str) -> dict:
    """One sweep of the listed trials with `checkout`'s recsearch; its wall time and the study's figures."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "RECSEARCH_RESULTS_DIR": str(work / "results"),
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    name = f"replay-{tag}-{time.time_ns()}"
    cmd = [sys.executable, "-m", "recsearch", "sweep", *SETTINGS, f"search.enqueue_file={trials}",
           f"search.n_trials={n}", f"search.study_name={name}", *overrides]
    start, started = time.perf_counter(), time.time()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)  # cwd: no ./recsearch shadows
    wall, ended = time.perf_counter() - start, time.time()
    if done.returncode != 0:
        raise SystemExit(f"{tag}: the sweep failed:\n{done.stderr[-3000:]}")
    figures = study_figures(work / "results" / "default" / name / "study.journal")
    return {"wall": wall, **figures, "to_first": figures.pop("first_start") - started,
            "after_last": ended - figures.pop("last_complete")}


def study_figures(journal: Path) -> dict:
    """Trials, compiles, epochs and best value of a finished study (read with Optuna, whatever wrote it)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name=optuna.get_all_study_summaries(storage)[0].study_name, storage=storage)
    trials = study.trials
    compile_s = [float(t.user_attrs.get("timing", {}).get("compile_s", 0.0)) for t in trials]
    values = [t.value for t in trials if t.value is not None]
    ends = [t.datetime_complete.timestamp() for t in trials if t.datetime_complete is not None]
    return {"first_start": min(t.datetime_start.timestamp() for t in trials if t.datetime_start is not None),
            "last_complete": max(ends),
            "trials": len(trials), "pruned": sum(t.state.name == "PRUNED" for t in trials),
            "compiled": sum(c > 0 for c in compile_s), "compile_s": sum(compile_s) / max(1, len(trials)),
            "epochs": sum(int(t.user_attrs.get("epochs_run", 0)) for t in trials),
            "best": min(values) if values else float("nan")}


def parse_variant(spec: str) -> tuple[str, Path, list[str]]:
    """NAME=CHECKOUT[;KEY=VALUE...] -> (name, checkout folder, overrides)."""
    name, sep, rest = spec.partition("=")
    parts = rest.split(";")
    checkout = Path(parts[0] or ".").resolve()
    if not sep or not name.strip() or not (checkout / "recsearch" / "__init__.py").is_file():
        raise SystemExit(f"--variant {spec!r}: give NAME=CHECKOUT[;KEY=VALUE...], CHECKOUT a recsearch checkout")
    return name.strip(), checkout, [p for p in parts[1:] if p]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the first 24 trials, one round")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of all variants (default 1)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=CHECKOUT[;KEY=VALUE...]")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    variants = [parse_variant(v) for v in args.variant] or [("this checkout", HERE.parent, [])]
    listed = yaml.safe_load(TRIALS.read_text())
    n = 24 if args.quick else len(listed)
    rounds = 1 if args.quick else args.rounds
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    with tempfile.TemporaryDirectory(prefix="replay-") as work:
        trials = Path(work) / "trials.yaml"
        trials.write_text(yaml.safe_dump(listed[:n]))
        for r in range(rounds):
            for name, checkout, overrides in variants[r % len(variants):] + variants[:r % len(variants)]:
                run = run_variant(checkout, overrides, trials, n, Path(work), f"r{r}")
                runs[name].append(run)
                print(f"  round {r + 1}: {name}: {run['wall']:.1f} s, {run['compiled']} of {run['trials']} trials "
                      f"compiled, best {run['best']:.4f}", flush=True)
    print(f"\nmachine: {machine()}")
    print(f"the first {n} trials of {TRIALS.name}, enqueued in order; {' '.join(SETTINGS)}; {rounds} round(s), "
          "medians\n")
    print(f"{'variant':<24} {'wall s':>7} {'trials/h':>8} {'vs first':>8} {'to first':>8} {'after last':>10} "
          f"{'compiled':>8} {'compile s/trial':>15} {'pruned':>6} {'epochs':>6} {'best RMSE':>9}")
    base = None
    for name, checkout, overrides in variants:
        got = runs[name]
        wall = median([g["wall"] for g in got])
        per_hour = 3600 * n / wall
        base = per_hour if base is None else base
        print(f"{name:<24} {wall:7.1f} {per_hour:8.0f} {per_hour / base:7.2f}x {median([g['to_first'] for g in got]):8.2f} "
              f"{median([g['after_last'] for g in got]):10.2f} {median([g['compiled'] for g in got]):8.0f} "
              f"{median([g['compile_s'] for g in got]):15.3f} {median([g['pruned'] for g in got]):6.0f} "
              f"{median([g['epochs'] for g in got]):6.0f} {median([g['best'] for g in got]):9.4f}")
    print("\nvariants: " + "; ".join(f"{name}: {checkout} {' '.join(overrides) or '(defaults)'}"
                                     for name, checkout, overrides in variants))


if __name__ == "__main__":
    main()
