"""A population's log weights as numbers one can use: normalised weights and their log mean.

Both are computed from the largest log weight down (``exp(lw - max)``), so no weight
overflows and the largest is exactly 1 before normalising; this is the one place that does it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["log_mean_exp", "normalized_weights"]


def normalized_weights(log_weights: np.ndarray | Sequence[float]) -> np.ndarray | None:
    """``exp(log_weights)`` scaled to sum to 1 (a new float64 array); None when there is no
    positive finite weight to scale by (no weights, all -inf, or a NaN or +inf among them)."""
    scaled = _scaled(log_weights)
    if scaled is None:
        return None
    w = scaled[0]
    w /= w.sum()
    return w


def log_mean_exp(log_weights: np.ndarray | Sequence[float]) -> float:
    """``log(mean(exp(log_weights)))``: the log of the mean weight (SMC's estimate of the
    normalising constant); -inf where :func:`normalized_weights` gives None."""
    scaled = _scaled(log_weights)
    if scaled is None:
        return -math.inf
    w, top = scaled
    return float(top + np.log(w.mean()))


def _scaled(log_weights: np.ndarray | Sequence[float]) -> tuple[np.ndarray, float] | None:
    """``(exp(lw - top), top)`` with ``top`` the largest log weight, or None when it is not
    finite (or there are none)."""
    lw = np.asarray(log_weights, dtype=np.float64)
    top = lw.max() if len(lw) else -np.inf
    if not np.isfinite(top):
        return None
    return np.exp(lw - top), top
