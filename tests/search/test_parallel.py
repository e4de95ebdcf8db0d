"""`search.n_workers=auto`: how many worker processes a sweep starts, and when it keeps one."""

from __future__ import annotations

import pytest

from recsearch.config import compose_config
from recsearch.errors import ConfigError
from recsearch.search import parallel
from recsearch.search.parallel import WORKER_MEMORY_BYTES, auto_workers, sweep_workers

PLENTY = 64 * WORKER_MEMORY_BYTES


def _auto(*overrides: str, missing: int = 20, cores: int = 2, memory: int | None = PLENTY,
          accelerator: bool = False) -> int:
    return auto_workers(compose_config(["model=mlp", *overrides]), missing, cores=cores, memory=memory,
                        accelerator=accelerator)


def test_auto_is_the_default_and_runs_one_worker_per_core_for_enough_trials() -> None:
    assert compose_config(["model=mlp"]).search.n_workers == "auto"
    assert _auto() == 2
    assert _auto(cores=16, missing=1000) == 16
    assert _auto(cores=16, missing=20) == 4  # at least 5 trials per worker process
    assert _auto(missing=9) == 1 and _auto(missing=10) == 2
    assert _auto(cores=1) == 1


@pytest.mark.parametrize("why, overrides, kwargs", [
    ("an accelerator: each process would claim it", [], {"accelerator": True}),
    ("KerasTuner runs one process", ["search.engine=kerastuner"], {}),
    ("a short timeout", ["search.timeout=30"], {}),
    ("memory for one", [], {"memory": WORKER_MEMORY_BYTES + 1}),
    ("a builder outside recsearch", ["model=hypermodel", "model.builder=my_script:build_model"], {}),
])
def test_auto_keeps_one_worker(why: str, overrides: list[str], kwargs: dict) -> None:
    assert _auto(*overrides, **kwargs) == 1, why


def test_auto_with_a_long_timeout_and_the_shipped_hypermodel_runs_several() -> None:
    assert _auto("search.timeout=300", "search.n_trials=100000", missing=100000) == 2
    assert _auto("model=hypermodel") == 2  # recsearch.examples.my_hypermodel is importable by every worker


@pytest.mark.parametrize("platform, installed, expected", [
    ("darwin", {"jax-metal"}, True), ("darwin", {"tensorflow-metal"}, True), ("darwin", set(), False),
    ("linux", {"jax-metal"}, False),
])
def test_an_apple_gpu_counts_as_an_accelerator_where_a_metal_plugin_is_installed(
        monkeypatch: pytest.MonkeyPatch, platform: str, installed: set, expected: bool) -> None:
    from importlib import metadata

    def distribution(name: str) -> object:
        if name not in installed:
            raise metadata.PackageNotFoundError(name)
        return object()

    monkeypatch.setattr(parallel.sys, "platform", platform)
    monkeypatch.setattr(metadata, "distribution", distribution)
    assert parallel._metal_plugin_installed() is expected


def test_an_explicit_count_is_kept_up_to_the_missing_trials() -> None:
    cfg = compose_config(["model=mlp", "search.n_workers=3"])
    assert sweep_workers(cfg, 20) == (3, None)
    assert sweep_workers(cfg, 1) == (1, None)


@pytest.mark.parametrize("value", ["0", "many", "2.5", "-1", "true"])
def test_a_bad_worker_count_is_one_line_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match=r"search\.n_workers"):
        compose_config(["model=mlp", f"search.n_workers={value}"])


@pytest.mark.parametrize(("source", "unguarded"), [
    ("import recsearch\nrecsearch.sweep([])\n", True),
    ("import recsearch\nif __name__ == '__main__':\n    recsearch.sweep([])\n", False),
    ("def main():\n    pass\n\nif '__main__' == __name__:\n    main()\n", False),
    ("def main():\n    if __name__ == '__main__':\n        pass\n", True),  # not at the top level
])
def test_a_script_without_a_main_guard_is_found(tmp_path, monkeypatch, source: str, unguarded: bool) -> None:
    import sys
    import types

    script = tmp_path / "run.py"
    script.write_text(source)
    main = types.ModuleType("__main__")
    main.__file__, main.__spec__ = str(script), None
    monkeypatch.setitem(sys.modules, "__main__", main)
    assert parallel.unguarded_main_script() == (str(script) if unguarded else None)
    cfg = compose_config(["model=mlp", "search.n_workers=2"])
    count, notice = sweep_workers(cfg, 20)
    assert (count, notice is not None and "has no `if __name__ ==" in notice) == ((1, True) if unguarded else (2, False))
    main.__spec__ = types.SimpleNamespace(name="tool.__main__")  # python -m tool: multiprocessing never re-runs it
    assert parallel.unguarded_main_script() is None


def test_a_model_given_to_python_c_sweeps_in_one_worker_and_says_why(monkeypatch) -> None:
    """`python -c` with `register_model` and `n_workers: 2`: every worker failed on "no such model" (it cannot
    import `__main__`'s builder); one worker runs, with the reason. A script's builder is left to multiprocessing."""
    import sys
    import types
    from dataclasses import dataclass

    from recsearch.models import registry
    from recsearch.models.schemas import ModelConfig

    @dataclass
    class PromptConfig(ModelConfig):
        name: str = "prompt_dot"

    monkeypatch.setitem(registry.MODELS, "prompt_dot", registry.ModelSpec("prompt_dot", PromptConfig,
                                                                          "__main__:build", ("rating",), ""))
    main = types.ModuleType("__main__")  # as under `python -c`: no file
    monkeypatch.setitem(sys.modules, "__main__", main)
    cfg = compose_config(["model=mf", "search.n_workers=2"])
    cfg.model.name = "prompt_dot"
    count, notice = sweep_workers(cfg, 20)
    assert count == 1 and "one worker instead of 2: model prompt_dot's code was given to `python -c`" in notice
    main.__file__ = "/somewhere/tune.py"  # a script's: its workers import it (when it has a main guard)
    main.__spec__ = types.SimpleNamespace(name="tune")
    assert parallel._builder_without_file(cfg) is False


def test_a_script_without_a_main_guard_sweeps_in_one_worker(tmp_path, tiny: list[str], isolated_paths) -> None:
    """The library call a user writes first: workers would import the script and start its sweep again (each
    child failing in multiprocessing's bootstrap); it runs one worker, says how to get more, and finishes."""
    import json
    import os
    import subprocess
    import sys

    script = tmp_path / "tune.py"
    script.write_text("import json, sys\nimport recsearch\nprint('SCRIPT BODY', flush=True)\n"
                      f"done = recsearch.sweep({json.dumps(tiny)}, search={{'n_trials': 2, 'n_workers': 2, "
                      "'study_name': 'unguarded'})\nprint('COUNTS', json.dumps(done.counts))\n")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("SCRIPT BODY") == 1, run.stdout
    assert f"one worker instead of 2: {script} has no `if __name__ == \"__main__\":` block" in run.stderr
    counts = json.loads(run.stdout.split("COUNTS", 1)[1])
    assert counts.get("complete", 0) + counts.get("pruned", 0) == 2, counts
