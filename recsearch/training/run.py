"""`recsearch train`: prepare the data, train one config, write a run folder under results/."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from recsearch.data.types import PreparedData
from recsearch.results.io import atomic_dir, atomic_write_frame, atomic_write_json, atomic_write_text


@dataclass
class RunRecord:
    """A finished training run and the folder it was written to."""

    run_dir: Path
    summary: dict[str, Any]


def prepare_for(cfg: Any) -> PreparedData:
    """Load and split the dataset of `cfg` (from the prepared-split cache when it is there)."""
    from recsearch.data import prepare_data, resolve_cache_dir, resolve_data_dir

    return prepare_data(cfg.data, cfg.split, data_dir=resolve_data_dir(cfg.paths),
                        cache_dir=resolve_cache_dir(cfg.paths))


def experiment_dir(cfg: Any) -> Path:
    """results/<experiment>/, with `default` when no +experiment was chosen."""
    return Path(cfg.paths.results_dir) / (cfg.experiment or "default")


def run_training(cfg: Any, *, data: PreparedData | None = None, save_model: bool = True) -> RunRecord:
    """Train `cfg` once and write results/<experiment>/runs/<stamp>-<model>/ atomically."""
    from recsearch.provenance import environment_info
    from recsearch.training.backend import backend_versions, setup_backend
    from recsearch.training.tensorboard import run_tensorboard
    from recsearch.training.trainer import train

    setup_backend(cfg.train.backend)
    start = time.perf_counter()
    data = data if data is not None else prepare_for(cfg)
    prep_time = time.perf_counter() - start
    result = train(cfg, data, callbacks=run_tensorboard(cfg))
    summary = {
        "model": cfg.model.name, "task": cfg.task.name, "dataset": data.name,
        **result.metrics,
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
        "train_seconds": round(result.wall_time, 3), "prepare_seconds": round(prep_time, 3),
        "n_params": result.n_params, "seed": int(cfg.train.seed),
        "data_checksum": data.checksum, "split_key": data.split_key,
        "environment": {**environment_info(), **backend_versions()},
    }
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    final = experiment_dir(cfg) / "runs" / f"{stamp}-{cfg.model.name}"
    with atomic_dir(final) as tmp:
        atomic_write_text(tmp / "config.yaml", OmegaConf.to_yaml(cfg))
        atomic_write_json(tmp / "metrics.json", summary)
        history = pd.DataFrame(result.history)
        history.insert(0, "epoch", range(1, len(history) + 1))
        atomic_write_frame(tmp / "history.csv", history)
        if save_model:
            result.model.save(tmp / "model.keras")
    return RunRecord(run_dir=final, summary=summary)
