"""The AWRS walk and its estimators (docs/algorithm.md §3; docs/sampler.md).

A walk visits the kept candidates (:mod:`awrs.sampler.kept`) in a random without-replacement
order (:class:`~awrs.sampler.order.RandomOrder`) until ``accept`` allows one, and returns it
with a properly weighted estimate of the allowed mass: the recursive estimator, the paper's
two-loop one, or none (plain locally constrained decoding). Two things keep long walks exact
and short: a walk whose unvisited candidates hold less than :data:`RESTART_SHARE` of a
level's mass restarts over them (``rest``: their kept distribution made again), and after
:data:`NARROW_AFTER` rejections a walk given ``narrow`` drops the candidates it refuses.
The tests check each estimator by enumerating every walk (tests/sampler/test_step.py).
"""

from __future__ import annotations

import math

import numpy as np

from awrs.sampler import _kernels
from awrs.sampler.base import Accept, CountedAccept, Estimator, Narrow, Step, counted
from awrs.sampler.kept import Kept, Rest
from awrs.sampler.order import RandomOrder
from awrs.sampler.space import FIRST_REFUSED

__all__ = ["NARROW_AFTER", "RESTART_SHARE", "walk", "walk_on"]

#: Rejections after which a walk given ``narrow`` asks for it (once per step).
NARROW_AFTER = 32

#: The walk starts again over the candidates it has not visited once they hold less than this
#: share of its kept mass: the remaining mass, ``total - rejected``, would otherwise lose
#: digits (at 2**-20 at most 20 of float64's 52 bits), and the weights of what is left may
#: have underflowed relative to the most likely candidate (docs/sampler.md, "Small masses").
RESTART_SHARE = 2.0**-20


def walk(
    kept: Kept | None, accept: Accept, rng, estimator: Estimator, max_rejects: int | None, narrow: Narrow | None, rest: Rest
) -> Step:
    """One walk over ``kept`` (None: nothing is kept, no candidate, weight 0) with
    ``estimator``, giving up at the ``max_rejects``-th rejection (weight 0). The step's token
    is a position of ``kept.weights``, its weight absolute (``P_kept`` included) and its
    checks the distinct candidates ``accept`` was asked about. Takes its arguments as checked
    (:func:`~awrs.sampler.step.awrs_step` checks them)."""
    if kept is None:
        return Step(None, -math.inf, 0)
    checker = counted(accept)
    before = checker.calls
    if estimator == "two-loop":
        pos, log_w = _two_loop(kept, checker, rng, max_rejects, rest)
    else:
        pos, log_w = _one_loop(kept, checker, rng, estimator == "recursive", max_rejects, narrow, rest)
    if pos is None:
        return Step(None, -math.inf, checker.calls - before)
    return Step(pos, log_w, checker.calls - before)


class _Visits:
    """What a walk has visited and refused so far, across the levels it restarts at."""

    __slots__ = ("refused", "rejected", "size")

    def __init__(self, size: int):
        self.rejected: list[int] = []
        self.refused: np.ndarray | None = None  # what narrow() refused, once asked
        self.size = size

    def excluded(self) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.bool_) if self.refused is None else self.refused.copy()
        out[self.rejected] = True
        return out


def walk_on(
    level: Kept | None,
    accept: CountedAccept,
    rng,
    weighted: bool,
    max_rejects: int | None,
    narrow: Narrow | None,
    rest: Rest,
    rejected: list[int],
) -> tuple[int | None, float]:
    """The rest of a one-loop walk (recursive or none) whose first candidates, ``rejected``,
    were visited and refused elsewhere (the device path, docs/sampler.md): ``level`` is the
    kept distribution of the candidates not visited (``rest(excluded)``), where the walk goes
    on as it would after a restart — the same walk in law, and the weight telescopes to the
    level's. Returns ``(position, absolute log weight)``."""
    if level is None:
        return None, -math.inf
    visits = _Visits(len(level.weights))
    visits.rejected = list(rejected)
    return _one_loop(level, accept, rng, weighted, max_rejects, narrow, rest, visits)


def _one_loop(
    kept: Kept,
    accept: CountedAccept,
    rng,
    weighted: bool,
    max_rejects: int | None,
    narrow: Narrow | None,
    rest: Rest,
    visits: _Visits | None = None,
) -> tuple[int | None, float]:
    """The recursive estimator (``weighted``) or plain LCD: one walk until a candidate is
    accepted, restarted over the unvisited candidates when they hold too little of a level's
    mass (:data:`RESTART_SHARE`). A restarted walk is the same walk in law (the order goes on
    drawing from what is left), and the recursive weight telescopes (docs/sampler.md, "Small masses"), so
    the weight is the last level's alone. Returns ``(position, absolute log weight)``."""
    again = visits is not None  # going on from candidates visited elsewhere: a restart
    visits = _Visits(len(kept.weights)) if visits is None else visits
    level: Kept | None = kept
    while level is not None:
        outcome = _level_walk(level, accept, rng, weighted, max_rejects, narrow, visits, again)
        if outcome is not _RESTART:
            return outcome
        level, again = rest(visits.excluded()), True
    return None, -math.inf


_RESTART = (None, math.nan)  # a level's answer: go on over the unvisited candidates


def _level_walk(
    kept: Kept,
    accept: CountedAccept,
    rng,
    weighted: bool,
    max_rejects: int | None,
    narrow: Narrow | None,
    visits: _Visits,
    again: bool,
) -> tuple[int | None, float]:
    """One level of :func:`_one_loop`. The recursive weight is ``mult * tail``: ``mult``
    multiplies ``1 - q'(r)`` over the rejected candidates (``q'`` renormalised among those not
    yet visited), which telescopes to ``left / total`` (``left``: the kept mass not yet
    visited), and ``tail`` is 1 if the next candidate in the order is also allowed, else
    ``q'(x)`` of the accepted one; so ``w = left / total`` or ``w(x) / total``. After
    ``NARROW_AFTER`` rejections, with ``narrow``, the rest of the walk runs on the candidates
    not visited and not refused, and ``left`` becomes their mass."""
    weights, total = kept.weights, kept.total
    order = _random_order(weights, rng, blocks=kept.blocks, ahead=2 if weighted else 1, restart=again)
    left, n, i = total, len(order), 0
    # Candidates whose first byte the state refuses alone are refused here, without a call
    # (TokenChecker.refusals; a level never visits a candidate twice).
    refusals = getattr(accept, "refusals", None)
    first, first_of = (None, None) if refusals is None else (refusals() or (None, None))
    while True:
        if i >= n or left <= total * RESTART_SHARE:
            return _RESTART
        pos = order.position(i)
        capped = max_rejects is not None and len(visits.rejected) + 1 >= max_rejects
        if first is not None and first[first_of[pos]] == FIRST_REFUSED:  # type: ignore[index]
            accept.calls += 1  # type: ignore[misc]
        elif accept(pos):
            if not weighted:
                return pos, 0.0
            if i + 1 < n and not capped and not accept(order.position(i + 1)):
                left = float(weights[pos])
            return pos, math.log(left / total) + kept.log_kept
        if capped:
            return None, -math.inf
        visits.rejected.append(pos)
        left -= float(weights[pos])
        i += 1
        if narrow is not None and visits.refused is None and len(visits.rejected) == NARROW_AFTER:
            narrowed = _narrowed(order, i, weights, narrow, rng, visits)
            if narrowed is not None:
                order, weights, left = narrowed
                n, i = len(order), 0


def _narrowed(order, visited: int, weights: np.ndarray, narrow: Narrow, rng, visits: _Visits):
    """``(order, weights, left)`` for the rest of a walk that has visited ``visited``
    positions of ``order``: the unvisited candidates less those ``narrow()`` refuses (recorded
    in ``visits``), in a fresh order, and their mass; None when ``narrow`` does not say. The
    walk's ``left`` becomes that mass: the refused candidates leave ``mult`` with the kept
    share of the unvisited mass as a factor, exactly (docs/algorithm.md §2). That mass is the
    sum of its block sums in order, as a level's total is (and as the kernel walks of
    :mod:`awrs.sampler._kernel_walks` make it)."""
    refused = narrow()
    if refused is None:
        return None
    visits.refused = np.asarray(refused, dtype=np.bool_)
    kept_left = _kernels.unvisited_allowed(weights, visits.refused, [order.position(j) for j in range(visited)])
    blocks = _kernels.block_sums(kept_left)
    return _random_order(kept_left, rng, blocks=blocks), kept_left, _kernels.total(blocks[0])


def _two_loop(kept: Kept, accept: CountedAccept, rng, max_rejects: int | None, rest: Rest) -> tuple[int | None, float]:
    """The paper's estimator: loop 0 finds the sample after ``n0`` rejections of total mass
    ``psi0``; loop 1 walks a fresh order over the candidates loop 0 did not reject, counting
    ``n1`` rejections; ``w = (1 - psi0) / (n0 + n1 + 1)``. With ``max_rejects = k``: loop 0
    gives up at its k-th rejection (weight 0) and loop 1 stops when ``n0 + n1`` reaches k,
    with ``w = (1 - psi0) / k`` (properly weighted; checked by enumeration in the tests).
    Loop 0 restarts over the candidates it has not visited as :func:`_one_loop` does; ``1 -
    psi0`` is then the mass the last level has left, which holds every candidate loop 0 did
    not reject. Returns ``(position, absolute log weight)``."""
    visits = _Visits(len(kept.weights))
    level: Kept | None = kept
    again = False
    while level is not None:
        order = _random_order(level.weights, rng, blocks=level.blocks, restart=again)
        on_level: list[int] = []
        left = level.total
        for i in range(len(order)):
            if left <= level.total * RESTART_SHARE:
                break
            pos = order.position(i)
            if accept(pos):
                return pos, _second_loop(level, on_level, left, pos, accept, rng, max_rejects, len(visits.rejected))
            visits.rejected.append(pos)
            on_level.append(pos)
            left -= float(level.weights[pos])
            if max_rejects is not None and len(visits.rejected) >= max_rejects:
                return None, -math.inf
        level, again = rest(visits.excluded()), True
    return None, -math.inf


def _second_loop(
    level: Kept, rejected: list[int], left: float, sample: int, accept: CountedAccept, rng, max_rejects: int | None, n0: int
) -> float:
    """Loop 1 of :func:`_two_loop` and the log weight ``log((1 - psi0) / (n0 + n1 + 1))``."""
    log_left = math.log(left / level.total) + level.log_kept
    second = _random_order(level.weights, rng, exclude=rejected or None, blocks=level.blocks)
    n1 = 0
    for i in range(len(second)):
        if accept(second.position(i)):
            break
        n1 += 1
        if max_rejects is not None and n0 + n1 >= max_rejects:
            return log_left - math.log(max_rejects)
    return log_left - math.log(n0 + n1 + 1)


def _random_order(
    weights: np.ndarray, rng: np.random.Generator, exclude=None, blocks=None, ahead: int = 1, restart: bool = False
) -> RandomOrder:
    """The without-replacement visiting order (a seam the enumeration tests replace).
    ``restart``: the order goes on with a walk that has restarted over the candidates it has
    not visited (the same walk in law; scripted test orders go on with their script)."""
    return RandomOrder(weights, rng, exclude, blocks=blocks, ahead=ahead)
