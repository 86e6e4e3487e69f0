"""The AWRS step: one token from a handful of constraint checks, with a properly weighted
estimate of the allowed mass. ``docs/sampler.md`` and ``ALGORITHM.md`` section 3 state the
estimators; the tests check each claim by enumerating every walk.

All functions here are pure: they take log-probabilities, an ``accept`` callback and a
``numpy.random.Generator``, and return a :class:`Step`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

from awrs.errors import GenerationError
from awrs.sampler import _kernels
from awrs.sampler._layout import CandidateLayout
from awrs.sampler.order import GreedyOrder, RandomOrder

__all__ = ["CountedAccept", "Estimator", "Step", "awrs_step", "greedy_step", "kept_distribution", "mask_step", "row_step"]

Estimator = Literal["recursive", "two-loop", "none"]
Accept = Callable[[int], bool]
_ESTIMATORS = ("recursive", "two-loop", "none")


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


def kept_distribution(logprobs: np.ndarray, prune: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(q, log_kept)``: the probabilities renormalised among the kept candidates (float64,
    0 for the others; positions as in ``logprobs``) and the log of the kept mass ``P_kept``.

    ``logprobs`` need not be normalised: mass missing from it counts as pruned. Candidates
    with ``prune`` True or a log-probability of -inf are not kept, nor are those more than
    708 nats below the most likely kept one (their mass underflows float64 relative to it).
    """
    kept = _kept(logprobs, prune)
    if kept is None:
        return np.zeros(len(logprobs)), -math.inf
    return kept.weights * (1.0 / kept.total), kept.log_kept


class _Kept(NamedTuple):
    """The kept candidates, unnormalised: ``weights`` are ``exp(lp - top)`` (0 where not kept),
    ``blocks`` their sums per block and how many are positive (what :class:`RandomOrder`
    needs), ``total`` their sum, ``log_kept = top + log(total)``, ``argmax`` the first
    position of the largest kept log-probability."""

    weights: np.ndarray
    blocks: tuple[np.ndarray, int]
    total: float
    log_kept: float
    argmax: int


def _kept(logprobs: np.ndarray, prune: np.ndarray | None) -> _Kept | None:
    """The kept distribution in two calls (a masked argmax; the exponentials and their block
    sums, ``awrs.sampler._kernels``); None when nothing is kept. float32 log-probabilities
    are read as they are (widened one at a time), others as float64."""
    lp = np.asarray(logprobs)
    if lp.dtype != np.float32:
        lp = _as_logprobs(lp)
    elif lp.ndim != 1:
        raise GenerationError(f"logprobs must be 1-D, got shape {lp.shape}")
    else:
        lp = np.ascontiguousarray(lp)
    pruned = _prune_mask(prune, len(lp))
    at = _kernels.masked_argmax(lp, pruned)
    if at < 0:
        return None
    top = float(lp[at])
    weights, sums, count, total = _kernels.kept_weights(lp, pruned, top)
    return _make_kept(weights, sums, count, total, top, at)


def _kept_on_row(layout: CandidateLayout, row: np.ndarray, prune: np.ndarray) -> _Kept | None:
    """:func:`_kept` of ``layout.candidates(row)`` (float64), without laying them out."""
    found = layout.kept(row, prune)
    return None if found is None else _make_kept(*found)


def _rest_of(logprobs: np.ndarray, prune: np.ndarray | None) -> Rest:
    """``rest(excluded)`` for :func:`awrs_step`: :func:`_kept` with ``excluded`` pruned too."""
    return lambda excluded: _kept(logprobs, excluded if prune is None else np.asarray(prune, dtype=np.bool_) | excluded)


def rest_on_row(layout: CandidateLayout, row: np.ndarray, prune: np.ndarray) -> Rest:
    """``rest(excluded)`` for a step on a model's row (:func:`row_step`)."""
    return lambda excluded: _kept_on_row(layout, row, prune | excluded)


def _make_kept(weights: np.ndarray, sums: np.ndarray, count: int, total: float, top: float, at: int) -> _Kept:
    return _Kept(weights, (sums, count), total, top + math.log(total), at)


def _as_logprobs(logprobs: np.ndarray) -> np.ndarray:
    lp = np.ascontiguousarray(logprobs, dtype=np.float64)
    if lp.ndim != 1:
        raise GenerationError(f"logprobs must be 1-D, got shape {lp.shape}")
    return lp


_NO_PRUNE: dict[int, np.ndarray] = {}


def _prune_mask(prune: np.ndarray | None, n: int, copy: bool = False) -> np.ndarray:
    """``prune`` as a bool array of ``n`` candidates (all-False for None: made once per
    size, read-only unless ``copy``)."""
    if prune is None:
        if copy:
            return np.zeros(n, dtype=np.bool_)
        out = _NO_PRUNE.get(n)
        if out is None:
            out = _NO_PRUNE[n] = np.zeros(n, dtype=np.bool_)
            out.flags.writeable = False
        return out
    out = np.array(prune, dtype=np.bool_) if copy else np.asarray(prune, dtype=np.bool_)
    if out.shape != (n,):
        raise GenerationError(f"prune must be a 1-D bool array over the {n} candidates, got shape {out.shape}")
    return out


def _random_order(
    weights: np.ndarray, rng: np.random.Generator, exclude=None, blocks=None, ahead: int = 1, restart: bool = False
) -> RandomOrder:
    """The without-replacement visiting order (a seam the enumeration tests replace).
    ``restart``: the order goes on with a walk that has restarted over the candidates it has
    not visited (the same walk in law; scripted test orders go on with their script)."""
    return RandomOrder(weights, rng, exclude, blocks=blocks, ahead=ahead)


def awrs_step(
    logprobs: np.ndarray,
    accept: Accept,
    rng: np.random.Generator,
    estimator: Estimator = "recursive",
    max_rejects: int | None = None,
    prune: np.ndarray | None = None,
    *,
    narrow: Narrow | None = None,
) -> Step:
    """Draw one candidate from ``p(x) c(x) / Z`` by adaptive rejection, with a weight whose
    expectation is ``Z = sum_x p(x) c(x)``.

    ``logprobs`` is a 1-D array over candidates (the caller may put EOS last and check it as
    "complete"); ``accept(i)`` says whether candidate ``i`` is allowed. Candidates are visited
    in a random without-replacement order (``RandomOrder``). ``prune`` marks candidates known to
    be impossible: they are skipped and their mass is accounted for exactly.

    ``estimator``: ``"recursive"`` (default; rejections + 2 checks), ``"two-loop"`` (the
    paper's estimator), or ``"none"`` (plain exact locally constrained decoding, weight 1).
    ``max_rejects=k`` gives up at the k-th rejection with weight 0, which keeps every
    estimator properly weighted while capping the work of dead ends.

    ``narrow()``, when given, returns candidates ``accept`` would reject (a bool array, or
    None): after ``NARROW_AFTER`` rejections the walk (``"recursive"`` and ``"none"``) asks
    for them once and goes on without them. What is left of the walk is the same problem on the
    candidates not yet visited; pruning the refused ones there, with the kept share of that
    mass as a factor, is exact (ALGORITHM.md section 2), so the step stays properly weighted.
    """
    _check_walk(estimator, max_rejects)
    return _walk(_kept(logprobs, prune), accept, rng, estimator, max_rejects, narrow, _rest_of(logprobs, prune))


def row_step(
    layout: CandidateLayout,
    row: np.ndarray,
    accept: Accept,
    rng: np.random.Generator,
    estimator: Estimator,
    max_rejects: int | None,
    prune: np.ndarray,
    *,
    narrow: Narrow | None = None,
) -> Step:
    """:func:`awrs_step` over ``layout.candidates(row)`` (float64), without laying them out:
    the kept distribution is made from the model's row in one pass (the same arithmetic, so
    the same walk, weight and checks)."""
    _check_walk(estimator, max_rejects)
    return _walk(_kept_on_row(layout, row, prune), accept, rng, estimator, max_rejects, narrow, rest_on_row(layout, row, prune))


def _check_walk(estimator: str, max_rejects: int | None) -> None:
    if estimator not in _ESTIMATORS:
        raise GenerationError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    if max_rejects is not None and max_rejects < 1:
        raise GenerationError(f"max_rejects must be a positive integer or None, got {max_rejects!r}")


#: The walk starts again over the candidates it has not visited once they hold less than this
#: share of its kept mass: the remaining mass, ``total - rejected``, would otherwise lose
#: digits (at 2**-20 at most 20 of float64's 52 bits), and the weights of what is left may
#: have underflowed relative to the most likely candidate (docs/sampler.md, "Small masses").
RESTART_SHARE = 2.0**-20

#: ``rest(excluded)``: the kept distribution of the candidates not ``excluded`` (a bool mask
#: over the candidates), made again from the log-probabilities with its own top, or None.
Rest = Callable[[np.ndarray], "_Kept | None"]


def _walk(
    kept: _Kept | None, accept: Accept, rng, estimator: Estimator, max_rejects: int | None, narrow: Narrow | None, rest: Rest
) -> Step:
    if kept is None:
        return Step(None, -math.inf, 0)
    checker = _counted(accept)
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


def _one_loop(
    kept: _Kept, accept: CountedAccept, rng, weighted: bool, max_rejects: int | None, narrow: Narrow | None, rest: Rest
) -> tuple[int | None, float]:
    """The recursive estimator (``weighted``) or plain LCD: one walk until a candidate is
    accepted, restarted over the unvisited candidates when they hold too little of a level's
    mass (:data:`RESTART_SHARE`). A restarted walk is the same walk in law (the order goes on
    drawing from what is left), and the recursive weight telescopes (docs/sampler.md, "Small masses"), so
    the weight is the last level's alone. Returns ``(position, absolute log weight)``."""
    visits = _Visits(len(kept.weights))
    level: _Kept | None = kept
    again = False
    while level is not None:
        outcome = _level_walk(level, accept, rng, weighted, max_rejects, narrow, visits, again)
        if outcome is not _RESTART:
            return outcome
        level, again = rest(visits.excluded()), True
    return None, -math.inf


_RESTART = (None, math.nan)  # a level's answer: go on over the unvisited candidates


def _level_walk(
    kept: _Kept,
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
    while True:
        if i >= n or left <= total * RESTART_SHARE:
            return _RESTART
        pos = order.position(i)
        capped = max_rejects is not None and len(visits.rejected) + 1 >= max_rejects
        if accept(pos):
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


def greedy_step(logprobs: np.ndarray, accept: Accept, prune: np.ndarray | None = None, *, narrow: Narrow | None = None) -> Step:
    """The most likely allowed candidate (exactly the argmax of the masked distribution),
    checking candidates from the most likely down. ``narrow`` (see :func:`awrs_step`) is asked
    once the fast path's checks are spent, and the refused candidates are skipped."""
    checker = _counted(accept)
    before = checker.calls
    # Fast path: a few masked argmax passes over the log-probabilities, no softmax (the usual
    # walk is one or two candidates long). Deeper walks continue in GreedyOrder over the
    # log-probabilities; the memo keeps the candidates already checked from counting twice.
    # float32 log-probabilities stay float32 here: the walk only compares them.
    lp = np.asarray(logprobs)
    lp = np.ascontiguousarray(lp) if lp.dtype == np.float32 and lp.ndim == 1 else _as_logprobs(lp)
    pruned = _prune_mask(prune, len(lp))
    skip = pruned  # copied at the first rejection
    for _ in range(_GREEDY_FAST_CHECKS):
        i = _kernels.masked_argmax(lp, skip)
        if i < 0:
            break
        if checker(i):
            return Step(i, 0.0, checker.calls - before)
        if skip is pruned:
            skip = pruned.copy()
        skip[i] = True
    refused = narrow() if narrow is not None else None
    if refused is not None:
        prune = refused if prune is None else (np.asarray(prune, dtype=np.bool_) | refused)
    pos = _first_accepted(GreedyOrder(np.where(_prune_mask(prune, len(lp)), -np.inf, lp)), checker)
    if pos is None:
        return Step(None, -math.inf, checker.calls - before)
    return Step(pos, 0.0, checker.calls - before)


_GREEDY_FAST_CHECKS = 16


def mask_step(
    logprobs: np.ndarray,
    allowed: np.ndarray,
    rng: np.random.Generator | None,
    n_checks: int | None = None,
) -> Step:
    """Token masking: sample from ``p`` restricted to ``allowed`` (argmax when ``rng`` is None);
    the weight is the exact allowed mass ``Z``. ``n_checks`` defaults to the number of candidates.
    Sampling is one inverse-CDF draw over the kept distribution (the AWRS step's machinery)."""
    checks = len(logprobs) if n_checks is None else n_checks
    kept = _kept(logprobs, ~np.asarray(allowed, dtype=np.bool_))
    if kept is None:
        return Step(None, -math.inf, checks)
    if rng is None:
        return Step(kept.argmax, kept.log_kept, checks)
    return Step(_random_order(kept.weights, rng, blocks=kept.blocks).position(0), kept.log_kept, checks)


# --- estimators ---------------------------------------------------------------------------


class CountedAccept:
    """An ``accept`` callback that memoises its answers and counts the distinct candidates
    it was asked about (``calls``). Walks use such a callback as it is
    (:class:`~awrs.sampler.proposal.TokenChecker` is one: no wrapper call per check) and wrap any
    other in one."""

    __slots__ = ()
    calls: int

    def __call__(self, i: int) -> bool:
        raise NotImplementedError


def _counted(accept: Accept) -> CountedAccept:
    return accept if isinstance(accept, CountedAccept) else _CountingAccept(accept)


class _CountingAccept(CountedAccept):
    """Memoises ``accept`` within one step and counts the distinct checks made."""

    __slots__ = ("_accept", "_seen", "calls")

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


def _first_accepted(order, accept: CountedAccept) -> int | None:
    """The first position of ``order`` that ``accept`` allows, or None."""
    for i in range(len(order)):
        pos = order.position(i)
        if accept(pos):
            return pos
    return None


#: Rejections after which a walk given ``narrow`` asks for it (once per step).
NARROW_AFTER = 32

Narrow = Callable[[], "np.ndarray | None"]


def _narrowed(order, visited: int, weights: np.ndarray, narrow: Narrow, rng, visits: _Visits):
    """``(order, weights, left)`` for the rest of a walk that has visited ``visited``
    positions of ``order``: the unvisited candidates less those ``narrow()`` refuses (recorded
    in ``visits``), in a fresh order, and their mass; None when ``narrow`` does not say. The
    walk's ``left`` becomes that mass: the refused candidates leave ``mult`` with the kept
    share of the unvisited mass as a factor, exactly (ALGORITHM.md section 2)."""
    refused = narrow()
    if refused is None:
        return None
    visits.refused = np.asarray(refused, dtype=np.bool_)
    left = weights.copy()
    left[[order.position(j) for j in range(visited)]] = 0.0
    kept_left = np.where(visits.refused, 0.0, left)
    return _random_order(kept_left, rng), kept_left, float(kept_left.sum())


def _two_loop(kept: _Kept, accept: CountedAccept, rng, max_rejects: int | None, rest: Rest) -> tuple[int | None, float]:
    """The paper's estimator: loop 0 finds the sample after ``n0`` rejections of total mass
    ``psi0``; loop 1 walks a fresh order over the candidates loop 0 did not reject, counting
    ``n1`` rejections; ``w = (1 - psi0) / (n0 + n1 + 1)``. With ``max_rejects = k``: loop 0
    gives up at its k-th rejection (weight 0) and loop 1 stops when ``n0 + n1`` reaches k,
    with ``w = (1 - psi0) / k`` (properly weighted; checked by enumeration in the tests).
    Loop 0 restarts over the candidates it has not visited as :func:`_one_loop` does; ``1 -
    psi0`` is then the mass the last level has left, which holds every candidate loop 0 did
    not reject. Returns ``(position, absolute log weight)``."""
    visits = _Visits(len(kept.weights))
    level: _Kept | None = kept
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
    level: _Kept, rejected: list[int], left: float, sample: int, accept: CountedAccept, rng, max_rejects: int | None, n0: int
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
