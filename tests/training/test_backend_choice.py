"""`train.backend=auto` (the default when KERAS_BACKEND is unset): JAX, except models trained on item rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from recsearch.config import compose_config
from recsearch.errors import ConfigError
from recsearch.training import backend
from recsearch.training.backend import resolve_backend


@pytest.mark.parametrize(("overrides", "expected"), [
    (["model=mlp"], "jax"), (["model=mf", "task=ranking"], "jax"), (["model=autorec"], "tensorflow"),
    (["model=autorec", "train.backend=jax"], "jax"), (["model=mlp", "train.backend=tensorflow"], "tensorflow"),
])
def test_auto_resolves_by_model_and_an_explicit_choice_wins(overrides: list[str], expected: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "_loaded_keras_backend", lambda: None)  # a fresh process: Keras not imported
    cfg = compose_config(["train.backend=auto", *overrides])
    assert resolve_backend(cfg) == expected


def test_auto_keeps_the_backend_of_a_keras_imported_already() -> None:
    """A notebook that imported Keras first trains on its backend; an explicit other one is one clear error."""
    import keras

    loaded = keras.backend.backend()
    for model in ("mlp", "autorec"):
        assert resolve_backend(compose_config(["train.backend=auto", f"model={model}"])) == loaded
    other = "jax" if loaded == "tensorflow" else "tensorflow"
    with pytest.raises(ConfigError, match=f"KERAS_BACKEND={other} before the first `import keras`"):
        backend.setup_backend(other)


def test_a_model_trained_on_another_backend_than_auto_picks_is_said_so_once(capsys, monkeypatch) -> None:
    """`train -m model=gmf,autorec`: AutoRec trained on the JAX the first run loaded, without a word."""
    monkeypatch.setattr(backend, "_NOTED_MODELS", set())
    autorec, mf = (compose_config(["train.backend=auto", f"model={m}"]) for m in ("autorec", "mf"))
    for _ in range(2):
        backend._note_if_not_auto_backend(autorec, "jax")
        backend._note_if_not_auto_backend(mf, "jax")
        backend._note_if_not_auto_backend(compose_config(["train.backend=jax", "model=autorec"]), "jax")
    err = capsys.readouterr().err
    assert err.count("recsearch: note:") == 1
    assert "model autorec trains on jax, which this process loaded already (train.backend=auto picks tensorflow" in err
    import keras  # and every entry point that sets a process up says it (`setup_for`), on either loaded backend

    loaded = keras.backend.backend()
    monkeypatch.setattr(backend, "setup_backend", lambda *args, **kwargs: None)
    other = "autorec" if loaded == "jax" else "mlp"  # a model auto would train on the other backend
    backend._NOTED_MODELS.clear()
    backend.setup_for(compose_config(["train.backend=auto", f"model={other}", "train.compile_cache=false"]))
    assert f"recsearch: note: model {other} trains on {loaded}, which this process loaded already" in \
        capsys.readouterr().err


@pytest.mark.slow
def test_the_readme_order_import_keras_then_train_works_without_keras_backend_set(
        tiny: list[str], isolated_paths: Path) -> None:
    """`import keras` first (Keras picks TensorFlow), then recsearch.train with the default backend: it trains."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = ("import keras, recsearch, sys\n"
            f"run = recsearch.train({tiny!r}, save_model=False)\n"
            "print(keras.backend.backend(), run.summary['environment']['backend'])\n")
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=isolated_paths.parent, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["tensorflow", "tensorflow"]


@pytest.mark.slow
def test_train_without_keras_backend_set_runs_on_jax(tiny: list[str], isolated_paths: Path) -> None:
    """As a new user runs it: no KERAS_BACKEND in the environment, from another folder; provenance records JAX."""
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "recsearch", "train", "--no-save-model", *tiny],
                          env=env, cwd=isolated_paths.parent, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = (isolated_paths / "default" / "runs").iterdir()
    assert json.loads((run / "metrics.json").read_text())["environment"]["backend"] == "jax"
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    # the CLI's Keras skips its scikit-learn wrappers (a refused `import sklearn` is listed too, but loads nothing)
    assert "keras" in imported and "sklearn.base" not in imported


LEAN_CHILD = """
import sys
from recsearch.training import backend
if sys.argv[1] == "lean":
    backend.keep_keras_lean()
backend.setup_backend("jax")
import keras
print("sklearn" in sys.modules)
import sklearn  # still importable afterwards (KerasTuner's Bayesian tuner imports it)
print(sklearn.__name__)
"""


@pytest.mark.parametrize(("mode", "loaded"), [("lean", "False"), ("library", "True")])
def test_a_lean_process_imports_keras_without_scikit_learn(mode: str, loaded: str) -> None:
    """The processes recsearch runs itself import Keras without scikit-learn (0.7 s of each start); a library
    user's process keeps Keras as it is, which imports it when installed."""
    pytest.importorskip("sklearn")
    done = subprocess.run([sys.executable, "-c", LEAN_CHILD, mode], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "KERAS_BACKEND": "jax"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [loaded, "sklearn"]
