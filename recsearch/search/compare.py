"""Equal-budget comparison: one study per model variant (same split, trial budget, sampler seed and pruner),
then comparison.csv / comparison.md and baselines.csv in results/<experiment>/.

Example: `recsearch sweep +experiment=compare_variants` (compare.variants set by the experiment).
"""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd

from recsearch.errors import ConfigError

COLUMNS = ["variant", "kind", "task", "metric", "valid", "test", "second_metric", "second_valid", "second_test",
           "trials_complete", "trials_pruned", "trials_failed", "wall_seconds", "n_params", "best_trial", "study"]
COUNTS = ["trials_complete", "trials_pruned", "trials_failed", "n_params", "best_trial"]


def second_metric(task: str, metric: str) -> str:
    """The metric shown next to the selection metric: MAE beside RMSE, HR@K beside NDCG@K, NDCG@K beside others."""
    if task == "rating":
        return "mae" if metric == "rmse" else "rmse"
    k = metric.split("@")[1] if "@" in metric else "10"
    return f"hr@{k}" if metric.startswith("ndcg") else f"ndcg@{k}"


def variant_overrides(overrides: list[str], variant: str, prefix: str | None = None) -> list[str]:
    """The sweep overrides of one variant: its model, its default search space and its own study, named after
    the variant (`<prefix>-<variant>` when the comparison's search.study_name is set: a new set of studies)."""
    name = f"{prefix}-{variant}" if prefix else variant
    return [*overrides, f"model={variant}", f"search_space={variant}", f"search.study_name={name}"]


def run_comparison(overrides: list[str], *, show_progress: bool = True) -> int:
    """Run one sweep per `compare.variants`, then write the comparison tables; return the exit code."""
    from recsearch.config import compose_config
    from recsearch.models.registry import model_spec
    from recsearch.search.sweep import SweepInterrupted, run_sweep

    cfg = compose_config(overrides)
    variants, prefix = list(cfg.compare.variants), cfg.search.study_name
    for variant in variants:
        if cfg.task.name not in model_spec(variant).tasks:
            raise ConfigError(f"compare.variants: model {variant!r} does not support task {cfg.task.name!r}")
    rows, code = [], 0
    for k, variant in enumerate(variants, start=1):
        print(f"variant {variant} ({k}/{len(variants)}): model={variant}, search_space={variant}", flush=True)
        try:
            run_sweep(variant_overrides(overrides, variant, prefix), show_progress=show_progress)
        except SweepInterrupted:
            code = 130
        rows.append(study_row(compose_config(variant_overrides(overrides, variant, prefix)), variant))
        if code:
            break
    write_comparison(cfg, rows, variants)
    if code:
        from recsearch.training.run import experiment_dir

        print(f"interrupted: finished trials are kept in each variant's study under {experiment_dir(cfg)}; run the "
              "same command to resume", flush=True)
    return code


def study_row(cfg: Any, variant: str) -> dict[str, Any]:
    """The comparison row of one variant's study: best validation value and the selected trial's test value.

    Wall time is the span from the study's first trial start to its last trial end (resumes included).
    """
    import optuna

    from recsearch.results.study_tables import best_trial, failed_count, trials_frame
    from recsearch.search.storage import open_storage, storage_url, study_dir, study_name
    from recsearch.search.sweep import TRIAL_SETTING

    folder = study_dir(cfg)
    study = optuna.load_study(study_name=study_name(cfg), storage=open_storage(storage_url(cfg, folder)))
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    best = best_trial(study)
    metric = str(cfg.task.metric)
    second = second_metric(cfg.task.name, metric)
    attrs = best.user_attrs if best is not None else {}
    return {
        "variant": variant, "kind": "search", "task": cfg.task.name, "metric": metric,
        "valid": attrs.get(f"valid_{metric}"), "test": attrs.get(f"test_{metric}"),
        "second_metric": second, "second_valid": attrs.get(f"valid_{second}"), "second_test": attrs.get(f"test_{second}"),
        "trials_complete": states.count("COMPLETE"), "trials_pruned": states.count("PRUNED"),
        "trials_failed": failed_count(trials_frame(study)), "wall_seconds": _span_seconds(study), "n_params": attrs.get("n_params"),
        "best_trial": best.number if best is not None else None, "study": str(folder),
        "train_setting": {k: v for k, v in (study.user_attrs.get(TRIAL_SETTING) or {}).items()
                          if k.startswith("train.")},  # for `settings_note`, not a column
    }


def _span_seconds(study: Any) -> float | None:
    """Seconds during which at least one of the study's trials ran (resumed runs' idle time left out)."""
    from recsearch.results.leaderboard import running_seconds

    seconds = running_seconds((t.datetime_start, t.datetime_complete) for t in study.get_trials(deepcopy=False))
    return None if seconds is None else round(seconds, 1)


def baseline_table(cfg: Any) -> pd.DataFrame:
    """baselines.csv rows (variant, task, metric, valid, test) for the config's data, split and task."""
    from recsearch.baselines import baseline_rows
    from recsearch.training.run import prepare_for

    return pd.DataFrame(baseline_rows(prepare_for(cfg), cfg.task), columns=["variant", "task", "metric", "valid",
                                                                             "test"])


def comparison_frame(cfg: Any, rows: list[dict[str, Any]], baselines: pd.DataFrame | None) -> pd.DataFrame:
    """Search rows and the baselines' rows for the task metric, best first."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if baselines is not None and len(baselines):
        base = baselines[baselines["metric"] == cfg.task.metric].assign(kind="baseline")
        second = second_metric(cfg.task.name, str(cfg.task.metric))
        extra = baselines[baselines["metric"] == second].set_index("variant")
        base = base.assign(second_metric=second, second_valid=base["variant"].map(extra["valid"]),
                           second_test=base["variant"].map(extra["test"]))
        frame = pd.concat([frame, base.reindex(columns=COLUMNS)], ignore_index=True) if len(frame) else \
            base.reindex(columns=COLUMNS)
    frame[COUNTS] = frame[COUNTS].astype("Int64")
    ascending = cfg.task.direction == "minimize"
    return frame.sort_values("valid", ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)


def comparison_stem(cfg: Any) -> str:
    """`comparison`, or `comparison-NAME` for the set of studies `NAME-<variant>` that the comparison's own
    search.study_name starts: a second set beside the first keeps the first set's tables (the report shows each)."""
    return f"comparison-{cfg.search.study_name}" if cfg.search.study_name else "comparison"


def write_comparison(cfg: Any, rows: list[dict[str, Any]], variants: list[str] | None = None) -> pd.DataFrame:
    """Write comparison.csv, comparison.md (`comparison_stem`) and (with compare.baselines) baselines.csv; print
    the table.
    `variants`: every variant of the comparison (those without a row were not run: interrupted)."""
    from recsearch.fileio import atomic_write_frame, atomic_write_text
    from recsearch.results.markdown import markdown_table
    from recsearch.results.study_tables import search_method
    from recsearch.training.run import experiment_dir

    folder = experiment_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    baselines = baseline_table(cfg) if cfg.compare.baselines else None
    if baselines is not None:
        atomic_write_frame(folder / "baselines.csv", baselines)
    frame = comparison_frame(cfg, rows, baselines)
    stem = comparison_stem(cfg)
    atomic_write_frame(folder / f"{stem}.csv", frame)
    title = (f"# Equal-budget comparison: {cfg.data.name}, split={cfg.split.method}, task={cfg.task.name}, "
             f"{cfg.search.n_trials} trials per variant, {search_method(cfg.search)} (seed {cfg.search.seed})"
             f"\n\n`valid` is the best validation {cfg.task.metric}; `test` is the test "
             f"{cfg.task.metric} of that selected trial; `second_*` are another metric of the same trial.\n\n")
    shown = markdown_table(_readable(frame.drop(columns=["study"])))
    note = over_budget_note(rows, int(cfg.search.n_trials)) or short_budget_note(rows, variants or [],
                                                                                  int(cfg.search.n_trials))
    note = "; ".join(n for n in (note, settings_note(rows)) if n) or None
    atomic_write_text(folder / f"{stem}.md", title + (f"**Note:** {note}\n\n" if note else "") + shown + "\n")
    print(shown)
    print(f"results: {folder / f'{stem}.md'} (and {stem}.csv; each variant's study in its folder there)")
    if note:
        print(f"recsearch: note: {note}", file=sys.stderr)
    return frame


def over_budget_note(rows: list[dict[str, Any]], n_trials: int) -> str | None:
    """What makes the comparison unequal, when a variant's study holds more finished trials than this budget
    (kept from an earlier run with a larger search.n_trials, which a smaller budget does not remove)."""
    finished = {r["variant"]: int(r["trials_complete"] or 0) + int(r["trials_pruned"] or 0) for r in rows
                if r.get("kind") == "search"}
    over = [(variant, count) for variant, count in finished.items() if count > n_trials]
    if not over:
        return None
    listed = ", ".join(f"{variant} {count}" for variant, count in over)
    return (f"not an equal budget: finished trials {listed}, more than this run's {n_trials} per variant (their "
            f"studies keep an earlier, larger run); compare afresh with search.study_name=NAME (studies NAME-<variant>) "
            f"or another results folder (RECSEARCH_RESULTS_DIR=...), or run with search.n_trials of at least the "
            f"largest count")


def settings_note(rows: list[dict[str, Any]]) -> str | None:
    """What makes the comparison unequal, when the variants' studies train with other settings (`train.*` that
    no variant searches): a re-run with another `train.epochs` keeps the variants it finished before."""
    import json

    settings = {r["variant"]: r.get("train_setting") or {} for r in rows if r.get("kind") == "search"}
    if len(settings) < 2:
        return None
    shared = set.intersection(*(set(s) for s in settings.values()))
    differ = [k for k in sorted(shared)
              if len({json.dumps(s[k], sort_keys=True, default=str) for s in settings.values()}) > 1]
    if not differ:
        return None
    listed = "; ".join(f"{k} " + ", ".join(f"{s[k]} ({v})" for v, s in settings.items()) for k in differ[:3])
    return (f"not an equal setting: {listed}; the studies of an earlier run are kept, so compare afresh with "
            "search.study_name=NAME (studies NAME-<variant>)")


def short_budget_note(rows: list[dict[str, Any]], variants: list[str], n_trials: int) -> str | None:
    """What makes the comparison unequal, when a variant was not run or finished fewer trials than the budget
    (an interrupted comparison; a variant whose trials kept failing)."""
    finished = {r["variant"]: int(r["trials_complete"] or 0) + int(r["trials_pruned"] or 0) for r in rows
                if r.get("kind") == "search"}
    short = [f"{v} {finished[v]}" if v in finished else f"{v} 0 (not run)" for v in variants
             if finished.get(v, -1) < n_trials]
    if not short:
        return None
    return (f"not an equal budget yet: finished trials {', '.join(short)}, of {n_trials} per variant (interrupted, "
            "or its trials kept failing); run the same command to finish the comparison")


def _readable(frame: pd.DataFrame) -> pd.DataFrame:
    """The comparison as comparison.md shows it: wall_seconds as seconds with one decimal (`2.1`, not `2.1000`);
    comparison.csv keeps the number."""
    seconds = frame["wall_seconds"].map(lambda s: "" if pd.isna(s) else f"{float(s):,.1f}")
    return frame.assign(wall_seconds=seconds)
