"""The issue's sweep: a TPE study of `mlp` (or `--model`) with median pruning on ml-latest-small; prints wall
time and RMSE.

Full: 20 trials (target on 2 cores: under 10 minutes, best validation RMSE <= 0.87).
Quick: 6 trials, about a minute or two. Also prints the per-trial cost outside `fit`, averaged over the
sweep's trials, from the `timing` each trial records (config, build, JAX compilation, evaluation, bookkeeping) and the gap
between one trial's end and the next one's start in a worker (tell, model saving, session clearing, sampling).
Usage: python benchmarks/bench_sweep.py [--quick] [--workers N] [--backend tensorflow|jax] [--model NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--model", default="mlp", help="model family swept, with its default search space (default mlp)")
    parser.add_argument("--backend", choices=["tensorflow", "jax"], default=None,
                        help="train.backend for the sweep (default: recsearch's default)")
    parser.add_argument("--data-dir", default=os.environ.get("RECSEARCH_DATA_DIR", "../shared/datasets"))
    args = parser.parse_args()
    os.environ["RECSEARCH_DATA_DIR"] = str(Path(args.data_dir).resolve())
    os.environ.setdefault("RECSEARCH_RESULTS_DIR", tempfile.mkdtemp(prefix="bench-sweep-"))
    n_trials = 6 if args.quick else 20
    import pandas as pd

    from recsearch.search.sweep import run_sweep

    print(f"machine: {machine()}")
    overrides = [f"model={args.model}", f"search.n_trials={n_trials}", "search.sampler=tpe", "search.pruner=median",
                 f"search.n_workers={args.workers}", "search.seed=0", f"search.study_name=bench-{time.time_ns()}",
                 "train.compile_cache=false"]  # cold, as a first sweep (compile_options.py --cache measures reuse)
    if args.backend:
        overrides.append(f"train.backend={args.backend}")
    print("recsearch sweep " + " ".join(overrides))
    start = time.perf_counter()
    report = run_sweep(overrides, show_progress=False)
    wall = time.perf_counter() - start
    frame = pd.read_parquet(report.folder / "trials.parquet")
    best = frame[frame["state"] == "COMPLETE"].sort_values("value").iloc[0]
    counts = frame["state"].value_counts().to_dict()
    print(f"trials: {counts}")
    print(f"wall time: {wall:.1f} s ({wall / 60:.2f} min), {n_trials / (wall / 3600):.0f} trials/hour")
    print(f"best validation RMSE: {best['value']:.4f} (trial {int(best['number'])}), "
          f"its test RMSE: {best['test_rmse']:.4f}")
    print(f"results: {report.folder}")
    print_fixed_costs(report)


def print_fixed_costs(report) -> None:
    """Mean seconds per trial outside `fit`, split as each trial recorded it, plus the worker's between-trials gap."""
    import pandas as pd

    from recsearch.api import load_study

    study = load_study(report.folder).study  # the optuna.Study
    done = [t for t in study.trials if t.datetime_complete is not None and "timing" in t.user_attrs]
    frame = pd.DataFrame([{**t.user_attrs["timing"], "pid": t.user_attrs.get("pid"), "start": t.datetime_start,
                           "end": t.datetime_complete} for t in done]).sort_values("start")
    gaps = (frame.groupby("pid")["start"].shift(-1) - frame["end"]).dt.total_seconds().dropna()
    parts = {"config": frame["config_s"].mean(), "build": frame["build_s"].mean(),
             "compile (JAX)": frame["compile_s"].mean() if "compile_s" in frame else 0.0,
             "evaluation": frame["eval_s"].mean(), "bookkeeping": frame["bookkeeping_s"].mean(),
             "between trials": gaps.mean() if len(gaps) else float("nan")}
    print(f"fixed cost per trial outside fit, mean over {len(frame)} trials: {sum(parts.values()):.3f} s = "
          + " + ".join(f"{k} {v:.3f}" for k, v in parts.items())
          + f"; in fit: {frame['fit_s'].mean():.2f} s (epochs; on TensorFlow also its tracing)")


if __name__ == "__main__":
    main()
