"""Trainer dispatch: rating on pairs and on item rows, ranking with each loss; logs and metric keys."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.config import compose_config
from recsearch.errors import ConfigError
from recsearch.training.run import prepare_for
from recsearch.training.trainer import train

SYNTH = ["data=synthetic", "data.synthetic.n_users=60", "data.synthetic.n_items=200", "data.synthetic.n_ratings=2000",
         "train.epochs=2", "train.batch_size=128"]
RANKING = [*SYNTH, "task=ranking", "split=leave_one_out", "task.num_candidates=20", "task.ks=[5,10]"]
RANK_METRICS = [f"{m}@{k}" for m in ("hr", "ndcg", "recall", "precision", "map", "coverage") for k in (5, 10)]


@pytest.mark.parametrize("loss", ["bce", "bpr", "softmax"])
def test_ranking_losses_report_every_metric(loss):
    cfg = compose_config([*RANKING, "model=mf", "model.embedding_dim=8", f"task.loss={loss}"])
    result = train(cfg, prepare_for(cfg))
    for m in [*RANK_METRICS, "mrr"]:
        assert np.isfinite(result.metrics[f"valid_{m}"]) and np.isfinite(result.metrics[f"test_{m}"]), m
        assert len(result.history[f"val_{m}"]) == 2
    assert result.history["val_ndcg@10"][result.best_epoch - 1] == pytest.approx(result.metrics["valid_ndcg@10"])


def test_ranking_in_batch_two_tower_full_protocol():
    cfg = compose_config([*RANKING, "model=two_tower", "model.embedding_dim=8", "model.depth=0",
                          "task.negatives=in_batch", "task.loss=softmax", "task.protocol=full"])
    result = train(cfg, prepare_for(cfg))
    assert 0.0 <= result.metrics["test_hr@10"] <= 1.0 and "val_ndcg@10" in result.history


def test_ranking_callback_feeds_pruning_monitor():
    from recsearch.search.pruning import OptunaPruning

    class Trial:
        def __init__(self):
            self.reported = []

        def report(self, value, step):
            self.reported.append((step, value))

        def should_prune(self):
            return False

    trial = Trial()
    cfg = compose_config([*RANKING, "model=gmf", "model.embedding_dim=8", "task.metric=hr@5"])
    result = train(cfg, prepare_for(cfg), callbacks=[OptunaPruning(trial, "val_hr@5")])
    assert [s for s, _ in trial.reported] == [1, 2]
    assert [v for _, v in trial.reported] == pytest.approx(result.history["val_hr@5"])


def test_learns_better_than_random_on_ranking():
    """A trained MF beats the expected HR@10 of a random ranking (10 / 21) on the sampled protocol."""
    cfg = compose_config([*RANKING, "model=mf", "model.embedding_dim=8", "train.epochs=6", "train.learning_rate=0.01"])
    assert train(cfg, prepare_for(cfg)).metrics["test_hr@10"] > 10 / 21 + 0.05


def test_autorec_rows_trainer_logs_and_metrics():
    cfg = compose_config([*SYNTH, "model=autorec", "model.hidden=16", "model.row_batch_size=16"])
    result = train(cfg, prepare_for(cfg))
    assert set(result.metrics) == {"valid_rmse", "valid_mae", "test_rmse", "test_mae"}
    assert len(result.history["val_rmse"]) == 2 and len(result.history["loss"]) == 2


def test_autorec_entry_loss_weighs_rows_and_ignores_padding():
    from recsearch.training.rows import ObservedSSE

    y = np.array([4.0, 0.0, 0.0], np.float32)  # two observed entries (one a centered 0), then padding
    pred = np.array([3.0, 2.0, 100.0], np.float32)
    weight = np.array([0.5, 0.5, 0.0], np.float32)  # 1 / rows in the batch; padding 0
    assert float(np.asarray(ObservedSSE(scale=2.0)(y, pred, sample_weight=weight))) == pytest.approx(1.25)


def test_task_model_mismatches_are_config_errors():
    with pytest.raises(ConfigError, match="model 'autorec' supports rating, not 'ranking'"):
        compose_config([*RANKING, "model=autorec"])
    with pytest.raises(ConfigError, match="in_batch needs model=two_tower and task.loss=softmax"):
        compose_config([*RANKING, "model=mf", "task.negatives=in_batch"])
    with pytest.raises(ConfigError, match="'task.ks': must contain 7 to report task.metric 'ndcg@7'"):
        compose_config([*RANKING, "model=mf", "task.metric=ndcg@7"])
    with pytest.raises(ConfigError, match="'rmse' is not a ranking metric"):
        compose_config([*RANKING, "model=mf", "task.metric=rmse"])
    with pytest.raises(ConfigError, match="'ndcg@10' is not a rating metric"):
        compose_config([*SYNTH, "task.metric=ndcg@10"])
    with pytest.raises(ConfigError, match="'task.loss': 'hinge' is not one of bce, bpr, softmax"):
        compose_config([*RANKING, "model=mf", "task.loss=hinge"])


def test_diverging_loss_raises(tiny):
    """On either backend (the JAX loop's check, TensorFlow's TerminateOnNaN): a diverged run is one error."""
    from recsearch.training.trainer import TrainingDiverged

    cfg = compose_config([*tiny[:6], "model=mf", "train.optimizer=sgd", "train.learning_rate=1e6", "train.epochs=3"])
    with pytest.raises(TrainingDiverged):
        train(cfg, prepare_for(cfg))
