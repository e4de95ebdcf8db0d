"""Optuna samplers and pruners by name, all seeded from `search.seed`."""

from __future__ import annotations

from typing import Any

from recsearch.choices import PRUNERS, SAMPLERS
from recsearch.errors import ConfigError
from recsearch.search.space import SearchSpace


def make_sampler(search_cfg: Any, space: SearchSpace, *, n_objectives: int = 1) -> Any:
    """The sampler named by `search.sampler`. TPE is multivariate and grouped (conditional spaces), with the
    constant liar where several workers share the study (`auto`: a `recsearch worker` joining one)."""
    import warnings

    import optuna

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    name, seed = search_cfg.sampler, int(search_cfg.seed)
    startup = int(search_cfg.n_startup_trials)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, group=True,
                                          constant_liar=str(search_cfg.n_workers) != "1")
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "cmaes":
        _require("cmaes", "cmaes")
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False,
                                            independent_sampler=optuna.samplers.RandomSampler(seed=seed))
    if name == "gp":
        _require("torch", "gp")
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
    if name == "grid":
        from recsearch.search.grid import AskTellGridSampler

        return AskTellGridSampler(space.grid(), seed=seed)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    raise ConfigError(f"config key 'search.sampler': {name!r} is not one of {', '.join(SAMPLERS)}")


def make_pruner(search_cfg: Any, *, max_epochs: int, n_objectives: int = 1) -> Any:
    """The pruner named by `search.pruner`; multi-objective studies cannot prune (Optuna), so none then."""
    import optuna

    name = search_cfg.pruner
    if name == "none" or n_objectives > 1:
        return optuna.pruners.NopPruner()
    startup, warmup = int(search_cfg.n_startup_trials), int(search_cfg.n_warmup_steps)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
    if name == "percentile":
        return optuna.pruners.PercentilePruner(float(search_cfg.percentile), n_startup_trials=startup,
                                               n_warmup_steps=warmup)
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup), max_resource=max(2, max_epochs))
    raise ConfigError(f"config key 'search.pruner': {name!r} is not one of {', '.join(PRUNERS)}")


def _require(module: str, sampler: str) -> None:
    try:
        __import__(module)
    except ImportError:
        from recsearch.extras import install_hint

        raise ConfigError(f"search.sampler={sampler} needs the `{module}` package: {install_hint(module)}") from None
