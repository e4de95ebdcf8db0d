"""One contract test for every registered model: build tiny, train one epoch, shapes, save/load round-trip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    "hypermodel": ["+model.hp.embedding_dim=8", "+model.hp.units=16"],  # recsearch/examples/my_hypermodel.py
}


REPO = Path(__file__).resolve().parents[2]

# A fresh interpreter that imports only Keras and `recsearch.models`, then loads each .keras file it is sent:
# the custom layers must be registered by the package, not by whatever the test process imported first.
LOADER = """
import json, sys
import numpy as np
import keras
from recsearch.models import register_layers
register_layers()
for line in sys.stdin:
    req = json.loads(line)
    try:
        model = keras.saving.load_model(req["model"], compile=False)
        inputs = np.load(req["inputs"])
        pred = np.asarray(model.predict({"user": inputs["user"], "item": inputs["item"]}, verbose=0)).reshape(-1)
        np.save(req["out"], pred)
        print(json.dumps({"ok": True}), flush=True)
    except Exception as exc:
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}), flush=True)
"""


@pytest.fixture(scope="module")
def fresh_loader():
    """One fresh Python process for the module's models (Keras is imported once, not once per family)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-c", LOADER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd="/")
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def load_in_fresh_process(proc, model_path: Path, inputs: dict, tmp_path: Path) -> np.ndarray:
    """Predictions of the saved model, loaded and run in the fresh process."""
    np.savez(tmp_path / "inputs.npz", **inputs)
    request = {"model": str(model_path), "inputs": str(tmp_path / "inputs.npz"), "out": str(tmp_path / "pred.npy")}
    proc.stdin.write(json.dumps(request) + "\n")
    proc.stdin.flush()
    answer = json.loads(proc.stdout.readline())
    assert answer["ok"], answer.get("error")
    return np.load(tmp_path / "pred.npy")


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
def test_model_contract(name, tmp_path, fresh_loader):
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
    fresh = load_in_fresh_process(fresh_loader, path, model_inputs(data.test), tmp_path)
    np.testing.assert_allclose(fresh, pred, rtol=1e-5, atol=1e-5)
