"""Memory across many trials in one process: resident set size after trial 5 and after trial 50 (target:
within 10%), for trials of one architecture shape and for trials of changing shapes (which fill and then
evict the compiled-program cache). Default `mlp` on ml-latest-small, 1 epoch per trial, the backend of
KERAS_BACKEND (default jax), start-up objects frozen and `clear_trial_session()` between trials, as a sweep
worker runs them.
Usage: python benchmarks/leak.py [--quick] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402


def rss_mib() -> float:
    """Resident set size of this process, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 trials per series instead of 50")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    from recsearch.training.backend import backend_versions, setup_backend

    setup_backend(os.environ.get("KERAS_BACKEND", "jax"))
    from recsearch.config import compose_config
    from recsearch.heap import startup_objects_frozen
    from recsearch.search.worker import clear_trial_session
    from recsearch.training.run import prepare_for
    from recsearch.training.trainer import train

    trials = 20 if args.quick else 50
    base = ["train.epochs=1", "model.depth=2", "model.width=64"]
    data = prepare_for(compose_config(base))
    print(f"machine: {machine()}\nversions: {backend_versions()}\n")
    print(f"{'series':<40} {'RSS@5 MiB':>10} {'RSS@' + str(trials) + ' MiB':>11} {'growth':>7}")
    series = {"12 shapes (embedding_dim varies)": lambda k: [f"model.embedding_dim={8 + 4 * (k % 12)}"],
              "one shape (learning rate varies)": lambda k: [f"train.learning_rate={1e-3 * (1 + k % 7)}"]}
    for name, vary in series.items():
        marks = {}
        with startup_objects_frozen():
            for k in range(1, trials + 1):
                train(compose_config([*base, *vary(k)]), data)
                clear_trial_session()
                if k in (5, trials):
                    marks[k] = rss_mib()
        print(f"{name:<40} {marks[5]:10.0f} {marks[trials]:11.0f} {marks[trials] / marks[5] - 1:7.1%}")


if __name__ == "__main__":
    main()
