"""Per-epoch training time of the default `mlp` under several Keras/TensorFlow settings, side by side.

Each setting runs in its own process (op determinism and XLA are process-wide), alternating A B A B,
and the median seconds per epoch (epochs 2.., so tracing is excluded) and the ratio to the default
are printed. Usage: python benchmarks/bench_train.py [--quick] [--data-dir DIR]
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

SETTINGS = {
    "default (no XLA, steps_per_execution=16, deterministic)": [],
    "steps_per_execution=1": ["train.steps_per_execution=1"],
    "jit_compile=true (determinism off)": ["train.jit_compile=true", "train.deterministic=false"],
    "batch_size=256": ["train.batch_size=256"],
}

CHILD = r"""
import json, sys, time
from recsearch.training.backend import setup_backend
setup_backend("tensorflow")
import keras
from recsearch.config import compose_config
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train

class Timer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): times.append(time.perf_counter() - self.t)

times = []
cfg = compose_config(sys.argv[1:])
result = train(cfg, prepare_for(cfg), callbacks=[Timer()])
print(json.dumps({"epochs": times, "valid_rmse": result.metrics["valid_rmse"]}))
"""


def run_setting(overrides: list[str], epochs: int) -> dict:
    args = [sys.executable, "-c", CHILD, f"train.epochs={epochs}", "train.patience=100", *overrides]
    out = subprocess.run(args, check=True, capture_output=True, text=True, env=os.environ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 epochs, one round (about a minute)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    epochs, rounds = (3, 1) if args.quick else (6, 2)
    print(f"machine: {machine()}")
    print(f"ml-latest-small, random 80/10/10 seed 42, default mlp, {epochs} epochs, {rounds} round(s)\n")
    per_epoch: dict[str, list[float]] = {name: [] for name in SETTINGS}
    rmse: dict[str, float] = {}
    for _ in range(rounds):
        for name, overrides in SETTINGS.items():
            result = run_setting(overrides, epochs)
            per_epoch[name] += result["epochs"][1:]
            rmse[name] = result["valid_rmse"]
    base = median(per_epoch[next(iter(SETTINGS))])
    print(f"{'setting':<58} {'s/epoch':>8} {'ratio':>6} {'valid RMSE':>10}")
    for name in SETTINGS:
        m = median(per_epoch[name])
        print(f"{name:<58} {m:8.3f} {m / base:6.2f} {rmse[name]:10.4f}")


if __name__ == "__main__":
    main()
