"""The closed sets of values that config keys accept: one source of truth for validation, engines and help."""

from __future__ import annotations

BACKENDS = ("tensorflow", "jax", "torch")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adamw")
DIRECTIONS = ("minimize", "maximize")
TASKS = ("rating", "ranking")
RANKING_LOSSES = ("bce", "bpr", "softmax")
NEGATIVES = ("sampled", "in_batch")
PROTOCOLS = ("sampled", "full")
SAMPLERS = ("tpe", "random", "cmaes", "gp", "qmc", "grid", "nsga2")
PRUNERS = ("median", "percentile", "successive_halving", "hyperband", "none")
OBJECTIVES = ("params", "latency")
ENGINES = ("optuna", "kerastuner")
TUNERS = ("random", "bayesian", "hyperband")  # KerasTuner's RandomSearch, BayesianOptimization, Hyperband
# search strategies raced by `compare.strategies` (recsearch.search.race maps each to its search.* overrides)
STRATEGIES = ("tpe", "random", "cmaes", "gp", "tpe_hyperband", "kt_random", "kt_bayesian", "kt_hyperband")
FIDELITIES = ("none", "data", "epochs")

# config key -> the values it accepts (checked by recsearch.config.validate for every composed config)
CHOICES: dict[str, tuple[str, ...]] = {
    "train.optimizer": OPTIMIZERS,
    "train.backend": ("auto", *BACKENDS),
    "task.direction": DIRECTIONS,
    "task.name": TASKS,
    "task.loss": RANKING_LOSSES,
    "task.negatives": NEGATIVES,
    "task.protocol": PROTOCOLS,
    "search.sampler": SAMPLERS,
    "search.pruner": PRUNERS,
    "search.engine": ENGINES,
    "search.tuner": TUNERS,
    "search.fidelity": FIDELITIES,
}

# Keras activations by name that keep a Dense layer's width (Keras 3.15's `keras.activations`, less `glu`, which
# halves it, and `threshold`, which needs arguments); a name older Keras lacks fails at build as Keras says. The
# packaged families take these only (a custom activation is for a family of one's own, `register_model`).
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "elu", "selu", "silu", "swish", "mish", "softplus", "softsign",
               "leaky_relu", "relu6", "celu", "exponential", "hard_sigmoid", "hard_silu", "hard_swish", "hard_tanh",
               "hard_shrink", "soft_shrink", "tanh_shrink", "squareplus", "sparse_plus", "sparse_sigmoid",
               "log_sigmoid", "softmax", "log_softmax", "sparsemax", "linear")
WIDTH_FACTORS = {"constant": 1.0, "halving": 0.5, "doubling": 2.0}  # each hidden layer's width over the last's
WIDTH_SCHEDULES = tuple(WIDTH_FACTORS)
CENTERS = ("none", "global", "item")  # AutoRec's offset subtracted from observed ratings
# model key -> the values it accepts, in the families recsearch ships that have the key (a registered family's
# keys are its own: its `activation` may be a custom Keras object's name)
MODEL_CHOICES: dict[str, tuple[str, ...]] = {
    "activation": ACTIVATIONS,
    "output_activation": ACTIVATIONS,
    "width_schedule": WIDTH_SCHEDULES,
    "center": CENTERS,
}


OWN_BACKEND_ENV = "RECSEARCH_OWN_KERAS_BACKEND"  # "<backend>:<pid>": the KERAS_BACKEND recsearch set in that process


def backend_default() -> str:
    """`train.backend`'s default: KERAS_BACKEND as the user set it; `auto` when unset, or when recsearch set it in
    this process for a backend it chose, so a config composed later here (a comparison's next variant) picks as
    a fresh process would. A child process inherits the marker with its parent's pid, so a KERAS_BACKEND given
    to a command run from a notebook counts as the user's (workers get the parent's choice as an override)."""
    import os

    value = os.environ.get("KERAS_BACKEND")
    return "auto" if not value or os.environ.get(OWN_BACKEND_ENV) == f"{value}:{os.getpid()}" else value
