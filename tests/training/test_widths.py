"""Embedding widths rounded up for the JAX loop (`recsearch.training.widths`): the ladder, and how a model's
values sit in its wider twin and come back (NumPy only; training in a twin: tests/training/test_jax_loop.py)."""

from __future__ import annotations

import numpy as np
import pytest

from recsearch.training.widths import WidthMap, padded_width


def test_widths_round_up_to_three_significant_bits():
    assert [padded_width(d) for d in (1, 7, 8, 9, 10, 11, 17, 33, 64, 65, 100, 128, 129)] == [
        1, 7, 8, 10, 10, 12, 20, 40, 64, 80, 112, 128, 160]
    for d in range(1, 2049):
        wide = padded_width(d)
        assert d <= wide <= 1.25 * d and padded_width(wide) == wide
        assert wide >> max(0, wide.bit_length() - 3) << max(0, wide.bit_length() - 3) == wide  # 3 significant bits
    assert len({padded_width(d) for d in range(8, 129)}) == 17  # 121 searched widths, 17 programs


def test_values_go_to_the_first_columns_of_each_block_and_come_back():
    """A (2d, w) kernel over concatenated user and item embeddings is two blocks; a (n, d) table one; a bias
    of another size is left alone."""
    d, wide = 3, 4
    table, kernel, bias = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(6, 2), np.ones(5)
    wmap = WidthMap([(2, 3), (6, 2), (5,)], [(2, 4), (8, 2), (5,)], d, wide)
    wt, wk, wb = wmap.widen([table, kernel, bias])
    np.testing.assert_array_equal(wt, [[0, 1, 2, 0], [3, 4, 5, 0]])
    np.testing.assert_array_equal(wk[:, 0], [0, 2, 4, 0, 6, 8, 10, 0])
    assert wb is bias or np.array_equal(wb, bias)
    for k, value in enumerate((table, kernel, bias)):
        np.testing.assert_array_equal(wmap.narrow(k, [wt, wk, wb][k]), value)


@pytest.mark.parametrize("narrow, wide", [([(2, 3)], [(2, 5)]), ([(7,)], [(9,)]), ([(2, 3)], [(2, 4), (1,)])])
def test_shapes_that_are_not_blocks_of_the_width_are_refused(narrow, wide):
    with pytest.raises(ValueError):
        WidthMap(narrow, wide, 3, 4)
