"""Trials per hour of `recsearch sweep` with trial packing (`search.pack_size` 4, 16, 64) against unpacked
trials (pack_size 1), JAX backend, the default `mlp` architecture on ml-latest-small.

The space searched keeps the architecture fixed (learning rate, dropout, L2: the per-member values packing
vectorises), so every pack is one program; pruning is off and patience equals the epochs, so every trial
trains every epoch. Each setting is a whole sweep (config, sampling, build, compile, epochs, evaluation,
tables) in one process, settings alternating; trials per hour = trials / wall time of its sweep.
Usage: python benchmarks/packing.py [--quick] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median  # noqa: E402

SPACE = ["~search_space", "+search_space={params: {train.learning_rate: 'tag(log, interval(3e-4, 1e-2))', "
         "model.dropout: 'interval(0.05, 0.4)', model.l2: 'tag(log, interval(1e-7, 1e-3))'}}"]

CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend, backend_versions
setup_backend("jax")
import pandas as pd
from recsearch.search.sweep import run_sweep
plan = json.loads(sys.argv[1])
space = json.loads(sys.argv[2])
out = {"versions": backend_versions(), "runs": []}
for k, (pack, trials, epochs) in enumerate(plan):
    overrides = [*space, f"search.n_trials={trials}", f"search.pack_size={pack}", "search.pruner=none",
                 f"train.epochs={epochs}", f"train.patience={epochs}", f"search.study_name=pack{pack}-{k}",
                 "search.keep_models=0", "train.compile_cache=false"]  # every variant compiles cold
    start = time.perf_counter()
    report = run_sweep(overrides, show_progress=False)
    wall = time.perf_counter() - start
    frame = pd.read_parquet(report.folder / "trials.parquet")
    done = frame[frame["state"] == "COMPLETE"]
    out["runs"].append({"pack": pack, "trials": int(len(done)), "wall": wall, "best": float(done["value"].min())})
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 epochs, one sweep per setting (a few minutes)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    args = parser.parse_args()
    # (pack_size, trials): quick runs fewer unpacked trials, so its one compilation weighs more there (favours
    # packing); the full mode gives every setting at least 16 trials and one compilation per setting.
    epochs, rounds, sizes = ((2, 1, [(1, 4), (4, 8), (16, 16), (64, 64)]) if args.quick else
                             (5, 2, [(1, 16), (4, 16), (16, 32), (64, 64)]))
    plan = [(pack, trials, epochs) for _ in range(rounds) for pack, trials in sizes]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "KERAS_BACKEND": "jax", "RECSEARCH_RESULTS_DIR": tmp,
               "RECSEARCH_DATA_DIR": str(Path(args.data_dir).resolve())}
        proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(plan), json.dumps(SPACE)], capture_output=True,
                              text=True, env=env, cwd=tmp)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    print(f"ml-latest-small, default mlp architecture, space: learning rate, dropout, L2; {epochs} epochs per trial, "
          f"no pruning, {rounds} round(s)\n")
    print(f"{'setting':<22} {'trials':>6} {'wall s':>8} {'trials/hour':>12} {'vs unpacked':>11} {'best valid RMSE':>15}")
    base = None
    for pack in (1, 4, 16, 64):
        runs = [r for r in result["runs"] if r["pack"] == pack]
        rate = median([r["trials"] / r["wall"] * 3600 for r in runs])
        base = base or rate
        name = "unpacked (pack_size=1)" if pack == 1 else f"pack_size={pack}"
        print(f"{name:<22} {runs[0]['trials']:6d} {median([r['wall'] for r in runs]):8.1f} {rate:12.0f} "
              f"{rate / base:10.2f}x {min(r['best'] for r in runs):15.4f}")


if __name__ == "__main__":
    main()
