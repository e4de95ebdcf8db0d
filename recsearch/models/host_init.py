"""Initial values made on the host while a model (or its optimizer) is built on JAX, so a new shape compiles nothing.

On JAX, every Keras initializer call is an eager `jax.random` or `jnp.zeros` program specialised to the
variable's shape: a model of a new architecture compiled one XLA program per variable before it trained
(0.1-0.5 s each on CPU; 1.6 s of a default `mlp` trial's 2.0 s fixed cost in `benchmarks/bench_sweep.py`).
Inside `host_initial_values()`, Keras's JAX `uniform`, `normal` and `truncated_normal` draw with NumPy's
Philox generator keyed by the same Keras seed instead (the same distributions, deterministic for a seed),
and `zeros` / `ones` are NumPy's: only a host-to-device copy per variable. Samplers called while JAX traces
(dropout inside a compiled step) keep JAX's own.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

SAMPLERS = ("uniform", "normal", "truncated_normal")
FILLS = {"zeros": np.zeros, "ones": np.ones}


def _generator(drawn: Any) -> np.random.Generator | None:
    """NumPy's Philox generator keyed by a drawn Keras seed (two words or a key array); None while tracing."""
    import jax

    if isinstance(drawn, jax.core.Tracer):
        return None
    words = np.asarray(jax.random.key_data(drawn) if jax.dtypes.issubdtype(drawn.dtype, jax.dtypes.prng_key)
                       else drawn).astype(np.uint64).ravel()
    return np.random.Generator(np.random.Philox(key=[int(w) for w in words[:2]]))


def _truncated(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Standard normal samples truncated to [-2, 2] (Keras's bounds), by redrawing those outside."""
    sample = rng.standard_normal(shape)
    outside = np.abs(sample) > 2.0
    while outside.any():
        sample[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(sample) > 2.0
    return sample


def _host_sampler(name: str, original: Callable) -> Callable:
    """A drop-in for Keras's JAX sampler `name` that draws on the host, or calls `original` while tracing."""
    import jax
    from keras.src.backend.config import floatx
    from keras.src.backend.jax.random import jax_draw_seed

    def sample(shape: Any, *args: Any, dtype: Any = None, seed: Any = None, **kwargs: Any) -> Any:
        if args or any(isinstance(v, jax.Array) for v in kwargs.values()):
            return original(shape, *args, dtype=dtype, seed=seed, **kwargs)
        drawn = jax_draw_seed(seed)  # advances a SeedGenerator once, whichever sampler then uses it
        rng = _generator(drawn)
        if rng is None:
            return original(shape, dtype=dtype, seed=drawn, **kwargs)
        shape = tuple(int(d) for d in shape)
        if name == "uniform":
            values = rng.uniform(kwargs.get("minval", 0.0), kwargs.get("maxval", 1.0), shape)
        else:
            base = rng.standard_normal(shape) if name == "normal" else _truncated(rng, shape)
            values = base * kwargs.get("stddev", 1.0) + kwargs.get("mean", 0.0)
        return jax.device_put(np.asarray(values, dtype=np.dtype(dtype or floatx())))

    return sample


def _host_fill(fill: Callable) -> Callable:
    """A drop-in for Keras's JAX `zeros` / `ones`: filled on the host, then put on the device."""
    import jax
    from keras.src.backend.config import floatx

    def filled(shape: Any, dtype: Any = None) -> Any:
        return jax.device_put(fill(tuple(int(d) for d in shape), dtype=np.dtype(dtype or floatx())))

    return filled


@contextmanager
def host_initial_values() -> Iterator[None]:
    """While inside, Keras's JAX initializers and fills run on the host (nothing compiles); other backends: no change.

    Wrap model building and optimizer building only, not code that traces: a fill inside a traced
    function would become a constant of the compiled program.
    """
    import keras

    if keras.backend.backend() != "jax":
        yield
        return
    from keras.src.backend.jax import numpy as jax_numpy
    from keras.src.backend.jax import random as jax_random

    patches = [(jax_random, name, _host_sampler(name, getattr(jax_random, name))) for name in SAMPLERS]
    patches += [(jax_numpy, name, _host_fill(fill)) for name, fill in FILLS.items()]
    saved = [(module, name, getattr(module, name)) for module, name, _ in patches]
    for module, name, patched in patches:
        setattr(module, name, patched)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)
