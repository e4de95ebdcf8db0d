"""The leaderboard: one row per study (or per trial) plus baselines, ranked on a validation metric, within
each dataset and split (numbers on different data are not compared).

Compute only: `leaderboard(...)` returns a DataFrame; `render(frame, fmt)` turns it into text.
Selection uses validation only; the test metric is that of the selected trial, never used to choose.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

import pandas as pd

from recsearch.errors import RecsearchError
from recsearch.results.studies import TOLD_APART, StudyRecord, told_apart
from recsearch.results.study_tables import failed_count

FORMATS = ("table", "markdown", "csv", "html", "json")
STUDY_COLUMNS = ["rank", "kind", "experiment", "study", "variant", "task", "data", "metric", "valid", "test",
                 "trial", "complete", "pruned", "failed", "wall_s", "n_params", "params", "folder"]
TRIAL_COLUMNS = ["rank", "kind", "experiment", "study", "variant", "task", "data", "metric", "valid", "test",
                 "trial", "state", "epochs_run", "duration_s", "n_params", "params", "folder"]
_MINIMIZED = {"rmse", "mae"}
# Filter keys that are properties of a study (not of a trial): applied to the records before the metric is chosen.
RECORD_KEYS = ("experiment", "study", "variant", "task", "data")
_INT_COLUMNS = ("trial", "complete", "pruned", "failed", "n_params", "epochs_run")


def leaderboard(records: list[StudyRecord], baselines: pd.DataFrame | None = None, *, metric: str | None = None,
                per_trial: bool = False, filters: Iterable[str] = ()) -> pd.DataFrame:
    """Rank the studies (or every trial) and baselines on validation `metric`.

    Filters on study keys (experiment, study, variant, task, data) drop studies before the metric is chosen;
    every `key=value` filter then drops rows before ranking. Without `metric`, each task metric of the remaining
    studies is its own group: rows are grouped by metric and ranked within their group (directions differ).
    Within a metric, each dataset and split (`data`) is ranked on its own: its rows come together, numbered
    from 1. Baselines take the data of the studies in their experiment folder.
    Example: `leaderboard(load_many(["results"]), metric="rmse", filters=["variant=mlp"])`.
    """
    filters = list(filters)
    records, no_match = filter_records(told_apart(records), filters)
    metrics = [metric] if metric else list(dict.fromkeys(r.metric for r in records)) or ["rmse"]
    columns = TRIAL_COLUMNS if per_trial else STUDY_COLUMNS
    frames = []
    for m in metrics:
        group = [r for r in records if r.metric == m or (metric and m in study_metrics(r.config.get("task", {})))]
        ascending = metric_ascending(m, records)
        rows: list[dict] = []
        for record in group:
            frame = record_trials(record)
            rows += (trial_rows(record, frame, m) if per_trial
                     else [study_row(record, frame, m, ascending=ascending)])
        if baselines is not None and len(baselines):
            rows += baseline_rows(baselines, m, per_trial, data_of=experiment_data(records))
        frame = pd.DataFrame(rows, columns=columns)
        for col in set(_INT_COLUMNS) & set(columns):
            frame[col] = frame[col].astype("Int64")
        kept = apply_filters(frame, filters, per_trial=per_trial)
        no_match = no_match or kept.attrs.get("no_match")
        frames.append(rank_within_data(kept, ascending=ascending))
    out = frames[0] if len(frames) == 1 else pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    if out.empty and no_match:
        out.attrs["no_match"] = no_match  # the leaderboard command says it under "no row matches"
    return out


def mixed_notes(records: list[StudyRecord], frame: pd.DataFrame) -> dict[str, str]:
    """{study label: what differs} for the studies with rows in `frame` whose trials ran with different shared
    settings (`study_tables.mixed_settings`)."""
    from recsearch.results.study_tables import mixed_settings

    return {label: mixed for record, label in shown_records(records, frame) if (mixed := mixed_settings(record.study))}


def shown_records(records: list[StudyRecord], frame: pd.DataFrame) -> list[tuple[StudyRecord, str]]:
    """(record, its label) of the studies that have rows in `frame`."""
    shown = set(zip(frame["experiment"], frame["study"], frame["folder"])) if len(frame) else set()
    return [(record, label) for record, label in zip(records, record_labels(records))
            if (record.experiment, record.name, _where(record)) in shown]


def pareto_notes(records: list[StudyRecord], frame: pd.DataFrame) -> dict[str, str]:
    """{study label: what its row stands for} for the shown studies that searched several objectives: the
    leaderboard ranks them by one validation metric, which is one end of their Pareto front."""
    notes = {}
    for record, label in shown_records(records, frame):
        front = len(record.study.best_trials) if len(record.study.directions) > 1 else 0
        if front:  # several objectives, and trials on their front (none finished: nothing to say of it)
            where = f"pareto.csv in {record.folder}" if record.folder else "its `recsearch report`"
            notes[label] = (f"it searched {len(record.study.directions)} objectives "
                            f"({', '.join(record.objective_labels)}) and is ranked here by one validation metric; "
                            f"its Pareto front of {front} trial{'s' * (front != 1)} is in {where}")
    return notes


def check_metric(metric: str, records: list[StudyRecord], baselines: pd.DataFrame | None) -> None:
    """Refuse a metric that no study or baseline reports, listing those that are available."""
    available = list(dict.fromkeys(m for r in records for m in (r.metric, *study_metrics(r.config.get("task", {})))))
    if baselines is not None and "metric" in baselines:
        available += [m for m in dict.fromkeys(baselines["metric"].astype(str)) if m not in available]
    if metric not in available:
        raise RecsearchError(f"metric {metric!r}: no study or baseline reports it; available: "
                             f"{', '.join(available) or '(none)'}")


def study_metrics(task: dict) -> list[str]:
    """The validation metrics a study of `task` records: rmse and mae (rating), or each ranking metric at each k."""
    if task.get("name", "rating") != "ranking":
        return ["rmse", "mae"]
    from recsearch.ranking.metrics import _AT_K

    return [f"{m}@{k}" for m in _AT_K for k in task.get("ks", [])] + ["mrr"]


def filter_records(records: list[StudyRecord], filters: Iterable[str]) -> tuple[list[StudyRecord], str | None]:
    """The records passing every filter on a study key (experiment, study, variant, task; others are ignored),
    and, when a filter left none, what its key held (`_values_of`)."""
    for item in filters:
        key, sep, value = item.partition("=")
        if sep and key.strip() in RECORD_KEYS:
            attr = "name" if key.strip() == "study" else key.strip()
            kept = [r for r in records if _matches(getattr(r, attr), value.strip(), key=attr)]
            if records and not kept:
                return [], _values_of(key.strip(), [getattr(r, attr) for r in records])
            records = kept
    return records, None


def metric_ascending(metric: str, records: Iterable[StudyRecord] = ()) -> bool:
    """True when lower `metric` is better: the direction of the studies whose task metric it is, else
    inferred (rmse and mae are minimized, any other metric, e.g. ndcg@10 or hr@10, is maximized)."""
    for record in records:
        if record.metric == metric:
            return record.direction == "minimize"
    return metric.lower() in _MINIMIZED


def record_trials(record: StudyRecord) -> pd.DataFrame:
    """The trials frame of a study, read live from its storage."""
    from recsearch.results.study_tables import trials_frame

    return trials_frame(record.study)


def selected_trial(frame: pd.DataFrame, metric: str, ascending: bool = True, *,
                   record_metric: str | None = None) -> pd.Series | None:
    """The COMPLETE trial with the best validation `metric` (None when none finished).

    `ascending`: lower is better (pass `record.direction == "minimize"` for the study's own metric).
    The objective `value` stands for `metric` only when `record_metric` (the study's task metric) is `metric`
    or not given.
    """
    col = _valid_column(frame, metric, metric if record_metric is None else record_metric)
    done = frame[(frame["state"] == "COMPLETE") & frame[col].notna()] if col else frame.iloc[0:0]
    if done.empty:
        return None
    return done.sort_values(col, ascending=ascending, kind="stable").iloc[0]


def study_row(record: StudyRecord, frame: pd.DataFrame, metric: str, *,
              ascending: bool | None = None) -> dict[str, Any]:
    """One leaderboard row: the study's selected trial, its test metric, trial counts, wall time."""
    counts = frame["state"].value_counts().to_dict() if len(frame) else {}
    if ascending is None:
        ascending = metric_ascending(metric, [record])
    col = _valid_column(frame, metric, record.metric)
    best = selected_trial(frame, metric, ascending, record_metric=record.metric)
    row = {**_identity(record, metric), "kind": "study", "valid": _num(best, col), "test": _num(best, f"test_{metric}"),
           "trial": None if best is None else int(best["number"]), "complete": counts.get("COMPLETE", 0),
           "pruned": counts.get("PRUNED", 0), "failed": failed_count(frame), "wall_s": wall_seconds(frame),
           "n_params": _int(best, "n_params"), "params": {} if best is None else trial_params(best)}
    return row


def trial_rows(record: StudyRecord, frame: pd.DataFrame, metric: str) -> list[dict[str, Any]]:
    """One row per trial of the study."""
    col = _valid_column(frame, metric, record.metric)
    identity = _identity(record, metric)  # the study's columns (its folder resolved once, not per trial)
    rows = []
    for _, trial in frame.iterrows():
        rows.append({**identity, "kind": "trial", "valid": _num(trial, col),
                     "test": _num(trial, f"test_{metric}"), "trial": int(trial["number"]), "state": trial["state"],
                     "epochs_run": _int(trial, "epochs_run"), "duration_s": _num(trial, "duration_s"),
                     "n_params": _int(trial, "n_params"), "params": trial_params(trial)})
    return rows


def baseline_rows(baselines: pd.DataFrame, metric: str, per_trial: bool, *,
                  data_of: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """baselines.csv rows of `metric`, marked kind=baseline; `data_of` maps an experiment to its data."""
    rows = []
    for _, b in baselines[baselines["metric"].astype(str) == metric].iterrows():
        row = {"kind": "baseline", "experiment": b["experiment"], "study": "(baseline)", "variant": str(b["variant"]),
               "task": str(b["task"]), "data": (data_of or {}).get(str(b["experiment"]), "?"), "metric": metric,
               "valid": _num(b, "valid"), "test": _num(b, "test"), "params": {}}
        if per_trial:
            row["state"] = "BASELINE"
        rows.append(row)
    return rows


def experiment_data(records: list[StudyRecord]) -> dict[str, str]:
    """{experiment: data} for the experiments whose studies all ran on one dataset and split."""
    seen: dict[str, set[str]] = {}
    for record in records:
        seen.setdefault(record.experiment, set()).add(record.data)
    return {experiment: next(iter(data)) for experiment, data in seen.items() if len(data) == 1}


def rank_within_data(frame: pd.DataFrame, *, ascending: bool = True) -> pd.DataFrame:
    """`rank` within each dataset and split (`data`), groups in order of first appearance."""
    parts = [rank(part, ascending=ascending) for _, part in frame.groupby("data", sort=False, dropna=False)]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else rank(frame, ascending=ascending)


def top_rows(frame: pd.DataFrame, top: int) -> pd.DataFrame:
    """The first `top` rows of each (metric, data) group of a ranked leaderboard (still showing the folder
    column when the whole board needed it)."""
    kept = frame.groupby(["metric", "data"], sort=False, dropna=False).head(top).reset_index(drop=True)
    kept.attrs["names_apart"] = same_names_apart(frame)
    return kept


def rank(frame: pd.DataFrame, *, ascending: bool = True) -> pd.DataFrame:
    """Sort by `valid` (best first, rows without a value last) and number the ranked rows 1..k."""
    frame = frame.sort_values("valid", ascending=ascending, na_position="last", kind="stable").reset_index(drop=True)
    has = frame["valid"].notna()
    frame["rank"] = pd.array([i + 1 if ok else None for i, ok in enumerate(has)], dtype="Int64")
    return frame


def apply_filters(frame: pd.DataFrame, filters: Iterable[str], *, per_trial: bool = True) -> pd.DataFrame:
    """Keep the rows where every `key=value` holds; a key is a column or a parameter (e.g. model.depth).
    `per_trial` false: the rows are studies, whose parameters are their best trial's (said when a key is unknown)."""
    for item in filters:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RecsearchError(f"filter {item!r}: expected key=value (e.g. variant=mlp)")
        params = sorted({name for p in frame["params"] for name in p})
        short = [name for name in params if name.rpartition(".")[2] == key]  # `embedding_dim` for model.embedding_dim
        if key not in params and key not in frame.columns and len(short) == 1:
            key = short[0]
        if key in frame.columns and key != "params":
            cells = frame[key]
        elif key in params:
            cells = frame["params"].map(lambda p, k=key: p.get(k))
        else:
            raise RecsearchError(f"filter {item!r}: no column or parameter {key!r}; columns: "
                                 f"{', '.join(c for c in frame.columns if c != 'params')}; parameters: "
                                 f"{', '.join(params) or 'none'}"
                                 + ("" if per_trial else f" (a study's row holds its best trial's parameters; if "
                                    f"other trials searched {key}, --per-trial filters on every trial's)"))
        keep = cells.map(lambda cell, v=value.strip(), k=key: _matches(cell, v, key=k)).astype(bool)  # a mask if empty
        if len(frame) and not keep.any():
            frame.attrs["no_match"] = _values_of(key, cells)
        frame = frame.loc[keep]
    return frame.reset_index(drop=True)


def _values_of(key: str, cells: Iterable[Any]) -> str:
    """'task has rating, ranking': what a filter's key held before it matched nothing (a typo: task=ratng)."""
    seen = sorted({c for c in cells if not pd.isna(c)}, key=lambda c: (isinstance(c, str), c))
    return f"{key} has {', '.join(str(c) for c in seen[:20]) or 'no value'}"


def render(frame: pd.DataFrame, fmt: str) -> str:
    """The leaderboard as markdown, csv, html, json or plain text (`table`).

    CSV keeps numbers as numbers (valid, test, wall_s and duration_s in seconds, n_params); the other text
    formats show them readable (4 decimals, `1m37s`, `349,377`).
    """
    if fmt == "json":
        return json.dumps([_json_row(r) for r in frame.to_dict(orient="records")], indent=2) + "\n"
    if fmt == "csv":
        return frame.assign(params=frame["params"].map(format_params)).to_csv(index=False)
    shown = display_frame(frame)
    if fmt == "markdown":
        from recsearch.results.markdown import markdown_table

        return markdown_table(shown)
    if fmt == "html":
        return shown.to_html(index=False, na_rep="", classes="leaderboard", border=0)
    if fmt == "table":
        return shown.to_string(index=False) + "\n"
    raise RecsearchError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def render_folded_html(frame: pd.DataFrame) -> str:
    """The leaderboard as HTML with the columns that hold one value in every row folded into a header line."""
    import html

    shown, folded = fold_constant_columns(display_frame(frame))
    header = f'<p class="folded">{html.escape(folded_text(folded))}</p>' if folded else ""
    return header + shown.to_html(index=False, na_rep="", classes="leaderboard", border=0)


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as strings: metrics to 4 decimals, wall time readable, counts with separators, parameters as k=v.
    The folder column is shown (after study) only where it tells same-named studies apart."""
    shown = frame.astype(object).copy()
    if "folder" in shown:
        columns = [c for c in shown.columns if c != "folder"]
        if frame.attrs.get("names_apart") or same_names_apart(frame):
            columns.insert(columns.index("study") + 1, "folder")
        shown = shown[columns]
    for col in ("valid", "test"):
        shown[col] = frame[col].map(lambda v: "" if is_missing(v) else f"{v:.4f}")
    for col in ("wall_s", "duration_s"):
        if col in shown:
            shown[col] = frame[col].map(format_seconds)
    if "n_params" in shown:
        shown["n_params"] = frame["n_params"].map(format_count)
    shown["params"] = frame["params"].map(format_params)
    return shown.map(lambda v: "" if is_missing(v) else str(v))


def study_labels(frame: pd.DataFrame) -> pd.Series:
    """Each row's study name, with its folder where same-named studies from different folders meet (plots and
    headings name them apart, as the folder column does in the table)."""
    if "folder" not in frame or not same_names_apart(frame):
        return frame["study"].astype(str)
    return frame["study"].astype(str) + " (" + frame["folder"].astype(str) + ")"


def record_labels(records: list[StudyRecord]) -> list[str]:
    """`study_labels` of records: their names, with the folder where two share one."""
    frame = pd.DataFrame({"kind": "study", "experiment": [r.experiment for r in records],
                          "study": [r.name for r in records], "folder": [_where(r) for r in records]})
    return study_labels(frame).tolist() if len(frame) else []


def same_names_apart(frame: pd.DataFrame) -> bool:
    """Whether two rows name the same experiment and study but come from different folders or storages (two
    results folders both holding default/mlp-rating): only the folder column then tells them apart."""
    studies = frame[frame["kind"] != "baseline"]
    return bool(len(studies)) and bool(studies.groupby(["experiment", "study"])["folder"].nunique().gt(1).any())


FOLD_NEVER = ("rank", "valid", "params")


def fold_constant_columns(shown: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Columns holding one value in every row (of 2 or more) moved out: the frame without them and {column: value}.

    `rank`, `valid` and `params` always stay. Example: a per-trial board of one study folds study, variant, task.
    """
    if len(shown) < 2:
        return shown, {}
    folded = {c: str(shown[c].iloc[0]) for c in shown.columns
              if c not in FOLD_NEVER and shown[c].astype(str).nunique(dropna=False) == 1}
    return shown.drop(columns=list(folded)), folded


def folded_text(folded: dict[str, str]) -> str:
    """{'study': 'b', 'test': ''} -> 'same in every row: study b, test -'."""
    return "same in every row: " + ", ".join(f"{k} {v or '-'}" for k, v in folded.items())


def format_params(params: dict) -> str:
    """{'model.depth': 2, 'train.learning_rate': 0.0012} -> 'model.depth=2 train.learning_rate=0.0012'."""
    return " ".join(f"{k}={_short(v)}" for k, v in params.items())


def format_seconds(value: Any) -> str:
    """12.3 -> '12.3s', 125 -> '2m05s', 3725 -> '1h02m'."""
    if is_missing(value):
        return ""
    s = float(value)
    if s < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def format_count(value: Any) -> str:
    """349377 -> '349,377': how every table prints parameter counts."""
    return "" if is_missing(value) else f"{int(value):,}"


def wall_seconds(frame: pd.DataFrame) -> float | None:
    """Seconds during which at least one trial ran: the study's wall time, without the idle time between the runs
    of a resumed study (first start to last end would count the hours between them)."""
    if frame.empty:
        return None
    return running_seconds(zip(pd.to_datetime(frame["datetime_start"]), pd.to_datetime(frame["datetime_complete"])))


def running_seconds(spans: Iterable[tuple[Any, Any]]) -> float | None:
    """Length of the union of (start, end) datetime spans, in seconds (spans missing an end are skipped)."""
    total, reach = 0.0, None
    for start, end in sorted((s, e) for s, e in spans if not (pd.isna(s) or pd.isna(e))):
        if reach is None or start > reach:
            total, reach = total + (end - start).total_seconds(), end
        elif end > reach:
            total, reach = total + (end - reach).total_seconds(), end
    return None if reach is None else round(total, 3)


def trial_params(trial: pd.Series) -> dict[str, Any]:
    """The trial's active parameters (params_ columns that are set), without the prefix."""
    return {k.removeprefix("params_"): _plain(v) for k, v in trial.items()
            if str(k).startswith("params_") and not is_missing(v)}


def _identity(record: StudyRecord, metric: str) -> dict[str, Any]:
    return {"experiment": record.experiment, "study": record.name, "variant": record.variant,
            "task": record.task, "data": record.data, "metric": metric, "folder": _where(record)}


def _where(record: StudyRecord) -> str:
    """The study's folder, relative to the working folder when under it; else its (redacted) storage URL."""
    from recsearch.fileio import shown_path

    if record.folder is None:
        return record.storage_url
    return shown_path(record.folder)


def _valid_column(frame: pd.DataFrame, metric: str, record_metric: str) -> str | None:
    """valid_<metric>; the objective `value` only when the study's own task metric is `metric`."""
    if f"valid_{metric}" in frame.columns:
        return f"valid_{metric}"
    return "value" if record_metric == metric and "value" in frame.columns else None


def _matches(cell: Any, value: str, *, key: str = "") -> bool:
    """`cell` is `value` (numbers within rounding, text case-insensitively); `data=custom:a.csv/random` also
    matches the label's told-apart forms, `custom:a.csv/random (data 3f2a1c)` (studies.told_apart)."""
    if key == "data" and isinstance(cell, str) and re.fullmatch(re.escape(value) + TOLD_APART, cell, re.I):
        return True
    if is_missing(cell):
        return value == ""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        try:
            return math.isclose(float(cell), float(value), rel_tol=1e-9)
        except ValueError:
            return False
    return str(cell).lower() == value.lower()


def _num(row: Any, col: str | None) -> float | None:
    if row is None or col is None or col not in row.index or is_missing(row[col]):
        return None
    return float(row[col])


def _int(row: Any, col: str) -> int | None:
    value = _num(row, col)
    return None if value is None else int(value)


def is_missing(value: Any) -> bool:
    """None, NaN or pandas' NA (an Int64 column's empty cell)."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _json_row(row: dict) -> dict:
    return {k: (None if not isinstance(v, dict) and is_missing(v) else _plain(v)) for k, v in row.items()}
