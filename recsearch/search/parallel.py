"""How many worker processes a sweep starts: `search.n_workers`, or for `auto` (the default) one per core
where that is known to pay, else one.

Why processes: on CPU a trial of a new architecture spends a large share of its time compiling its program,
which runs on one core, so a single worker leaves the other cores idle for that share. Two one-thread workers
on 2 cores ran the 20-trial `mlp` sweep of `benchmarks/peers.py` in 59.1 s against 71.1 s for one two-thread
worker (1.20×, two interleaved rounds; README "Parallel and distributed"). Each worker is a process with its
own framework and data (about 0.9 GB for ml-latest-small), and starting one takes a few seconds, so `auto`
starts extra workers only where they can earn that back, and keeps one where another process could not
share what the first holds.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

AUTO = "auto"
MIN_TRIALS_PER_WORKER = 5  # auto: a worker process starts only for at least this many missing trials
MIN_TIMEOUT_S = 60.0  # auto: a shorter search.timeout runs one worker (another's start-up would eat the budget)
WORKER_MEMORY_BYTES = 3 << 29  # auto: 1.5 GiB of available memory per worker (0.9 GB measured, plus headroom)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def sweep_workers(cfg: Any, missing: int) -> tuple[int, str | None]:
    """The number of worker processes for `missing` trials, and, when `auto` chose more than one, a line
    saying so. An explicit `search.n_workers` is kept, but never above the missing trials. One worker runs,
    with a line saying why, when the calling script would run again in every worker process (no main guard)."""
    wanted = cfg.search.n_workers
    if wanted != AUTO:
        count, notice = max(1, min(int(wanted), missing)), None
    else:
        cores = usable_cores()
        count = auto_workers(cfg, missing, cores=cores, memory=available_memory(), accelerator=accelerator_visible())
        notice = (f"recsearch: {count} worker processes on {cores} cores (search.n_workers=auto; "
                  "search.n_workers=1 runs one)") if count > 1 else None
    script = unguarded_main_script() if count > 1 else None
    if count > 1 and script is None and _builder_without_file(cfg):
        return 1, (f"recsearch: warning: one worker instead of {count}: model {cfg.model.name}'s code was given to "
                   "`python -c`, a notebook or the prompt, which worker processes cannot import; define it in a "
                   f"module or a script to run {count} workers")
    if script is not None:
        return 1, (f"recsearch: warning: one worker instead of {count}: {script} has no `if __name__ == "
                   "\"__main__\":` block, and each worker process imports the script again (its sweep would run "
                   f"again there); put the script's work under one to run {count} workers")
    return count, notice


def unguarded_main_script() -> str | None:
    """The running script's path when a spawned process would run its top-level code again: it is a file
    (not `python -m pkg`, `-c` or a notebook, which multiprocessing does not re-run) with no
    `if __name__ == "__main__":` block at its top level."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if path is None or name == "__main__" or name.endswith(".__main__"):
        return None
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None  # unreadable: let multiprocessing decide
    return None if any(isinstance(node, ast.If) and _is_main_test(node.test) for node in tree.body) else str(path)


def _is_main_test(test: ast.expr) -> bool:
    """`__name__ == "__main__"` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = (test.left, test.comparators[0])
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def auto_workers(cfg: Any, missing: int, *, cores: int, memory: int | None, accelerator: bool) -> int:
    """`auto`'s count: one per core, at most one per MIN_TRIALS_PER_WORKER missing trials and one per
    WORKER_MEMORY_BYTES of available memory; one where the search runs in one process (KerasTuner), where
    the model's code may live in the caller's script (a registered or hypermodel builder not shipped with
    recsearch), where an accelerator is visible (each process would claim the device), or where a short
    `search.timeout` leaves no time to earn back a worker's start-up."""
    search = cfg.search
    if search.engine == "kerastuner" or accelerator:
        return 1
    if search.timeout is not None and float(search.timeout) < MIN_TIMEOUT_S:
        return 1
    from recsearch.models.registry import model_ships_with_recsearch

    if not model_ships_with_recsearch(cfg):
        return 1
    count = min(cores, missing // MIN_TRIALS_PER_WORKER)
    if memory is not None:
        count = min(count, memory // WORKER_MEMORY_BYTES)
    return max(1, count)


def backend_of_own_process(cfg: Any) -> str | None:
    """The backend a sweep's lone worker runs on in a process of its own, or None when it runs in this one.

    `train.backend=auto` picks per model (`auto_backend`), but this process imported Keras with another (a
    comparison's earlier variant, a notebook's `import keras`): trained here, the study's trials would run and
    score as they do nowhere else, and as its trials in worker processes (several workers, a resume) do not.
    Only where workers may be spawned at all (`auto_workers`' rules: recsearch's own model code, the Optuna
    engine, no accelerator that this process may hold already, a script with a main guard)."""
    from recsearch.models.registry import model_ships_with_recsearch
    from recsearch.training.backend import _loaded_keras_backend, auto_backend

    loaded = _loaded_keras_backend()
    if str(cfg.train.backend) != "auto" or loaded is None or loaded == auto_backend(cfg):
        return None
    if (cfg.search.engine == "kerastuner" or not model_ships_with_recsearch(cfg) or accelerator_visible()
            or unguarded_main_script() is not None):
        return None
    return auto_backend(cfg)


def _builder_without_file(cfg: Any) -> bool:
    """Whether the model's builder lives in a `__main__` that has no file (`python -c`, a notebook, the prompt):
    a spawned worker has no way to import it."""
    from recsearch.models.registry import model_spec

    builders = [model_spec(str(cfg.model.name)).builder, str(cfg.model.get("builder") or "")]
    main = sys.modules.get("__main__")
    return any(b.partition(":")[0] == "__main__" for b in builders) and getattr(main, "__file__", None) is None


METAL_PLUGINS = ("jax-metal", "tensorflow-metal")  # how JAX and TensorFlow reach an Apple GPU


def accelerator_visible() -> bool:
    """Whether a GPU or TPU is visible to the frameworks, judged without importing one (which would claim the
    device): from device files for NVIDIA (unless CUDA_VISIBLE_DEVICES hides all), ROCm and TPU; on macOS,
    from an installed Metal plugin (Apple GPUs have no device file)."""
    dev = Path("/dev")
    nvidia = os.environ.get("CUDA_VISIBLE_DEVICES") not in ("", "-1") and any(dev.glob("nvidia[0-9]*"))
    return nvidia or (dev / "kfd").exists() or any(dev.glob("accel[0-9]*")) or _metal_plugin_installed()


def _metal_plugin_installed() -> bool:
    """macOS with jax-metal or tensorflow-metal installed."""
    if sys.platform != "darwin":
        return False
    from importlib import metadata

    for name in METAL_PLUGINS:
        try:
            metadata.distribution(name)
            return True
        except metadata.PackageNotFoundError:
            pass
    return False


def available_memory() -> int | None:
    """Bytes of memory available to new processes (Linux's MemAvailable), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
