"""Seconds per epoch of `mlp` and `mf` (default configs, ml-latest-small): Keras `fit` with its defaults
against recsearch's training path, per backend, with the ratio; and recsearch's fixed per-trial cost
(everything but the epochs) split into build, compile and evaluation.

Each backend runs in its own process (Keras picks its backend once per process); within a process the
two paths alternate (fit, recsearch, fit, recsearch) and backends alternate across rounds. Epochs 2..n
give the per-epoch median (the first holds tracing/compilation); the fixed cost is measured on a second,
warm trial of the same shape (what every later trial of a sweep pays) and on the first (cold).
With --loop: the JAX loop's epoch alone (no evaluation), side by side in one process, with its speed-ups
off (in-program per-member shuffle, dropout masks from JAX's rolled, partitionable threefry) and on
(host-drawn shared order, hashed dropout masks; other draws from unrolled threefry using both words of each
hash), at 1 and 16 members of `mlp`; the variants alternate epoch by epoch, medians and their ratio.
Usage: python benchmarks/epoch.py [--quick] [--loop] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median  # noqa: E402

CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend, backend_versions
backend, epochs, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
setup_backend(backend)
import keras
from recsearch.config import compose_config
from recsearch.models import build_model
from recsearch.training.run import prepare_for
from recsearch.training.trainer import model_inputs, train

class Timer(keras.callbacks.Callback):
    def __init__(self): super().__init__(); self.times = []
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.t)

def keras_fit(cfg, data):
    keras.utils.set_random_seed(0)
    model = build_model(cfg.model, data)
    model.compile(optimizer=keras.optimizers.Adam(float(cfg.train.learning_rate)), loss="mse")
    timer = Timer()
    model.fit(model_inputs(data.train), data.train.ratings, batch_size=int(cfg.train.batch_size), epochs=epochs,
              validation_data=(model_inputs(data.valid), data.valid.ratings), callbacks=[timer], verbose=0)
    return {"epochs": timer.times}

def recsearch_path(cfg, data):
    timer = Timer()
    start = time.perf_counter()
    result = train(cfg, data, callbacks=[timer])
    total = time.perf_counter() - start
    return {"epochs": timer.times, "total": total, "timings": result.timings,
            "valid_rmse": result.metrics["valid_rmse"]}

out = {"versions": backend_versions(), "runs": []}
for model in ("mlp", "mf"):
    cfg = compose_config([f"model={model}", f"train.epochs={epochs}", f"train.patience={epochs}"])
    data = prepare_for(cfg)
    for k in range(rounds):
        out["runs"].append({"model": model, "path": "keras fit", "index": k, **keras_fit(cfg, data)})
        out["runs"].append({"model": model, "path": "recsearch", "index": k, **recsearch_path(cfg, data)})
print(json.dumps(out))
"""


LOOP_CHILD = r"""
import sys, time
from recsearch.training.backend import setup_backend
setup_backend("jax")
import jax, jax.numpy as jnp, keras, numpy as np
from recsearch.config import compose_config
from recsearch.models import build_model
from recsearch.training import jax_loop as J
from recsearch.training.run import prepare_for
from recsearch.training.trainer import compile_model, make_optimizer, schedule_for
rounds = int(sys.argv[1])
cfg = compose_config(["model=mlp"])
data = prepare_for(cfg)
sched = schedule_for(cfg, data)
train = J._on_device(data.train)
n_rows = len(data.train)
for n in (1, 16):
    members = []
    for k in range(n):
        keras.utils.set_random_seed(k)
        model = build_model(cfg.model, data)
        compile_model(model, cfg, data, optimizer=make_optimizer(cfg.train))
        members.append(J.Member(model, int(cfg.train.seed)))  # a sweep's trials share train.seed
    active = jnp.ones(n, bool)
    runs = {}
    for name, fast in (("off", False), ("on", True)):
        J.UNROLLED_RNG = J.PAIRED_THREEFRY = J.HASHED_DROPOUT = fast
        program = J._Program(members[0].model, sched)
        state, knobs = program.initial_state(members)
        if fast:  # zero evaluation chunks: the epoch only, as the "off" program
            order = lambda e: jnp.asarray(J._orders([m.seed for m in members], e, n_rows, sched.batch_size))
            no_eval = tuple(jnp.zeros((0, J.EVAL_CHUNK), t) for t in ("int32", "int32", "float32", "float32"))
            fn, _ = program.compile("epoch_shared", state, knobs, order(0), np.asarray(True), active, train, no_eval)
            step = lambda st, e, fn=fn, order=order, knobs=knobs, no_eval=no_eval: \
                fn(st, knobs, order(e), np.asarray(True), active, train, no_eval)[:2]
        else:
            keys = jnp.stack([jax.random.PRNGKey(m.seed) for m in members])
            fn, _ = program.compile("epoch", state, knobs, keys, jnp.int32(0), active, train)
            step = lambda st, e, fn=fn, keys=keys, knobs=knobs: fn(st, knobs, keys, jnp.int32(e), active, train)
        runs[name] = [step, state, []]
    J.UNROLLED_RNG = J.PAIRED_THREEFRY = J.HASHED_DROPOUT = True
    for e in range(rounds + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run[1], stats = run[0](run[1], e)
            jax.block_until_ready(stats)
            run[2].append(time.perf_counter() - start)
    off, on = (float(np.median(runs[k][2][1:])) for k in ("off", "on"))
    print(f"{n:7d} {off:12.3f} {on:12.3f} {off / n:12.3f} {on / n:12.3f} {off / on:7.2f}x", flush=True)
"""


def loop_variants(rounds: int) -> None:
    """The JAX loop's epoch with its speed-ups off and on, alternating in one process (see the docstring)."""
    print(f"machine: {machine()}")
    print(f"JAX loop epoch only (no evaluation), mlp defaults, one shared seed, {rounds} alternating epochs after one "
          f"warm-up, medians\n")
    print(f"{'members':>7} {'off s/epoch':>12} {'on s/epoch':>12} {'off /member':>12} {'on /member':>12} {'ratio':>8}",
          flush=True)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", LOOP_CHILD, str(rounds)], text=True, env=env,
                          stdout=None, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise SystemExit(f"loop child failed:\n{proc.stderr[-3000:]}")


def run_child(backend: str, epochs: int, rounds: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run([sys.executable, "-c", CHILD, backend, str(epochs), str(rounds)], capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{backend} child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fixed_cost(run: dict) -> dict[str, float]:
    """Wall time of a recsearch trial minus its own epochs, and its split. The first epoch's excess over the
    median of the later ones (TensorFlow traces and compiles in it) counts as fixed cost; never negative."""
    epochs = run["epochs"]
    first_excess = max(0.0, epochs[0] - median(epochs[1:])) if len(epochs) > 1 else 0.0
    t = run["timings"]
    return {"fixed": run["total"] - sum(epochs) + first_excess, "build": t["build_s"], "compile": t["compile_s"],
            "eval": t["eval_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 epochs, one process per backend (about 2 minutes)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    parser.add_argument("--loop", action="store_true", help="the JAX loop's speed-ups off vs on, side by side")
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    if args.loop:
        loop_variants(4 if args.quick else 8)
        return
    epochs, processes = (3, 1) if args.quick else (6, 2)
    print(f"machine: {machine()}")
    print(f"ml-latest-small, random 80/10/10 seed 42, default mlp and mf configs, batch 1024, {epochs} epochs, "
          f"{processes} process(es) per backend, 2 trials per path and model in each\n")
    runs: dict[str, list[dict]] = {"tensorflow": [], "jax": []}
    versions = {}
    for _ in range(processes):
        for backend in runs:
            child = run_child(backend, epochs, 2)
            runs[backend] += child["runs"]
            versions[backend] = child["versions"]
    print("versions: " + "; ".join(", ".join(f"{k} {v}" for k, v in ver.items()) for ver in versions.values()))
    print(f"\n{'backend':<11} {'model':<5} {'keras fit s/epoch':>17} {'recsearch s/epoch':>17} {'speed-up':>8} "
          f"{'valid RMSE':>10}")
    for backend, rs in runs.items():
        for model in ("mlp", "mf"):
            fit = median([e for r in rs if r["model"] == model and r["path"] == "keras fit" for e in r["epochs"][1:]])
            ours_runs = [r for r in rs if r["model"] == model and r["path"] == "recsearch"]
            ours = median([e for r in ours_runs for e in r["epochs"][1:]])
            print(f"{backend:<11} {model:<5} {fit:17.3f} {ours:17.3f} {fit / ours:7.2f}x "
                  f"{ours_runs[-1]['valid_rmse']:10.4f}")
    print(f"\nrecsearch fixed cost per trial (s; everything but the epochs; first = cold, later = same shape again)")
    print(f"{'backend':<11} {'model':<5} {'trial':<6} {'fixed':>7} {'build':>7} {'compile':>8} {'eval':>7}")
    for backend, rs in runs.items():
        for model in ("mlp", "mf"):
            ours_runs = [r for r in rs if r["model"] == model and r["path"] == "recsearch"]
            for label, chosen in (("first", [r for r in ours_runs if r["index"] == 0]),
                                  ("later", [r for r in ours_runs if r["index"] > 0])):
                costs = [fixed_cost(r) for r in chosen]
                cells = " ".join(f"{median([c[k] for c in costs]):{w}.3f}"
                                 for k, w in (("fixed", 7), ("build", 7), ("compile", 8), ("eval", 7)))
                print(f"{backend:<11} {model:<5} {label:<6} {cells}")


if __name__ == "__main__":
    main()
