"""NeuMF initialised from a trained GMF and a trained MLP copies their weights."""

from __future__ import annotations

import numpy as np

from recsearch.models.gmf import build_gmf
from recsearch.models.mlp import build_mlp
from recsearch.models.neumf import build_neumf, load_pretrained


def _randomise(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])


def test_pretrained_weights_are_copied(tmp_path):
    gmf = build_gmf(7, 5, embedding_dim=3)
    mlp = build_mlp(7, 5, embedding_dim=4, depth=2, width=8, dropout=0.0)
    _randomise(gmf, 1)
    _randomise(mlp, 2)
    gmf.save(tmp_path / "gmf.keras")
    mlp.save(tmp_path / "mlp.keras")
    neumf = build_neumf(7, 5, mf_dim=3, embedding_dim=4, depth=2, width=8, dropout=0.0)
    load_pretrained(neumf, gmf_path=tmp_path / "gmf.keras", mlp_path=tmp_path / "mlp.keras")
    same = np.testing.assert_array_equal
    same(neumf.get_layer("gmf_user_embedding").get_weights()[0], gmf.get_layer("user_embedding").get_weights()[0])
    same(neumf.get_layer("gmf_item_embedding").get_weights()[0], gmf.get_layer("item_embedding").get_weights()[0])
    same(neumf.get_layer("mlp_user_embedding").get_weights()[0], mlp.get_layer("user_embedding").get_weights()[0])
    for k in range(2):
        for a, b in zip(neumf.get_layer(f"hidden_{k}").get_weights(), mlp.get_layer(f"hidden_{k}").get_weights()):
            same(a, b)
    kernel, bias = neumf.get_layer("rating").get_weights()
    np.testing.assert_allclose(kernel[:3], 0.5 * gmf.get_layer("rating").get_weights()[0])
    np.testing.assert_allclose(kernel[3:], 0.5 * mlp.get_layer("rating").get_weights()[0])
    np.testing.assert_allclose(bias, 0.5 * (gmf.get_layer("rating").get_weights()[1]
                                           + mlp.get_layer("rating").get_weights()[1]), rtol=1e-6)
    # With alpha = 0.5 the fused prediction is the mean of the two pretrained models' predictions.
    x = {"user": np.array([0, 3, 6], np.int32), "item": np.array([4, 1, 0], np.int32)}
    expected = 0.5 * (gmf.predict(x, verbose=0) + mlp.predict(x, verbose=0))
    np.testing.assert_allclose(neumf.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_config_paths_load_pretrained(tmp_path):
    from types import SimpleNamespace

    from recsearch.models.neumf import from_config

    gmf = build_gmf(7, 5, embedding_dim=3)
    _randomise(gmf, 3)
    gmf.save(tmp_path / "gmf.keras")
    cfg = SimpleNamespace(mf_dim=3, embedding_dim=4, depth=1, width=8, width_schedule="halving", activation="relu",
                          dropout=0.0, l2=0.0, embedding_l2=0.0, pretrained_gmf=str(tmp_path / "gmf.keras"),
                          pretrained_mlp=None)
    data = SimpleNamespace(num_users=7, num_items=5, global_mean=3.0)
    model = from_config(cfg, data)
    np.testing.assert_array_equal(model.get_layer("gmf_user_embedding").get_weights()[0],
                                  gmf.get_layer("user_embedding").get_weights()[0])
