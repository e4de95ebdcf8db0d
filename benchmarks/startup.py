"""What a sweep worker pays before its first trial: the start-up of a fresh process, step by step.

Every sweep worker, and every `recsearch train`, `reproduce` or `recommend`, starts a Python process that
imports the frameworks before it trains anything; on a 20-trial sweep of 2 cores this start-up is a few
seconds of a minute. Each round starts one fresh process per variant (alternating, A B A B ...) that does
what `recsearch.search.worker.worker_process` does first, and prints the median seconds of each step:
  python    the rest: the interpreter's start and exit, and `import recsearch.config`
  compose   composing and validating the `mlp` config
  numpy     importing NumPy; ml_dtypes: importing ml_dtypes (JAX's and TensorFlow's extra dtypes)
  keras     `setup_for` (the backend, XLA flags, `import keras` with JAX, and whatever Keras imports then)
  data      parsing the search space and loading the prepared split
  total     the process from start to exit, seen from this script
and which heavy optional packages the process ended up importing (scikit-learn: Keras's scikit-learn
wrappers import it whenever it is installed).
The processes are set up as recsearch's own (the CLI, sweep workers: `keep_keras_lean`, Keras without its
scikit-learn wrappers), or with --as-library NAME as a library user's (Keras as it is). Variants: `NAME=DIRS`
puts DIRS (os.pathsep-separated) before the installed packages, e.g. another version of one package
installed with `pip install --no-deps --target DIR pkg==X`. The default: the installed packages, set up as
recsearch's own process against a library user's. --data-dir defaults to RECSEARCH_DATA_DIR.
Usage: python benchmarks/startup.py [--quick] [--rounds N] [--variant 'NAME=DIRS' ...] [--as-library NAME ...]
                                   [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, median  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STEPS = ("python", "compose", "numpy", "ml_dtypes", "keras", "data", "total")
WATCHED = ("sklearn", "tensorflow", "torch", "pandas")

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
out = {}
def lap(name):
    global t0
    now = time.perf_counter(); out[name] = now - t0; t0 = now
from recsearch.config import compose_config
lap("_")
cfg = compose_config(["model=mlp"])
lap("compose")
import numpy
lap("numpy")
import ml_dtypes
lap("ml_dtypes")
from recsearch.training.backend import keep_keras_lean, setup_for
if sys.argv[1] == "lean":  # as recsearch's own processes (CLI, sweep workers) do
    keep_keras_lean()
setup_for(cfg, threads=1)
import keras
lap("keras")
from recsearch.search.parse import parse_space
from recsearch.training.run import prepare_for
parse_space(cfg.search_space, cfg)
prepare_for(cfg)
lap("data")
out["versions"] = {"ml_dtypes": ml_dtypes.__version__, "numpy": numpy.__version__, "keras": keras.__version__}
out["imported"] = [m for m in %r if m in sys.modules]
print(json.dumps(out))
""" % (WATCHED,)


def run_child(dirs: str, env: dict[str, str], library: bool = False) -> dict:
    """One fresh process with `dirs` ahead of the installed packages; its step times and what it imported.
    `library`: set up as a library user's process (Keras as it is), not as recsearch's own."""
    path = os.pathsep.join(filter(None, [dirs, str(REPO), env.get("PYTHONPATH", "")]))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "library" if library else "lean"], capture_output=True, text=True,
                          env={**env, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"})
    total = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stderr[-3000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out.pop("_")  # "python": the rest (interpreter start and exit, `import recsearch.config`)
    out["python"] = total - sum(out[s] for s in STEPS if s not in ("python", "total"))
    out["total"] = total
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=DIRS")
    parser.add_argument("--as-library", action="append", default=[], metavar="NAME",
                        help="set variant NAME up as a library user's process (Keras as it is)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR"))
    args = parser.parse_args()
    rounds = 3 if args.quick else args.rounds
    variants = dict(v.split("=", 1) for v in args.variant) or {"recsearch's own": "", "library user's": ""}
    library = set(args.as_library) if args.variant else {"library user's"}
    env = dict(os.environ)
    if args.data_dir:
        env["RECSEARCH_DATA_DIR"] = args.data_dir
    print(f"machine: {machine()}")
    print(f"rounds: {rounds}, alternating; seconds are medians")
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    run_child(next(iter(variants.values())), env)  # warm the page cache and the prepared-split cache
    for r in range(rounds):
        names = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in names:
            runs[name].append(run_child(variants[name], env, library=name in library))
            print(f"  round {r + 1}: {name}: {runs[name][-1]['total']:.2f} s", flush=True)
    width = max(len(n) for n in variants) + 2
    print("\n" + "variant".ljust(width) + "".join(f"{s:>10}" for s in STEPS) + "   versions / imported")
    for name, rs in runs.items():
        row = "".join(f"{median([r[s] for r in rs]):10.2f}" for s in STEPS)
        info = ", ".join(f"{k} {v}" for k, v in rs[0]["versions"].items())
        print(name.ljust(width) + row + f"   {info}; imported: {', '.join(rs[0]['imported']) or '-'}")
    if len(runs) > 1:
        first = next(iter(runs))
        base = median([r["total"] for r in runs[first]])
        for name, rs in runs.items():
            print(f"total {name} / {first}: {median([r['total'] for r in rs]) / base:.2f}")


if __name__ == "__main__":
    main()
