"""recsearch: hyperparameter search for neural recommender systems (Hydra + Optuna + Keras)."""

__version__ = "0.1.0"
