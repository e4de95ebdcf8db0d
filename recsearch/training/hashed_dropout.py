"""Dropout masks from a short integer hash instead of JAX's threefry, for the JAX loop's compiled programs.

On XLA:CPU each dropout layer's threefry hash became two long straight-line kernels (20 rounds per 32-bit
word pair), which LLVM spends much of a new architecture's compile time on: a depth-3 `mlp` compiled in
0.97 s without dropout and 1.68 s with it. Here each mask element is Wellons' `lowbias32` mix (two
multiplies, three xor-shifts) of its offset flat index times an odd multiplier, both keyed per call by the
layer's seed and call counter, so XLA fuses it into the layer's own kernels. Measured by
`benchmarks/compile_options.py --switch HASHED_DROPOUT`; the masks are still independent Bernoulli draws
with the layer's rate (`tests/training/test_hashed_dropout.py`), but another stream, so a trial's masks
differ from earlier recsearch versions' and from Keras `fit`'s.
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from typing import Any, Iterator

GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: separates the two keys drawn from one seed
_ACTIVE = threading.local()  # .depth > 0 while this thread traces one of the loop's programs
_INSTALLED: dict[str, Any] = {}  # "keras": Keras's own dropout, once `_dispatch` replaced it


def mix32(x: Any) -> Any:
    """Wellons' `lowbias32` hash of uint32 values: a bijection whose every output bit depends on every input
    bit (https://nullprogram.com/blog/2018/07/31/)."""
    import jax.numpy as jnp

    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _concrete(rate: Any) -> float | None:
    """`rate` as a number when it is one (Python, NumPy, a concrete array); None when traced."""
    try:
        return float(rate)
    except Exception:  # a tracer, or the loop's traced per-member rate (`jax_loop._TracedRate`)
        return None


def hashed_dropout(inputs: Any, rate: Any, noise_shape: Any = None, seed: Any = None) -> Any:
    """Keras's JAX `dropout` (same arguments, checks and scaling), its mask bits `mix32(a * (i + b))` for each
    element's flat index i, with an odd multiplier a and an offset b hashed from the call's 64-bit seed."""
    import jax
    import jax.numpy as jnp
    from keras.src.backend.jax import random as keras_random

    value = _concrete(rate)
    if value == 1.0:
        return jnp.zeros_like(inputs)
    if value == 0.0:
        return inputs
    shape = tuple(keras_random._get_concrete_noise_shape(inputs, noise_shape))
    if math.prod(shape) >= 2 ** 32:  # flat indices would wrap: Keras's own masks
        return _INSTALLED.get("keras", keras_random.dropout)(inputs, rate, noise_shape=noise_shape, seed=seed)
    words = jnp.asarray(keras_random.jax_draw_seed(seed))
    if jax.dtypes.issubdtype(words.dtype, jax.dtypes.prng_key):  # a typed key: its raw words
        words = jax.random.key_data(words)
    words = words.astype(jnp.uint32).ravel()
    offset = mix32(words[1] ^ mix32(words[0]))
    multiplier = mix32(words[0] ^ mix32(words[1] + jnp.uint32(GOLDEN))) | jnp.uint32(1)
    flat = shape or (1,)
    # i + b as rows (i // width) and columns: no full-size index array is the same at every step, which
    # XLA would hoist out of the epoch's loop and read from memory at each use
    rows = jax.lax.iota(jnp.uint32, math.prod(flat[:-1])) * jnp.uint32(flat[-1]) + offset
    index = rows.reshape(*flat[:-1], 1) + jax.lax.iota(jnp.uint32, flat[-1])
    bits = mix32(index * multiplier).reshape(shape)
    keep = 1.0 - rate
    # the top 24 bits against keep * 2^24: exact in float32, and a signed compare XLA:CPU vectorises
    threshold = jnp.round(jnp.asarray(keep, jnp.float32) * 2.0 ** 24).astype(jnp.int32)
    mask = jnp.broadcast_to((bits >> 8).astype(jnp.int32) < threshold, inputs.shape)
    return jax.lax.select(mask, inputs / jnp.asarray(keep, inputs.dtype), jnp.zeros_like(inputs))


def _dispatch(inputs: Any, rate: Any, noise_shape: Any = None, seed: Any = None) -> Any:
    """Keras's JAX dropout as installed: the hash while this thread traces one of the loop's programs,
    Keras's own otherwise (other threads, Keras `fit`, eager calls)."""
    if getattr(_ACTIVE, "depth", 0) > 0:
        return hashed_dropout(inputs, rate, noise_shape=noise_shape, seed=seed)
    return _INSTALLED["keras"](inputs, rate, noise_shape=noise_shape, seed=seed)


@contextmanager
def hashed_dropout_while_tracing(enabled: bool = True) -> Iterator[None]:
    """Keras's dropout (every Dropout layer, and `keras.random.dropout`) computed by `hashed_dropout` in this
    thread while the JAX loop traces a program. Keras's function is replaced once by `_dispatch`, which
    decides per thread, so threads tracing other Keras code at the same time keep Keras's masks."""
    if not enabled:
        yield
        return
    from keras.src.backend.jax import random as keras_random

    if keras_random.dropout is not _dispatch:
        _INSTALLED["keras"] = keras_random.dropout
        keras_random.dropout = _dispatch
    _ACTIVE.depth = getattr(_ACTIVE, "depth", 0) + 1
    try:
        yield
    finally:
        _ACTIVE.depth -= 1
