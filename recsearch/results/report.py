"""The HTML report of a study or of a comparison experiment: compute frames here, draw in `plots`, write one file.

The file is self-contained: plotly.js is inlined once in <head>, so it opens offline.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from recsearch.results.leaderboard import (leaderboard, metric_ascending, record_labels, record_trials,
                                          render_folded_html, selected_trial)
from recsearch.results.studies import COMPARISON_FILES, StudyRecord
from recsearch.results.study_tables import best_trial_line, best_yaml_trial, mixed_settings, state_counts
from recsearch.redact import redact

TOP_CURVES = 5


@dataclass
class Section:
    """A titled part of the report: a figure, an HTML fragment, or both."""

    title: str
    figure: Any = None
    html: str = ""
    slug: str = ""


@dataclass
class Report:
    """A report's title and sections, in order."""

    title: str
    subtitle: str
    sections: list[Section] = field(default_factory=list)


def history_frame(trials: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Finished trials by number with their value and the best value so far."""
    done = trials[(trials["state"] == "COMPLETE") & trials["value"].notna()].sort_values("number")
    best = done["value"].cummin() if direction == "minimize" else done["value"].cummax()
    return pd.DataFrame({"number": done["number"].astype(int), "value": done["value"].astype(float), "best": best})


def importance_frame(study: Any) -> tuple[pd.DataFrame, str | None]:
    """optuna.importance (Optuna's default evaluator) of the parameters; an empty frame and a reason when it cannot be computed."""
    import optuna

    finished = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    empty = pd.DataFrame(columns=["param", "importance"])
    if len(finished) < 2:
        return empty, f"parameter importances need at least 2 finished trials; this study has {len(finished)}"
    import warnings

    try:
        target = (lambda t: t.values[0]) if len(study.directions) > 1 else None
        with warnings.catch_warnings():  # "fewer than 2 trials in a regime": expected for conditional params
            warnings.simplefilter("ignore", UserWarning)
            imp = optuna.importance.get_param_importances(study, target=target)
    except (ValueError, RuntimeError) as exc:
        return empty, f"parameter importances unavailable: {exc}"
    if not imp:
        return empty, "no parameter was searched in every finished trial"
    return pd.DataFrame({"param": list(imp), "importance": [float(v) for v in imp.values()]}), None


def param_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Finished trials: number, value and one column per parameter (no prefix)."""
    done = trials[(trials["state"] == "COMPLETE") & trials["value"].notna()]
    params = [c for c in done.columns if c.startswith("params_") and done[c].notna().any()]
    frame = done[["number", "value", *params]].rename(columns=lambda c: c.removeprefix("params_"))
    return frame.reset_index(drop=True)


def slice_frame(trials: pd.DataFrame) -> pd.DataFrame:
    """Long form for slice plots: param, x (its value), value, number; rows where the param was active."""
    wide = param_frame(trials)
    parts = [pd.DataFrame({"param": col, "x": wide[col], "value": wide["value"], "number": wide["number"]})
             .dropna(subset=["x"]) for col in wide.columns if col not in ("number", "value")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["param", "x", "value", "number"])


def log_params(study: Any) -> frozenset[str]:
    """The parameters sampled on a log scale (`tag(log, ...)` in the space: `log=True` in the study's distributions)."""
    return frozenset(name for t in study.get_trials(deepcopy=False) for name, dist in t.distributions.items()
                     if getattr(dist, "log", False))


def curves_frame(trials: pd.DataFrame, direction: str, *, top: int = TOP_CURVES) -> pd.DataFrame:
    """Validation curves (number, group top|pruned, epoch, value) of the `top` best trials and the pruned ones."""
    done = trials[trials["state"] == "COMPLETE"].sort_values("value", ascending=direction == "minimize").head(top)
    pruned = trials[trials["state"] == "PRUNED"]
    rows = [{"number": int(t["number"]), "group": group, "epoch": e + 1, "value": v}
            for group, part in (("top", done), ("pruned", pruned)) for _, t in part.iterrows()
            for e, v in enumerate(_curve(t["val_curve"])) if v is not None]
    return pd.DataFrame(rows, columns=["number", "group", "epoch", "value"])


def best_config_text(record: StudyRecord, trials: pd.DataFrame) -> str:
    """The selected trial's config: the study folder's best.yaml when it was written for that trial, else the
    config the trial recorded (a worker elsewhere may have finished it after best.yaml was written)."""
    trial = _best_frozen(record, trials)
    written = best_yaml_trial(record.folder) if record.folder is not None else None
    if written is not None and (trial is None or written == trial.number):
        return (record.folder / "best.yaml").read_text(encoding="utf-8")
    if trial is None or "config" not in trial.user_attrs:
        return ""
    if written is None:
        return trial.user_attrs["config"]
    return (best_trial_line(record.study.study_name, trial)
            + f"# It finished after this folder's best.yaml (trial {written}) was written; "
            f"recsearch export-best {record.folder} writes it as an experiment\n" + trial.user_attrs["config"])


def environment_of(record: StudyRecord, trials: pd.DataFrame) -> dict[str, Any]:
    """The `environment` attr of the selected trial (else of any trial), flattened to one level."""
    trial = _best_frozen(record, trials)
    env = trial.user_attrs.get("environment") if trial is not None else None
    if not env:
        env = next((t.user_attrs["environment"] for t in record.study.get_trials(deepcopy=False)
                    if "environment" in t.user_attrs), {})
    packages = env.get("packages") or {}
    shown = {k: v for k, v in env.items()  # each version once: a trial records its framework's beside the packages'
             if not (packages.get(k) == v or (k == "backend" and v == env.get("keras_backend")))}
    return _flatten(shown)


def study_report(record: StudyRecord) -> Report:
    """Every section of the report of one study."""
    from recsearch.results import plots

    trials = record_trials(record)
    metric, direction = record.metric, record.direction
    board = leaderboard([record], per_trial=True)
    imp, note = importance_frame(record.study)
    counts = state_counts(trials)
    sections = [
        Section("Leaderboard", html=render_folded_html(board.head(20))),
        Section("Optimization history", plots.history_figure(record.study, metric)),
        Section("Parameter importances", plots.importance_figure(imp, note), html=_note(note)),
        Section("Parallel coordinates", plots.parallel_figure(record.study, metric)),
        Section("Slice plots", plots.slice_figure(slice_frame(trials), metric, log_params=log_params(record.study)),
                html=_note("log-scaled parameters are drawn on log axes")),
        Section("Learning curves", plots.curves_figure(curves_frame(trials, direction), metric),
                html=_note(f"validation {metric} per epoch: the {TOP_CURVES} best trials (solid), pruned (dashed)")),
        Section("Best config", html=f"<pre>{html.escape(best_config_text(record, trials))}</pre>"),
        Section("Environment", html=_kv_table(environment_of(record, trials))),
    ]
    if len(record.study.directions) > 1:
        sections.insert(2, Section("Pareto front", plots.pareto_figure(record.study, record.objective_labels),
                                   html=_note("every finished trial; the Pareto-optimal ones highlighted")))
    mixed = mixed_settings(record.study)
    subtitle = (f"variant {record.variant}, task {record.task}, selection on validation {metric} ({direction}); "
                f"trials: {counts}; storage {redact(record.storage_url)}"
                + (f"; settings differ between trials, so their scores are not comparable as they stand: {mixed}"
                   if mixed else ""))
    return Report(f"Study {record.name}", subtitle, sections)


def comparison_report(folder: Path, records: list[StudyRecord], baselines: pd.DataFrame | None) -> Report:
    """Report of an experiment folder holding several studies (and baselines.csv / comparison.csv): a leaderboard,
    a bar chart and search histories per validation metric (a ranking study is not ranked on RMSE)."""
    metrics = list(dict.fromkeys(r.metric for r in records)) or ["rmse"]
    sections = []
    for metric in metrics:
        sections += _metric_sections([r for r in records if r.metric == metric], baselines, metric,
                                     f" (validation {metric})" if len(metrics) > 1 else "")
    for table in sorted(folder.glob(COMPARISON_FILES)):  # one per set of studies compared in this folder
        sections.append(Section(table.name, html=pd.read_csv(table).convert_dtypes().to_html(
            index=False, na_rep="", border=0)))
    picked = []
    for record, label in zip(records, record_labels(records)):
        ascending = metric_ascending(record.metric, [record])
        best = selected_trial(record_trials(record), record.metric, ascending, record_metric=record.metric)
        value = float(best["value"]) if best is not None else float("nan")
        rank = (metrics.index(record.metric), best is None, value if ascending else -value)
        picked.append((rank, record, label, best))
    for _, record, label, best in sorted(picked, key=lambda p: p[0]):  # in leaderboard order, best first
        text = best_config_text(record, record_trials(record)) if best is not None else ""
        sections.append(Section(f"Best config: {label}", html=f"<pre>{html.escape(text)}</pre>"))
    per_metric = ", ".join(f"{m} ({sum(r.metric == m for r in records)})" for m in metrics)
    selection = f"validation {metrics[0]}" if len(metrics) == 1 else f"each on its validation metric: {per_metric}"
    subtitle = f"{len(records)} studies, selection on {selection}; folder {folder}"
    return Report(f"Experiment {folder.name}", subtitle, sections)


def _metric_sections(records: list[StudyRecord], baselines: pd.DataFrame | None, metric: str,
                     suffix: str) -> list[Section]:
    """The leaderboard, best-per-variant bars and search histories of the studies selecting on `metric`."""
    from recsearch.results import plots

    board = leaderboard(records, baselines, metric=metric)
    histories = pd.concat([history_frame(record_trials(r), r.direction).assign(study=label)
                           for r, label in zip(records, record_labels(records))],
                          ignore_index=True) if records else pd.DataFrame(columns=["number", "best", "study"])
    return [Section(f"Leaderboard{suffix}", html=render_folded_html(board)),
            Section(f"Best metric per variant{suffix}", plots.comparison_bar_figure(board, metric)),
            Section(f"Search histories{suffix}", plots.histories_figure(histories, metric))]


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (plotly.js inline)."""
    from plotly.offline import get_plotlyjs

    body = []
    for k, section in enumerate(report.sections):
        slug = section.slug or f"plot-{k}-{_slug(section.title)}"
        parts = [f'<section><h2>{html.escape(section.title)}</h2>']
        if section.figure is not None:
            parts.append(section.figure.to_html(full_html=False, include_plotlyjs=False, div_id=slug,
                                                config={"displaylogo": False, "responsive": True}))
        parts.append(section.html)
        body.append("\n".join(parts) + "</section>")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return _PAGE.format(title=html.escape(report.title), subtitle=html.escape(report.subtitle), stamp=stamp,
                        plotlyjs=get_plotlyjs(), body="\n".join(body))


def write_report(report: Report, path: Path) -> Path:
    """Write the report's HTML atomically to `path`."""
    from recsearch.fileio import atomic_write_text

    atomic_write_text(Path(path), render_html(report))
    return Path(path)


def _best_frozen(record: StudyRecord, trials: pd.DataFrame) -> Any:
    best = selected_trial(trials, record.metric, record.direction == "minimize")
    if best is None:
        return None
    return next(t for t in record.study.get_trials(deepcopy=False) if t.number == int(best["number"]))


def _curve(value: Any) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    return list(value) if value is not None else []


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _kv_table(items: dict[str, Any]) -> str:
    if not items:
        return _note("no environment recorded")
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items.items())
    return f'<table class="kv">{rows}</table>'


def _note(text: str | None) -> str:
    return f'<p class="note">{html.escape(text)}</p>' if text else ""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1280px; color: #222; }}
h1 {{ margin-bottom: 4px; }} .sub {{ color: #555; margin-top: 0; }}
section {{ margin: 28px 0; }} h2 {{ border-bottom: 1px solid #ddd; padding-bottom: 4px; }}
table {{ border-collapse: collapse; font-size: 13px; }} th, td {{ padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; }}
pre {{ background: #f6f8fa; padding: 12px; font-size: 12px; max-height: 420px; overflow: auto; }}
.note {{ color: #666; font-style: italic; }} .folded {{ color: #444; margin: 4px 0; }}
</style>
<script type="text/javascript">{plotlyjs}</script>
</head><body>
<h1>{title}</h1><p class="sub">{subtitle}<br>generated {stamp}</p>
{body}
</body></html>
"""


def find_chromium() -> str:
    """The path of a Chromium (or Chrome) binary; RecsearchError when none is installed."""
    import shutil

    from recsearch.errors import RecsearchError

    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise RecsearchError("--screenshot needs Chromium: install it (Debian: apt-get install -y chromium)")


def chromium_command(url: str, profile_dir: Path, *extra: str) -> list[str]:
    """A headless Chromium command line that reaches no network and keeps no state beyond `profile_dir`."""
    return [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            "--enable-unsafe-swiftshader", f"--user-data-dir={profile_dir}", "--virtual-time-budget=15000",
            *extra, url]


def screenshot(html_path: Path, png_path: Path, *, width: int = 1400, height: int | None = None) -> Path:
    """Render `html_path` in headless Chromium and save a PNG of `width` x `height` pixels.

    Example: `screenshot(Path("results/default/a/report.html"), Path("report.png"))`.
    """
    import subprocess
    import tempfile

    from recsearch.errors import RecsearchError
    from recsearch.fileio import atomic_write_bytes

    html_path, png_path = Path(html_path).resolve(), Path(png_path).resolve()
    height = height or estimated_height(html_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="recsearch-chromium-") as profile:
        drawn = Path(profile) / "screenshot.png"  # then written where asked: a bad path is our one line, not Chromium's
        cmd = chromium_command(html_path.as_uri(), Path(profile), f"--window-size={width},{height}",
                               f"--screenshot={drawn}")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0 or not drawn.is_file():
            raise RecsearchError(f"chromium could not render {html_path}: {proc.stderr.strip()[-400:]}")
        atomic_write_bytes(png_path, drawn.read_bytes())
    return png_path


def estimated_height(page: str) -> int:
    """Pixels the page needs: figure heights, table rows and text blocks (plus margins)."""
    import re

    figures = sum(int(h) for h in re.findall(r'"height":\s*(\d+)', page.split("</head>", 1)[-1]))
    rows = page.count("<tr")
    pres = page.count("<pre>")
    sections = page.count("<section>")
    return min(16000, 400 + figures + 32 * rows + 440 * pres + 70 * sections)
