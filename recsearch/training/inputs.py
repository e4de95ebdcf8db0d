"""What every trainer feeds a {"user", "item"} model, shared so that trainers need not import each other."""

from __future__ import annotations

import numpy as np

from recsearch.data.types import SplitArrays

EVAL_BATCH = 16384  # rows per batch when predicting or evaluating


def model_inputs(part: SplitArrays) -> dict[str, np.ndarray]:
    """The arrays a model is fed, keyed as its Input layers are named."""
    return {"user": part.users, "item": part.items}
