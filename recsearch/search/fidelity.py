"""Multi-fidelity search over the data: successive halving / Hyperband where the resource is a growing sample of users.

With `search.fidelity=data`, a trial trains on rung after rung of the same config: a random sample of
`min_fraction * eta^k` of the users (their train and validation ratings; ids keep their indices, so the
model is the same size), up to the full data. After each rung its validation metric is reported to the
sweep's pruner at step k + 1 (successive_halving or hyperband keep the best 1/eta of the trials at every
rung), so a poor config costs a small sample and only promising ones are trained on everything. The top
rung is the full data: a trial that reaches it is the refit of its config on the full data, and its metrics
are what the tables rank. The fraction each trial reached is recorded (`fidelity` user attr, a table
column). `search.fidelity=epochs` is the classic variant: the resource is the epoch, pruned by the same
pruners after every epoch (what every sweep does with `search.pruner=hyperband`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from recsearch.data.types import PreparedData, SplitArrays

def rung_fractions(min_fraction: float, eta: int) -> list[float]:
    """Data fractions of the rungs, smallest first, ending at 1.0: (0.1, 3) -> [0.111, 0.333, 1.0]."""
    if not 0 < min_fraction <= 1 or eta < 2:
        raise ValueError(f"need 0 < min_fraction <= 1 and eta >= 2, got {min_fraction}, {eta}")
    n = int(np.floor(np.log(1 / min_fraction) / np.log(eta) + 1e-9))
    return [float(eta) ** -k for k in range(n, 0, -1)] + [1.0]


def user_sample(data: PreparedData, fraction: float, *, seed: int) -> PreparedData:
    """`data` with the train and validation ratings of a random `fraction` of users (test untouched)."""
    if fraction >= 1.0:
        return data
    rng = np.random.default_rng(seed)
    chosen = np.zeros(data.num_users, bool)
    chosen[rng.permutation(data.num_users)[:max(1, int(round(fraction * data.num_users)))]] = True

    def keep(part: SplitArrays) -> SplitArrays:
        mask = chosen[part.users]
        return SplitArrays(part.users[mask], part.items[mask], part.ratings[mask], part.timestamps[mask])

    return replace(data, train=keep(data.train), valid=keep(data.valid),
                   extras={**data.extras, "fidelity": fraction})


def train_by_fidelity(trial: Any, cfg: Any, data: PreparedData,
                      train: Callable[..., Any]) -> tuple[Any, int | None]:
    """`train_with_fidelity` over the rungs of `cfg.search`; (last result, the rung it was pruned after, 1-based,
    or None: the trial's `pruned_at`, which also tells a recovered trial's state, storage._tell_from_attrs)."""
    from recsearch.errors import ConfigError

    if len(cfg.search.objectives):
        raise ConfigError("search.fidelity=data needs a single objective (Optuna prunes single-objective studies "
                          "only); drop search.objectives or use search.fidelity=none")
    fractions = rung_fractions(float(cfg.search.fidelity_min_fraction), int(cfg.search.fidelity_eta))
    result, reached, pruned = train_with_fidelity(trial, cfg, data, train, fractions=fractions)
    return result, (fractions.index(reached) + 1 if pruned else None)


def train_with_fidelity(trial: Any, cfg: Any, data: PreparedData, train: Callable[..., Any], *,
                        fractions: list[float]) -> tuple[Any, float, bool]:
    """Train rung by rung; return (last result, fraction reached, pruned). Samples nest (same seed per trial)."""
    metric, result = f"valid_{cfg.task.metric}", None
    for step, fraction in enumerate(fractions, start=1):
        result = train(cfg, user_sample(data, fraction, seed=int(cfg.train.seed)))
        value = float(result.metrics[metric])
        trial.set_user_attr("fidelity", fraction)
        if not np.isfinite(value):
            return result, fraction, False
        trial.report(value, step)
        if fraction < 1.0 and trial.should_prune():
            return result, fraction, True
    return result, 1.0, False


def max_resource(cfg: Any) -> int:
    """The pruner's resource count: rungs for `data`, epochs otherwise."""
    if getattr(cfg.search, "fidelity", "none") == "data":
        return len(rung_fractions(float(cfg.search.fidelity_min_fraction), int(cfg.search.fidelity_eta)))
    return int(cfg.train.epochs)
