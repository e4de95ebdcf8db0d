"""`reproduce`: retrain the best config(s) of a study with fresh seeds and test the search's number.

Seeds: the re-runs use train.seed + 1, ..., train.seed + S on the same split (split.seed unchanged).
The original seed is left out on purpose: the search selected that (config, seed) pair, so re-running
it would put a selected sample back into the interval and bias the check towards `reproduced`
(bit-identical re-runs of one seed are checked by the test suite instead; docs/reproducibility.md).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from recsearch.errors import ConfigError
from recsearch.reproduce.stats import ALPHA, LEVEL, holm, paired_wilcoxon, t_interval, verdict


@dataclass
class Candidate:
    """One config to re-run, with what the search recorded for it."""

    label: str
    trial: int | None
    cfg: DictConfig
    search_value: float | None
    search_test: float | None
    recorded: dict[str, Any] = field(default_factory=dict)  # environment, data_checksum, split_key


@dataclass
class SeedRun:
    """One re-run: its seed, metrics and per-user validation errors (indexed by user index; None when the
    task or model has no per-pair rating errors: ranking, AutoRec)."""

    label: str
    trial: int | None
    seed: int
    valid: float
    test: float
    epochs_run: int
    user_errors: pd.Series | None = field(repr=False)
    refit_test: float | None = None  # test metric of the refit on train + validation (with refit=True)


@dataclass
class ReproduceReport:
    """The per-config table, the per-seed runs, and the warnings about changed environments."""

    table: pd.DataFrame
    runs: pd.DataFrame
    warnings: list[str]
    metric: str
    direction: str
    n_seeds: int


def seeds_for(base_seed: int, n: int) -> list[int]:
    """The re-run seeds: base + 1, ..., base + n (the searched seed itself is not re-used)."""
    return [int(base_seed) + i for i in range(1, n + 1)]


def candidates_from_study(study: Any, top: int = 1) -> list[Candidate]:
    """The `top` best finished trials of `study`, as configs runnable on this machine (current paths; the data
    dir the trial recorded while it still holds the dataset, `recorded_data_dir`)."""
    from recsearch.data import recorded_data_dir
    from recsearch.data.paths import require_recorded_data_path
    from recsearch.reproduce.source import ranked_trials, trial_config

    ranked = ranked_trials(study)[:top]
    if not ranked:
        raise ConfigError(f"study {study.study_name!r} has no finished trial with a recorded config")
    paths = _current_paths()
    out = []
    for t in ranked:
        cfg = trial_config(t)
        require_recorded_data_path(cfg.data)
        data_dir = recorded_data_dir(cfg.data, cfg.paths)
        cfg.paths = paths
        cfg.paths.data_dir = str(data_dir)
        metric = cfg.task.metric
        out.append(Candidate(f"trial {t.number}", t.number, cfg, t.values[0], t.user_attrs.get(f"test_{metric}"),
                             _recorded(t.user_attrs)))
    return out


def candidate_from_experiment(name: str, folder: Path | None = None) -> Candidate:
    """An exported experiment (`<folder>/<name>.yaml`, by default in `experiments_dir()`), with the search's score
    from its provenance file."""
    from recsearch.config import compose_config, experiments_dir
    from recsearch.config.searchpath import EXPERIMENTS_ENV

    if folder is not None:  # composed from that folder, as if it were the experiments folder
        from recsearch.environ import environ_set

        with environ_set(**{EXPERIMENTS_ENV: str(Path(folder).resolve())}):
            return candidate_from_experiment(name)
    path = experiments_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"{name!r} is not a study folder, a storage URL or an experiment in {experiments_dir()}")
    cfg = compose_config([f"+experiment={name}"])
    side = path.with_name(f"{name}.provenance.json")
    prov = json.loads(side.read_text()) if side.is_file() else {}
    metric = cfg.task.metric
    return Candidate(name, prov.get("trial"), cfg, prov.get("search_value"),
                     (prov.get("metrics") or {}).get(f"test_{metric}"), _recorded(prov))


def _recorded(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs.get(k) for k in ("environment", "data_checksum", "split_key")}


def _current_paths() -> DictConfig:
    from recsearch.config import compose_config

    return compose_config([]).paths


def environment_drift(recorded: dict[str, Any], current: dict[str, Any], data_checksum: str) -> list[str]:
    """What differs between the recorded run and now: versions, backend, device, data (and git commit)."""
    env = recorded.get("environment") or {}
    if not env and not recorded.get("data_checksum"):
        return ["no provenance recorded: cannot check versions, backend or data"]
    out = []
    keys = ["python", "keras_backend", "backend", "keras", str(current.get("backend")), "xla_flags", "cpu", "gpu"]
    for key in dict.fromkeys(keys):
        if key in env and env.get(key) != current.get(key):
            threads = _threads_only(env.get(key), current.get(key)) if key == "xla_flags" else None
            out.append(threads or f"{key}: recorded {env.get(key) or '(none)'}, now {current.get(key) or '(none)'}")
    rec_pkgs, now_pkgs = env.get("packages") or {}, current.get("packages") or {}
    for name in sorted(set(rec_pkgs) | set(now_pkgs)):
        if rec_pkgs.get(name) != now_pkgs.get(name):
            out.append(f"{name}: recorded {rec_pkgs.get(name)}, now {now_pkgs.get(name)}")
    if recorded.get("data_checksum") and recorded["data_checksum"] != data_checksum:
        out.append(f"data checksum: recorded {recorded['data_checksum'][:16]}..., now {data_checksum[:16]}... "
                   f"(the dataset files changed)")
    if env.get("git_commit") and env.get("git_commit") != current.get("git_commit"):
        out.append(f"git commit: recorded {env['git_commit']}, now {current.get('git_commit')}")
    return out


def _threads_only(recorded: str | None, now: str | None) -> str | None:
    """The drift line for XLA flags that differ only in a one-core worker's thread flags (a sweep with several
    workers): said as such, since only the last bits of matrix products can differ; else None."""
    from recsearch.training.backend import THREAD_XLA_FLAGS

    def split(flags: str | None) -> tuple[list[str], bool]:
        words = (flags or "").split()
        return [flag for flag in words if flag not in THREAD_XLA_FLAGS], bool(set(words) & set(THREAD_XLA_FLAGS))

    (rest_then, one_then), (rest_now, one_now) = split(recorded), split(now)
    if rest_then != rest_now or one_then == one_now:  # other flags, or both on one thread (or neither)
        return None
    one, many = "in a one-thread worker", "on all threads"
    trial, here = (f"{one} (its sweep ran several)", many) if one_then else (many, one)
    return f"xla_flags: the trial ran {trial}, this re-run {here}: matrix products may differ in their last bits"


def user_errors(model: Any, part: Any, cfg: Any, data: Any) -> pd.Series:
    """Per-user mean error on `part`: squared error for rmse, absolute for mae (clipped like the metric)."""
    import keras

    from recsearch.training.trainer import EVAL_BATCH, model_inputs

    inputs = model_inputs(part)
    # Eager calls in chunks: model.predict would trace a new tf.function for every re-run's model.
    chunks = [keras.ops.convert_to_numpy(model({k: v[i:i + EVAL_BATCH] for k, v in inputs.items()}, training=False))
              for i in range(0, len(part), EVAL_BATCH)]
    pred = np.concatenate(chunks).astype(float).ravel()
    if cfg.task.clip_predictions:
        pred = np.clip(pred, *data.rating_scale)
    diff = pred - part.ratings.astype(float)
    err = diff ** 2 if cfg.task.metric == "rmse" else np.abs(diff)
    return pd.Series(err).groupby(part.users).mean()


def _pair_errors(cfg: Any) -> bool:
    """Per-user errors need rating predictions on (user, item) pairs: the rating task, a `pairs` model."""
    from recsearch.models.registry import model_spec

    return cfg.task.name == "rating" and model_spec(cfg.model.name).trainer == "pairs"


def reproduce(candidates: list[Candidate], *, n_seeds: int = 5,
              on_run: Callable[[SeedRun], None] | None = None,
              on_warning: Callable[[str], None] | None = None, refit: bool = False,
              progress: Path | None = None) -> ReproduceReport:
    """Re-run every candidate with `n_seeds` fresh seeds; return the table with intervals and verdicts.

    With `refit`, each seed's chosen epochs (its best_epoch) are also retrained on train + validation and that
    final model's test metric is reported beside (columns refit_test_*). With `progress` (a JSON file), each
    finished re-run is kept there as it ends and a later call with the same configs, seeds and `refit` takes it
    from there instead of training it again: an interrupted reproduction continues.
    Example: `reproduce(candidates_from_study(study, top=3), n_seeds=5)`.
    """
    from recsearch.provenance import environment_info
    from recsearch.training.backend import backend_versions, setup_for
    from recsearch.training.run import prepare_for, refit_model
    from recsearch.training.trainer import train

    if n_seeds < 2:
        raise ConfigError(f"--seeds {n_seeds}: a confidence interval needs at least 2 seeds")
    cache: dict[str, Any] = {}
    runs, notes = [], []
    kept = _read_progress(progress) if progress else {}
    for cand in candidates:
        setup_for(cand.cfg)
        key = json.dumps(OmegaConf.to_container(cand.cfg, resolve=True)["data"], sort_keys=True) \
            + json.dumps(OmegaConf.to_container(cand.cfg.split), sort_keys=True)
        data = cache[key] if key in cache else cache.setdefault(key, prepare_for(cand.cfg))
        for note in environment_drift(cand.recorded, {**environment_info(), **backend_versions()}, data.checksum):
            note = f"{cand.label}: {note}"
            if note not in notes:
                notes.append(note)
                if on_warning:
                    on_warning(note)
        for seed in seeds_for(int(cand.cfg.train.seed), n_seeds):
            cfg = copy.deepcopy(cand.cfg)
            cfg.train.seed = seed
            key = _run_key(cand.label, cfg, refit)
            if key in kept:
                runs.append(_seed_run(kept[key]))
                if on_run:
                    on_run(runs[-1])
                continue
            result = train(cfg, data)
            metric = cfg.task.metric
            run = SeedRun(cand.label, cand.trial, seed, result.metrics[f"valid_{metric}"],
                          result.metrics[f"test_{metric}"], result.epochs_run,
                          user_errors(result.model, data.valid, cfg, data) if _pair_errors(cfg) else None)
            if refit:
                final = refit_model(cfg, data, epochs=max(1, result.best_epoch))
                run.refit_test = final.metrics[f"test_{metric}"]
            runs.append(run)
            if progress:
                kept[key] = _run_record(run)
                _write_progress(progress, kept)
            if on_run:
                on_run(run)
    first = candidates[0].cfg.task
    return ReproduceReport(summary_table(candidates, runs, first.direction), runs_frame(runs), notes,
                           str(first.metric), str(first.direction), n_seeds)


def _run_key(label: str, cfg: DictConfig, refit: bool) -> str:
    """What makes two re-runs the same: the config (seed included, machine paths left out), label and refit."""
    import hashlib

    doc = OmegaConf.to_container(cfg, resolve=True)
    doc.pop("paths", None)
    return hashlib.sha256(json.dumps([label, refit, doc], sort_keys=True, default=str).encode()).hexdigest()[:20]


def _run_record(run: SeedRun) -> dict[str, Any]:
    record = {k: getattr(run, k) for k in ("label", "trial", "seed", "valid", "test", "epochs_run", "refit_test")}
    errors = run.user_errors
    record["user_errors"] = None if errors is None else [errors.index.tolist(), errors.tolist()]
    return record


def _seed_run(record: dict[str, Any]) -> SeedRun:
    """A kept re-run back (JSON holds NaN as null)."""
    errors = record.get("user_errors")
    fields = {k: v for k, v in record.items() if k != "user_errors"}
    fields.update({k: float("nan") for k in ("valid", "test") if fields.get(k) is None})
    return SeedRun(**fields, user_errors=None if errors is None else pd.Series(errors[1], index=errors[0], dtype=float))


def _read_progress(path: Path) -> dict[str, dict[str, Any]]:
    """The re-runs an earlier, interrupted call kept ({} when none or unreadable: they are trained again)."""
    try:
        runs = json.loads(Path(path).read_text()).get("runs")
    except (OSError, ValueError, AttributeError):
        return {}
    return runs if isinstance(runs, dict) else {}


def _write_progress(path: Path, runs: dict[str, dict[str, Any]]) -> None:
    from recsearch.fileio import atomic_write_json

    atomic_write_json(path, {"runs": runs})


def summary_table(candidates: list[Candidate], runs: list[SeedRun], direction: str) -> pd.DataFrame:
    """One row per candidate: search score, valid/test mean and interval, verdict, gap, test against the best."""
    rows = []
    for rank, cand in enumerate(candidates, start=1):
        mine = [r for r in runs if r.label == cand.label]
        valid, test = t_interval([r.valid for r in mine]), t_interval([r.test for r in mine])
        word, gap = verdict(cand.search_value, valid, direction)
        rows.append({"rank": rank, "config": cand.label, "trial": cand.trial, "search_valid": cand.search_value,
                     "search_test": cand.search_test, "seeds": " ".join(str(r.seed) for r in mine),
                     "valid_mean": valid.mean, "valid_sd": valid.sd, "valid_lo": valid.lo, "valid_hi": valid.hi,
                     "test_mean": test.mean, "test_sd": test.sd, "test_lo": test.lo, "test_hi": test.hi,
                     "verdict": word, "gap": gap, **_refit_columns(mine)})
    table = pd.DataFrame(rows)
    if len(candidates) >= 2:
        table = _compare_with_best(table, runs, direction, {c.label: c.cfg for c in candidates})
    return table


def _refit_columns(runs: list[SeedRun]) -> dict[str, float]:
    """refit_test_mean/sd/lo/hi over the seeds, when the runs were refit."""
    if any(r.refit_test is None for r in runs):
        return {}
    ci = t_interval([r.refit_test for r in runs])
    return {"refit_test_mean": ci.mean, "refit_test_sd": ci.sd, "refit_test_lo": ci.lo, "refit_test_hi": ci.hi}


def _compare_with_best(table: pd.DataFrame, runs: list[SeedRun], direction: str,
                       cfgs: dict[str, DictConfig | None]) -> pd.DataFrame:
    """Paired Wilcoxon on per-user validation errors (averaged over seeds) of each config vs the best one.

    The best is the config with the best mean over seeds; p-values are Holm-adjusted over the comparisons.
    A config that cannot be paired is `n/a`, with why in `vs_best_note`.
    """
    errors = {label: pd.concat([r.user_errors for r in runs if r.label == label], axis=1).mean(axis=1)
              for label in table["config"]
              if all(r.user_errors is not None for r in runs if r.label == label)}
    best = table.sort_values("valid_mean", ascending=direction == "minimize")["config"].iloc[0]
    # Only configs with per-user errors on the same validation users (the same split) can be paired.
    others = [c for c in table["config"] if c != best and best in errors and c in errors
              and errors[c].index.equals(errors[best].index)]
    raw = [paired_wilcoxon(errors[best].to_numpy(), errors[c].to_numpy()) for c in others]
    adjusted = dict(zip(others, holm(raw))) if others else {}
    table = table.copy()
    table["p_vs_best"] = table["config"].map(lambda c: adjusted.get(c, np.nan))
    table["vs_best"] = table["config"].map(lambda c: "best" if c == best else (
        "n/a" if c not in adjusted else "differs" if adjusted[c] < ALPHA else "tie"))

    def why_not(config: str) -> str:
        """Why `config` was not tested against the best ("" when it was, or is the best)."""
        if config == best or config in adjusted:
            return ""
        if config not in errors:
            return _unpaired_reason(cfgs.get(config))
        if best not in errors:
            return _unpaired_reason(cfgs.get(best), of=f"the best, {best}")
        return "validated on other users than the best"

    table["vs_best_note"] = table["config"].map(why_not)
    return table


def _unpaired_reason(cfg: DictConfig | None, *, of: str = "") -> str:
    """Why a config has no per-user errors for the paired test, in a few words (the cases `_pair_errors` refuses)."""
    what = "" if cfg is None else f"{cfg.task.name} task" if cfg.task.name != "rating" else f"model {cfg.model.name}"
    return ": ".join(part for part in (of, what, "no per-user rating errors to pair") if part)


def vs_best_text(vs_best: str, note: str) -> str:
    """The `vs best` cell: the test's outcome, and why when it is `n/a`, e.g. `n/a (ranking task: no per-user
    rating errors to pair)`."""
    return f"{vs_best} ({note})" if vs_best == "n/a" and note else vs_best


def runs_frame(runs: list[SeedRun]) -> pd.DataFrame:
    """One row per re-run (config, trial, seed, valid, test, epochs)."""
    frame = pd.DataFrame([{"config": r.label, "trial": r.trial, "seed": r.seed, "valid": r.valid, "test": r.test,
                           "epochs_run": r.epochs_run, "refit_test": r.refit_test} for r in runs])
    return frame.dropna(axis=1, how="all") if len(frame) else frame


def report_markdown(report: ReproduceReport, title: str) -> str:
    """reproduce.md: what was run, the table, what the verdicts and the ties mean, and the warnings."""
    from recsearch.results.markdown import markdown_table

    t, m = report.table, report.metric
    cols = {"config": "config", "search_valid": f"search valid {m}", "valid_ci": f"valid {m} (95% CI)",
            "test_ci": f"test {m} (95% CI)", "refit_ci": f"refit test {m} (95% CI)", "verdict": "verdict", "gap": "gap", "vs_best": "vs best",
            "p_vs_best": "p (Holm)"}
    shown = t.assign(valid_ci=[_ci(r.valid_mean, r.valid_lo, r.valid_hi) for r in t.itertuples()],
                     test_ci=[_ci(r.test_mean, r.test_lo, r.test_hi) for r in t.itertuples()])
    if "vs_best" in t.columns:
        shown["vs_best"] = [vs_best_text(r.vs_best, r.vs_best_note) for r in t.itertuples()]
    if "refit_test_mean" in t.columns:
        shown["refit_ci"] = [_ci(r.refit_test_mean, r.refit_test_lo, r.refit_test_hi) for r in t.itertuples()]
    shown = shown[[c for c in cols if c in shown.columns]].rename(columns=cols)
    lines = [f"# Reproduction of `{title}`", "",
             f"- {report.n_seeds} fresh seeds per config (train.seed + 1 ... + {report.n_seeds}), same split; "
             f"mean and {LEVEL:.0%} t-interval over the seeds",
             f"- verdict: `reproduced` when the search's validation {m} lies in the interval; `optimistic` when it "
             f"is better than the whole interval (winner's curse; `gap` = mean - search, in the good direction); "
             f"`pessimistic` when worse"]
    if "refit_test_mean" in t.columns:
        lines += ["- `refit test`: each seed's chosen epochs retrained on train + validation, evaluated on test "
                  "(the final model's number)"]
    if "vs_best" in t.columns:
        lines += [f"- `vs best`: paired Wilcoxon signed-rank test on per-user validation errors (averaged "
                  f"over seeds) against the config with the best mean; Holm-adjusted, `tie` when p >= {ALPHA}; "
                  "`n/a` when there are no per-user errors to pair: only rating-task models scored on (user, "
                  "item) pairs give them (not the ranking task, not AutoRec)"]
    lines += ["", markdown_table(shown), ""]
    ties = t.loc[t["vs_best"] == "tie", "config"].tolist() if "vs_best" in t.columns else []
    if ties:
        lines += [f"Not significantly different from the best: {', '.join(ties)}. Choose among them by cost "
                  "(parameters, training time), not by the validation score.", ""]
    if report.warnings:
        lines += ["## Warnings", "", *[f"- {w}" for w in report.warnings], ""]
    return "\n".join(lines)


def _ci(mean: float, lo: float, hi: float) -> str:
    return f"{mean:.4f} [{lo:.4f}, {hi:.4f}]"


def write_report(report: ReproduceReport, folder: Path, title: str) -> list[Path]:
    """Write reproduce.csv, reproduce_runs.csv and reproduce.md atomically into `folder`."""
    from recsearch.fileio import atomic_write_frame, atomic_write_text

    folder = Path(folder)
    paths = [folder / "reproduce.csv", folder / "reproduce_runs.csv", folder / "reproduce.md"]
    atomic_write_frame(paths[0], report.table)
    atomic_write_frame(paths[1], report.runs)
    atomic_write_text(paths[2], report_markdown(report, title))
    return paths
