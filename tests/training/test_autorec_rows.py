"""The sparse AutoRec training step equals the dense I-AutoRec objective (NumPy reference): loss and gradients."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from recsearch.models.autorec import build_autorec, rating_rows, row_model
from recsearch.training.rows import ObservedSSE, RowBatches, entry_bucket

NUM_USERS, NUM_ITEMS, HIDDEN, L2 = 9, 7, 4, 0.03


def tiny_rows(seed: int = 0):
    """A random (items x users) CSR matrix with an empty item, an explicit centered 0 and duplicate-free entries."""
    rng = np.random.default_rng(seed)
    cells = rng.choice((NUM_ITEMS - 1) * NUM_USERS, size=30, replace=False)  # the last item stays empty
    items, users = cells // NUM_USERS, cells % NUM_USERS
    values = rng.normal(0.0, 1.0, len(cells)).astype(np.float32)
    values[0] = 0.0  # observed, though 0
    return rating_rows(NUM_USERS, NUM_ITEMS, users, items, values)


def loss_and_grads(model: keras.Model, x: dict, y: np.ndarray, w: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """The compiled training objective (loss + L2 penalties) on one batch and its gradients, by weight path."""
    paths = [v.path for v in model.trainable_variables]
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True), sample_weight=w)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
        return float(loss), {p: np.asarray(g) for p, g in zip(paths, grads)}
    if keras.backend.backend() == "jax":
        import jax

        def objective(trainable):
            loss, _ = model.compute_loss_and_updates(
                trainable, [v.value for v in model.non_trainable_variables],
                [v.value for v in model.metrics_variables], x, y, w, training=True,
                optimizer_variables=[v.value for v in model.optimizer.variables])
            return loss

        loss, grads = jax.value_and_grad(objective)([v.value for v in model.trainable_variables])
        return float(loss), {p: np.asarray(g) for p, g in zip(paths, grads)}
    pytest.skip(f"no gradient helper for backend {keras.backend.backend()}")


def dense_reference(dense: np.ndarray, mask: np.ndarray, w: dict[str, np.ndarray], scale: float):
    """I-AutoRec on dense rows in float64: loss = mean over rows of the masked SSE / scale + L2, and its gradients."""
    we, be, wd, bd = (w[k].astype(np.float64) for k in ("encoder/kernel", "encoder/bias", "decoder/kernel",
                                                         "decoder/bias"))
    h = 1.0 / (1.0 + np.exp(-(dense @ we + be)))  # sigmoid encoder
    pred = h @ wd + bd  # linear decoder over every user
    rows = dense.shape[0]
    loss = np.sum(mask * (dense - pred) ** 2) / scale / rows + L2 * (np.sum(we ** 2) + np.sum(wd ** 2))
    d_pred = 2.0 * mask * (pred - dense) / scale / rows
    d_pre = (d_pred @ wd.T) * h * (1.0 - h)
    grads = {"decoder/kernel": h.T @ d_pred + 2 * L2 * wd, "decoder/bias": d_pred.sum(0),
             "encoder/kernel": dense.T @ d_pre + 2 * L2 * we, "encoder/bias": d_pre.sum(0)}
    return loss, grads


@pytest.mark.parametrize("pad", [False, True])
def test_sparse_step_equals_dense_objective_and_gradients(pad):
    keras.utils.set_random_seed(3)
    rows = tiny_rows()
    observed = np.flatnonzero(np.diff(rows.indptr) > 0)
    scale = rows.nnz / len(observed)
    pair = build_autorec(NUM_USERS, NUM_ITEMS, hidden=HIDDEN, l2=L2, offsets=np.zeros(NUM_ITEMS, np.float32))
    model = row_model(pair, hidden=HIDDEN, activation="sigmoid", dropout=0.0, l2=L2)
    model.compile(optimizer="adam", loss=ObservedSSE(scale=scale))
    weights = {v.path: np.asarray(v.value) for v in model.trainable_variables}
    assert set(weights) == {"encoder/kernel", "encoder/bias", "decoder/kernel", "decoder/bias"}
    weights["encoder/bias"] = np.random.default_rng(1).normal(0, 0.5, HIDDEN).astype(np.float32)
    weights["decoder/bias"] = np.random.default_rng(2).normal(0, 0.5, NUM_USERS).astype(np.float32)
    for v in model.trainable_variables:
        v.assign(weights[v.path])
    batches = RowBatches(rows, observed, batch_size=4, seed=0, pad=pad)  # 6 rows: batches of 4 and 2
    assert len(batches) == 2
    for index in range(len(batches)):
        x, y, w = batches[index]
        items = batches.order[index * 4:(index + 1) * 4]
        if pad:
            assert len(x["row_length"]) == 4 and len(x["user"]) == entry_bucket(int(x["row_length"].sum()))
        sub = rows[items]
        dense = sub.toarray().astype(np.float64)
        mask = np.zeros_like(dense)
        mask[np.repeat(np.arange(len(items)), np.diff(sub.indptr)), sub.indices] = 1.0  # stored = observed, even 0
        want_loss, want_grads = dense_reference(dense, mask, weights, scale)
        got_loss, got_grads = loss_and_grads(model, x, y, w)
        assert got_loss == pytest.approx(want_loss, rel=1e-5)
        for path, want in want_grads.items():
            np.testing.assert_allclose(got_grads[path], want, rtol=1e-4, atol=1e-6, err_msg=path)


def test_padded_batches_take_few_shapes(monkeypatch):
    monkeypatch.setattr("recsearch.training.rows.MIN_BUCKET", 64)  # so these small batches span buckets
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 300
    lengths = rng.choice([1, 3, 45], n_items, p=[0.5, 0.3, 0.2])  # batch totals from ~30 to ~500 entries
    users = np.concatenate([rng.choice(n_users, k, replace=False) for k in lengths])
    items = np.repeat(np.arange(n_items), lengths)
    rows = rating_rows(n_users, n_items, users, items, rng.normal(size=len(users)))
    batches = RowBatches(rows, np.arange(n_items), batch_size=16, seed=0, pad=True)
    sizes = set()
    for i in range(len(batches)):
        x, _, w = batches[i]
        n, size = int(x["row_length"].sum()), len(x["user"])
        assert len(x["row_length"]) == 16 and size in (64, 128, 256, 512, 1024) and n <= size < max(2 * n, 65)
        assert np.all(w[:n] > 0) and np.all(w[n:] == 0) and np.all(x["value"][n:] == 0)
        sizes.add(size)
    assert 2 <= len(sizes) <= 4  # 19 batches, a few compiled shapes
