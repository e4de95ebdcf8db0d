"""Embedding widths rounded up for the JAX loop (`train.pad_embeddings`): trials whose widths round alike share
one compiled program.

On CPU most of a new architecture's cost is compiling its program (about 1.4 s for an `mlp` shape here), and
`embedding_dim` is the searched value with the most distinct values (`int(interval(8, 128))`: 121), so
almost every trial used to be a new shape. A trial of width d now trains inside a *twin* of its model built
at D = `padded_width(d)` (d rounded up to 3 significant bits: 8, 10, 12, 14, 16, 20, ..., 112, 128, 160;
at most 25% wider, about 10% on average). Each of the model's values goes to the twin's first d columns of
its d-wide block (a (2d, w) kernel over the concatenated user and item embeddings is two blocks), and the
twin's other columns are zeros.

Why that is exact: the families that declare `pads_embedding` (registry) use embedding columns only
through Dense layers, dot and elementwise products, sums and concatenation, so a zero column meets zero
weights, produces zero, and gets a zero gradient; L2 of zero is zero, and the optimizers recsearch builds
(Adam, AdamW, SGD, RMSprop) leave a value with zero gradient and zero state at zero. The twin computes
what the model computes, up to the order of float sums, and its trained values are sliced back into the
model, which is saved, counted and reported at its own width. Dropout masks over a padded axis (GMF's
product) are drawn at the twin's width: the same Bernoulli rate, another stream.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def padded_width(d: int) -> int:
    """`d` rounded up to 3 significant bits (8..16 by 2, 16..32 by 4, ...); widths below 9 are kept."""
    step = 1 << max(0, (int(d) - 1).bit_length() - 3)
    return -(-int(d) // step) * step


def _positions(size: int, full: int, d: int, wide: int) -> np.ndarray | None:
    """Where an axis of `size` elements (k blocks of d) goes in the twin's axis of `full` (k blocks of `wide`);
    None when the axis is not widened. ValueError when the sizes are not k blocks of each."""
    if size == full:
        return None
    blocks = size // d
    if size % d or full != blocks * wide:
        raise ValueError(f"an axis of {size} does not widen from {d} to {wide} per block (the twin has {full})")
    return (np.arange(blocks)[:, None] * wide + np.arange(d)[None, :]).ravel()


class WidthMap:
    """How each variable of a model of width d sits in its twin of width D (same variables, in the same order)."""

    def __init__(self, narrow: Sequence[tuple[int, ...]], wide: Sequence[tuple[int, ...]], d: int, width: int):
        if len(narrow) != len(wide) or any(len(a) != len(b) for a, b in zip(narrow, wide)):
            raise ValueError("the twin's variables differ from the model's")
        self.shapes = [tuple(map(int, s)) for s in wide]
        self.index = [tuple(_positions(a, b, d, width) for a, b in zip(s, w)) for s, w in zip(narrow, wide)]

    def _where(self, k: int) -> tuple:
        axes = [p if p is not None else np.arange(n) for p, n in zip(self.index[k], self.shapes[k])]
        return np.ix_(*axes) if axes else ()

    def widen(self, values: Sequence[Any]) -> list[np.ndarray]:
        """The model's values (host arrays) placed in zeros of the twin's shapes."""
        out = []
        for k, value in enumerate(values):
            value = np.asarray(value)
            if all(p is None for p in self.index[k]):
                out.append(value)
                continue
            full = np.zeros(self.shapes[k], value.dtype)
            full[self._where(k)] = value
            out.append(full)
        return out

    def narrow(self, k: int, value: np.ndarray) -> np.ndarray:
        """Variable k's value in the twin's shape, sliced back to the model's."""
        return value if all(p is None for p in self.index[k]) else value[self._where(k)]


def width_map(model: Any, twin: Any, d: int, width: int) -> tuple[WidthMap, WidthMap]:
    """The maps of the trainable and of the non-trainable variables of `model` (width d) into `twin` (width)."""
    return tuple(WidthMap([tuple(v.shape) for v in mine], [tuple(v.shape) for v in theirs], d, width)
                 for mine, theirs in ((model.trainable_variables, twin.trainable_variables),
                                      (model.non_trainable_variables, twin.non_trainable_variables)))
