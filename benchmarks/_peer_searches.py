"""The peers of benchmarks/peers.py: the `mlp` search space written out by hand, a hand-built NCF-MLP, and
the searches a user would write instead of recsearch (a plain Optuna loop, KerasTuner RandomSearch and
Hyperband). Each runs in its own process; `run_peer` is the entry point."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

BASE = ["model=mlp"]  # recsearch's config for the shared split and training settings
EPOCHS_RUN: list[int] = []  # one entry per epoch a peer trains (a module global: KerasTuner deep-copies callbacks)

# conf/search_space/mlp.yaml, written out by hand: Optuna distributions (inclusive bounds) and conditions.
CONDITIONS: dict[str, Callable[[dict], bool]] = {
    "model.width_schedule": lambda v: v["model.depth"] >= 2,
    "train.momentum": lambda v: v["train.optimizer"] in ("sgd", "rmsprop"),
    "train.weight_decay": lambda v: v["train.optimizer"] == "adamw",
}


def hand_space() -> dict[str, Any]:
    """The `mlp` space as Optuna distributions, in sampling order."""
    from optuna.distributions import CategoricalDistribution as Cat, FloatDistribution as Float, IntDistribution as Int

    return {
        "model.depth": Int(1, 4), "model.width": Cat([32, 64, 128, 256]),
        "model.width_schedule": Cat(["constant", "halving"]), "model.embedding_dim": Int(8, 128, log=True),
        "model.activation": Cat(["relu", "tanh", "sigmoid", "gelu"]), "model.dropout": Float(0.0, 0.5),
        "model.l2": Float(1e-7, 1e-2, log=True), "train.optimizer": Cat(["adam", "sgd", "rmsprop", "adamw"]),
        "train.learning_rate": Float(1e-4, 1e-1, log=True), "train.momentum": Float(0.0, 0.95),
        "train.weight_decay": Float(1e-5, 1e-1, log=True),
    }


def sample(suggest: Callable[[str, Any], Any], *, declare_all: bool = False) -> dict[str, Any]:
    """Draw the active parameters of the space with a peer's `suggest(key, distribution)`.

    With `declare_all`, every parameter is suggested and the inactive ones dropped afterwards: KerasTuner
    gives a parameter its default (not a random value) in the first trial that declares it.
    """
    values: dict[str, Any] = {}
    for key, dist in hand_space().items():
        if declare_all or key not in CONDITIONS or CONDITIONS[key](values):
            values[key] = suggest(key, dist)
    return {k: v for k, v in values.items() if k not in CONDITIONS or CONDITIONS[k](values)}


def check_space() -> None:
    """Stop unless the hand-written space equals recsearch's parse of conf/search_space/mlp.yaml."""
    import itertools

    from recsearch.config import compose_config
    from recsearch.search.parse import parse_space

    cfg = compose_config(BASE)
    space, ours = parse_space(cfg.search_space, cfg), hand_space()
    theirs = {p.key: p.distribution() for p in space.params if p.kind != "fixed"}
    wrong = sorted(k for k in theirs.keys() | ours.keys() if theirs.get(k) != ours.get(k))
    for depth, opt in itertools.product(range(1, 5), ours["train.optimizer"].choices):
        probe = {k: (d.choices[0] if hasattr(d, "choices") else d.low) for k, d in ours.items()}
        probe.update({"model.depth": depth, "train.optimizer": opt})
        mine = [k for k in ours if k not in CONDITIONS or CONDITIONS[k](probe)]
        wrong += [f"conditions at depth={depth} optimizer={opt}"] if sorted(mine) != sorted(space.active(probe)) else []
    if wrong:
        sys.exit(f"peers.py: the hand-written space differs from conf/search_space/mlp.yaml in {wrong}; "
                 "update hand_space()/CONDITIONS to match")


def load_split() -> tuple[Any, Any]:
    """recsearch's composed base config and its prepared split (from the prepared-split cache)."""
    from recsearch.config import compose_config
    from recsearch.training.run import prepare_for

    cfg = compose_config(BASE)
    return cfg, prepare_for(cfg)


def build_model(p: dict[str, Any], cfg: Any, data: Any) -> Any:
    """A hand-built NCF-MLP compiled with MSE and clipped RMSE: what a user's loop would do."""
    import keras
    from keras import layers, regularizers

    class ClippedRMSE(keras.metrics.RootMeanSquaredError):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true, keras.ops.clip(y_pred, *data.rating_scale), sample_weight)

    keras.utils.set_random_seed(int(cfg.train.seed))
    user, item = keras.Input((), dtype="int32", name="user"), keras.Input((), dtype="int32", name="item")
    emb_reg = regularizers.L2(float(cfg.model.embedding_l2))  # per example: on the rows looked up
    x = layers.Concatenate()([layers.Embedding(n, p["model.embedding_dim"], activity_regularizer=emb_reg)(ids)
                              for n, ids in ((data.num_users, user), (data.num_items, item))])
    halving = p.get("model.width_schedule") == "halving"
    for k in range(p["model.depth"]):
        width = max(4, round(p["model.width"] * 0.5**k)) if halving else p["model.width"]
        x = layers.Dense(width, activation=p["model.activation"], kernel_regularizer=regularizers.L2(p["model.l2"]))(x)
        x = layers.Dropout(p["model.dropout"])(x) if p["model.dropout"] > 0 else x
    out = layers.Dense(1, bias_initializer=keras.initializers.Constant(data.global_mean))(x)
    model = keras.Model({"user": user, "item": item}, layers.Reshape(())(out))
    lr, opt = p["train.learning_rate"], p["train.optimizer"]
    optimizer = {"adam": lambda: keras.optimizers.Adam(lr),
                 "sgd": lambda: keras.optimizers.SGD(lr, momentum=p["train.momentum"]),
                 "rmsprop": lambda: keras.optimizers.RMSprop(lr, momentum=p["train.momentum"]),
                 "adamw": lambda: keras.optimizers.AdamW(lr, weight_decay=p["train.weight_decay"])}[opt]()
    model.compile(optimizer=optimizer, loss="mse", metrics=[ClippedRMSE(name="rmse")])
    return model


def fit_args(cfg: Any, data: Any, epochs: int) -> dict[str, Any]:
    """The `fit` arguments every peer shares: arrays, validation, batch size, epochs, early stopping."""
    import keras

    xy = lambda part: ({"user": part.users, "item": part.items}, part.ratings)  # noqa: E731
    stop = keras.callbacks.EarlyStopping(monitor="val_rmse", patience=int(cfg.train.patience),
                                         restore_best_weights=True)
    count = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: EPOCHS_RUN.append(epoch))
    return dict(x=xy(data.train)[0], y=data.train.ratings, validation_data=xy(data.valid), epochs=epochs,
                batch_size=int(cfg.train.batch_size), callbacks=[stop, count], verbose=0)


def run_optuna_loop(cfg: Any, data: Any, budget: dict, seed: int) -> list[dict]:
    """The plain loop: TPE suggests, Keras fits, the best validation RMSE is the objective."""
    import numpy as np
    import optuna

    def suggest(trial: Any, key: str, d: Any) -> Any:
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            return trial.suggest_categorical(key, d.choices)
        kind = trial.suggest_int if isinstance(d, optuna.distributions.IntDistribution) else trial.suggest_float
        return kind(key, d.low, d.high, log=d.log)

    def objective(trial: Any) -> float:
        model = build_model(sample(lambda k, d: suggest(trial, k, d)), cfg, data)
        return float(np.nanmin(model.fit(**fit_args(cfg, data, budget["epochs"])).history["val_rmse"]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
    deadline = budget["deadline"]
    timeout = max(0.0, deadline - time.perf_counter()) if deadline else None
    study.optimize(objective, n_trials=budget["trials"], timeout=timeout, catch=(Exception,))
    return [{"state": t.state.name, "value": t.value} for t in study.trials]


def run_keras_tuner(kind: str, cfg: Any, data: Any, budget: dict, seed: int, folder: str) -> list[dict]:
    """KerasTuner RandomSearch or Hyperband; with a wall budget, no trial starts after the deadline."""
    import keras_tuner as kt
    from optuna.distributions import CategoricalDistribution, IntDistribution

    def suggest(hp: Any, key: str, d: Any) -> Any:
        name = key.split(".")[-1]
        if isinstance(d, CategoricalDistribution):
            return hp.Choice(name, list(d.choices))
        kind_ = hp.Int if isinstance(d, IntDistribution) else hp.Float
        return kind_(name, d.low, d.high, sampling="log" if d.log else "linear")

    deadline = budget["deadline"]
    base = kt.RandomSearch if kind == "kt-random" else kt.Hyperband

    class Tuner(base):  # type: ignore[misc, valid-type]
        def pre_create_trial(self) -> None:
            if deadline is not None and time.perf_counter() > deadline:
                self.oracle.max_trials = len(self.oracle.trials)  # the oracle answers STOPPED

    common = dict(objective=kt.Objective("val_rmse", "min"), seed=seed, directory=folder, project_name=kind,
                  overwrite=True)
    build = lambda hp: build_model(sample(lambda k, d: suggest(hp, k, d), declare_all=True), cfg, data)  # noqa: E731
    if kind == "kt-random":
        tuner = Tuner(build, max_trials=budget["trials"] or 10**6, **common)
    else:
        tuner = Tuner(build, max_epochs=budget["epochs"], factor=3, hyperband_iterations=10**6, **common)
        tuner.oracle.max_trials = budget["trials"]
    tuner.search(**fit_args(cfg, data, budget["epochs"]))
    return [{"state": "COMPLETE" if t.status == "COMPLETED" else t.status, "value": t.score}
            for t in tuner.oracle.trials.values()]


def run_peer(name: str, budget: dict, seed: int, folder: str) -> dict:
    """Run one peer on recsearch's split; its backend, trials (state, value), epochs trained and search time."""
    cfg, data = load_split()
    import keras

    start = time.perf_counter()
    if name == "optuna-loop":
        trials = run_optuna_loop(cfg, data, budget, seed)
    else:
        trials = run_keras_tuner(name, cfg, data, budget, seed, folder)
    return {"backend": keras.backend.backend(), "trials": trials, "epochs": len(EPOCHS_RUN),
            "search_s": time.perf_counter() - start}
