"""The tables a study writes: trials.parquet / trials.csv, best.yaml, summary.md (and pareto.csv)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from recsearch.fileio import atomic_write_frame, atomic_write_json, atomic_write_text
from recsearch.results.markdown import markdown_table

RATING_METRICS = ("valid_rmse", "valid_mae", "test_rmse", "test_mae")  # columns only where trials record them
ATTR_COLUMNS = (*RATING_METRICS, "epochs_run", "best_epoch", "pruned_at",
                "stalled_at", "duration_s", "n_params", "seed", "config_hash", "fail_reason", "retry_of", "repeat_of",
                "promoted_from", "host", "pid", "fidelity")

COUNT_COLUMNS = ("number", "epochs_run", "best_epoch", "n_params")
WHOLE_COLUMNS = (*COUNT_COLUMNS, "pruned_at", "stalled_at", "seed", "retry_of", "repeat_of", "promoted_from",
                 "pid")  # Int64: 3, not 3.0


def trials_frame(study: Any, objective_names: list[str] | None = None) -> pd.DataFrame:
    """One row per trial: number, state, value(s), every active parameter, curve, metrics, provenance keys."""
    names = objective_names or ["value"] + [f"value_{i}" for i in range(1, len(study.directions))]
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"number": t.number, "state": t.state.name}
        values = t.values or ([t.intermediate_values[max(t.intermediate_values)]]
                              if t.state.name == "PRUNED" and t.intermediate_values else [])
        for i, name in enumerate(names):
            row[name] = values[i] if i < len(values) else None
        row.update({f"params_{k}": v for k, v in t.params.items()})
        row["val_curve"] = [float(v) if v is not None else None for v in t.user_attrs.get("val_curve", [])]
        row.update({k: t.user_attrs.get(k) for k in ATTR_COLUMNS})
        row.update({k: v for k, v in t.user_attrs.items() if k.startswith(("valid_", "test_")) and k not in row})
        row["datetime_start"] = t.datetime_start
        row["datetime_complete"] = t.datetime_complete
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["number", "state", *names, "val_curve", *ATTR_COLUMNS])
    task = (study.user_attrs.get("fingerprint") or {}).get("task")  # a ranking study's are empty: left out
    frame = frame.drop(columns=[c for c in RATING_METRICS
                                if task == "ranking" or (task is None and frame[c].isna().all())])
    for col in set(WHOLE_COLUMNS) & set(frame.columns):  # floats once a trial has none (NaN): counts stay integers
        frame[col] = pd.to_numeric(frame[col], errors="coerce").round().astype("Int64")
    params = sorted(c for c in frame.columns if c.startswith("params_"))
    first = ["number", "state", *names, *params]
    return frame[first + [c for c in frame.columns if c not in first]]


def objective_names(cfg: Any) -> list[str]:
    """Column names of the objective values: the validation metric, then the extra objectives."""
    return ["value"] + [f"value_{name}" for name in cfg.search.objectives]


def failed_count(frame: pd.DataFrame) -> int:
    """`count_failed` over a trials frame."""
    if not len(frame):
        return 0
    repeats = frame["repeat_of"].notna() if "repeat_of" in frame else [False] * len(frame)
    return count_failed(frame["number"], frame["state"], repeats, frame["retry_of"] if "retry_of" in frame else [])


def count_failed(numbers: Iterable[int], states: Iterable[str], repeats: Iterable[bool],
                 retry_of: Iterable[Any]) -> int:
    """Trials that failed as trials, from each trial's number, state, whether it is a sampled repeat and its
    `retry_of`: FAIL, but not a sampled repeat that never trained, nor one stopped by Ctrl-C or a dead worker
    that a later trial re-ran with its parameters (another's `retry_of`). The tables and the live progress
    line count with this."""
    rerun = set(pd.to_numeric(pd.Series(list(retry_of), dtype=object), errors="coerce").dropna().astype(int))
    return sum(state == "FAIL" and not repeat and int(number) not in rerun
               for number, state, repeat in zip(numbers, states, repeats))


HYPERBAND_EPOCHS = "tuner/epochs"  # KerasTuner Hyperband's epoch budget of a trial (its train.epochs), a trial attr
# train keys that say how a trial runs, not what it trains
RUNTIME_ONLY_TRAIN_KEYS = frozenset({"backend", "jit_compile", "compile_cache", "pad_embeddings", "steps_per_execution",
                                     "verbose", "tensorboard", "deterministic", "seed"})


def trial_setting(config: dict[str, Any], searched: Iterable[str]) -> dict[str, Any]:
    """The model and train values of a trial's config (a plain dict) that its study's trials share: not
    searched (nor in a searched config group, `model: choice(mlp, mf)`, nor holding searched keys, a
    hypermodel's `model.hp.<name>`), and not runtime-only."""
    searched = set(searched)
    setting = {}
    for section in ("model", "train"):
        if section in searched:
            continue
        for key, value in (config.get(section) or {}).items():
            dotted = f"{section}.{key}"
            if dotted in searched or any(s.startswith(f"{dotted}.") for s in searched) \
                    or (section == "train" and key in RUNTIME_ONLY_TRAIN_KEYS):
                continue
            setting[f"{section}.{key}"] = value
    return setting


def mixed_settings(study: Any) -> str:
    """'train.epochs 2 (trials 0-4), 3 (trials 5-9)': the shared settings (`trial_setting`) whose value differs
    between the study's finished trials, as when it was resumed with other settings; '' when none. Their
    scores are not comparable as they stand, which a leaderboard of the study must not hide. (The epochs that
    KerasTuner's Hyperband budgets per trial are its search, not a setting.)"""
    import yaml
    from optuna.trial import TrialState

    load = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: about 1 ms a trial's config
    trials = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
              if isinstance(t.user_attrs.get("config"), (str, dict))]  # YAML text as the sweep records it
    searched = {name for t in trials for name in t.params}
    if any(HYPERBAND_EPOCHS in t.user_attrs for t in trials):  # Hyperband gives each trial its epoch budget
        searched.add("train.epochs")
    values: dict[str, dict[str, list[int]]] = {}
    for t in trials:
        config = t.user_attrs["config"]
        config = yaml.load(config, Loader=load) if isinstance(config, str) else config
        for key, value in trial_setting(config if isinstance(config, dict) else {}, searched).items():
            values.setdefault(key, {}).setdefault(json.dumps(value, sort_keys=True, default=str), []).append(t.number)
    mixed = []
    for key, seen in sorted(values.items()):
        if len(seen) > 1:
            mixed.append(f"{key} " + ", ".join(f"{json.loads(v)} (trials {_spans(numbers)})"
                                              for v, numbers in sorted(seen.items(), key=lambda kv: min(kv[1]))))
    return "; ".join(mixed)


def _spans(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0-2, 5, 7-8'."""
    spans, numbers = [], sorted(numbers)
    start = prev = numbers[0]
    for n in numbers[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        spans.append(f"{start}-{prev}" if prev > start else f"{start}")
        if n is not None:
            start = prev = n
    return ", ".join(spans)


def state_counts(frame: pd.DataFrame) -> str:
    """'complete 11, pruned 1, repeated or re-run 4': the trials by state, FAIL counted as `failed_count` counts
    it, and the FAIL rows that are no failure (sampled repeats never trained, stopped trials re-run) apart; the
    sweep's table, summary.md and the report say it alike, as the leaderboard and the progress line count."""
    states = {str(k).lower(): int(v) for k, v in frame["state"].value_counts().items()} if len(frame) else {}
    if states.get("fail"):
        failed = failed_count(frame)
        states["fail"], other = failed, states["fail"] - failed
        states = {k: v for k, v in states.items() if v} | ({"repeated or re-run": other} if other > 0 else {})
    return ", ".join(f"{k} {v}" for k, v in sorted(states.items())) or "none"


def best_trial(study: Any) -> Any | None:
    """The best finished trial; for several objectives, the Pareto trial with the best first value."""
    try:
        if len(study.directions) == 1:
            return study.best_trial
        front = study.best_trials
    except ValueError:
        return None
    sign = 1 if study.directions[0].name == "MINIMIZE" else -1
    return min(front, key=lambda t: sign * t.values[0]) if front else None


BEST_HEADER = re.compile(r"# Best trial (\d+) ")  # best.yaml's first line names its trial


def best_trial_line(study_name: str, best: Any) -> str:
    """The comment that heads a best trial's config (best.yaml's first line: `BEST_HEADER` reads it back)."""
    return f"# Best trial {best.number} of study {study_name}: value = {best.values[0]:.6f}\n"


def best_yaml_text(study: Any, best: Any, folder: Path) -> str:
    """best.yaml: a header naming the trial and how to run it, then the complete config the trial recorded."""
    return (best_trial_line(study.study_name, best)
            + f"# Run it with: recsearch train --config {folder / 'best.yaml'}\n" + best.user_attrs["config"])


def best_yaml_trial(folder: Path) -> int | None:
    """The trial best.yaml was written for (its header), or None without a best.yaml or a header. Another
    process may have finished a better trial since: the study itself says which is best now."""
    try:
        head = (Path(folder) / "best.yaml").read_text(encoding="utf-8").splitlines()[:1]
    except OSError:
        return None
    match = BEST_HEADER.match(head[0]) if head else None
    return int(match.group(1)) if match else None


def write_study_results(study: Any, folder: Path, cfg: Any) -> pd.DataFrame:
    """Write every table of the study atomically; return the trials frame."""
    names = objective_names(cfg)
    frame = trials_frame(study, names)
    atomic_write_frame(folder / "trials.parquet", frame)
    csv = frame.copy()
    csv["val_curve"] = csv["val_curve"].map(lambda c: json.dumps(c) if isinstance(c, list) else "[]")
    atomic_write_frame(folder / "trials.csv", csv)
    best = best_trial(study)
    if best is not None and "config" in best.user_attrs:
        atomic_write_text(folder / "best.yaml", best_yaml_text(study, best, folder))
    if len(study.directions) > 1:
        front = {t.number for t in study.best_trials}
        atomic_write_frame(folder / "pareto.csv", csv[csv["number"].isin(front)])
    atomic_write_text(folder / "summary.md", summary_markdown(study, frame, cfg, names))
    write_provenance(study, folder)
    return frame


def write_provenance(study: Any, folder: Path) -> None:
    """provenance.json: per trial, config, seed, data checksum, split key, versions, device, git commit."""
    from recsearch.provenance import provenance_of

    trials = [t for t in study.get_trials(deepcopy=False) if "config" in t.user_attrs]
    atomic_write_json(folder / "provenance.json", {str(t.number): provenance_of(t) for t in trials})


def top_trials(frame: pd.DataFrame, value: str, direction: str, n: int = 10) -> pd.DataFrame:
    """The `n` best COMPLETE trials by `value`."""
    done = frame[frame["state"] == "COMPLETE"]
    return done.sort_values(value, ascending=direction == "minimize").head(n)


def search_method(search: Any) -> str:
    """How the trials were chosen: the Optuna sampler and pruner, or the KerasTuner tuner."""
    if str(search.get("engine", "optuna")) == "kerastuner":
        return f"KerasTuner tuner `{search.tuner}` (engine `kerastuner`)"
    pruner = "none (multi-objective: Optuna prunes single-objective studies only)" if search.get("objectives") \
        else f"`{search.pruner}`"
    return f"Optuna sampler `{search.sampler}`, pruner {pruner}"


def _int_distribution(study: Any, name: str) -> bool:
    """True when the study samples parameter `name` from an integer distribution."""
    from optuna.distributions import IntDistribution

    for trial in study.get_trials(deepcopy=False):
        if name in trial.distributions:
            return isinstance(trial.distributions[name], IntDistribution)
    return False


def summary_markdown(study: Any, frame: pd.DataFrame, cfg: Any, names: list[str]) -> str:
    """summary.md: counts, best trial and the top-10 table."""
    top = top_trials(frame, names[0], cfg.task.direction)
    params = [c for c in frame.columns if c.startswith("params_")]
    cols = ["number", *names, f"test_{cfg.task.metric}", "epochs_run", "n_params", "duration_s", *params]
    table = top[[c for c in cols if c in top.columns]].rename(columns=lambda c: c.removeprefix("params_"))
    for col in set(COUNT_COLUMNS) & set(table.columns):  # floats when some trial has none: print them as counts
        table[col] = pd.to_numeric(table[col], errors="coerce").round().astype("Int64")
    for col in [c.removeprefix("params_") for c in params if _int_distribution(study, c.removeprefix("params_"))]:
        if col in table.columns:  # floats once a trial lacks them (failed, inactive): 9.0000 -> 9
            table[col] = pd.to_numeric(table[col], errors="coerce").round().astype("Int64")
    lines = [f"# Study `{study.study_name}`", "",
             f"- model: `{cfg.model.name}`, task: `{cfg.task.name}`, dataset: `{cfg.data.name}`, "
             f"split: `{cfg.split.method}` (seed {cfg.split.seed})",
             f"- selection: validation `{cfg.task.metric}` ({cfg.task.direction})"
             + (f" and {', '.join(f'`{o}`' for o in cfg.search.objectives)} (minimized): the Pareto front is in "
                "pareto.csv, the table below ordered by the first" if len(names) > 1 else "")
             + "; test is reported, never used to choose",
             f"- {search_method(cfg.search)}, budget {cfg.search.n_trials} trials",
             f"- trials: {state_counts(frame)}",
             *([f"- **settings differ between trials** (resumed with other settings; their scores are not "
                f"comparable as they stand): {mixed}"] if (mixed := mixed_settings(study)) else []), "",
             "## Top 10", "", markdown_table(table) if len(table) else "_no finished trial yet_", ""]
    return "\n".join(lines)
