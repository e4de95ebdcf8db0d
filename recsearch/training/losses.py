"""Every training loss in one place: rating (mean squared error) and ranking (BCE, BPR, sampled softmax,
in-batch softmax). Functions of backend tensors via `keras.ops`, usable by `compile` and by the JAX loop."""

from __future__ import annotations

from typing import Any

from keras import ops

RATING_LOSS = "mse"  # what `compile` is given for rating; `weighted_squared_error` is its padded-batch twin


def weighted_squared_error(y_true: Any, y_pred: Any, weights: Any) -> Any:
    """Mean squared error over the rows with weight 1 (padding rows have weight 0): Keras's "mse" on a batch."""
    return ops.sum(weights * ops.square(y_pred - y_true)) / ops.maximum(ops.sum(weights), 1.0)


def bce_loss(y_true: Any, logits: Any) -> Any:
    """Sigmoid cross-entropy: column 0 is the positive, the rest sampled negatives."""
    labels = ops.concatenate([ops.ones_like(logits[:, :1]), ops.zeros_like(logits[:, 1:])], axis=1)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True), axis=-1)


def bpr_loss(y_true: Any, logits: Any) -> Any:
    """Bayesian personalised ranking: -log sigmoid(positive - negative), averaged over the negatives."""
    return ops.mean(ops.softplus(logits[:, 1:] - logits[:, :1]), axis=-1)


def softmax_loss(y_true: Any, logits: Any) -> Any:
    """Softmax cross-entropy with the positive in column 0 (sampled softmax)."""
    return -ops.log_softmax(logits, axis=-1)[:, 0]


def in_batch_loss(y_true: Any, logits: Any) -> Any:
    """Softmax cross-entropy with each row's positive on the diagonal (in-batch negatives)."""
    return -ops.diagonal(ops.log_softmax(logits, axis=-1))


RANKING_LOSSES = {"bce": bce_loss, "bpr": bpr_loss, "softmax": softmax_loss}
