"""KerasTuner as a second search engine: its tuners over recsearch's search spaces, results in Optuna studies."""

from recsearch.search.kt.space import from_kerastuner, to_kerastuner

__all__ = ["from_kerastuner", "to_kerastuner"]
