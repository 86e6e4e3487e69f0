"""Resampling schemes: normalised weights -> ancestor indices, each unbiased (every particle's
expected number of copies is N times its weight)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from awrs.errors import GenerationError
from awrs.smc.weights import normalized_weights

__all__ = ["RESAMPLERS", "Resampling", "effective_sample_size", "resample"]

Resampling = Literal["multinomial", "systematic", "stratified", "residual"]


def effective_sample_size(log_weights: np.ndarray) -> float:
    """``1 / sum(w_i^2)`` over normalised weights; 0 when every weight is zero."""
    w = normalized_weights(log_weights)
    return 0.0 if w is None else float(1.0 / np.square(w).sum())


def _multinomial(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(len(w), size=n, p=w))


def _from_points(w: np.ndarray, points: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(w)
    cdf[-1] = 1.0  # guard against round-off leaving the last bin short
    return np.searchsorted(cdf, points, side="right")


def _systematic(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return _from_points(w, (rng.random() + np.arange(n)) / n)


def _stratified(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return _from_points(w, (rng.random(n) + np.arange(n)) / n)


def _residual(w: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    copies = np.floor(n * w).astype(np.int64)
    fixed = np.repeat(np.arange(len(w)), copies)
    rest = n - int(copies.sum())
    if rest == 0:
        return fixed
    residual = n * w - copies
    residual /= residual.sum()
    return np.sort(np.concatenate([fixed, rng.choice(len(w), size=rest, p=residual)]))


RESAMPLERS: dict[str, Callable[[np.ndarray, int, np.random.Generator], np.ndarray]] = {
    "multinomial": _multinomial,
    "systematic": _systematic,
    "stratified": _stratified,
    "residual": _residual,
}


def resample(
    log_weights: np.ndarray, rng: np.random.Generator, scheme: Resampling = "systematic", n: int | None = None
) -> np.ndarray:
    """Ancestor indices (sorted, length ``n``, default ``len(log_weights)``) drawn by ``scheme``."""
    try:
        fn = RESAMPLERS[scheme]
    except KeyError:
        raise GenerationError(f"unknown resampling scheme {scheme!r}: use one of {sorted(RESAMPLERS)}") from None
    w = normalized_weights(log_weights)
    if w is None:
        raise GenerationError("cannot resample: every particle has weight zero")
    return fn(w, len(w) if n is None else n, rng).astype(np.int64)
