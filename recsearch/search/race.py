"""Race search strategies on one model with an equal wall-clock budget, over several seeds.

Each (strategy, seed) is its own resumable study `<strategy>-seed<seed>` in results/<experiment>/; re-running
continues a run that has not used its budget and skips the finished ones. Writes comparison.csv/md (best
validation value reached within the budget: mean and spread over seeds), runs.csv (one row per run),
curves.csv and comparison.html (best validation value against wall time and against trials).

Example: `recsearch sweep +experiment=compare_search`.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd

from recsearch.choices import STRATEGIES
from recsearch.errors import ConfigError, RecsearchError

# strategy -> the search.* overrides that make it (pruning only where the strategy itself prunes)
STRATEGY_OVERRIDES: dict[str, list[str]] = {
    "tpe": ["search.engine=optuna", "search.sampler=tpe", "search.pruner=none"],
    "random": ["search.engine=optuna", "search.sampler=random", "search.pruner=none"],
    "cmaes": ["search.engine=optuna", "search.sampler=cmaes", "search.pruner=none"],
    "gp": ["search.engine=optuna", "search.sampler=gp", "search.pruner=none"],
    "tpe_hyperband": ["search.engine=optuna", "search.sampler=tpe", "search.pruner=hyperband"],
    "kt_random": ["search.engine=kerastuner", "search.tuner=random"],
    "kt_bayesian": ["search.engine=kerastuner", "search.tuner=bayesian"],
    "kt_hyperband": ["search.engine=kerastuner", "search.tuner=hyperband"],
}
assert set(STRATEGY_OVERRIDES) == set(STRATEGIES)
GRID_POINTS = 200
MAX_GAP_SECONDS = 30.0  # without sessions (older studies): a longer pause is a stop and resume
MIN_LEFT_SECONDS = 1.0  # less budget left than this starts no run: no trial finishes in it


def run_overrides(overrides: list[str], strategy: str, seed: int) -> list[str]:
    """The sweep overrides of one (strategy, seed) run."""
    return [*overrides, *STRATEGY_OVERRIDES[strategy], f"search.seed={seed}",
            f"search.study_name={strategy}-seed{seed}"]


def run_race(overrides: list[str], *, show_progress: bool = True) -> int:
    """Run every (strategy, seed) within `compare.budget_seconds`, then write the tables and the plot."""
    from recsearch.config import compose_config
    from recsearch.search.sweep import SweepInterrupted, run_sweep

    cfg = compose_config(overrides)
    strategies, seeds, budget = list(cfg.compare.strategies), list(cfg.compare.seeds), float(cfg.compare.budget_seconds)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not seeds or budget <= 0:
        raise ConfigError(f"compare.strategies: {unknown} not in {', '.join(STRATEGIES)}" if unknown else
                          "compare.seeds must list at least one seed and compare.budget_seconds must be > 0")
    runnable = [s for s in strategies if _available(compose_config(run_overrides(overrides, s, seeds[0])), s)]
    for seed in seeds:  # seed by seed, every strategy in turn: a machine's load drift hits all strategies alike
        for strategy in runnable:
            run = run_overrides(overrides, strategy, seed)
            left = budget - (_elapsed(compose_config(run)) or 0.0)
            if left < MIN_LEFT_SECONDS:  # spent: a re-run of a finished race starts nothing
                continue
            print(f"strategy {strategy}, seed {seed}: {left:.0f} s of its budget left", flush=True)
            try:
                run_sweep([*run, f"search.timeout={left}"], show_progress=show_progress)
            except SweepInterrupted:
                write_race(cfg, overrides, runnable, seeds, interrupted=True)
                from recsearch.training.run import experiment_dir

                print(f"interrupted: finished trials are kept in each run's study under {experiment_dir(cfg)}; run "
                      "the same command to resume", flush=True)
                return 130
    write_race(cfg, overrides, runnable, seeds)
    return 0


def _available(cfg: Any, strategy: str) -> bool:
    """False (with one line on stderr) when a strategy needs a package that is not installed."""
    from recsearch.search.engine import make_sampler
    from recsearch.search.kt.engine import check_engine
    from recsearch.search.parse import parse_space

    try:
        check_engine(cfg)
        make_sampler(cfg.search, parse_space(cfg.search_space, cfg))
    except RecsearchError as exc:
        if "pip install" not in str(exc):
            raise
        print(f"recsearch: compare: skipping strategy {strategy}: {exc}", file=sys.stderr)
        return False
    return True


def _trials(cfg: Any) -> list[Any]:
    """The finished trials of a run's study (none when it has not started)."""
    import optuna

    from recsearch.search.storage import JOURNAL, open_storage, study_dir, study_name

    folder = study_dir(cfg)
    if not (folder / JOURNAL).is_file():
        return []
    study = optuna.load_study(study_name=study_name(cfg), storage=open_storage(str(folder / JOURNAL)))
    return [t for t in study.get_trials(deepcopy=False) if t.datetime_start and t.datetime_complete]


def _elapsed(cfg: Any) -> float | None:
    """Wall clock the run has used so far (see `run_clock`)."""
    trials = sorted(_trials(cfg), key=lambda t: t.datetime_complete)
    return run_clock(trials)[-1] if trials else None


def run_clock(trials: list[Any]) -> list[float]:
    """Seconds of the run's clock at the end of each trial (sorted by end): trial durations plus the time
    between trials of one run of the command (the sampler's own work), not the time between a run that was
    stopped and the one that resumed it (other strategies ran meanwhile). Trials tell their run by the sweep
    session they record; for trials without one, a pause over MAX_GAP_SECONDS is taken for such a stop."""
    clock, last, previous, out = 0.0, None, None, []
    for t in trials:
        start = t.datetime_start if last is None else max(t.datetime_start, last)
        gap = 0.0 if last is None else (start - last).total_seconds()
        session, before = t.user_attrs.get("session"), previous.user_attrs.get("session") if previous else None
        same_run = session == before if session is not None or before is not None else gap <= MAX_GAP_SECONDS
        clock += (gap if same_run else 0.0) + (t.datetime_complete - start).total_seconds()
        last, previous = t.datetime_complete, t
        out.append(clock)
    return out


def run_curve(cfg: Any, budget: float) -> pd.DataFrame:
    """Best validation value so far after each trial that ended within the budget: trial, seconds, best."""
    trials = sorted(_trials(cfg), key=lambda t: t.datetime_complete)
    if not trials:
        return pd.DataFrame(columns=["trial", "seconds", "value", "best", "best_test"])
    sign = 1.0 if cfg.task.direction == "minimize" else -1.0
    rows, best, best_test = [], np.inf, np.nan
    for k, (t, seconds) in enumerate(zip(trials, run_clock(trials)), start=1):
        if seconds > budget:
            break
        if t.state.name == "COMPLETE" and t.values and sign * t.values[0] < best:
            best, best_test = sign * t.values[0], t.user_attrs.get(f"test_{cfg.task.metric}", np.nan)
        rows.append({"trial": k, "seconds": seconds, "value": t.values[0] if t.values else np.nan,
                     "best": sign * best if np.isfinite(best) else np.nan, "best_test": best_test})
    return pd.DataFrame(rows)


def race_frames(cfg: Any, overrides: list[str], strategies: list[str],
                seeds: list[int]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(runs: one row per strategy and seed, comparison: one row per strategy, curves: every run's curve)."""
    from recsearch.config import compose_config
    from recsearch.search.storage import study_dir

    budget = float(cfg.compare.budget_seconds)
    runs, curves = [], []
    for strategy in strategies:
        for seed in seeds:
            run_cfg = compose_config(run_overrides(overrides, strategy, seed))
            curve = run_curve(run_cfg, budget).assign(strategy=strategy, seed=seed)
            curves.append(curve)
            last = curve.iloc[-1] if len(curve) else {"best": np.nan, "best_test": np.nan}
            runs.append({"strategy": strategy, "seed": seed, "trials": len(curve), "best_valid": last["best"],
                         "selected_test": last["best_test"], "study": str(study_dir(run_cfg))})
    runs_frame = pd.DataFrame(runs)
    grouped = runs_frame.groupby("strategy", sort=False)
    comparison = pd.DataFrame({
        "strategy": list(grouped.groups), "seeds": grouped["seed"].count().values,
        "best_valid_mean": grouped["best_valid"].mean().values, "best_valid_std": grouped["best_valid"].std().values,
        "best_valid_min": grouped["best_valid"].min().values, "best_valid_max": grouped["best_valid"].max().values,
        "selected_test_mean": grouped["selected_test"].mean().values, "trials_mean": grouped["trials"].mean().values,
    })
    ascending = cfg.task.direction == "minimize"
    comparison = comparison.sort_values("best_valid_mean", ascending=ascending, na_position="last")
    comparison = comparison.reset_index(drop=True)
    return runs_frame, comparison, pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()


def spread_over_seeds(curves: pd.DataFrame, axis: str, grid: np.ndarray) -> pd.DataFrame:
    """Per strategy and grid point on `axis` (seconds or trial): mean, min and max of the best-so-far over seeds."""
    rows = []
    for strategy, part in curves.groupby("strategy", sort=False):
        per_seed = []
        for _, run in part.groupby("seed"):
            run = run.sort_values(axis)
            idx = np.searchsorted(run[axis].to_numpy(), grid, side="right") - 1
            best = run["best"].to_numpy()
            per_seed.append(np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan))
        stack = np.vstack(per_seed)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, low, high = np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0)
        rows.append(pd.DataFrame({"strategy": strategy, axis: grid, "mean": mean, "min": low, "max": high}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def race_figure(by_time: pd.DataFrame, by_trial: pd.DataFrame, metric: str) -> Any:
    """Two panels: best validation metric against wall time and against trials; mean line, min-max band."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("against wall time", "against trials"))
    for k, strategy in enumerate(dict.fromkeys(by_time["strategy"])):
        color = qualitative.Plotly[k % len(qualitative.Plotly)]
        for col, (frame, axis) in enumerate(((by_time, "seconds"), (by_trial, "trial")), start=1):
            part = frame[frame["strategy"] == strategy].dropna(subset=["mean"])
            fig.add_trace(go.Scatter(x=list(part[axis]) + list(part[axis][::-1]),
                                     y=list(part["max"]) + list(part["min"][::-1]), fill="toself", opacity=0.15,
                                     line={"width": 0, "color": color}, hoverinfo="skip", showlegend=False,
                                     legendgroup=strategy), row=1, col=col)
            fig.add_trace(go.Scatter(x=part[axis], y=part["mean"], name=strategy, legendgroup=strategy,
                                     line={"color": color, "shape": "hv"}, showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="seconds", row=1, col=1)
    fig.update_xaxes(title_text="trials", row=1, col=2)
    fig.update_yaxes(title_text=f"best validation {metric} (mean over seeds, band: min-max)", row=1, col=1)
    fig.update_layout(title="Search strategies, equal wall-clock budget", template="plotly_white", height=480)
    return fig


INTERRUPTED_NOTE = ("interrupted before every run had used its budget: the runs not finished are compared on less "
                    "time; run the same command to finish the race")


def write_race(cfg: Any, overrides: list[str], strategies: list[str], seeds: list[int], *,
               interrupted: bool = False) -> pd.DataFrame:
    """Write comparison.csv/md, runs.csv, curves.csv and comparison.html; print the comparison table (with a
    note when the race was `interrupted`)."""
    from recsearch.fileio import atomic_write_frame, atomic_write_text
    from recsearch.results.markdown import markdown_table
    from recsearch.training.run import experiment_dir

    folder = experiment_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    runs, comparison, curves = race_frames(cfg, overrides, strategies, seeds)
    atomic_write_frame(folder / "runs.csv", runs)
    atomic_write_frame(folder / "comparison.csv", comparison)
    atomic_write_frame(folder / "curves.csv", curves)
    budget = float(cfg.compare.budget_seconds)
    title = (f"# Search strategies on `{cfg.model.name}`: {cfg.data.name}, split={cfg.split.method}, "
             f"{budget:g} s of wall clock per run, seeds {', '.join(map(str, seeds))}\n\n"
             f"`best_valid_*` is the best validation {cfg.task.metric} reached within the budget (mean, std, min, max "
             f"over seeds); `selected_test_mean` the test {cfg.task.metric} of the trial each run selected within the "
             "budget; "
             f"`trials_mean` the trials finished within the budget.\n\n")
    note = f"**Note:** {INTERRUPTED_NOTE}\n\n" if interrupted else ""
    shown = markdown_table(comparison.assign(trials_mean=comparison["trials_mean"].map(lambda x: f"{x:.1f}")))
    atomic_write_text(folder / "comparison.md", title + note + shown + "\n")
    if len(curves):
        last = float(curves["trial"].max())
        by_time = spread_over_seeds(curves, "seconds", np.linspace(0, budget, GRID_POINTS))
        by_trial = spread_over_seeds(curves, "trial", np.arange(1, last + 1))
        fig = race_figure(by_time, by_trial, str(cfg.task.metric))
        atomic_write_text(folder / "comparison.html", fig.to_html(include_plotlyjs=True, full_html=True))
    print(shown)
    html = "comparison.html, " if len(curves) else ""
    print(f"results: {folder / 'comparison.md'} (and {html}comparison.csv, runs.csv, curves.csv there)")
    return comparison
