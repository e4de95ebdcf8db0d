"""Same seed, same machine, same backend: bit-identical metrics, in one process and across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from recsearch.config import compose_config
from recsearch.runs import run_training
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train


def test_same_seed_same_process_is_bit_identical(tiny: list[str]) -> None:
    cfg = compose_config(tiny)
    data = prepare_for(cfg)
    first, second = train(cfg, data), train(cfg, data)
    assert first.metrics == second.metrics and first.history == second.history
    other = train(compose_config([*tiny, "train.seed=7"]), data)
    assert other.metrics["valid_rmse"] != first.metrics["valid_rmse"]


def test_same_seed_separate_process_is_bit_identical(tiny: list[str], isolated_paths: Path) -> None:
    record = run_training(compose_config(tiny), save_model=False)
    import keras

    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}  # this session's backend, in a new process
    subprocess.run([sys.executable, "-m", "recsearch", "train", "--no-save-model", *tiny], env=env, check=True,
                   capture_output=True, text=True, timeout=300)
    [other] = [p for p in (isolated_paths / "default" / "runs").iterdir() if p != record.run_dir]
    there = json.loads((other / "metrics.json").read_text())
    for key in ("valid_rmse", "valid_mae", "test_rmse", "test_mae", "epochs_run", "data_checksum"):
        assert there[key] == record.summary[key], key
