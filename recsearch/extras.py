"""Optional dependencies: which pip extra brings each optional module, for the "pip install" hints."""

from __future__ import annotations

# importable module -> the extra of `pip install "recsearch[EXTRA]"` that installs it (pyproject.toml)
EXTRAS: dict[str, str] = {
    "torch": "gp",  # search.sampler=gp (Optuna's GPSampler)
    "optuna_dashboard": "dashboard",  # recsearch dashboard
    "psycopg": "postgres",  # search.storage=postgresql://...
    "sklearn": "bayesian",  # search.engine=kerastuner search.tuner=bayesian (KerasTuner's BayesianOptimization)
}


def install_hint(module: str) -> str:
    """The command that installs `module`: `pip install "recsearch[gp]"` for torch, plain pip otherwise."""
    extra = EXTRAS.get(module)
    return f'pip install "recsearch[{extra}]"' if extra else f"pip install {module}"
