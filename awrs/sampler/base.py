"""What every step shares: its outcome (:class:`Step`), the ``accept`` callback it asks, and
the estimators a walk can use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from awrs.errors import GenerationError

__all__ = ["ESTIMATORS", "Accept", "CountedAccept", "Estimator", "Narrow", "Step", "check_walk", "counted"]

Estimator = Literal["recursive", "two-loop", "none"]
ESTIMATORS: tuple[Estimator, ...] = ("recursive", "two-loop", "none")

#: ``accept(i)``: may candidate ``i`` come next?
Accept = Callable[[int], bool]

#: ``narrow()``: candidates ``accept`` would reject (a bool array over the candidates), or None
#: when it cannot say; asked once by a long walk (:data:`awrs.sampler.walk.NARROW_AFTER`).
Narrow = Callable[[], "np.ndarray | None"]


class Step(NamedTuple):
    """The outcome of one step.

    ``token`` is the index of the chosen candidate, or None when every candidate visited was
    rejected (the weight is then 0). ``log_weight`` is the log of the properly weighted
    estimate of the allowed mass (0.0 for the unweighted mode and greedy). ``n_checks`` counts
    the distinct candidates ``accept`` was asked about (or candidates checked, for masking).
    (A named tuple: cheaper to make than a frozen dataclass; docs/sampler.md, "The hot path".)
    """

    token: int | None
    log_weight: float
    n_checks: int


def check_walk(estimator: str, max_rejects: int | None) -> None:
    """Raise :class:`~awrs.errors.GenerationError` unless ``estimator`` is one of
    :data:`ESTIMATORS` and ``max_rejects`` is None or a positive integer."""
    if estimator not in ESTIMATORS:
        raise GenerationError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if max_rejects is not None and max_rejects < 1:
        raise GenerationError(f"max_rejects must be a positive integer or None, got {max_rejects!r}")


class CountedAccept:
    """An ``accept`` callback that memoises its answers and counts the distinct candidates
    it was asked about (``calls``). Walks use such a callback as it is
    (:class:`~awrs.sampler.space.TokenChecker` is one: no wrapper call per check) and wrap any
    other in one."""

    __slots__ = ()

    @property
    def calls(self) -> int:
        """The distinct candidates asked about so far (each subclass keeps or finds it)."""
        raise NotImplementedError

    def __call__(self, i: int) -> bool:
        raise NotImplementedError


def counted(accept: Accept) -> CountedAccept:
    """``accept`` as a :class:`CountedAccept` (itself when it is one)."""
    return accept if isinstance(accept, CountedAccept) else _CountingAccept(accept)


class _CountingAccept(CountedAccept):
    """Memoises ``accept`` within one step and counts the distinct checks made."""

    __slots__ = ("_accept", "_seen", "calls")
    calls: int  # a slot, where the base class has a read-only property

    def __init__(self, accept: Accept):
        self._accept = accept
        self._seen: dict[int, bool] = {}
        self.calls = 0

    def __call__(self, i: int) -> bool:
        hit = self._seen.get(i)
        if hit is None:
            self.calls += 1
            hit = self._seen[i] = bool(self._accept(i))
        return hit
