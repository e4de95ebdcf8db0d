"""XLA backend optimisation level of the JAX loop's programs: compile seconds against seconds per epoch.

On CPU a JAX trial of a new architecture shape spends most of its fixed cost compiling its epoch and
evaluation programs, so a cheaper compile pays when epochs run no slower. In one JAX process, for a few
shapes of the `mlp` space, this trains each shape once per level (levels alternating, rotated per shape,
the program cache and the persistent compile cache off so every trial compiles cold) and prints per level:
compile seconds (epoch + evaluation programs), the median second-and-later epoch, and a trial's cost at
`--epochs-per-trial` epochs (default 4.25: the default sweep's average with median pruning, peers.py).
With --cache: the persistent compile cache (train.compile_cache): the same shapes trained by two fresh
processes one after the other sharing an empty cache folder, compile seconds of the first (cold) and the
second (what a resumed sweep, a second worker, `reproduce` or `export-best` pays for a shape seen before).
Usage: python benchmarks/compile_level.py [--quick] [--cache] [--data-dir DIR]
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

SHAPES = [
    ["model.depth=3"],
    ["model.depth=2", "model.width=64", "model.embedding_dim=16"],
    ["model.depth=4", "model.width=256", "model.width_schedule=constant", "model.activation=tanh"],
    ["model.depth=1", "model.embedding_dim=64", "model.activation=gelu", "train.optimizer=rmsprop"],
]

CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend, backend_versions
setup_backend("jax")
import keras
from recsearch.config import compose_config
from recsearch.training import jax_loop as J
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train

class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.times = []
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.t)

shapes, levels, epochs, rounds = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if len(sys.argv) > 5:  # --cache: this process compiles through the persistent cache in that folder
    from pathlib import Path
    from recsearch.training.backend import enable_compile_cache
    enable_compile_cache(Path(sys.argv[5]))
out = {"versions": backend_versions(), "runs": []}
for r in range(rounds):
    for s, shape in enumerate(shapes):
        cfg = compose_config(["model=mlp", f"train.epochs={epochs}", f"train.patience={epochs}",
                              *shape])
        data = prepare_for(cfg)
        k = (s + r) % len(levels)
        for level in levels[k:] + levels[:k]:
            J.XLA_OPT_LEVEL = level
            J.clear_programs()
            timer = Timer()
            result = train(cfg, data, callbacks=[timer])
            out["runs"].append({"shape": s, "level": level, "compile": result.timings["compile_s"],
                                "epochs": timer.times[1:], "valid_rmse": result.metrics["valid_rmse"]})
print(json.dumps(out))
"""


def run_child(shapes: list, levels: list, epochs: int, rounds: int, *extra: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(shapes), json.dumps(levels), str(epochs),
                           str(rounds), *extra], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cache_rounds(shapes: list, epochs: int, processes: int) -> None:
    """Cold then warm processes over one fresh cache folder (see the docstring), at the loop's level."""
    with tempfile.TemporaryDirectory() as folder:
        children = [run_child(shapes, [None], epochs, 1, folder) for _ in range(processes)]
        size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in children[0]["versions"].items()))
    print(f"ml-latest-small, {len(shapes)} mlp shapes, {epochs} epochs, {processes} processes one after the other "
          f"sharing one empty compile cache ({size / 1e6:.1f} MB after)\n")
    print(f"{'process':<14} {'compile s/trial':>15} {'vs cold':>8} {'valid RMSE per shape'}")
    cold = None
    for k, child in enumerate(children):
        compile_s = median([r["compile"] for r in child["runs"]])
        cold = compile_s if cold is None else cold
        name = "1 (cold)" if k == 0 else f"{k + 1} (warm)"
        rmses = " ".join(f"{r['valid_rmse']:.4f}" for r in child["runs"])
        print(f"{name:<14} {compile_s:15.3f} {cold / compile_s:7.1f}x {rmses}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 shapes, 1 round, 3 epochs (about a minute)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    parser.add_argument("--epochs-per-trial", type=float, default=4.25)
    parser.add_argument("--cache", action="store_true", help="cold vs warm persistent compile cache instead")
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    shapes, rounds, epochs = (SHAPES[:2], 1, 3) if args.quick else (SHAPES, 2, 5)
    if args.cache:
        cache_rounds(shapes, epochs, 2 if args.quick else 3)
        return
    levels = [None, 1, 0]  # None: XLA's default (2)
    child = run_child(shapes, levels, epochs, rounds)
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in child["versions"].items()))
    print(f"ml-latest-small, {len(shapes)} mlp shapes x {rounds} round(s), {epochs} epochs, levels alternating; "
          f"medians over shapes and rounds\n")
    base = None
    print(f"{'level':<12} {'compile s':>9} {'s/epoch':>8} {'trial s':>8} {'vs default':>10} {'valid RMSE':>10}")
    for level in levels:
        runs = [r for r in child["runs"] if r["level"] == level]
        compile_s = median([r["compile"] for r in runs])
        per_epoch = median([e for r in runs for e in r["epochs"]])
        trial = compile_s + args.epochs_per_trial * per_epoch
        base = trial if base is None else base
        rmse = median([r["valid_rmse"] for r in runs])
        name = "default (2)" if level is None else str(level)
        print(f"{name:<12} {compile_s:9.3f} {per_epoch:8.3f} {trial:8.3f} {base / trial:9.2f}x {rmse:10.4f}")
    print(f"\ntrial s = compile + {args.epochs_per_trial} x s/epoch (epochs of an average pruned trial)")


if __name__ == "__main__":
    main()
