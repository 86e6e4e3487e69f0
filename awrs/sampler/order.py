"""Visiting candidates without replacement: Gumbel keys with a lazily extended partial top-k.

Visiting candidates in decreasing order of ``log q(x) + G_x`` with i.i.d. Gumbel ``G_x`` is
distributed exactly as successive draws without replacement from ``q``. Only the first few
positions are usually visited, so the order is materialised ``k`` at a time with
``argpartition`` (O(V)) and extended by doubling when a walk runs past it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CandidateOrder", "FIRST_BLOCK"]

#: How many positions the first partial top-k materialises. AWRS usually stops within 2–3
#: checks, so 8 covers nearly every step with one argpartition; deeper walks double it.
FIRST_BLOCK = 8


class CandidateOrder:
    """The visiting order of the candidates ``index`` (those with non-zero mass).

    ``keys`` are compared in float64. ``order[i]`` is the i-th candidate visited; ``len(order)``
    is the number of candidates. Deterministic given the keys.
    """

    __slots__ = ("_index", "_keys", "_prefix")

    def __init__(self, index: np.ndarray, keys: np.ndarray):
        self._index = index
        self._keys = keys
        self._prefix = np.empty(0, dtype=np.int64)
        self._materialise(FIRST_BLOCK)

    @classmethod
    def gumbel(cls, index: np.ndarray, logq: np.ndarray, rng: np.random.Generator) -> CandidateOrder:
        """Random order: keys ``logq - log(E)`` with ``E ~ Exp(1)`` (``-log E`` is Gumbel)."""
        keys = logq - np.log(rng.standard_exponential(len(index)))
        return cls(index, keys)

    @classmethod
    def greedy(cls, index: np.ndarray, logq: np.ndarray) -> CandidateOrder:
        """Most likely first (ties by index)."""
        return cls(index, logq.astype(np.float64, copy=False))

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> int:
        """The candidate visited i-th."""
        return int(self._index[self.position(i)])

    def position(self, i: int) -> int:
        """Where the candidate visited i-th sits in ``index`` (and in the arrays aligned with it)."""
        if i >= len(self._prefix):
            if i >= len(self._index):
                raise IndexError(i)
            self._materialise(max(2 * len(self._prefix), i + 1))
        return int(self._prefix[i])

    def _materialise(self, want: int) -> None:
        n = len(self._keys)
        want = min(want, n)
        if want == 0:
            return
        if want < n:
            top = np.argpartition(-self._keys, want - 1)[:want]
            # Take every key tied with the smallest one kept, so that a later, longer prefix
            # always starts with this one (ties are then ordered by position).
            top = np.flatnonzero(self._keys >= self._keys[top].min())
        else:
            top = np.arange(n)
        self._prefix = top[np.argsort(-self._keys[top], kind="stable")]
