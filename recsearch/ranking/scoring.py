"""Scorers: what the batched evaluation asks of a model (or of fixed item scores), with fast paths.

A scorer has `pairs(users, items) -> (n,)` scores and `all_items(users) -> (B, num_items)` scores.
`model_scorer` scores a {"user", "item"} Keras model: biased MF and two-tower models by one matrix
product against item vectors computed once (exact: their output head is linear), every other model
by predicting (user, item) pairs in large batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PAIR_BATCH = 1 << 18  # (user, item) pairs per predict call


@dataclass
class ItemScores:
    """Fixed per-item scores (e.g. popularity), the same for every user."""

    scores: np.ndarray

    def pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.asarray(self.scores, np.float32)[items]

    def all_items(self, users: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(self.scores, np.float32)[None, :], len(users), axis=0)


@dataclass
class PairScorer:
    """Any {"user", "item"} model: pairs predicted in batches of PAIR_BATCH."""

    model: Any
    num_items: int

    def pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        out = np.empty(len(users), np.float32)
        for start in range(0, len(users), PAIR_BATCH):
            sl = slice(start, start + PAIR_BATCH)
            batch = {"user": np.asarray(users[sl], np.int32), "item": np.asarray(items[sl], np.int32)}
            out[sl] = np.asarray(self.model.predict_on_batch(batch)).reshape(-1)
        return out

    def all_items(self, users: np.ndarray) -> np.ndarray:
        items = np.tile(np.arange(self.num_items, dtype=np.int32), len(users))
        return self.pairs(np.repeat(np.asarray(users, np.int32), self.num_items), items).reshape(len(users), -1)


@dataclass
class FactorScorer(PairScorer):
    """score = w * (user_vec . item_vec + user_bias + item_bias) + b, with item vectors computed once."""

    item_vectors: np.ndarray = None  # (num_items, d)
    item_bias: np.ndarray = None  # (num_items,)
    user_vectors: Any = None  # users -> (B, d)
    user_bias: Any = None  # users -> (B,)
    weight: float = 1.0
    bias: float = 0.0

    def pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        unique, inverse = np.unique(users, return_inverse=True)
        vectors, bias = self.user_vectors(unique)[inverse], self.user_bias(unique)[inverse]
        raw = np.einsum("ij,ij->i", vectors, self.item_vectors[items]) + bias + self.item_bias[items]
        return (self.weight * raw + self.bias).astype(np.float32, copy=False)

    def all_items(self, users: np.ndarray) -> np.ndarray:
        raw = self.user_vectors(users) @ self.item_vectors.T
        raw += self.user_bias(users)[:, None] + self.item_bias[None, :]
        return (self.weight * raw + self.bias).astype(np.float32, copy=False)


def model_scorer(model: Any, num_items: int) -> PairScorer:
    """The fastest exact scorer of `model`: factorised for `mf` and `two_tower`, pairs otherwise."""
    names = {layer.name for layer in model.layers}
    if model.name == "mf" and {"user_embedding", "item_embedding", "user_bias", "item_bias"} <= names:
        return _mf_scorer(model, num_items)
    if model.name == "two_tower" and {"user_tower", "item_tower"} <= names:
        return _two_tower_scorer(model, num_items)
    return PairScorer(model, num_items)


def _head(model: Any) -> tuple[float, float]:
    kernel, bias = model.get_layer("rating").get_weights()
    return float(np.asarray(kernel).reshape(-1)[0]), float(np.asarray(bias).reshape(-1)[0])


def _mf_scorer(model: Any, num_items: int) -> FactorScorer:
    table = {name: model.get_layer(name).get_weights()[0] for name in
             ("user_embedding", "item_embedding", "user_bias", "item_bias")}
    weight, bias = _head(model)
    return FactorScorer(model, num_items, item_vectors=table["item_embedding"], item_bias=table["item_bias"][:, 0],
                        user_vectors=lambda u: table["user_embedding"][u], user_bias=lambda u: table["user_bias"][u, 0],
                        weight=weight, bias=bias)


def _two_tower_scorer(model: Any, num_items: int) -> FactorScorer:
    user_tower, item_tower = model.get_layer("user_tower"), model.get_layer("item_tower")
    items = np.arange(num_items, dtype=np.int32)
    item_vectors = np.concatenate([np.asarray(item_tower.predict_on_batch(items[s:s + PAIR_BATCH]))
                                   for s in range(0, num_items, PAIR_BATCH)])
    weight, bias = _head(model)
    return FactorScorer(model, num_items, item_vectors=item_vectors, item_bias=np.zeros(num_items, np.float32),
                        user_vectors=lambda u: np.asarray(user_tower.predict_on_batch(np.asarray(u, np.int32))),
                        user_bias=lambda u: np.zeros(len(u), np.float32), weight=weight, bias=bias)
