"""Training and evaluation for task=ranking: sampled negatives (BCE, BPR, sampled softmax) or in-batch
negatives (two_tower), ranking metrics on validation every epoch (`val_<metric>` in the epoch logs)."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
from keras import ops

from recsearch.ranking.negatives import pair_keys, sample_negatives, unseen_counts
from recsearch.ranking.protocols import RankingQueries, make_queries, no_train_negatives, positives, user_list
from recsearch.training.losses import RANKING_LOSSES, in_batch_loss

@keras.saving.register_keras_serializable(package="recsearch")
class CandidateScorer(keras.layers.Layer):
    """Scores of (batch,) users against (batch, n) items with a {"user", "item"} model -> (batch, n)."""

    def __init__(self, base: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.base = base

    def call(self, user, items):
        n = ops.shape(items)[1]
        users = ops.reshape(ops.repeat(ops.expand_dims(user, 1), n, axis=1), (-1,))
        scores = self.base({"user": users, "item": ops.reshape(items, (-1,))})
        return ops.reshape(scores, (-1, n))


class InBatchScorer(keras.layers.Layer):
    """Two-tower logits of every user of the batch against every positive item of the batch -> (batch, batch).

    Off-diagonal entries whose item equals the row's own positive (accidental hits) are masked out.
    """

    def __init__(self, base: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.user_tower, self.item_tower = base.get_layer("user_tower"), base.get_layer("item_tower")
        self.head = base.get_layer("rating")

    def call(self, user, items):
        pos = items[:, 0]
        dots = ops.matmul(self.user_tower(user), ops.transpose(self.item_tower(pos)))
        logits = ops.squeeze(self.head(ops.expand_dims(dots, -1)), -1)
        same = ops.equal(ops.expand_dims(pos, 1), ops.expand_dims(pos, 0))
        diag = ops.eye(ops.shape(pos)[0], dtype="bool")
        return ops.where(ops.logical_and(same, ops.logical_not(diag)), -1e9, logits)


class NegativeBatches(keras.utils.PyDataset):
    """Batches {"user": (B,), "items": (B, 1 + k)}: each positive plus k negatives, resampled every epoch."""

    def __init__(self, users, items, *, k: int, num_items: int, known: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.users, self.items, self.k, self.num_items = users, items, k, num_items
        self.known, self.batch_size, self.rng = known, batch_size, np.random.default_rng(seed)
        self.on_epoch_end()

    def __len__(self) -> int:
        return int(np.ceil(len(self.users) / self.batch_size))

    def on_epoch_end(self) -> None:
        order = self.rng.permutation(len(self.users))
        u = self.users[order]
        negs = sample_negatives(u, self.k, num_items=self.num_items, known=self.known, rng=self.rng) if self.k else \
            np.zeros((len(u), 0), np.int32)
        self.epoch_users, self.epoch_items = u, np.concatenate([self.items[order][:, None], negs], axis=1)

    def __getitem__(self, index: int):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        users = self.epoch_users[sl].astype(np.int32)
        return {"user": users, "items": self.epoch_items[sl]}, np.zeros(len(users), np.float32)


def ranking_metrics(model: Any, queries: Any, *, ks: Sequence[int], num_items: int) -> dict[str, float]:
    """All ranking metrics of `model` on `queries`, scored in batches (see `recsearch.ranking.evaluate`)."""
    from recsearch.ranking.evaluate import evaluate_queries
    from recsearch.ranking.scoring import model_scorer

    return evaluate_queries(queries, model_scorer(model, num_items), ks=ks, num_items=num_items)


class RankingEvaluation(keras.callbacks.Callback):
    """Computes ranking metrics of `scorer` on validation queries after each epoch into logs['val_<m>']."""

    def __init__(self, scorer: Any, queries: RankingQueries, *, ks: Sequence[int], num_items: int):
        super().__init__()
        self.scorer, self.queries, self.ks, self.num_items = scorer, queries, list(ks), num_items

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = ranking_metrics(self.scorer, self.queries, ks=self.ks, num_items=self.num_items)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in metrics.items()})


def _with_unseen_items(data: Any, users: np.ndarray, items: np.ndarray,
                       known: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The train positives of users with an item left to draw negatives from (`known`: train pairs); those of a
    user who has interacted with every item in train are left out, with one warning naming the users."""
    from recsearch.data.loaders import warn

    full = unseen_counts(known, data.num_users, data.num_items)[users] == 0
    if not full.any():
        return users, items
    if full.all():
        raise no_train_negatives()
    left_out = np.unique(users[full])
    who = "1 user has" if left_out.size == 1 else f"{left_out.size:,} users have"
    warn(f"task=ranking: {who} interacted with every item in train ({user_list(data, left_out)}), so no negatives "
         f"can be drawn: their {int(full.sum()):,} train positives are left out of training", once=True)
    return users[~full], items[~full]


def training_model(base: keras.Model, task: Any) -> keras.Model:
    """The model fit sees: {"user", "items"} -> logits, sharing every weight with `base`."""
    user = keras.Input(shape=(), dtype="int32", name="user")
    width = 1 if task.negatives == "in_batch" else 1 + int(task.num_negatives)
    items = keras.Input(shape=(width,), dtype="int32", name="items")
    scorer = InBatchScorer(base) if task.negatives == "in_batch" else CandidateScorer(base)
    return keras.Model({"user": user, "items": items}, scorer(user, items), name=f"{base.name}_ranking")


def fit_ranking(model: Any, cfg: Any, data: Any, *, callbacks: Sequence[Any], verbose: int,
                optimizer: Any) -> tuple[dict, int, dict[str, float]]:
    """Fit `model` for ranking; return (history, best epoch (1-based), valid_/test_ metrics, timings).

    Validation metrics are those of the best epoch (computed once, by `RankingEvaluation`); test is scored once.
    """
    import time

    from recsearch.training.backend import jit_enabled
    from recsearch.training.trainer import monitor_mode

    task = cfg.task
    valid_q, test_q = make_queries(data, "valid", task), make_queries(data, "test", task)  # refusals before training
    head = model.get_layer("rating")
    head.set_weights([head.get_weights()[0], np.zeros_like(head.get_weights()[1])])  # scores are logits
    users, items = positives(data.train, task.implicit_threshold)
    k = 0 if task.negatives == "in_batch" else int(task.num_negatives)
    known = pair_keys(data.train.users, data.train.items, data.num_items)
    if k:
        users, items = _with_unseen_items(data, users, items, known)
    batches = NegativeBatches(users, items, k=k, num_items=data.num_items, batch_size=int(cfg.train.batch_size),
                              known=known, seed=int(cfg.train.seed))
    trainer = training_model(model, task)
    trainer.compile(optimizer=optimizer, loss=in_batch_loss if k == 0 else RANKING_LOSSES[task.loss],
                    jit_compile=jit_enabled(cfg.train))
    evaluation = RankingEvaluation(model, valid_q, ks=task.ks, num_items=data.num_items)
    stopper = keras.callbacks.EarlyStopping(monitor=f"val_{task.metric}", mode=monitor_mode(task),
                                            patience=int(cfg.train.patience), restore_best_weights=True)
    start = time.perf_counter()
    fit = trainer.fit(batches, epochs=int(cfg.train.epochs), verbose=verbose,
                      callbacks=[evaluation, keras.callbacks.TerminateOnNaN(), stopper, *callbacks])
    fit_s, start = time.perf_counter() - start, time.perf_counter()
    best = int(stopper.best_epoch)
    names = [k[len("val_"):] for k in fit.history if k.startswith("val_")]
    metrics = {f"valid_{m}": float(fit.history[f"val_{m}"][best]) for m in names}
    values = ranking_metrics(model, test_q, ks=task.ks, num_items=data.num_items)
    metrics.update({f"test_{m}": v for m, v in values.items()})
    timings = {"compile_s": 0.0, "fit_s": fit_s, "eval_s": time.perf_counter() - start}
    return fit.history, best + 1, metrics, timings
