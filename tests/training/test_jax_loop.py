"""The jitted JAX training loop: fit's callback and early-stopping semantics, best weights in the Keras
model, compiled programs reused across trials, packed members reproducing alone. Runs on the JAX backend, the
suite's; a suite run on TensorFlow runs this file in a JAX session (tests/test_other_backend.py), and one test
here trains through the loop in a JAX subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from recsearch.config import compose_config
from recsearch.training.run import prepare_for

ON_JAX = keras.backend.backend() == "jax"
needs_jax = pytest.mark.skipif(not ON_JAX, reason="the JAX loop runs on the JAX backend (KERAS_BACKEND=jax)")


class StopAt(keras.callbacks.Callback):
    """Records the epoch logs and sets stop_training after `epoch` (1-based), as the pruning callback does."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch, self.logs, self.began = epoch, [], False

    def on_train_begin(self, logs=None):
        self.began = True

    def on_epoch_end(self, epoch, logs=None):
        self.logs.append(dict(logs))
        if epoch + 1 >= self.epoch:
            self.model.stop_training = True


@needs_jax
def test_callbacks_see_logs_and_stop_training(tiny):
    from recsearch.training.trainer import train

    cfg = compose_config([*tiny, "train.epochs=5"])
    stop = StopAt(2)
    result = train(cfg, prepare_for(cfg), callbacks=[stop])
    assert stop.began and result.epochs_run == 2 and len(stop.logs) == 2
    assert {"loss", "val_rmse", "val_mae"} <= set(stop.logs[0])
    assert [log["val_rmse"] for log in stop.logs] == result.history["val_rmse"]
    assert set(result.timings) == {"build_s", "compile_s", "fit_s", "eval_s"}


@needs_jax
def test_model_holds_best_weights_and_valid_is_best_epoch(tiny):
    """Early stopping with restore: reported valid RMSE = best epoch's = the Keras model's own predictions."""
    from recsearch.training.metrics import rmse
    from recsearch.training.trainer import model_inputs, train

    cfg = compose_config([*tiny[:6], "model=mf", "model.embedding_dim=8", "train.epochs=8", "train.patience=2",
                          "train.learning_rate=0.05"])
    data = prepare_for(cfg)
    result = train(cfg, data)
    curve = result.history["val_rmse"]
    assert result.best_epoch == int(np.argmin(curve)) + 1
    assert result.metrics["valid_rmse"] == curve[result.best_epoch - 1]
    pred = np.clip(result.model.predict(model_inputs(data.valid), verbose=0).reshape(-1), *data.rating_scale)
    assert rmse(data.valid.ratings, pred) == pytest.approx(result.metrics["valid_rmse"], rel=1e-5)
    if result.epochs_run < 8:  # stopped early: patience epochs without improvement after the best
        assert result.epochs_run - result.best_epoch == 2


def test_stopper_follows_keras_early_stopping():
    from recsearch.training.jax_loop import _Stopper

    low = _Stopper(patience=2, mode="min")
    assert [low.update(e, v) for e, v in enumerate([3.0, 2.0, 2.5, 2.0, 1.0])] == [
        (True, False), (True, False), (False, False), (False, True), (True, False)]
    high = _Stopper(patience=1, mode="max")
    assert [high.update(e, v) for e, v in enumerate([0.1, 0.3, 0.2])] == [(True, False), (True, False), (False, True)]
    nan = _Stopper(patience=3, mode="min")
    assert nan.update(0, float("nan")) == (True, False) and nan.best_epoch == 0


@needs_jax
def test_same_shape_trials_reuse_the_compiled_program(tiny):
    from recsearch.training.trainer import train

    data = prepare_for(compose_config(tiny))
    train(compose_config([*tiny, "model.width=24"]), data)
    again = train(compose_config([*tiny, "model.width=24", "train.learning_rate=0.01", "model.dropout=0.3",
                                  "model.l2=0.001", "train.seed=3"]), data)
    assert again.timings["compile_s"] == 0.0


@needs_jax
def test_packed_members_reproduce_alone(tiny):
    """Three members with their own learning rate, L2, dropout and seed, packed; each equals its solo run."""
    from recsearch.training.jax_loop import fit_members
    from recsearch.training.trainer import schedule_for

    variants = [["train.learning_rate=0.003", "model.dropout=0.1", "model.l2=0.0001", "train.seed=1"],
                ["train.learning_rate=0.02", "model.dropout=0.4", "model.l2=0.01", "train.seed=2"],
                ["train.learning_rate=0.001", "model.dropout=0.2", "model.l2=0.00001", "train.seed=3"]]
    cfgs = [compose_config([*tiny, "train.epochs=3", *v]) for v in variants]
    data = prepare_for(cfgs[0])
    packed, _ = fit_members([_member(c, data) for c in cfgs], data.train, data.valid, data.test,
                            schedule_for(cfgs[0], data))
    for cfg, fit in zip(cfgs, packed):
        [alone], _ = fit_members([_member(cfg, data)], data.train, data.valid, data.test, schedule_for(cfg, data))
        assert fit.history["val_rmse"] == pytest.approx(alone.history["val_rmse"], rel=1e-4)
        assert fit.metrics["test_rmse"] == pytest.approx(alone.metrics["test_rmse"], rel=1e-4)
    assert len({round(f.metrics["valid_rmse"], 6) for f in packed}) == 3


@needs_jax
def test_a_stopped_member_keeps_its_results_while_the_rest_train_on(tiny):
    """Its lane of the pack computes on, unread (FREEZE_STOPPED off): metrics and weights are its own."""
    from recsearch.training.jax_loop import fit_members
    from recsearch.training.trainer import schedule_for

    cfgs = [compose_config([*tiny, "train.epochs=3", f"train.seed={s}"]) for s in (1, 2)]
    data = prepare_for(cfgs[0])
    stopped, other = _member(cfgs[0], data, [StopAt(1)]), _member(cfgs[1], data)
    fits, _ = fit_members([stopped, other], data.train, data.valid, data.test, schedule_for(cfgs[0], data))
    [alone], _ = fit_members([_member(cfgs[1], data)], data.train, data.valid, data.test, schedule_for(cfgs[1], data))
    first_member = _member(cfgs[0], data, [StopAt(1)])
    [first], _ = fit_members([first_member], data.train, data.valid, data.test, schedule_for(cfgs[0], data))
    assert len(fits[0].history["loss"]) == 1 and len(fits[1].history["loss"]) == 3
    assert fits[1].history["val_rmse"] == pytest.approx(alone.history["val_rmse"], rel=1e-4)
    assert fits[0].metrics["test_rmse"] == pytest.approx(first.metrics["test_rmse"], rel=1e-4)
    for packed, single in zip(stopped.model.get_weights(), first_member.model.get_weights()):
        np.testing.assert_allclose(packed, single, rtol=1e-4, atol=1e-6)
    from recsearch.training.jax_loop import with_optimizer_state

    assert not stopped.model.optimizer.built  # written when the model is saved or handed out, not for every trial
    for model in (stopped.model, other.model, first_member.model):
        with_optimizer_state(model)
    steps = -(-len(data.train) // int(cfgs[0].train.batch_size))
    assert int(stopped.model.optimizer.iterations) == steps and int(other.model.optimizer.iterations) == 3 * steps
    _assert_same_optimizer_state(stopped.model, first_member.model)  # its state when it stopped, not the pack's last


def _assert_same_optimizer_state(model, reference) -> None:
    """Every optimizer variable of `model` equals `reference`'s (same order and shapes), scaled to its values."""
    mine, theirs = model.optimizer.variables, reference.optimizer.variables
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape, (a.shape, b.shape)
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * float(np.abs(b).max() or 1.0))


@needs_jax
@pytest.mark.parametrize("optimizer, slots", [("adam", 2), ("sgd", 1)])
def test_the_model_ends_holding_its_optimizer_state(tiny, monkeypatch, optimizer, slots):
    """After the loop, the model's optimizer holds the state of its last epoch, as `fit` leaves it: one slot per
    variable at the variable's shape, the steps taken. The same state whether the member trained in a wider twin
    with its small variables updated as one vector, or at its own width variable by variable."""
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    over = [*tiny, "model=mlp", "model.depth=2", "model.embedding_dim=9", "train.epochs=2",
            f"train.optimizer={optimizer}", "train.momentum=0.5"]
    data = prepare_for(compose_config(over))
    jax_loop.clear_programs()
    padded = jax_loop.with_optimizer_state(train(compose_config(over), data).model)
    program = next(iter(jax_loop._PROGRAMS.values()))
    assert len(program.layout.flat) > 1 and '"output_dim": 10' in next(iter(jax_loop._PROGRAMS))
    jax_loop.clear_programs()
    monkeypatch.setattr(jax_loop, "FLAT_MAX", 0)
    apart = jax_loop.with_optimizer_state(train(compose_config([*over, "train.pad_embeddings=false"]), data).model)
    recompiled = train(compose_config([*over, "train.pad_embeddings=false"]), data).model
    recompiled.compile(optimizer=keras.optimizers.Adam(0.5), loss="mse")  # the user's own optimizer: left fresh
    assert not jax_loop.with_optimizer_state(recompiled).optimizer.built
    jax_loop.clear_programs()
    steps = -(-len(data.train) // int(compose_config(over).train.batch_size))
    optimizer_state = padded.optimizer.variables
    assert int(padded.optimizer.iterations) == 2 * steps
    assert len(optimizer_state) == 2 + slots * len(padded.trainable_variables)  # iteration, learning rate, slots
    slots = [v for v in optimizer_state if v.path.endswith(("momentum", "velocity"))]
    assert {tuple(v.shape) for v in slots} == {tuple(v.shape) for v in padded.trainable_variables}
    assert all(np.abs(np.asarray(v)).max() > 0 for v in slots)
    _assert_same_optimizer_state(padded, apart)


def _member(cfg, data, callbacks=()):
    """A built, compiled member for `cfg` (seeded as `train` seeds it)."""
    from recsearch.models import build_model
    from recsearch.training.backend import seed_everything
    from recsearch.training.jax_loop import Member
    from recsearch.training.trainer import compile_model

    seed_everything(int(cfg.train.seed))
    model = build_model(cfg.model, data)
    compile_model(model, cfg, data)
    return Member(model, int(cfg.train.seed), list(callbacks))


@needs_jax
@pytest.mark.parametrize("name", ["mf", "gmf", "mlp", "neumf", "deepfm", "two_tower"])
def test_a_model_trained_in_its_wider_twin_trains_the_same(tiny, name):
    """embedding_dim 9 trains inside a twin of width 10 (train.pad_embeddings): the same metrics as at its own
    width, the model keeps its own shapes, and a trial of width 10 reuses the twin's program. A second trial of
    width 9 (another seed and learning rate) reuses the twin itself, and equals its own run too."""
    from recsearch.training import jax_loop
    from recsearch.training.metrics import rmse
    from recsearch.training.trainer import model_inputs, train

    over = [*tiny[:6], f"model={name}", "train.epochs=2"]  # gmf's default dropout is 0: masks of its product
    other = ["train.seed=5", "train.learning_rate=0.003"]
    data = prepare_for(compose_config(over))
    jax_loop.clear_programs()
    padded = train(compose_config([*over, "model.embedding_dim=9"]), data)
    assert 9 in _embedding_widths(padded.model) and 10 not in _embedding_widths(padded.model)
    assert len(jax_loop._PROGRAMS) == 1 and '"output_dim": 10' in next(iter(jax_loop._PROGRAMS))
    assert train(compose_config([*over, "model.embedding_dim=10"]), data).timings["compile_s"] == 0.0
    twin = next(iter(jax_loop._TWINS.values()))
    again = train(compose_config([*over, "model.embedding_dim=9", *other]), data)
    assert list(jax_loop._TWINS.values()) == [twin] and again.timings["compile_s"] == 0.0
    own = train(compose_config([*over, "model.embedding_dim=9", "train.pad_embeddings=false"]), data)
    own_again = train(compose_config([*over, "model.embedding_dim=9", "train.pad_embeddings=false", *other]), data)
    jax_loop.clear_programs()
    assert own.history["val_rmse"] == pytest.approx(padded.history["val_rmse"], rel=1e-5)
    for metric, value in own.metrics.items():
        assert padded.metrics[metric] == pytest.approx(value, rel=1e-5), metric
        assert again.metrics[metric] == pytest.approx(own_again.metrics[metric], rel=1e-5), metric
    assert again.metrics != padded.metrics
    pred = np.clip(padded.model.predict(model_inputs(data.test), verbose=0).reshape(-1), *data.rating_scale)
    assert rmse(data.test.ratings, pred) == pytest.approx(padded.metrics["test_rmse"], rel=1e-5)


def _embedding_widths(model) -> set[int]:
    """The widths of the model's trained Embedding layers (nested towers included; not fixed side tables)."""
    return {layer.output_dim for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.Embedding) and layer.trainable}


@needs_jax
def test_members_of_different_widths_pack_in_one_twin(tiny):
    """Widths 9 and 10 packed in one twin of width 10 (as a packed sweep groups them): each member equals its
    own run at its own width, and ends with its own shapes."""
    from recsearch.training.jax_loop import fit_members
    from recsearch.training.trainer import padded_twin, schedule_for

    cfgs = [compose_config([*tiny[:6], "model=mlp", f"model.embedding_dim={d}", "train.epochs=2",
                            f"train.seed={d}", "train.pad_embeddings=false"]) for d in (9, 10)]
    data = prepare_for(cfgs[0])
    members = [_member(c, data) for c in cfgs]
    twin = padded_twin(compose_config([*tiny[:6], "model=mlp", "model.embedding_dim=9"]), data, members[0].model)
    assert twin is not None and twin.width == 10
    for member, d in zip(members, (9, 10)):
        member.width = d
    packed, _ = fit_members(members, data.train, data.valid, data.test, schedule_for(cfgs[0], data), twin)
    for cfg, member, fit in zip(cfgs, members, packed):
        [alone], _ = fit_members([_member(cfg, data)], data.train, data.valid, data.test, schedule_for(cfg, data))
        assert fit.metrics["test_rmse"] == pytest.approx(alone.metrics["test_rmse"], rel=1e-5)
        assert member.model.get_layer("user_embedding").output_dim == cfg.model.embedding_dim
        assert member.model.get_layer("user_embedding").embeddings.shape[1] == cfg.model.embedding_dim


@needs_jax
@pytest.mark.parametrize("optimizer, knob, values", [("sgd", "momentum", (0.5, 0.9)), ("rmsprop", "momentum", (0.3, 0.6)),
                                                     ("adamw", "weight_decay", (0.01, 0.001))])
def test_momentum_and_weight_decay_are_per_trial_values_of_one_program(tiny, monkeypatch, optimizer, knob, values):
    """Trials differing only in momentum or weight decay reuse one program, and train as with the value
    compiled in (the program before these were per-member values)."""
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    over = [*tiny, "model.depth=2", "train.epochs=2", f"train.optimizer={optimizer}", "train.learning_rate=0.01"]
    data = prepare_for(compose_config(over))
    jax_loop.clear_programs()
    first, second = (train(compose_config([*over, f"train.{knob}={v}"]), data) for v in values)
    assert first.timings["compile_s"] > 0 and second.timings["compile_s"] == 0.0
    assert first.metrics["valid_rmse"] != second.metrics["valid_rmse"]
    monkeypatch.setattr(jax_loop, "_optimizer_slots", lambda optimizer: [])
    for value, traced in zip(values, (first, second)):
        jax_loop.clear_programs()  # the key leaves the value out: compile this one with its own value
        baked = train(compose_config([*over, f"train.{knob}={value}"]), data)
        for name, metric in baked.metrics.items():
            assert traced.metrics[name] == pytest.approx(metric, rel=1e-5), name
    jax_loop.clear_programs()


@pytest.mark.skipif(ON_JAX, reason="covered in-process on the JAX backend")
def test_jax_loop_in_a_jax_process(tiny, isolated_paths):
    """From a TensorFlow test session: `recsearch train train.backend=jax` trains and is deterministic."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "recsearch", "train", "--no-save-model", *tiny, "train.backend=jax"],
                       env=env, check=True, capture_output=True, text=True, timeout=300)
    runs = sorted((isolated_paths / "default" / "runs").iterdir())
    first, second = (json.loads((r / "metrics.json").read_text()) for r in runs)
    assert first["environment"]["backend"] == "jax" and np.isfinite(first["valid_rmse"])
    assert first["valid_rmse"] == second["valid_rmse"] and first["test_mae"] == second["test_mae"]


@needs_jax
@pytest.mark.parametrize("name", ["mf", "gmf", "mlp", "neumf", "deepfm", "two_tower"])
def test_every_pair_model_trains_in_the_loop(tiny, name):
    """Each pair model (nested towers, fixed side tables included) ends holding weights that give its metric."""
    from recsearch.training.metrics import rmse
    from recsearch.training.trainer import model_inputs, train

    cfg = compose_config([*tiny[:6], f"model={name}", "train.epochs=1"])
    data = prepare_for(cfg)
    result = train(cfg, data)
    pred = np.clip(result.model.predict(model_inputs(data.test), verbose=0).reshape(-1), *data.rating_scale)
    assert rmse(data.test.ratings, pred) == pytest.approx(result.metrics["test_rmse"], rel=1e-5)


@needs_jax
def test_evicted_programs_recompile_and_train_the_same(tiny, monkeypatch):
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    monkeypatch.setattr(jax_loop, "MAX_PROGRAMS", 1)
    data = prepare_for(compose_config(tiny))
    first = train(compose_config([*tiny, "model.width=12"]), data)
    train(compose_config([*tiny, "model.width=20"]), data)  # evicts width 12
    again = train(compose_config([*tiny, "model.width=12"]), data)
    assert again.timings["compile_s"] > 0 and again.metrics == first.metrics


class BackendCompiles:
    """Counts XLA compilations (JAX's backend-compile events) while active."""

    def __enter__(self):
        import jax.monitoring

        self.names: list[str] = []
        self._listener = lambda event, *_a, **k: self.names.append(k.get("fun_name", "?")) \
            if "backend_compile" in event else None
        jax.monitoring.register_event_duration_secs_listener(self._listener)
        return self

    @property
    def count(self) -> int:
        return len(self.names)

    def __exit__(self, *exc):
        from jax._src import monitoring

        monitoring.unregister_event_duration_listener(self._listener)


@needs_jax
def test_a_new_shape_compiles_one_program(tiny):
    """Per new architecture the loop compiles one program, which trains, evaluates the validation split each
    epoch and scores the test split; picking the best epoch's weights is done on the host."""
    from recsearch.training.trainer import train

    data = prepare_for(compose_config(tiny))
    train(compose_config([*tiny, "model.width=19"]), data)  # once-per-process eager programs compile here
    with BackendCompiles() as compiles:
        train(compose_config([*tiny, "model.width=23", "train.epochs=3", "train.patience=3"]), data)
    ours = sorted(name for name in compiles.names if "_member_" in name or "select" in name)
    assert ours == ["jit(_member_epoch_ordered)"], compiles.names


@needs_jax
def test_dropout_layers_in_the_loop_draw_hashed_masks(tiny, monkeypatch):
    """The loop's programs trace Keras's Dropout layers with the hashed masks (`HASHED_DROPOUT`): the same
    trial trains differently with threefry's masks (a cached program of the other setting is not reused), and
    alike without dropout (the switch touches nothing else); the hashed masks do drop."""
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    data = prepare_for(compose_config(tiny))
    runs = {}
    for dropout in (0.0, 0.3):
        for hashed in (True, False):
            monkeypatch.setattr(jax_loop, "HASHED_DROPOUT", hashed)
            result = train(compose_config([*tiny, "model.width=21", f"model.dropout={dropout}"]), data)
            runs[dropout, hashed] = result.metrics["valid_rmse"]
    assert runs[0.0, True] == runs[0.0, False]
    assert runs[0.3, True] != runs[0.3, False] and runs[0.3, True] != runs[0.0, True]


@needs_jax
def test_a_new_architecture_builds_with_no_compilation(tiny):
    """Initial values are drawn on the host: building an unseen shape compiles nothing (Keras's own eager
    initializers compile one program per variable shape: the control), the same seed gives the same weights,
    and the values follow the initializer (Glorot-uniform bounds)."""
    from recsearch.models import build_model
    from recsearch.models.mlp import from_config
    from recsearch.training.backend import seed_everything

    data = prepare_for(compose_config(tiny))

    def built(width: int, host: bool):
        cfg = compose_config([*tiny, "model=mlp", f"model.width={width}", "model.depth=2"])
        seed_everything(3)
        with BackendCompiles() as compiles:
            model = build_model(cfg.model, data) if host else from_config(cfg.model, data)
        return model, compiles.count

    control, control_compiles = built(37, host=False)
    first, compiles = built(41, host=True)
    again, _ = built(41, host=True)
    assert control_compiles > 0 and compiles == 0
    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    kernel = next(np.asarray(w) for w in first.weights if w.path.endswith("kernel") and w.shape[1] == 41)
    limit = np.sqrt(6 / sum(kernel.shape))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit and abs(kernel.mean()) < 0.05 * limit


@needs_jax
def test_host_samplers_leave_traced_calls_to_jax():
    """Inside the context a sampler called while JAX traces (dropout in a compiled step) still uses JAX's, and
    the originals come back on exit."""
    import jax
    from keras.src.backend.jax import random as jax_random

    from recsearch.models.host_init import host_initial_values

    original = jax_random.uniform
    with host_initial_values():
        assert jax_random.uniform is not original
        traced = jax.jit(lambda key: keras.random.uniform((4,), seed=key))(jax.random.PRNGKey(1))
    assert jax_random.uniform is original
    np.testing.assert_array_equal(np.asarray(traced), np.asarray(original((4,), seed=jax.random.PRNGKey(1))))


def test_architecture_key_ignores_per_member_values_and_keeps_compiled_ones():
    """Trials that differ only in per-member values (a dropout rate above zero, an L2 factor) share a program;
    a value compiled into the program (a zero rate, which is no per-member slot; another noise layer's rate; an
    L1 factor) gives another key, or a program would be reused with the wrong value or slots."""
    from recsearch.training.jax_loop import Schedule, architecture_key

    def key(dropout=0.2, l2=1e-4, noise=0.1, l1=0.0):
        users = keras.Input((), dtype="int32", name="user")
        items = keras.Input((), dtype="int32", name="item")
        x = keras.layers.Concatenate()([keras.layers.Embedding(10, 4)(users), keras.layers.Embedding(10, 4)(items)])
        x = keras.layers.Dense(8, kernel_regularizer=keras.regularizers.L2(l2))(x)
        x = keras.layers.Dropout(dropout)(x)
        x = keras.layers.GaussianDropout(noise)(x)
        x = keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L1L2(l1=l1, l2=0.0))(x)
        model = keras.Model({"user": users, "item": items}, x)
        model.compile(optimizer="adam", loss="mse")
        return architecture_key(model, Schedule(batch_size=32, epochs=1, patience=1, metric="rmse", mode="min"))

    base = key()
    assert key(dropout=0.4, l2=1e-2) == base
    assert key(dropout=0.0) != base and key(noise=0.3) != base and key(l1=0.01) != base


def test_orders_shared_and_per_member():
    """One (steps, batch) order when every member has the same seed, one per member otherwise; every row
    once per epoch, padding with index n, a new order each epoch."""
    from recsearch.training.jax_loop import _orders

    shared = _orders([7, 7, 7], 0, 10, 4)
    assert shared.shape == (3, 4)
    assert sorted(shared.ravel()[shared.ravel() < 10].tolist()) == list(range(10))
    assert (shared.ravel()[10:] == 10).all()
    assert not np.array_equal(shared, _orders([7], 1, 10, 4))
    own = _orders([7, 8, 7], 0, 10, 4)
    assert own.shape == (3, 3, 4)
    assert np.array_equal(own[0], shared) and np.array_equal(own[2], shared)
    assert not np.array_equal(own[1], shared)


@needs_jax
def test_unrolled_threefry_same_bits():
    """The unrolled threefry lowering used while our programs compile draws the same bits as JAX's default."""
    import jax

    from recsearch.training.jax_loop import _unrolled_threefry

    def draw(key):
        return jax.random.bernoulli(key, 0.8, (64, 33)), jax.random.permutation(key, 100)

    key = jax.random.PRNGKey(3)
    default = jax.jit(draw).lower(key).compile()(key)
    with _unrolled_threefry(True):
        unrolled = jax.jit(lambda k: draw(k)).lower(key).compile()(key)
    for a, b in zip(default, unrolled):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@needs_jax
def test_threefry_is_unrolled_only_in_the_lowering_thread_inside_the_context():
    """Another thread lowering at the same time, and every lowering afterwards, keeps JAX's rolled loop."""
    import threading

    import jax

    from recsearch.training.jax_loop import _unrolled_threefry

    key = jax.random.PRNGKey(3)

    def loops() -> int:  # JAX's CPU lowering of threefry is a while loop; unrolled it has none
        return jax.jit(lambda k: jax.random.bernoulli(k, 0.8, (64, 33))).lower(key).as_text().count("stablehlo.while")

    assert loops() == 1
    seen: dict[str, int] = {}
    with _unrolled_threefry(True):
        with _unrolled_threefry(True):  # nested: still unrolled after the inner one ends
            pass
        assert loops() == 0
        thread = threading.Thread(target=lambda: seen.setdefault("other", loops()))
        thread.start()
        thread.join(60)
    assert seen == {"other": 1} and loops() == 1
    with _unrolled_threefry(False):
        assert loops() == 1


@needs_jax
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
def test_small_variables_updated_as_one_vector_train_the_same(tiny, monkeypatch, optimizer):
    """The small variables share one optimizer update (fewer kernels to compile): the same metrics as
    updating each variable on its own (FLAT_MAX=0), for every optimizer the search spaces use."""
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    over = [*tiny, "model=mlp", "model.depth=2", "train.epochs=2", f"train.optimizer={optimizer}",
            "train.momentum=0.5"]
    data = prepare_for(compose_config(over))
    jax_loop.clear_programs()  # the one program cached below is this test's
    joined = train(compose_config(over), data)
    assert len(next(iter(jax_loop._PROGRAMS.values())).layout.flat) > 1
    jax_loop.clear_programs()
    monkeypatch.setattr(jax_loop, "FLAT_MAX", 0)
    apart = train(compose_config(over), data)
    assert next(iter(jax_loop._PROGRAMS.values())).layout.flat == []
    jax_loop.clear_programs()
    for name, value in joined.metrics.items():
        assert value == pytest.approx(apart.metrics[name], rel=1e-6, abs=1e-9), name


def test_flat_layout_joins_and_splits_only_what_it_may():
    """Small variables are concatenated and split back exactly; large ones stay apart; optimizers whose
    update is not elementwise (Adafactor's factored moments, per-variable clipnorm) keep every variable apart."""
    from recsearch.training.jax_loop import _FlatLayout

    variables = [keras.Variable(np.arange(np.prod(s), dtype="float32").reshape(s)) for s in [(3, 4), (4,), (5, 2)]]
    values = [np.asarray(v.value) for v in variables]
    layout = _FlatLayout(variables, keras.optimizers.Adam())
    assert layout.flat == [0, 1, 2] and layout.alone == []
    joined = layout.join(values)
    assert len(joined) == 1 and joined[0].shape == (26,)
    for a, b in zip(layout.split(joined), values):
        np.testing.assert_array_equal(np.asarray(a), b)
    assert [tuple(v.shape) for v in layout.optimizer_variables(variables)] == [(26,)]
    big = [*variables, keras.Variable(np.zeros((1 << 17) + 1, "float32"))]
    assert _FlatLayout(big, keras.optimizers.SGD()).alone == [3]
    assert _FlatLayout(variables, keras.optimizers.Adafactor()).flat == []
    assert _FlatLayout(variables, keras.optimizers.Adam(clipnorm=1.0)).flat == []
    excluded = keras.optimizers.AdamW()
    excluded.exclude_from_weight_decay(var_names=["bias"])
    assert _FlatLayout(variables, excluded).flat == []


def test_fusion_emitters_only_where_the_legacy_ones_cost_more_than_they_save(monkeypatch):
    """A shape gets XLA's default emitters when its large square-root/divide optimizer updates would cost a
    sweep trial more under the legacy ones than their faster compile saves; never when the user chose
    the emitters (recsearch did not set the flag), for optimizers without such updates, or off CPU."""
    import jax

    from recsearch.training import backend, jax_loop

    def model(dim: int, optimizer: str = "adam") -> keras.Model:
        user, item = keras.Input((), dtype="int32"), keras.Input((), dtype="int32")
        users, items = keras.layers.Embedding(600, dim)(user), keras.layers.Embedding(9700, dim)(item)
        out = keras.layers.Dense(1)(keras.layers.Concatenate()([users, items]))
        built = keras.Model([user, item], out)
        built.compile(optimizer=optimizer, loss="mse")
        return built

    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    monkeypatch.setenv(backend.OWN_XLA_FLAGS_ENV, backend.CPU_XLA_FLAGS)
    big, small = model(64), model(8)
    on = {"xla_cpu_use_fusion_emitters": True}
    assert jax_loop.compiler_options(big, big.optimizer, members=1, steps=80) == on
    assert jax_loop.compiler_options(small, small.optimizer, members=1, steps=80) is None
    assert jax_loop.compiler_options(small, small.optimizer, members=16, steps=80) == on  # a pack: 16x the updates
    sgd = model(64, "sgd")
    assert jax_loop.compiler_options(sgd, sgd.optimizer, members=1, steps=80) is None
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    assert jax_loop.compiler_options(big, big.optimizer, members=1, steps=80) is None
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    monkeypatch.delenv(backend.OWN_XLA_FLAGS_ENV)  # the user's XLA_FLAGS or RECSEARCH_XLA_FLAGS chose them
    assert not backend.legacy_emitters_chosen_here()
    assert jax_loop.compiler_options(big, big.optimizer, members=1, steps=80) is None


@needs_jax
def test_either_emitters_train_the_same(tiny, monkeypatch):
    """The program compiled with XLA's default emitters trains to the metrics of the legacy ones (float noise)."""
    from recsearch.training import jax_loop
    from recsearch.training.trainer import train

    over = [*tiny[:6], "model=mf", "model.embedding_dim=16"]
    data = prepare_for(compose_config(over))
    results = []
    for options in (None, {"xla_cpu_use_fusion_emitters": True}):
        jax_loop.clear_programs()
        monkeypatch.setattr(jax_loop, "compiler_options", lambda *args, options=options, **kw: options)
        results.append(train(compose_config(over), data).metrics)
    jax_loop.clear_programs()
    for name, value in results[0].items():
        assert value == pytest.approx(results[1][name], rel=1e-5, abs=1e-9), name
