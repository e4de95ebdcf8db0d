"""Process-wide framework set-up: Keras backend, thread pinning, seeds and determinism.

Keras reads its backend once, at import, so `setup_backend` must run before the first
`import keras` of the process; the CLI and sweep workers call it first thing.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from recsearch import heap
from recsearch.choices import BACKENDS, OWN_BACKEND_ENV


def resolve_backend(cfg: Any) -> str:
    """The Keras backend a config trains on: `train.backend`, or for `auto` the one measured faster end to end.

    `auto`: JAX, whose compiled loop (rating on pairs) and XLA-compiled `fit` (ranking) ran a default `mlp`
    sweep 1.3x faster than TensorFlow; TensorFlow for models trained on item rows (AutoRec), 2.6x slower on
    JAX (README, "Default backend"). In a process that imported Keras already (a notebook, a script that
    builds its own layers), the backend Keras runs on.
    """
    backend = str(cfg.train.backend)
    if backend != "auto":
        return backend
    loaded = _loaded_keras_backend()
    if loaded is not None:  # Keras picks its backend once per process: a session that imported it keeps it
        return loaded
    return auto_backend(cfg)


def auto_backend(cfg: Any) -> str:
    """What `train.backend=auto` picks for the config's model in a process that has not imported Keras."""
    from recsearch.models.registry import model_spec

    return "tensorflow" if model_spec(cfg.model.name).trainer == "item_rows" else "jax"


def setup_for(cfg: Any, *, threads: int | None = None) -> str:
    """Set the process up for a config: its backend (`resolve_backend`), threads, and on JAX the compile cache.

    Returns the backend. Every entry point that trains or loads models calls this before importing Keras.
    """
    backend = resolve_backend(cfg)
    _note_if_not_auto_backend(cfg, backend)
    setup_backend(backend, threads=threads, legacy_emitters=trains_in_jax_loop(cfg))
    if backend == "jax" and bool(getattr(cfg.train, "compile_cache", False)):
        from recsearch.data.paths import resolve_compile_cache_dir
        from recsearch.training.compile_cache import enable_compile_cache

        enable_compile_cache(resolve_compile_cache_dir(cfg.paths))
    return backend


_NOTED_MODELS: set[tuple[str, str]] = set()


def _note_if_not_auto_backend(cfg: Any, backend: str) -> None:
    """One line per model and process when `train.backend=auto` trains a model on the backend this process loaded
    before (an earlier run of `train -m`, a notebook's `import keras`) instead of the one auto picks for it: its
    scores and speed then differ from a run of its own."""
    if str(cfg.train.backend) != "auto" or backend == auto_backend(cfg):
        return
    key = (str(cfg.model.name), backend)
    if key not in _NOTED_MODELS:
        _NOTED_MODELS.add(key)
        print(f"recsearch: note: model {key[0]} trains on {backend}, which this process loaded already "
              f"(train.backend=auto picks {auto_backend(cfg)} for it); for {auto_backend(cfg)}, run it in a "
              f"command of its own, or start Python with KERAS_BACKEND={auto_backend(cfg)}", file=sys.stderr)


def _loaded_keras_backend() -> str | None:
    """The backend of the Keras this process imported already, else None (Keras not imported yet)."""
    if "keras" not in sys.modules:
        return None
    import keras

    return keras.backend.backend()


def trains_in_jax_loop(cfg: Any) -> bool:
    """Whether the config trains in recsearch's own JAX loop (`jax_loop`: rating on (user, item) pairs) on JAX,
    rather than through Keras `fit` (ranking, models trained on item rows)."""
    from recsearch.models.registry import model_spec

    return cfg.task.name == "rating" and model_spec(cfg.model.name).trainer == "pairs"


def setup_backend(backend: str = "tensorflow", *, threads: int | None = None, legacy_emitters: bool = True) -> None:
    """Select the Keras backend and, optionally, cap the framework's CPU threads; then import Keras with it
    (without its scikit-learn wrappers in a process recsearch runs itself: `keep_keras_lean`).

    `legacy_emitters`: on JAX, whether XLA:CPU may compile with its legacy fusion emitters (`CPU_XLA_FLAGS`);
    only processes whose programs `jax_loop` compiles gain from them (see `CPU_XLA_FLAGS`)."""
    if backend not in BACKENDS:
        from recsearch.errors import ConfigError

        raise ConfigError(f"config key 'train.backend': {backend!r} is not one of {', '.join(BACKENDS)}")
    loaded = _loaded_keras_backend()
    if loaded is not None and loaded != backend:
        from recsearch.errors import ConfigError

        raise ConfigError(f"train.backend={backend} but this process imported Keras with backend {loaded!r} "
                          f"already: set KERAS_BACKEND={backend} before the first `import keras` (e.g. "
                          f"`KERAS_BACKEND={backend} python ...`), or leave train.backend=auto to use {loaded}")
    if os.environ.get("KERAS_BACKEND") != backend:  # recsearch's choice, not the user's (`backend_default`)
        os.environ[OWN_BACKEND_ENV] = f"{backend}:{os.getpid()}"
    os.environ["KERAS_BACKEND"] = backend
    heap.limit_arenas()  # before the framework's threads allocate
    if backend == "jax":
        _apply_xla_flags(legacy_emitters)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if threads:
        _pin_threads(backend, threads)
    if backend == "tensorflow":
        _quiet_import_tensorflow()
    with _sklearn_hidden_from_keras():
        import keras  # noqa: F401 - with the backend chosen above
    if backend == "jax":
        _leave_tensorflow_unloaded()


# Keras imports scikit-learn whenever it is installed, for its scikit-learn wrappers (`keras.wrappers`): 0.7 s of
# every process's start on 2 cores (benchmarks/startup.py). recsearch never uses those wrappers, so the processes
# it runs itself (the CLI, sweep workers: `keep_keras_lean`) import Keras without them; a library user's process
# keeps Keras as it is.
_LEAN_KERAS = False


def keep_keras_lean() -> None:
    """In a process recsearch runs itself: its first `import keras` (`setup_backend`) leaves scikit-learn unloaded.

    Keras's scikit-learn wrappers then report scikit-learn missing in this process; scikit-learn itself still
    imports as usual afterwards (KerasTuner's Bayesian tuner uses it directly)."""
    global _LEAN_KERAS
    _LEAN_KERAS = True


@contextmanager
def _sklearn_hidden_from_keras() -> Iterator[None]:
    """While Keras is first imported in a lean process (`keep_keras_lean`), `import sklearn` fails as if it were
    not installed (Keras's own fallback); afterwards it imports normally."""
    hide = _LEAN_KERAS and "keras" not in sys.modules and "sklearn" not in sys.modules
    if hide:
        sys.modules["sklearn"] = None  # type: ignore[assignment] - Python's marker for "import fails"
    try:
        yield
    finally:
        if hide and sys.modules.get("sklearn", 0) is None:
            del sys.modules["sklearn"]


# XLA:CPU's newer fusion emitters (jaxlib 0.9.1+) compile our programs slower than the legacy ones: the
# 20-trial sweep of benchmarks/bench_sweep.py (same trials, same RMSE; two runs each, alternating) spent
# 1.64 s per trial compiling instead of 1.94 s, epochs alike. Re-measured after one program per shape and
# the flat optimizer update (jax_loop.py): even on that sweep (README "Performance notes"), so kept; but the
# legacy emitters run large in-place optimizer updates as scalar loops, so the JAX loop compiles shapes
# whose epochs that would slow by more than the faster compile saves with the default ones (see
# `jax_loop.compiler_options`). Processes that train through Keras `fit` instead (ranking, item-row models)
# keep XLA's defaults (`trains_in_jax_loop`): their programs cannot take per-shape options, and their long
# epochs (every positive with its sampled negatives) pay for the slower compile (`benchmarks/compile_options.py
# --task ranking`: a 4-epoch ranking trial 1.20x faster over mlp, gmf, neumf and a small mlp, same NDCG).
# With them, LLVM at level 1 instead of 3: XLA:CPU's compile is mostly LLVM code generation, and the epochs'
# matrix products run in library kernels, not generated code. `benchmarks/compile_options.py` (4 mlp shapes,
# one core): 1.24 s compiling per trial against 1.51 s, epochs alike, the same RMSE; replay.py --quick (two
# runs each, alternating): compile 1.31-1.33 s against 1.45-1.53 s per trial, wall 52.7-52.8 s against
# 54.9-56.1 s, the same epochs and best RMSE. RECSEARCH_XLA_FLAGS replaces these flags ("" for none). Only for
# the jaxlib versions measured: XLA stops at start-up on a flag it does not know.
LEGACY_EMITTERS_FLAG = "--xla_cpu_use_fusion_emitters=false"
CPU_XLA_FLAGS = f"{LEGACY_EMITTERS_FLAG} --xla_backend_optimization_level=1"
CPU_XLA_FLAGS_JAXLIB = ((0, 9, 1), (0, 11))  # [from, to) jaxlib versions
# A process on one core (a sweep worker beside others) generates each program's code as one LLVM module:
# XLA:CPU splits it in 32 by default, for threads this process does not have. `benchmarks/compile_options.py`
# pinned to one core with a worker's flags (4 mlp shapes, 3 rounds): 1.57 s compiling per trial against 1.84 s,
# epochs and RMSE alike (1.08x per trial); replay.py --quick (3 runs each, alternating): 2.13-2.18 s compiling
# per trial against 2.19-2.40 s, wall 77.1-77.8 s against 77.9-80.6 s.
ONE_CORE_XLA_FLAGS = "--xla_cpu_parallel_codegen_split_count=1"
ONE_THREAD_XLA_FLAG = "--xla_cpu_multi_thread_eigen=false"  # XLA has no thread-count flag: one core, one thread
THREAD_XLA_FLAGS = (ONE_THREAD_XLA_FLAG, ONE_CORE_XLA_FLAGS)  # what a one-core worker adds (`_pin_threads`)
OWN_XLA_FLAGS_ENV = "RECSEARCH_OWN_XLA_FLAGS"  # the flags of XLA_FLAGS that recsearch chose, not the user


def legacy_emitters_chosen_here() -> bool:
    """Whether XLA:CPU runs its legacy emitters because recsearch chose them (`LEGACY_EMITTERS_FLAG`), not the user
    (XLA_FLAGS, RECSEARCH_XLA_FLAGS): only then may a program be compiled with the default ones instead."""
    return LEGACY_EMITTERS_FLAG in os.environ.get(OWN_XLA_FLAGS_ENV, "").split()


def _cpu_xla_flags() -> str:
    """`CPU_XLA_FLAGS` for a jaxlib in `CPU_XLA_FLAGS_JAXLIB`, else none (XLA's defaults)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = tuple(int(part) for part in version("jaxlib").split(".")[:3])
    except (PackageNotFoundError, ValueError):
        return ""
    low, high = CPU_XLA_FLAGS_JAXLIB
    return CPU_XLA_FLAGS if low <= release < high else ""


def _apply_xla_flags(legacy_emitters: bool = True) -> None:
    """RECSEARCH_XLA_FLAGS, else recsearch's own CPU flags (with `legacy_emitters`), into XLA_FLAGS (never over
    the user's). The flags recsearch chose itself are recorded in OWN_XLA_FLAGS_ENV, which worker processes
    inherit with XLA_FLAGS."""
    own = "RECSEARCH_XLA_FLAGS" not in os.environ
    added = _add_xla_flags(os.environ.get("RECSEARCH_XLA_FLAGS", _cpu_xla_flags() if legacy_emitters else ""))
    if own and added:
        os.environ[OWN_XLA_FLAGS_ENV] = " ".join([os.environ.get(OWN_XLA_FLAGS_ENV, ""), *added]).strip()


def _add_xla_flags(flags: str) -> list[str]:
    """Append XLA flags (read when JAX starts its backend) unless XLA_FLAGS already sets them: the user's win.
    Returns the flags added."""
    current = os.environ.get("XLA_FLAGS", "")
    extra = [f for f in flags.split() if f.split("=")[0] not in current]
    if extra:
        os.environ["XLA_FLAGS"] = " ".join([current, *extra]).strip()
    return extra


def _leave_tensorflow_unloaded() -> None:
    """On JAX, keep Keras from importing TensorFlow (3 s and ~0.4 GB per process) because it is installed.

    Keras checks its lazy TensorFlow handle, which imports TensorFlow, when seeding (for `tf.data`) and when
    serialising a model (for `tf.TensorShape`); a JAX process holds no TensorFlow objects, so the handle is
    marked unavailable unless TensorFlow is already loaded. Private `keras.src` state: left alone if it
    changes (TensorFlow is then imported, as before). TensorBoard logging imports TensorFlow itself.
    """
    if "tensorflow" in sys.modules:
        return
    try:
        from keras.src.utils import module_utils

        if module_utils.tensorflow._available is None:
            module_utils.tensorflow._available = False
    except (ImportError, AttributeError):
        pass


def _quiet_import_tensorflow() -> None:
    """Import TensorFlow with C++ start-up logging silenced (absl logs before TF_CPP_MIN_LOG_LEVEL applies).

    Set RECSEARCH_TF_LOGS=1 to see them.
    """
    if "tensorflow" in sys.modules or os.environ.get("RECSEARCH_TF_LOGS"):
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _pin_threads(backend: str, threads: int) -> None:
    """Keep each worker's framework to `threads` cores so parallel workers do not oversubscribe."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    if backend == "jax" and threads == 1:
        _add_xla_flags(ONE_THREAD_XLA_FLAG)
        if _cpu_xla_flags():  # a jaxlib measured (CPU_XLA_FLAGS_JAXLIB): XLA stops on a flag it does not know
            _add_xla_flags(ONE_CORE_XLA_FLAGS)
    if backend == "tensorflow":
        _quiet_import_tensorflow()
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TF already initialised its thread pools
            pass


def jit_enabled(train_cfg: Any) -> bool:
    """Whether `fit` XLA-compiles its step: `train.jit_compile` on TensorFlow, always on JAX.

    JAX without jit runs op by op (measured ~8x slower than TensorFlow here), so it is never what one wants.
    """
    import keras

    return bool(train_cfg.jit_compile) or keras.backend.backend() == "jax"


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend; enable op determinism where the backend has it."""
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def backend_versions() -> dict[str, str]:
    """Versions of Keras and its active backend, for provenance."""
    import keras

    name = keras.backend.backend()
    versions = {"keras": keras.__version__, "backend": name}
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[name]
    versions[name] = __import__(module).__version__
    return versions
