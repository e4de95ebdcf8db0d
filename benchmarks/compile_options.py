"""XLA flags for the JAX loop's programs on CPU: compile seconds against seconds per epoch; and the compile cache.

On CPU a JAX trial of a new architecture shape spends most of its fixed cost compiling its program
(epoch and evaluation), so a cheaper compile pays when epochs run no slower. For a few
shapes of the `mlp` space, this trains each shape once per variant, in one process per variant and round
(XLA reads its flags when it starts; variants rotate across rounds; no persistent compile cache, so every
trial compiles cold) and prints
per variant: compile seconds (tracing included), the median second-and-later
epoch, and a trial's cost at `--epochs-per-trial` epochs (default 4.25: the default sweep's average with
median pruning, peers.py). The loop's choice is `CPU_XLA_FLAGS` in recsearch/training/backend.py.
Variants `recsearch` (as shipped) and `threefry dropout` (dropout masks from JAX's threefry instead of
the loop's hashed masks, `HASHED_DROPOUT` in recsearch/training/jax_loop.py) compare a switch of the loop
under its own XLA flags: `--only recsearch --only 'threefry dropout'`. Across processes compile times vary
more than such a switch changes them; `--switch HASHED_DROPOUT` compares it in one process instead: each
shape (and `neumf`, `deepfm`) compiled alternately off and on, then their epoch programs run alternately.
With --task ranking: Keras `fit`'s programs instead (ranking trains through `fit`, not the loop): a few ranking
models (leave-one-out, sampled negatives), compared by a whole trial's wall time (fit and ranking evaluation;
the first epoch holds the compile), XLA's defaults against the legacy emitters.
With --cache: the persistent compile cache (train.compile_cache) instead: the same shapes trained by fresh
processes one after the other sharing an empty cache folder, compile seconds of the first (cold) and of
the later ones (what a resumed sweep, a second worker, `reproduce` or `export-best` pays for a shape seen
before).
Usage: python benchmarks/compile_options.py [--quick] [--cache] [--task rating|ranking] [--switch NAME]
                                           [--variant 'NAME=FLAGS' ...] [--only NAME ...]
                                           [--data-dir DIR]
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
    ["model=mlp", "model.depth=3"],
    ["model=mlp", "model.depth=2", "model.width=64", "model.embedding_dim=16"],
    ["model=mlp", "model.depth=4", "model.width=256", "model.width_schedule=constant", "model.activation=tanh"],
    ["model=mlp", "model.depth=1", "model.embedding_dim=64", "model.activation=gelu", "train.optimizer=rmsprop"],
]
SWITCH_SHAPES = [["model=neumf"], ["model=deepfm"]]  # --switch also compiles the other families with dropout
RANKING = ["task=ranking", "split=leave_one_out"]
RANKING_SHAPES = [["model=mlp", *RANKING], ["model=gmf", *RANKING], ["model=neumf", *RANKING],
                  ["model=mlp", *RANKING, "model.depth=2", "model.width=64", "model.embedding_dim=16"]]
VARIANTS = {  # name -> XLA_FLAGS of the variant's processes (flags read when XLA starts, so one process each),
    # or "loop:NAME=0|1,..." for recsearch's own XLA flags with these jax_loop switches set (none: as shipped)
    "recsearch": "loop:",
    "threefry dropout": "loop:HASHED_DROPOUT=0",
    "XLA defaults": "",
    "no fusion emitters": "--xla_cpu_use_fusion_emitters=false",
    "LLVM level 1": "--xla_backend_optimization_level=1",
    "LLVM level 0": "--xla_backend_optimization_level=0",
}

CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend, backend_versions
setup_backend("jax")
import keras
from recsearch.config import compose_config
from recsearch.training import jax_loop as J
import os
for name, value in json.loads(os.environ.get("RECSEARCH_BENCH_LOOP", "{}")).items():
    setattr(J, name, value)
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train

class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None): self.times = []
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.t)

shapes, epochs = json.loads(sys.argv[1]), int(sys.argv[2])
if len(sys.argv) > 3:  # --cache: this process compiles through the persistent cache in that folder
    from pathlib import Path
    from recsearch.training.compile_cache import enable_compile_cache
    enable_compile_cache(Path(sys.argv[3]))
out = {"versions": backend_versions(), "runs": []}
for s, shape in enumerate(shapes):
    cfg = compose_config([*shape, f"train.epochs={epochs}", f"train.patience={epochs}"])
    data = prepare_for(cfg)
    timer = Timer()
    start = time.perf_counter()
    result = train(cfg, data, callbacks=[timer])
    out["runs"].append({"shape": s, "compile": result.timings["compile_s"], "epochs": timer.times[1:],
                        "first": timer.times[0], "total": time.perf_counter() - start,
                        "valid": result.metrics[f"valid_{cfg.task.metric}"]})
print(json.dumps(out))
"""

SWITCH_CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend
setup_backend("jax")
import jax, jax.numpy as jnp, keras, numpy as np
from recsearch.config import compose_config
from recsearch.models import build_model
from recsearch.training import jax_loop as J
from recsearch.training.run import prepare_for
from recsearch.training.trainer import compile_model, make_optimizer, schedule_for

switch, shapes, reps, epochs = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if not isinstance(getattr(J, switch, None), bool):
    raise SystemExit(f"--switch {switch}: not a switch of recsearch/training/jax_loop.py (e.g. HASHED_DROPOUT)")
no_eval = tuple(jnp.zeros((0, J.EVAL_CHUNK), t) for t in ("int32", "int32", "float32", "float32"))
out = []
for shape in shapes:
    cfg = compose_config(shape)
    data = prepare_for(cfg)
    sched, train = schedule_for(cfg, data), J._on_device(data.train)
    order = lambda e: jnp.asarray(J._orders([1], e, len(data.train), sched.batch_size))
    compiles, steps = {False: [], True: []}, {}
    for r in range(reps):
        for on in ((False, True) if r % 2 == 0 else (True, False)):
            setattr(J, switch, on)
            keras.utils.set_random_seed(r)
            model = build_model(cfg.model, data)
            compile_model(model, cfg, data, optimizer=make_optimizer(cfg.train))
            program = J._Program(model, sched)
            state, knobs = program.initial_state([J.Member(model, 1)])
            fn, seconds = program.compile("epoch_shared", state, knobs, order(0), np.asarray(True), jnp.ones(1, bool),
                                          train, no_eval)
            compiles[on].append(seconds)
            steps[on] = [fn, state, knobs, []]
    for e in range(epochs + 1):  # the epoch program alone, the two variants alternating; epoch 0 is a warm-up
        for on, run in steps.items():
            start = time.perf_counter()
            run[1] = run[0](run[1], run[2], order(e), np.asarray(True), jnp.ones(1, bool), train, no_eval)[0]
            jax.block_until_ready(run[1])
            run[3].append(time.perf_counter() - start)
    out.append({"compile": {str(k): v for k, v in compiles.items()},
                "epoch": {str(k): run[3][1:] for k, run in steps.items()}})
print(json.dumps(out))
"""


def switch_rounds(switch: str, shapes: list, reps: int, epochs: int) -> None:
    """jax_loop's `switch` off and on in one process: each shape compiled `reps` times per setting, alternating,
    then its epoch program run `epochs` times per setting, alternating (see the docstring)."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", SWITCH_CHILD, switch, json.dumps(shapes), str(reps), str(epochs)],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    runs = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"machine: {machine()}")
    print(f"ml-latest-small, jax_loop.{switch} off and on in one process: {reps} compiles of each shape per setting "
          f"and {epochs} epochs after a warm-up, alternating; medians\n")
    print(f"{'shape':<72} {'compile off':>11} {'on':>6} {'ratio':>6} {'s/epoch off':>11} {'on':>6} {'ratio':>6}")
    totals = {"compile": [0.0, 0.0], "epoch": [0.0, 0.0]}
    for shape, run in zip(shapes, runs):
        row = []
        for part in ("compile", "epoch"):
            off, on = median(run[part]["False"]), median(run[part]["True"])
            totals[part][0] += off / len(shapes)
            totals[part][1] += on / len(shapes)
            row.append(f"{off:11.3f} {on:6.3f} {off / on:5.2f}x")
        print(f"{' '.join(shape):<72} {row[0]} {row[1]}")
    print(f"{'mean over shapes':<72} " + " ".join(f"{off:11.3f} {on:6.3f} {off / on:5.2f}x" for off, on in totals.values()))


def run_child(shapes: list, epochs: int, *extra: str, flags: str | None = None) -> dict:
    """Train each shape once in a fresh JAX process; `flags` replace XLA_FLAGS (None: the loop's own), or
    "loop:NAME=0|1,..." set jax_loop's switches under the loop's own XLA flags."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    if flags is not None and flags.startswith("loop:"):
        switches = [item.partition("=") for item in flags[len("loop:"):].split(",") if item]
        env["RECSEARCH_BENCH_LOOP"] = json.dumps({name: value == "1" for name, _, value in switches})
    elif flags is not None:
        env["RECSEARCH_XLA_FLAGS"] = flags
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(shapes), str(epochs), *extra],
                          capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def header(child: dict, text: str) -> None:
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in child["versions"].items()))
    print(text + "\n")


def cache_rounds(shapes: list, epochs: int, processes: int) -> None:
    """Cold then warm processes over one fresh cache folder (see the docstring), with the loop's options."""
    with tempfile.TemporaryDirectory() as folder:
        children = [run_child(shapes, epochs, folder) for _ in range(processes)]
        size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
    header(children[0], f"ml-latest-small, {len(shapes)} mlp shapes, {epochs} epochs, {processes} processes one "
                        f"after the other sharing one empty compile cache ({size / 1e6:.1f} MB after)")
    print(f"{'process':<14} {'compile s/trial':>15} {'vs cold':>8}  valid RMSE per shape")
    cold = None
    for k, child in enumerate(children):
        compile_s = median([r["compile"] for r in child["runs"]])
        cold = compile_s if cold is None else cold
        name = "1 (cold)" if k == 0 else f"{k + 1} (warm)"
        rmses = " ".join(f"{r['valid']:.4f}" for r in child["runs"])
        print(f"{name:<14} {compile_s:15.3f} {cold / compile_s:7.1f}x  {rmses}")


def rotated_runs(shapes: list, epochs: int, rounds: int, variants: list[str]) -> tuple[dict[str, list], dict]:
    """Each variant's runs over `rounds` rounds of one process per variant, the order rotating each round; and
    the last child (for its versions)."""
    runs_of: dict[str, list] = {name: [] for name in variants}
    for r in range(rounds):
        for name in variants[r % len(variants):] + variants[:r % len(variants)]:
            child = run_child(shapes, epochs, flags=VARIANTS[name])
            runs_of[name] += child["runs"]
    return runs_of, child


def ranking_rounds(shapes: list, *, rounds: int, epochs: int, variants: list[str]) -> None:
    """Whole ranking trials (Keras fit + ranking evaluation) per variant, one process per variant and round."""
    runs_of, child = rotated_runs(shapes, epochs, rounds, variants)
    header(child, f"ml-latest-small, ranking (leave-one-out), {len(shapes)} shapes, {epochs} epochs each, one process "
                  f"per variant and round, {rounds} round(s) alternating; medians over rounds")
    print(f"{'variant':<20} {'epoch 1 s':>9} {'s/epoch':>8} {'trial s':>8} {'vs first':>8}  trial s per shape; "
          f"valid NDCG@10 per shape")
    base = None
    for name in variants:
        runs = runs_of[name]
        per_shape = [median([r["total"] for r in runs if r["shape"] == k]) for k in range(len(shapes))]
        trial = sum(per_shape) / len(per_shape)
        base = trial if base is None else base
        values = " ".join(f"{median([r['valid'] for r in runs if r['shape'] == k]):.4f}" for k in range(len(shapes)))
        first, per_epoch = median([r["first"] for r in runs]), median([e for r in runs for e in r["epochs"]])
        print(f"{name:<20} {first:9.3f} {per_epoch:8.3f} {trial:8.3f} {base / trial:7.2f}x  "
              f"{' '.join(f'{t:.2f}' for t in per_shape)}; {values}")
    print("\ntrial s: the mean over shapes of each shape's median wall time for train() (epochs and evaluation); "
          "shapes: " + "; ".join(f"{k + 1}: {' '.join(shape)}" for k, shape in enumerate(shapes)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 shapes, 1 round, 3 epochs (about two minutes)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    parser.add_argument("--epochs-per-trial", type=float, default=4.25)
    parser.add_argument("--cache", action="store_true", help="cold vs warm persistent compile cache instead")
    parser.add_argument("--task", choices=["rating", "ranking"], default="rating",
                        help="ranking: Keras fit's programs (whole trials), XLA defaults against the legacy emitters")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=FLAGS",
                        help="one more variant: its name and the XLA_FLAGS of its processes (repeatable)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help="measure only these variants, the first the baseline (repeatable)")
    parser.add_argument("--switch", metavar="NAME", help="instead: jax_loop's switch NAME (e.g. HASHED_DROPOUT) off "
                        "and on, compiles and epochs alternating in one process")
    args = parser.parse_args()
    for spec in args.variant:
        name, sep, flags = spec.partition("=")
        if not sep or not name.strip():
            parser.error(f"--variant {spec!r}: give NAME=FLAGS, e.g. 'vector width 128=--xla_cpu_prefer_vector_width=128'")
        VARIANTS[name.strip()] = flags.strip()
    unknown = [name for name in args.only if name not in VARIANTS]
    if unknown:
        parser.error(f"--only {unknown[0]!r}: not a variant; there are {', '.join(repr(n) for n in VARIANTS)}")
    if args.only:
        chosen = {name: VARIANTS[name] for name in args.only}
        VARIANTS.clear()
        VARIANTS.update(chosen)
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    shapes, rounds, epochs = (SHAPES[:2], 1, 3) if args.quick else (SHAPES, 3, 5)
    if args.task == "ranking":
        ranking_rounds(RANKING_SHAPES[:2] if args.quick else RANKING_SHAPES, rounds=1 if args.quick else 2,
                       epochs=4, variants=args.only or ["XLA defaults", "no fusion emitters"])
        return
    if args.cache:
        cache_rounds(shapes, epochs, 2 if args.quick else 3)
        return
    if args.switch:
        switch_rounds(args.switch, shapes if args.quick else SHAPES + SWITCH_SHAPES, 2 if args.quick else 4,
                      3 if args.quick else 6)
        return
    runs_of, child = rotated_runs(shapes, epochs, rounds, list(VARIANTS))
    header(child, f"ml-latest-small, {len(shapes)} mlp shapes, {epochs} epochs, one process per variant and "
                  f"round, {rounds} round(s) alternating; medians over shapes and rounds")
    base = None
    per_shape = " ".join(f"{f'shape {k + 1}':>8}" for k in range(len(shapes)))
    print(f"{'variant':<20} {'compile s':>9} {'s/epoch':>8} {'trial s':>8} {'vs defaults':>11} {'valid RMSE':>10}  "
          f"compile s: {per_shape}")
    for name in VARIANTS:
        runs = runs_of[name]
        shapes_s = " ".join(f"{median([r['compile'] for r in runs if r['shape'] == k]):8.3f}"
                            for k in range(len(shapes)))
        compile_s = median([r["compile"] for r in runs])
        per_epoch = median([e for r in runs for e in r["epochs"]])
        trial = compile_s + args.epochs_per_trial * per_epoch
        base = trial if base is None else base
        rmse = median([r["valid"] for r in runs])
        print(f"{name:<20} {compile_s:9.3f} {per_epoch:8.3f} {trial:8.3f} {base / trial:10.2f}x {rmse:10.4f}  "
              f"           {shapes_s}")
    print(f"\ntrial s = compile + {args.epochs_per_trial} x s/epoch (epochs of an average pruned trial); shapes: "
          + "; ".join(f"{k + 1}: {' '.join(shape)}" for k, shape in enumerate(shapes)))


if __name__ == "__main__":
    main()
