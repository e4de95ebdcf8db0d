"""Dropout masks from a short integer hash instead of JAX's threefry, for the JAX loop's compiled programs.

On XLA:CPU each dropout layer's threefry hash became two long straight-line kernels (20 rounds per 32-bit
word pair), which LLVM spends much of a new architecture's compile time on: a depth-3 `mlp` compiled in
0.97 s without dropout and 1.68 s with it. Here each mask element is one multiply-add of its flat index
and Wellons' `lowbias32` mix (two multiplies, three xor-shifts), keyed per call by the layer's seed and
call counter, so XLA fuses it into the layer's own kernels. Measured in `benchmarks/compile_options.py`
(variant `threefry dropout`); the masks are still independent Bernoulli draws with the layer's rate
(`tests/training/test_hashed_dropout.py`), but another stream, so a trial's masks differ from earlier
recsearch versions' and from Keras `fit`'s.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Iterator

GOLDEN = 0x9E3779B9  # 2^32 / golden ratio: separates the two keys drawn from one seed


def mix32(x: Any) -> Any:
    """Wellons' `lowbias32` hash of uint32 values: a bijection whose every output bit depends on every input
    bit (https://nullprogram.com/blog/2018/07/31/)."""
    import jax.numpy as jnp

    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x7FEB352D)
    x = x ^ (x >> 15)
    x = x * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def hashed_dropout(inputs: Any, rate: Any, noise_shape: Any = None, seed: Any = None) -> Any:
    """Keras's JAX `dropout` (same arguments and scaling), its mask bits `mix32(a * i + b)` for each element's
    flat index i, with an odd multiplier a and an offset b hashed from the call's 64-bit seed."""
    import jax
    import jax.numpy as jnp
    from keras.src.backend.jax import random as keras_random

    if isinstance(rate, (int, float)):
        if rate == 0.0:
            return inputs
        if rate == 1.0:
            return jnp.zeros_like(inputs)
    words = jnp.asarray(keras_random.jax_draw_seed(seed)).astype(jnp.uint32)
    offset = mix32(words[1] ^ mix32(words[0]))
    multiplier = mix32(words[0] ^ mix32(words[1] + jnp.uint32(GOLDEN))) | jnp.uint32(1)
    shape = tuple(keras_random._get_concrete_noise_shape(inputs, noise_shape))
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


@contextmanager
def hashed_dropout_while_tracing(enabled: bool = True) -> Iterator[None]:
    """Keras's dropout (every Dropout layer, and `keras.random.dropout`) computed by `hashed_dropout` while
    the JAX loop traces its programs; Keras's own everywhere else."""
    if not enabled:
        yield
        return
    from keras.src.backend.jax import random as keras_random

    saved = keras_random.dropout
    keras_random.dropout = hashed_dropout
    try:
        yield
    finally:
        keras_random.dropout = saved
