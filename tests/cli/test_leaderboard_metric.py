"""`leaderboard --metric` refuses a metric that no study reports, listing the ones that are available."""

from __future__ import annotations

from pathlib import Path

import optuna
import yaml

from recsearch.cli import main
from recsearch.search.storage import open_storage


def _study(results: Path, name: str, task: dict) -> None:
    """results/e/<name>/: sweep.yaml and a journal with one COMPLETE trial (what a sweep writes)."""
    folder = results / "e" / name
    folder.mkdir(parents=True)
    config = {"model": {"name": "mf"}, "task": task, "search": {"study_name": name}, "experiment": "e"}
    (folder / "sweep.yaml").write_text(yaml.safe_dump({"storage": str(folder / "study.journal"), "config": config}))
    study = optuna.create_study(study_name=name, storage=open_storage(str(folder / "study.journal")),
                                direction=task["direction"])
    study.add_trial(optuna.trial.create_trial(value=0.5, user_attrs={f"valid_{task['metric']}": 0.5}))


def test_unknown_metric_lists_the_available_ones(tmp_path, capsys) -> None:
    _study(tmp_path, "rating", {"name": "rating", "metric": "rmse", "direction": "minimize"})
    _study(tmp_path, "ranking", {"name": "ranking", "metric": "ndcg@10", "direction": "maximize", "ks": [10]})
    code = main(["leaderboard", str(tmp_path), "--metric", "nope"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("recsearch: error: metric 'nope'")
    assert all(m in lines[0] for m in ("rmse", "mae", "ndcg@10", "hr@10", "mrr")) and "ndcg@5" not in lines[0]
    assert main(["leaderboard", str(tmp_path), "--metric", "hr@10", "--format", "csv"]) == 0
