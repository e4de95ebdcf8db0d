"""Tiny studies written directly (the user attrs a sweep writes), for the leaderboard and report tests."""

from __future__ import annotations

from pathlib import Path

import optuna

from recsearch.search.storage import open_storage


RATING = {"model": {"name": "mf"}, "task": {"name": "rating", "metric": "rmse", "direction": "minimize"}}
RANKING = {"model": {"name": "mf"}, "task": {"name": "ranking", "metric": "ndcg@10", "direction": "maximize"}}


def fake_study(results: Path, name: str, config: dict, values: list[float]) -> Path:
    """results/mixed/<name>/: sweep.yaml + study.journal with one COMPLETE trial per value of the task metric
    (its config attr names the value)."""
    import yaml

    folder = results / "mixed" / name
    folder.mkdir(parents=True)
    config = {**config, "search": {"study_name": name}, "experiment": "mixed"}
    (folder / "sweep.yaml").write_text(yaml.safe_dump({"storage": str(folder / "study.journal"), "config": config}))
    metric, direction = config["task"]["metric"], config["task"]["direction"]
    study = optuna.create_study(study_name=name, storage=open_storage(str(folder / "study.journal")),
                                direction=direction)
    for v in values:
        study.add_trial(optuna.trial.create_trial(
            value=v, params={"model.dim": 8}, distributions={"model.dim": optuna.distributions.IntDistribution(4, 16)},
            user_attrs={f"valid_{metric}": v, f"test_{metric}": v + 0.01, "n_params": 100,
                        "config": f"model:\n  dim: 8  # valid {v}\n"}))
    return folder
