"""Every model variant trained once with its default config on ml-latest-small (random 80/10/10, seed 42).

Usage: python benchmarks/bench_variants.py [--quick] [--variants mf,gmf] [--data-dir DIR] [-- OVERRIDE ...]
Prints variant, valid/test RMSE, MAE, epochs run, seconds, parameters; baselines first (no training).
--quick caps training at 3 epochs (a smoke run, not a quality figure). Timings are wall clock on this
machine's shared cores (noisy).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ["mf", "gmf", "mlp", "neumf", "deepfm", "two_tower", "autorec"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs per variant")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR",
                                                             str(Path(__file__).resolve().parents[2] / "shared" / "datasets")))
    parser.add_argument("overrides", nargs="*", help="extra config overrides for every variant")
    args = parser.parse_args(argv)
    os.environ["RECSEARCH_DATA_DIR"] = args.data_dir
    os.environ.setdefault("RECSEARCH_CACHE_DIR", tempfile.mkdtemp(prefix="bench-variants-cache-"))

    from recsearch.training.backend import setup_backend

    setup_backend("tensorflow")
    from recsearch.baselines import baseline_metrics
    from recsearch.config import compose_config
    from recsearch.training.run import prepare_for
    from recsearch.training.trainer import train

    extra = ["train.epochs=3"] if args.quick else []
    base_cfg = compose_config([*extra, *args.overrides])
    data = prepare_for(base_cfg)
    rows = []
    for name, m in baseline_metrics(data, base_cfg.task).items():
        rows.append((name, m["valid_rmse"], m["test_rmse"], m["valid_mae"], m["test_mae"], 0, 0.0, 0))
    for variant in args.variants.split(","):
        cfg = compose_config([*extra, *args.overrides, f"model={variant}"])
        start = time.perf_counter()
        r = train(cfg, data)
        m = r.metrics
        rows.append((variant, m["valid_rmse"], m["test_rmse"], m["valid_mae"], m["test_mae"], r.epochs_run,
                     time.perf_counter() - start, r.n_params))
        print(f"done {variant}: test_rmse={m['test_rmse']:.4f} in {time.perf_counter() - start:.1f}s", file=sys.stderr,
              flush=True)
    print(f"\nml-latest-small, split=random 80/10/10 seed 42, defaults{' --quick (3 epochs)' if args.quick else ''}\n")
    print("| variant | valid RMSE | test RMSE | valid MAE | test MAE | epochs | seconds | params |")
    print("|---|---|---|---|---|---|---|---|")
    for v, vr, tr, vm, tm, ep, sec, params in rows:
        print(f"| {v} | {vr:.4f} | {tr:.4f} | {vm:.4f} | {tm:.4f} | {ep} | {sec:.1f} | {params:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
