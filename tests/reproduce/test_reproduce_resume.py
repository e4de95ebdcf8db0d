"""An interrupted `reproduce` keeps the re-runs it finished and the same command continues from them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsearch.cli import main
from recsearch.commands import reproduce_cmd


def test_an_interrupted_reproduce_continues_from_its_finished_runs(tiny_study, tmp_path, monkeypatch, capsys):
    import recsearch.training.trainer as trainer

    out = tmp_path / "repro"
    trained = []
    real_train = trainer.train
    monkeypatch.setattr(trainer, "train",
                        lambda cfg, data, **kw: trained.append(int(cfg.train.seed)) or real_train(cfg, data, **kw))
    real_advance = reproduce_cmd._Progress.advance

    def ctrl_c_after_two(self, run):
        real_advance(self, run)
        if len(trained) == 2:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(reproduce_cmd._Progress, "advance", ctrl_c_after_two)
        assert main(["reproduce", str(tiny_study.folder), "--top", "2", "--seeds", "2", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: finished re-runs are kept in" in err and "run the same command to continue" in err
    kept = json.loads((out / reproduce_cmd.PROGRESS_FILE).read_text())["runs"]
    assert sorted(r["seed"] for r in kept.values()) == [43, 44] and len({r["label"] for r in kept.values()}) == 1
    assert not (out / "reproduce.csv").exists()

    assert main(["reproduce", str(tiny_study.folder), "--top", "2", "--seeds", "2", "--out", str(out)]) == 0
    assert trained == [43, 44, 43, 44]  # the second call trained only the second config's two seeds
    runs = pd.read_csv(out / "reproduce_runs.csv")
    assert len(runs) == 4 and runs["valid"].nunique() == 4
    label = next(iter(kept.values()))["label"]
    first = runs[runs["config"] == label]
    assert dict(zip(first["seed"], first["valid"])) == pytest.approx({r["seed"]: r["valid"] for r in kept.values()})
    table = pd.read_csv(out / "reproduce.csv")
    assert table["vs_best"].notna().all()  # the kept runs' per-user errors came back for the pairing
    assert not (out / reproduce_cmd.PROGRESS_FILE).exists()  # done: nothing left to continue


def test_other_seeds_or_refit_train_again(tiny_study, tmp_path, monkeypatch):
    """Kept runs count only for the same config, seed and refit: --seeds 3 adds one seed, --refit retrains."""
    import recsearch.training.trainer as trainer
    from recsearch.reproduce import candidates_from_study, open_study, reproduce

    trained = []
    real_train = trainer.train
    monkeypatch.setattr(trainer, "train",
                        lambda cfg, data, **kw: trained.append(int(cfg.train.seed)) or real_train(cfg, data, **kw))
    kept = tmp_path / "progress.json"
    candidates = candidates_from_study(open_study(str(tiny_study.folder)).study)
    first = reproduce(candidates, n_seeds=2, progress=kept)
    again = reproduce(candidates, n_seeds=3, progress=kept)
    assert trained == [43, 44, 45]
    assert again.runs["valid"].tolist()[:2] == first.runs["valid"].tolist()
    reproduce(candidates, n_seeds=2, progress=kept, refit=True)
    assert sorted(set(trained[3:])) == [43, 44]  # trained again (and refit), not taken from the kept runs
