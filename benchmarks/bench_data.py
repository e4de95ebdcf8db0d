"""Data-layer timings: ml-latest-small cold load+split, cached load, and synthetic generation.

Usage: python benchmarks/bench_data.py [--quick] [--data-dir DIR]
Cold = a fresh, empty cache dir per repetition (imports already warm); cached = median of reloads.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow

from recsearch.config.schema import DataConfig, SplitConfig, SyntheticConfig
from recsearch.data import generate_synthetic, prepare_data


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_movielens(data_dir: Path, repeats: int) -> None:
    """Cold (empty cache) and cached prepare_data on ml-latest-small, random 80/10/10."""
    data_cfg = DataConfig(name="ml-latest-small", format="movielens_csv")
    split_cfg = SplitConfig()
    prepare_data(data_cfg, split_cfg, data_dir=data_dir, cache_dir=None)  # warm imports
    cold, cached = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache_dir:
            cold.append(timed(lambda: prepare_data(data_cfg, split_cfg, data_dir=data_dir, cache_dir=Path(cache_dir))))
            cached += [timed(lambda: prepare_data(data_cfg, split_cfg, data_dir=data_dir, cache_dir=Path(cache_dir))) for _ in range(3)]
    print(f"ml-latest-small cold load+split+cache write: median {statistics.median(cold):.3f} s (n={len(cold)}, target < 3 s)")
    print(f"ml-latest-small cached load:                 median {statistics.median(cached):.3f} s (n={len(cached)}, target < 0.5 s)")


def bench_synthetic(n_ratings: int, repeats: int) -> None:
    """generate_synthetic for n_ratings ratings."""
    cfg = SyntheticConfig(n_users=max(n_ratings // 50, 100), n_items=max(n_ratings // 200, 100), n_ratings=n_ratings, seed=0)
    times = [timed(lambda: generate_synthetic(cfg)) for _ in range(repeats)]
    print(f"synthetic {n_ratings:,} ratings: median {statistics.median(times):.3f} s (n={repeats})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about 10 s)")
    default_dir = os.environ.get("RECSEARCH_DATA_DIR") or str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets")
    parser.add_argument("--data-dir", default=default_dir, help="folder holding ml-latest-small/")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"pandas {pd.__version__}, pyarrow {pyarrow.__version__}")
    if (Path(args.data_dir) / "ml-latest-small" / "ratings.csv").is_file():
        bench_movielens(Path(args.data_dir), repeats)
    else:
        print(f"ml-latest-small not found under {args.data_dir}: skipped")
    bench_synthetic(1_000_000, 2 if args.quick else 5)


if __name__ == "__main__":
    main()
