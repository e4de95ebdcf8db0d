"""recsearch: hyperparameter search for neural recommender systems (Hydra + Optuna + Keras).

The Python API (`recsearch/api.py`), loaded on first use so that `import recsearch` stays fast:
`compose`, `train`, `sweep`, `load_study`, `load_model`, `recommendations`, `leaderboard`, `report` and the
`register_model` decorator.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["compose", "leaderboard", "load_model", "load_study", "recommendations", "register_model", "report",
           "sweep", "train", "__version__"]


def __dir__() -> list[str]:
    """The public API only (not this module's imports)."""
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    """The API's functions, imported from `recsearch.api` when first asked for."""
    if name in __all__:
        from recsearch import api

        return getattr(api, name)
    raise AttributeError(f"module 'recsearch' has no attribute {name!r}")
