"""Where and with what a result was produced: versions, backend, device, git commit, data checksum."""

from __future__ import annotations

import platform
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

_PACKAGES = ("recsearch", "keras", "tensorflow", "jax", "optuna", "hydra-core", "numpy", "pandas")


@lru_cache(maxsize=1)
def environment_info() -> dict[str, object]:
    """Versions, Keras backend, CPU/GPU and git commit of this process (cached; cheap after first call)."""
    import os

    info: dict[str, object] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "keras_backend": os.environ.get("KERAS_BACKEND", "not set"),  # set by setup_backend before any training
        "xla_flags": os.environ.get("XLA_FLAGS", ""),  # JAX: other flags compile other kernels (other last bits)
        "gpu": _gpu_name(),
        "git_commit": git_commit(),
        "packages": {name: _version(name) for name in _PACKAGES if _version(name)},
    }
    return info


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu_name() -> str | None:
    """The first GPU the active backend sees, without importing a framework that is not loaded."""
    if "jax" in sys.modules:
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return gpus[0].device_kind if gpus else None
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else None
    return None


def git_commit() -> str | None:
    """The project's git commit (with `-dirty` when the tree has changes) when recsearch runs from its source
    checkout, else None (an installed package: the git repository around site-packages, if any, is not ours)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists() or not (root / "pyproject.toml").is_file():
        return None
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def provenance_of(trial: Any, *, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where and with what an Optuna trial ran: config, seed, data checksum, split key, versions, device, commit.

    `config` replaces the recorded config (exports pass one without machine paths); by default it is the
    trial's complete config with any storage password redacted. Example: `atomic_write_json(folder /
    "provenance.json", {t.number: provenance_of(t) for t in study.trials})`.
    """
    from omegaconf import OmegaConf

    from recsearch.redact import redact

    attrs = trial.user_attrs
    if config is None:  # recorded as a dict or as YAML text
        config = OmegaConf.to_container(OmegaConf.create(attrs.get("config") or {}))
        storage = (config.get("search") or {}).get("storage")
        if storage:
            config["search"] = {**config["search"], "storage": redact(str(storage))}
    metrics = {k: v for k, v in attrs.items() if k.startswith(("valid_", "test_"))}
    return {
        "trial": trial.number, "state": trial.state.name, "values": list(trial.values or []), "metrics": metrics,
        "config_hash": attrs.get("config_hash"), "seed": attrs.get("seed"), "data_checksum": attrs.get("data_checksum"),
        "split_key": attrs.get("split_key"), "environment": attrs.get("environment") or {}, "config": config,
    }
