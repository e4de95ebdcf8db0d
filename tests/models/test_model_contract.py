"""One contract test for every registered model: build tiny, train one epoch, shapes, save/load round-trip."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.config import compose_config
from recsearch.errors import ConfigError
from recsearch.models import MODELS, build_model, model_spec
from recsearch.training.run import prepare_for
from recsearch.training.trainer import model_inputs, train

SYNTH = ["data=synthetic", "data.synthetic.n_users=60", "data.synthetic.n_items=40", "data.synthetic.n_ratings=1200",
         "train.epochs=1", "train.batch_size=128"]

# Per-model overrides that make each model tiny (not every model has depth/width/embedding_dim).
TINY_MODEL = {
    "mf": ["model.embedding_dim=4"],
    "gmf": ["model.embedding_dim=4"],
    "mlp": ["model.depth=1", "model.width=8", "model.embedding_dim=4"],
    "neumf": ["model.mf_dim=4", "model.embedding_dim=4", "model.depth=1", "model.width=8"],
    "deepfm": ["model.embedding_dim=4", "model.depth=1", "model.width=8"],
    "two_tower": ["model.embedding_dim=4", "model.depth=1", "model.width=8"],
    "autorec": ["model.hidden=8", "model.row_batch_size=8"],
    "hypermodel": ["+model.hp.embedding_dim=8", "+model.hp.units=16"],  # experiments/my_hypermodel.py
}


def tiny_cfg(name: str, *extra: str):
    return compose_config([*SYNTH, f"model={name}", *TINY_MODEL[name], *extra])


def test_every_registered_model_has_tiny_overrides_and_configs():
    assert set(TINY_MODEL) == set(MODELS)
    for name in MODELS:
        cfg = compose_config([f"model={name}"])
        assert cfg.model.name == name and len(cfg.search_space.params) > 0


def test_unknown_model_lists_choices():
    with pytest.raises(ConfigError, match="unknown model 'nope'; choose one of: autorec, deepfm"):
        model_spec("nope")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_contract(name, tmp_path):
    import keras

    from recsearch.training.backend import seed_everything

    cfg = tiny_cfg(name)
    data = prepare_for(cfg)
    seed_everything(int(cfg.train.seed))
    untrained = np.asarray(build_model(cfg.model, data).predict(model_inputs(data.test), verbose=0))
    result = train(cfg, data)
    model = result.model
    assert set(model.input) == {"user", "item"}
    pred = np.asarray(model.predict(model_inputs(data.test), verbose=0))
    assert pred.shape == (len(data.test),)
    assert np.isfinite(pred).all()
    assert np.abs(pred - untrained).max() > 1e-4  # one epoch of training moved the predictions
    for key in ("valid_rmse", "valid_mae", "test_rmse", "test_mae"):
        assert np.isfinite(result.metrics[key]), key
    assert result.epochs_run == 1 and result.n_params == model.count_params()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(again.predict(model_inputs(data.test), verbose=0)), pred, rtol=1e-5,
                               atol=1e-5)
