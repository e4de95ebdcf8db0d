"""Scale benchmark at MovieLens-25M size (synthetic data with ml-25m's shape), printing one table.

Each measurement runs in its own process, so every peak RSS is that step's own. Wall time and CPU time
(user + sys) are both printed: on a shared, loaded machine CPU time is the steadier figure.
Rows: prepare (generate + encode + split + cache write) cold, cached load, one epoch per model family
(seconds, samples/s), RSS after trials 1, 5 and 10 of ten configs trained in one process (as a sweep
worker does), full-ranking and sampled-ranking evaluation of every test user, and a sweep with data
fidelity (successive halving over a growing user sample) against a plain one on the same wall-time budget.

Usage: python benchmarks/scale.py [--quick] [--ratings N] [--only data,train,trials,eval,fidelity] [--models mf,two_tower]
       [--budget SECONDS]
--quick: 1M ratings (users and items scaled with ml-25m's ratios). Default: 25M ratings, 162k users, 59k items.
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
from _common import machine  # noqa: E402

ML25M = (25_000_000, 162_000, 59_000)  # ratings, users, items
MODELS = ("mf", "gmf", "mlp", "neumf", "two_tower", "deepfm", "autorec")

CHILD = r"""
import json, resource, sys, time
args = json.loads(sys.argv[1])
wall0, cpu0 = time.perf_counter(), time.process_time()

def usage():
    return {"wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}

def rss_now():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e6

from recsearch.config import compose_config
from recsearch.training.run import prepare_for
cfg = compose_config(args["overrides"])
out = {}
if args["step"] in ("prepare", "load"):
    data = prepare_for(cfg)
    out = {"train": len(data.train), "users": data.num_users, "items": data.num_items}
else:
    from recsearch.training.backend import setup_backend
    setup_backend(cfg.train.backend)
    import keras
    data = prepare_for(cfg)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if args["step"] == "train":
        from recsearch.training.trainer import train
        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None): self.t = time.perf_counter()
            def on_epoch_end(self, epoch, logs=None): epochs.append(time.perf_counter() - self.t)
        epochs = []
        result = train(cfg, data, callbacks=[Timer()], verbose=0)
        out = {"epoch_s": epochs[0], "samples": len(data.train), "valid": result.metrics}
    elif args["step"] == "trials":
        from recsearch.search.worker import clear_trial_session
        from recsearch.training.trainer import train
        from recsearch.heap import startup_objects_frozen
        rss = {}
        with startup_objects_frozen():  # as a sweep worker runs its trials
            for n in range(1, 11):
                trial_cfg = compose_config(args["overrides"] + [f"train.learning_rate={0.001 * n}", f"train.seed={n}"])
                train(trial_cfg, data, verbose=0)
                clear_trial_session()  # what a sweep worker does after every trial
                if n in (1, 5, 10):
                    rss[n] = rss_now()
        out = {"rss_gb": rss}
    elif args["step"] == "sweep":
        from recsearch.search.sweep import run_sweep
        report = run_sweep(args["overrides"], show_progress=False)
        import pandas as pd
        frame = pd.read_csv(report.folder / "trials.csv")
        done = frame[frame["state"] == "COMPLETE"]
        out = {"best": float(done["value"].min()) if len(done) else None, "counts": report.counts,
               "full_data": int((done.get("fidelity", pd.Series([1.0] * len(done))).fillna(1.0) == 1.0).sum())}
    elif args["step"] == "eval":
        import numpy as np
        from recsearch.models import build_model
        from recsearch.ranking.evaluate import timed_evaluation
        from recsearch.ranking.negatives import pair_keys
        from recsearch.ranking.protocols import full_queries, sampled_queries
        from recsearch.ranking.scoring import model_scorer
        model = build_model(cfg.model, data)
        scorer = model_scorer(model, data.num_items)
        ks = [10]
        full = full_queries(data.test.users, data.test.items, num_items=data.num_items,
                            seen_users=np.concatenate([data.train.users, data.valid.users]),
                            seen_items=np.concatenate([data.train.items, data.valid.items]))
        _, full_s = timed_evaluation(full, scorer, ks=ks, num_items=data.num_items)
        users, first = np.unique(data.test.users, return_index=True)  # one held-out item per user
        start = time.perf_counter()
        every = [data.train, data.valid, data.test]
        known = pair_keys(np.concatenate([p.users for p in every]), np.concatenate([p.items for p in every]),
                          data.num_items)
        sampled = sampled_queries(users, data.test.items[first], known=known, num_items=data.num_items, n=100, seed=0)
        build_s = time.perf_counter() - start
        _, sampled_s = timed_evaluation(sampled, scorer, ks=ks, num_items=data.num_items)
        out = {"full_s": full_s, "full_queries": len(full), "sampled_s": sampled_s, "sampled_build_s": build_s,
               "sampled_queries": len(sampled)}
print(json.dumps({**out, **usage()}))
"""


def child(step: str, overrides: list[str], timeout: float) -> dict:
    """Run one step in a fresh process; its JSON result, or {"error": ...}."""
    cmd = [sys.executable, "-c", CHILD, json.dumps({"step": step, "overrides": overrides})]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=os.environ)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1][:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def data_overrides(n_ratings: int) -> list[str]:
    """synthetic data with ml-25m's users:items:ratings ratios, random 80/10/10 split."""
    ratings, users, items = ML25M
    scale = n_ratings / ratings
    return ["data=synthetic", f"data.synthetic.n_ratings={n_ratings}",
            f"data.synthetic.n_users={max(int(users * scale), 100)}",
            f"data.synthetic.n_items={max(int(items * scale), 100)}"]


def model_overrides(model: str) -> list[str]:
    """One epoch with large batches, as a 25M run is configured (AutoRec: 1024 item rows per step, because a
    step's cost at 25M is dominated by Adam and L2 over the two 162k x 500 kernels, not by the rows)."""
    batch = ["model.row_batch_size=1024"] if model == "autorec" else ["train.batch_size=65536"]
    return [f"model={model}", "train.epochs=1", *batch]


def row(name: str, result: dict, detail: str = "") -> str:
    if "error" in result:
        return f"| {name} | failed: {result['error']} | | | {detail} |"
    return (f"| {name} | {result['wall_s']:.1f} | {result['cpu_s']:.1f} | {result['peak_rss_gb']:.2f} | "
            f"{detail} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1M ratings (about a minute per section)")
    parser.add_argument("--ratings", type=int, help="number of ratings (default 25M, or 1M with --quick)")
    parser.add_argument("--only", default="data,train,trials,eval,fidelity", help="sections to run, comma-separated")
    parser.add_argument("--models", default=",".join(MODELS), help="model families for the train section")
    parser.add_argument("--trials-model", default="mf", help="model of the trials section")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per step")
    parser.add_argument("--budget", type=float, help="wall-time budget of each sweep, fidelity section (60 s with "
                        "--quick, else 600 s)")
    args = parser.parse_args()
    n = args.ratings or (1_000_000 if args.quick else ML25M[0])
    args.budget = args.budget or (60.0 if args.quick else 600.0)
    sections = set(args.only.split(","))
    cache = tempfile.mkdtemp(prefix="recsearch-scale-cache-")
    os.environ["RECSEARCH_CACHE_DIR"] = cache
    base = data_overrides(n)
    print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.1f}")
    print(f"data: {' '.join(base[1:])}; cache {cache}\n")
    print("| step | wall s | CPU s | peak RSS GB | detail |\n|---|---|---|---|---|")
    prepared = child("prepare", base, args.timeout)
    if "data" in sections:
        print(row("prepare (generate, encode, split, cache write)", prepared,
                  f"{prepared.get('train', 0):,} train ratings, {prepared.get('users', 0):,} users, "
                  f"{prepared.get('items', 0):,} items"), flush=True)
        print(row("cached load (memory-mapped)", child("load", base, args.timeout)), flush=True)
    if "eval" in sections:
        for model in ("mf", "two_tower"):
            result = child("eval", base + [f"model={model}", "task=ranking"], args.timeout)
            detail = "" if "error" in result else (
                f"full ranking {result['full_queries']:,} users: {result['full_s']:.1f} s; sampled (100 negatives) "
                f"{result['sampled_queries']:,} users: {result['sampled_s']:.1f} s (+{result['sampled_build_s']:.1f} s sampling)")
            print(row(f"evaluate {model} (ranking, k=10)", result, detail), flush=True)

    if "train" in sections:
        for model in args.models.split(","):
            result = child("train", base + model_overrides(model), args.timeout)
            detail = "" if "error" in result else \
                f"epoch {result['epoch_s']:.1f} s, {result['samples'] / result['epoch_s']:,.0f} samples/s"
            print(row(f"train {model}, 1 epoch (incl. build and evaluation)", result, detail), flush=True)
    if "trials" in sections:
        result = child("trials", base + model_overrides(args.trials_model), args.timeout * 10)
        rss = {} if "error" in result else result["rss_gb"]
        detail = ", ".join(f"trial {k}: {v:.3f} GB" for k, v in rss.items()) + (
            f" ({100 * (rss['10'] / rss['1'] - 1):+.1f}% from trial 1 to 10)" if rss else "")
        print(row(f"10 {args.trials_model} trials in one process: RSS after", result, detail), flush=True)
    if "fidelity" in sections:
        budget = ["model=mf", "train.epochs=3", "train.batch_size=8192", "search.n_trials=1000",
                  f"search.timeout={args.budget}", "search.seed=0"]
        for label, extra in (("plain (no pruning)", ["search.pruner=none"]),
                             ("data fidelity + successive halving", ["search.fidelity=data", "search.n_warmup_steps=1",
                                                                     "search.pruner=successive_halving"])):
            name = "fidelity" if "fidelity=data" in " ".join(extra) else "plain"
            result = child("sweep", base + budget + extra + [f"search.study_name=scale-{name}",
                                                             f"paths.results_dir={cache}/results"], args.timeout)
            detail = "" if "error" in result else (f"best valid RMSE {result['best']:.4f}; trials {result['counts']}; "
                                                   f"{result['full_data']} reached the full data")
            print(row(f"sweep mf, {args.budget:.0f} s budget: {label}", result, detail), flush=True)


if __name__ == "__main__":
    main()
