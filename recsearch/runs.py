"""`recsearch train` runs on disk: one run folder per run, and a multirun over every combination of values."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from recsearch.data.types import PreparedData
from recsearch.search import interrupts


@dataclass
class RunRecord:
    """A finished training run, the folder it was written to, and its model (None unless kept)."""

    run_dir: Path
    summary: dict[str, Any]
    model: Any = None


@dataclass
class MultirunRecord:
    """Every run of a multirun and the combined table (one row per run) written to `table_path`; `failed`: the
    numbers of the runs whose training failed (their row has the `error`)."""

    runs: list[RunRecord]
    table: pd.DataFrame
    table_path: Path
    failed: list[int] = field(default_factory=list)


def run_training(cfg: Any, *, data: PreparedData | None = None, save_model: bool = True,
                 on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> RunRecord:
    """Train `cfg` once and write results/<experiment>/runs/<stamp>-<model>/ atomically (`on_epoch`: see
    `train_once`).

    The folder holds config.yaml, metrics.json, history.csv (per epoch, validated on validation), with
    `train.refit` refit_history.csv (the final model's epochs on train + validation), and (unless
    `save_model=False`) model.keras: the refit's, when there is one.
    """
    from omegaconf import OmegaConf

    from recsearch.fileio import atomic_dir, atomic_write_frame, atomic_write_json, atomic_write_text
    from recsearch.training.run import experiment_dir, train_once

    run = train_once(cfg, data=data, on_epoch=on_epoch)
    final = experiment_dir(cfg) / "runs" / f"{_stamp()}-{cfg.model.name}"
    with atomic_dir(final) as tmp:
        atomic_write_text(tmp / "config.yaml", OmegaConf.to_yaml(cfg))
        atomic_write_json(tmp / "metrics.json", run.summary)
        for name, epochs in (("history.csv", run.history), ("refit_history.csv", run.refit_history)):
            if epochs:
                table = pd.DataFrame(epochs)
                table.insert(0, "epoch", range(1, len(table) + 1))
                atomic_write_frame(tmp / name, table)
        if save_model:
            run.result.model.save(tmp / "model.keras")
    return RunRecord(run_dir=final, summary=run.summary, model=run.result.model)


def expand_multirun(overrides: Sequence[str]) -> list[list[str]]:
    """Every combination of the sweep overrides (comma lists, range(), choice()), in Hydra's order.

    Example: `expand_multirun(["model=mlp,mf", "train.epochs=1"])` -> two override lists.
    """
    import itertools

    from recsearch.config import parse_overrides

    choices = [[f"{item.get_key_element()}={value}" for value in item.sweep_string_iterator()]
               if item.is_sweep_override() else [item.input_line] for item in parse_overrides(overrides)]
    return [list(combo) for combo in itertools.product(*choices)]


def run_multirun(overrides: Sequence[str], *, save_model: bool = True,
                 on_run: Callable[[int, int, list[str]], None] | None = None) -> MultirunRecord:
    """Train every combination of `overrides` and write one table, results/multirun/<stamp>/runs.csv.

    Every combination is composed and validated before the first one trains, so a bad value costs nothing. A
    run whose training fails (diverges, say) is a row with its `error`, and the others still run, as a sweep's
    trials do, and so is one whose data fails when the runs differ in their data (`data=`, `data.path=`,
    `split=` swept); an error of writing results, or of data every run shares, which each would repeat, stops it.
    """
    from recsearch.config import compose_config
    from recsearch.fileio import atomic_write_frame

    jobs = expand_multirun(overrides)
    configs = [compose_config(job) for job in jobs]
    swept = [item.key_or_group for item in _sweeps(overrides)]
    runs, rows, failed = [], [], []
    path = Path(configs[0].paths.results_dir) / "multirun" / _stamp() / "runs.csv"
    try:
        with interrupts.ctrl_c_remembered():  # a Ctrl-C that C code swallowed or turned into an error still stops
            _run_jobs(jobs, configs, swept, save_model, on_run, runs, rows, failed)
    finally:  # an interrupted run keeps the table of the runs before it
        if rows:
            atomic_write_frame(path, pd.DataFrame(rows))
    return MultirunRecord(runs=runs, table=pd.DataFrame(rows), table_path=path, failed=failed)


def _run_jobs(jobs: list[list[str]], configs: list[Any], swept: list[str], save_model: bool,
              on_run: Callable[[int, int, list[str]], None] | None, runs: list[RunRecord], rows: list[dict],
              failed: list[int]) -> None:
    """run_multirun's loop: train each job, adding to `runs`, `rows` and `failed` as it goes."""
    from recsearch.errors import DataError
    from recsearch.fileio import WriteError

    settings = [_data_setting(cfg) for cfg in configs]
    one_data = len(set(settings)) == 1  # then a data error would repeat in every run
    bad_data: dict[str, str] = {}  # data setting -> its error: a later run on that data fails alike, untried
    for number, (job, cfg, setting) in enumerate(zip(jobs, configs, settings)):
        interrupts.stop_if_interrupted()
        if on_run:
            on_run(number, len(jobs), job)
        pairs = [item.split("=", 1) for item in job]
        values = {key.lstrip("+~"): value for key, value in pairs if key.lstrip("+~") in swept}
        try:
            if setting in bad_data:
                raise DataError(bad_data[setting])
            record = run_training(cfg, save_model=save_model)
        except WriteError:
            raise
        except DataError as exc:
            if one_data:
                raise
            reason = bad_data.setdefault(setting, str(exc))  # this run's data, not the next run's
        except Exception as exc:  # noqa: BLE001 - this combination failed; the next ones still run
            interrupts.raise_if_interrupted(exc)  # a Ctrl-C that C code turned into another error stops all
            reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        else:
            runs.append(record)
            metrics = {k: v for k, v in record.summary.items() if not isinstance(v, dict)}
            rows.append({"run": number, **values, **metrics, "run_dir": str(record.run_dir)})
            continue
        print(f"recsearch: run {number + 1}/{len(jobs)} failed: {reason}", file=sys.stderr)
        failed.append(number)
        rows.append({"run": number, **values, "error": reason[:500]})


def _data_setting(cfg: Any) -> str:
    """What decides the data a run prepares (dataset, split, data folder, task): runs that differ in it do not
    share a data error."""
    from omegaconf import OmegaConf

    return repr([OmegaConf.to_container(cfg[k], resolve=True) for k in ("data", "split")]
                + [str(cfg.paths.data_dir), str(cfg.task.name)])


def _sweeps(overrides: Sequence[str]) -> list[Any]:
    from recsearch.config import parse_overrides

    return [item for item in parse_overrides(overrides) if item.is_sweep_override()]


def _stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
