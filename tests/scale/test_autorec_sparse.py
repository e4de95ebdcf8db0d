"""AutoRec holds no items x users table; its item codes and predictions equal the dense autoencoder's."""

from __future__ import annotations

import numpy as np

from recsearch.config import compose_config
from recsearch.models import build_model
from recsearch.models.autorec import rating_rows, refresh_codes, row_model
from recsearch.training.run import prepare_for

SYNTH = ["data=synthetic", "data.synthetic.n_users=90", "data.synthetic.n_items=70", "data.synthetic.n_ratings=1500",
         "model=autorec", "model.hidden=6"]


def test_no_dense_rating_table_and_codes_match_the_encoder():
    cfg = compose_config(SYNTH)
    data = prepare_for(cfg)
    model = build_model(cfg.model, data)
    shapes = [tuple(w.shape) for w in model.weights]
    assert (data.num_items, data.num_users) not in shapes and max(int(np.prod(s)) for s in shapes) <= 6 * data.num_users
    t = data.train
    rows = rating_rows(data.num_users, data.num_items, t.users, t.items, t.ratings)
    autoencoder = row_model(model, hidden=6, activation="sigmoid", dropout=0.0, l2=0.0)
    refresh_codes(model, autoencoder, rows, batch=16)
    dense = np.zeros((data.num_items, data.num_users), np.float32)
    dense[t.items, t.users] = t.ratings
    kernel, bias = autoencoder.get_layer("encoder").get_weights()
    expected = 1.0 / (1.0 + np.exp(-(dense @ kernel + bias)))  # the sigmoid encoder on the dense rows
    np.testing.assert_allclose(model.get_layer("item_codes").get_weights()[0], expected, rtol=1e-5, atol=1e-5)
    users, items = np.array([0, 5, 89], np.int32), np.array([3, 3, 69], np.int32)
    decoder_kernel, decoder_bias = model.get_layer("decoder").get_weights()
    full = (expected[items] @ decoder_kernel + decoder_bias)[np.arange(3), users]  # dense reconstruction
    offsets = model.get_layer("item_offset").get_weights()[0][items, 0]
    np.testing.assert_allclose(np.asarray(model({"user": users, "item": items})), full + offsets, rtol=1e-4, atol=1e-4)
    from recsearch.training.rows import RowBatches

    batches = RowBatches(rows, np.flatnonzero(np.diff(rows.indptr) > 0), batch_size=8, seed=0)
    x, _, _ = batches[0]
    sub = rows[batches.order[:8]]
    entry_item = np.repeat(batches.order[:8], np.diff(sub.indptr))  # the row model reconstructs observed entries only
    per_entry = np.sum(expected[entry_item] * decoder_kernel[:, sub.indices].T, axis=1) + decoder_bias[sub.indices]
    np.testing.assert_allclose(np.asarray(autoencoder(x)), per_entry, rtol=1e-4, atol=1e-4)
