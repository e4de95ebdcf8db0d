"""Multi-fidelity search over a growing user sample: rungs, nested samples, pruning per rung, the tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsearch.config import compose_config
from recsearch.search.fidelity import rung_fractions, train_with_fidelity, user_sample
from recsearch.training.run import prepare_for

SYNTH = ["data=synthetic", "data.synthetic.n_users=200", "data.synthetic.n_items=60", "data.synthetic.n_ratings=4000"]


def test_rung_fractions():
    assert rung_fractions(0.1, 3) == pytest.approx([1 / 9, 1 / 3, 1.0])
    assert rung_fractions(0.25, 2) == pytest.approx([0.25, 0.5, 1.0])
    assert rung_fractions(1.0, 3) == [1.0]
    with pytest.raises(ValueError):
        rung_fractions(0.0, 3)


def test_user_samples_nest_and_keep_indices():
    data = prepare_for(compose_config(SYNTH))
    small, large = user_sample(data, 0.25, seed=1), user_sample(data, 0.5, seed=1)
    assert set(np.unique(small.train.users)) < set(np.unique(large.train.users))
    assert len(np.unique(large.train.users)) == pytest.approx(100, abs=3)
    assert small.num_users == data.num_users and small.test is data.test
    assert set(np.unique(small.valid.users)) <= set(np.unique(small.train.users)) | set(np.unique(data.valid.users))
    assert user_sample(data, 1.0, seed=1) is data


class FakeTrial:
    def __init__(self, prune_at):
        self.reports, self.attrs, self.prune_at = [], {}, prune_at

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.reports[-1][0] == self.prune_at

    def set_user_attr(self, key, value):
        self.attrs[key] = value


@pytest.mark.parametrize("prune_at, reached, pruned", [(2, 1 / 3, True), (None, 1.0, False)])
def test_rungs_report_and_stop_when_pruned(prune_at, reached, pruned):
    data = prepare_for(compose_config(SYNTH))
    sizes = []

    def train(cfg, sample):
        sizes.append(len(sample.train))
        return SimpleNamespace(metrics={"valid_rmse": 1.0 / len(sample.train)})

    cfg = compose_config(SYNTH)
    trial = FakeTrial(prune_at)
    _, got, was_pruned = train_with_fidelity(trial, cfg, data, train, fractions=[1 / 9, 1 / 3, 1.0])
    assert got == pytest.approx(reached) and was_pruned is pruned and trial.attrs["fidelity"] == pytest.approx(reached)
    assert sizes == sorted(sizes) and len(sizes) == len(trial.reports) == (2 if pruned else 3)
    assert sizes[-1] == (len(data.train) if not pruned else sizes[-1]) and sizes[0] < len(data.train) / 4


@pytest.mark.slow
def test_sweep_with_data_fidelity_records_the_rung_reached_and_pruned_at():
    from recsearch.search.sweep import run_sweep

    report = run_sweep([*SYNTH, "model=mf", "model.embedding_dim=4", "train.epochs=1", "search.n_trials=4",
                        "search.fidelity=data", "search.fidelity_min_fraction=0.25", "search.fidelity_eta=2",
                        "search.pruner=successive_halving", "search.n_warmup_steps=1", "search.study_name=fid"],
                       show_progress=False)
    frame = pd.read_csv(report.folder / "trials.csv")
    assert "fidelity" in frame.columns
    done, pruned = frame[frame["state"] == "COMPLETE"], frame[frame["state"] == "PRUNED"]
    assert len(done) + len(pruned) == 4 and len(done) >= 1
    assert (done["fidelity"] == 1.0).all() and (pruned["fidelity"] < 1.0).all()
    assert set(frame["fidelity"]) <= {0.25, 0.5, 1.0}
    assert len(pruned) >= 1
    rung = {0.25: 1, 0.5: 2}  # a pruned trial's pruned_at is the rung it stopped after (a recovery reads it)
    assert list(pruned["pruned_at"]) == [rung[f] for f in pruned["fidelity"]] and done["pruned_at"].isna().all()
