"""benchmarks/peers.py compares like with like: its hand-written space and model are recsearch's `mlp`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import _peer_searches as peers  # noqa: E402


def test_hand_written_space_matches_the_mlp_space() -> None:
    peers.check_space()  # exits naming the difference otherwise


def test_a_different_range_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from optuna.distributions import IntDistribution

    written = peers.hand_space()
    monkeypatch.setattr(peers, "hand_space", lambda: {**written, "model.depth": IntDistribution(1, 5)})
    with pytest.raises(SystemExit, match=r"\['model.depth'\]"):
        peers.check_space()


def test_a_different_condition_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(peers.CONDITIONS, "train.momentum", lambda v: v["train.optimizer"] == "sgd")
    with pytest.raises(SystemExit, match="conditions at depth=1 optimizer=rmsprop"):
        peers.check_space()


def test_kerastuner_sampling_keeps_only_active_parameters() -> None:
    asked: list[str] = []
    fixed = {"model.depth": 1, "train.optimizer": "adam"}

    def suggest(key: str, dist: Any) -> Any:
        asked.append(key)
        return fixed.get(key, dist.choices[0] if hasattr(dist, "choices") else dist.low)

    values = peers.sample(suggest, declare_all=True)
    assert asked == list(peers.hand_space())
    assert not {"model.width_schedule", "train.momentum", "train.weight_decay"} & set(values)


@pytest.mark.parametrize("params", [
    {"model.depth": 3, "model.width": 64, "model.width_schedule": "halving", "model.embedding_dim": 12,
     "model.activation": "relu", "model.dropout": 0.2, "model.l2": 1e-4, "train.optimizer": "adam",
     "train.learning_rate": 1e-3},
    {"model.depth": 1, "model.width": 32, "model.embedding_dim": 8, "model.activation": "tanh",
     "model.dropout": 0.0, "model.l2": 1e-6, "train.optimizer": "sgd", "train.learning_rate": 0.01,
     "train.momentum": 0.5},
])
def test_hand_built_model_is_recsearchs_mlp(tiny: list[str], params: dict) -> None:
    import keras

    from recsearch.config import compose_config
    from recsearch.models import build_model
    from recsearch.training.run import prepare_for

    cfg = compose_config([*tiny, "model=mlp", *(f"{k}={v}" for k, v in params.items())])
    data = prepare_for(cfg)
    from recsearch.models.host_init import host_initial_values

    with host_initial_values():  # on JAX recsearch draws initial values on the host: the same draws for both
        ours = peers.build_model(params, cfg, data)
    keras.utils.set_random_seed(int(cfg.train.seed))
    theirs = build_model(cfg.model, data)
    rows = {"user": data.valid.users[:64], "item": data.valid.items[:64]}
    assert ours.count_params() == theirs.count_params()
    penalty = lambda model: sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)  # noqa: E731
    assert penalty(ours) == pytest.approx(penalty(theirs), rel=1e-5) and penalty(ours) > 0
    np.testing.assert_allclose(ours.predict(rows, verbose=0), theirs.predict(rows, verbose=0), rtol=1e-5, atol=1e-6)
