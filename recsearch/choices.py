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
