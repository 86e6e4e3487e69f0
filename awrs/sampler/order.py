"""Orders in which the AWRS walk visits candidates.

:class:`RandomOrder` visits candidates as successive draws *without replacement* from ``q``:
each next candidate is drawn from the mass not yet taken, by inverse CDF over blocks of
positions (``awrs.sampler._kernels``: one pass to sum the blocks when the order is made, then
microseconds per draw; a taken position's block is summed again, so the remaining mass stays
exact however much was taken). Positions are drawn ahead in batches, one kernel call and one
call for the uniforms each, as a walk visits a few positions per step (docs/sampler.md, "The
hot path"). Drawing a position before it is visited changes nothing about the order's
distribution, only how many uniforms the generator hands out. This is the same distribution
over orders as sorting float64 Gumbel keys ``log q + G`` (docs/algorithm.md §2) at a
fraction of the cost: on SmolLM2's 49,153 candidates about 30 us to make the order instead
of about 2 ms for drawing, taking logarithms of and partially sorting 49,153 Gumbel keys
(see docs/sampler.md).

:class:`GreedyOrder` visits candidates from the most likely down (ties by position), by their
log-probabilities, so none is lost to an exponential's underflow.

Both index *positions* ``0..len(q)-1`` of the arrays they were given.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from awrs.sampler import _kernels
from awrs.sampler._layout import F32, F64

__all__ = ["MAX_AHEAD", "GreedyOrder", "RandomOrder"]


#: The most positions one draw of a :class:`RandomOrder` takes ahead.
MAX_AHEAD = 16


class RandomOrder:
    """Positions with ``q > 0`` (less ``exclude``) in a random without-replacement order,
    each next one drawn in proportion to ``q`` among those left."""

    __slots__ = ("_ahead", "_q", "_rng", "_size", "_sums", "_taken", "_visited")

    def __init__(
        self,
        q: np.ndarray,
        rng: np.random.Generator,
        exclude: Iterable[int] | None = None,
        *,
        blocks: tuple[np.ndarray, int] | None = None,
        ahead: int = 1,
    ):
        """``q`` need not be normalised. ``blocks``: ``_kernels.block_sums(q)`` when the
        caller has it (it is copied). ``ahead``: how many positions the first draw takes
        (the number the caller expects to visit); each later draw takes twice as many as the
        one before, up to ``MAX_AHEAD``."""
        q = np.asarray(q)
        self._q = q if q.dtype in (F32, F64) and q.flags.c_contiguous else np.ascontiguousarray(q, dtype=np.float64)
        self._rng = rng
        self._taken = np.zeros(len(self._q), dtype=np.bool_)
        if blocks is None:
            self._sums, self._size = _kernels.block_sums(self._q)
        else:
            self._sums, self._size = blocks[0].copy(), blocks[1]
        self._visited: list[int] = []
        self._ahead = max(int(ahead), 1)
        excluded = None if exclude is None else {int(e) for e in exclude}
        if excluded:
            index = list(excluded)
            self._taken[index] = True
            self._size -= int(np.count_nonzero(self._q[index]))
            for b in {e // _kernels.BLOCK for e in excluded}:
                self._sums[b] = _kernels.block_sum(self._q, self._taken, b)

    def __len__(self) -> int:
        return self._size

    def position(self, i: int) -> int:
        """The position visited i-th."""
        visited = self._visited
        if i < len(visited):
            return visited[i]
        left = self._size - len(visited)
        if i >= self._size:
            raise IndexError(i)
        k = min(max(self._ahead, i + 1 - len(visited)), left)
        self._ahead = min(2 * self._ahead, MAX_AHEAD)
        visited += _kernels.draw_many(self._q, self._sums, self._taken, self._rng.random(k))
        return visited[i]


class GreedyOrder:
    """Positions from the largest log-probability down; ties in position order; positions at
    ``-inf`` (impossible or pruned) or NaN are never visited (docs/algorithm.md §2.3)."""

    __slots__ = ("_size", "_visited", "_work")

    def __init__(self, logprobs: np.ndarray):
        self._work = np.array(logprobs, dtype=np.float64)
        self._work[np.isnan(self._work)] = -np.inf  # np.argmax would return a NaN first
        self._visited: list[int] = []
        self._size = int(np.count_nonzero(self._work > -np.inf))

    def __len__(self) -> int:
        return self._size

    def position(self, i: int) -> int:
        while len(self._visited) <= i:
            if len(self._visited) >= self._size:
                raise IndexError(i)
            pos = int(np.argmax(self._work))
            self._work[pos] = -np.inf
            self._visited.append(pos)
        return self._visited[i]
