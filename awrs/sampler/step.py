"""The steps: one token from a handful of constraint checks, with a properly weighted
estimate of the allowed mass. ``docs/sampler.md`` and ``docs/algorithm.md`` §3 state the
estimators; the tests check each claim by enumerating every walk.

All functions here are pure: they take log-probabilities, an ``accept`` callback and a
``numpy.random.Generator``, and return a :class:`~awrs.sampler.base.Step`. :func:`awrs_step`
is the AWRS walk (:mod:`awrs.sampler.walk`) over the kept distribution
(:mod:`awrs.sampler.kept`); :func:`greedy_step` and :func:`mask_step` are the greedy and
token-masking steps.
"""

from __future__ import annotations

import math

import numpy as np

from awrs.sampler import _kernels
from awrs.sampler._layout import CandidateLayout
from awrs.sampler.base import Accept, CountedAccept, Estimator, Narrow, Step, check_walk, counted
from awrs.sampler.kept import as_logprobs, keep, keep_on_row, prune_mask, rest_of, rest_on_row
from awrs.sampler.order import GreedyOrder, RandomOrder
from awrs.sampler.walk import walk

__all__ = ["awrs_step", "greedy_step", "mask_step", "row_step"]


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
    None): after :data:`~awrs.sampler.walk.NARROW_AFTER` rejections the walk (``"recursive"`` and ``"none"``) asks
    for them once and goes on without them. What is left of the walk is the same problem on the
    candidates not yet visited; pruning the refused ones there, with the kept share of that
    mass as a factor, is exact (docs/algorithm.md §2), so the step stays properly weighted.
    """
    check_walk(estimator, max_rejects)
    return walk(keep(logprobs, prune), accept, rng, estimator, max_rejects, narrow, rest_of(logprobs, prune))


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
    """:func:`awrs_step` over ``layout.candidates(row, row.dtype)``, without laying them out:
    the kept distribution is made from the model's row in one pass (the same arithmetic, so
    the same walk, weight and checks)."""
    check_walk(estimator, max_rejects)
    return walk(keep_on_row(layout, row, prune), accept, rng, estimator, max_rejects, narrow, rest_on_row(layout, row, prune))


#: Candidates a greedy step checks by masked argmax passes over the log-probabilities (one
#: vectorised read each, no sorting) before it orders the rest (``GreedyOrder``): the usual
#: greedy walk is one or two candidates long.
_GREEDY_FAST_CHECKS = 16


def greedy_step(logprobs: np.ndarray, accept: Accept, prune: np.ndarray | None = None, *, narrow: Narrow | None = None) -> Step:
    """The most likely allowed candidate (exactly the argmax of the masked distribution),
    checking candidates from the most likely down. ``narrow`` (see :func:`awrs_step`) is asked
    once the fast path's checks are spent, and the refused candidates are skipped."""
    checker = counted(accept)
    before = checker.calls
    # Fast path: a few masked argmax passes over the log-probabilities, no softmax (the usual
    # walk is one or two candidates long). Deeper walks continue in GreedyOrder over the
    # log-probabilities; the memo keeps the candidates already checked from counting twice.
    # float32 log-probabilities stay float32 here: the walk only compares them.
    lp = np.asarray(logprobs)
    lp = np.ascontiguousarray(lp) if lp.dtype == np.float32 and lp.ndim == 1 else as_logprobs(lp)
    pruned = prune_mask(prune, len(lp))
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
    pos = _first_accepted(GreedyOrder(np.where(prune_mask(prune, len(lp)), -np.inf, lp)), checker)
    if pos is None:
        return Step(None, -math.inf, checker.calls - before)
    return Step(pos, 0.0, checker.calls - before)


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
    kept = keep(logprobs, ~np.asarray(allowed, dtype=np.bool_))
    if kept is None:
        return Step(None, -math.inf, checks)
    if rng is None:
        return Step(kept.argmax, kept.log_kept, checks)
    return Step(RandomOrder(kept.weights, rng, blocks=kept.blocks).position(0), kept.log_kept, checks)


def _first_accepted(order, accept: CountedAccept) -> int | None:
    """The first position of ``order`` that ``accept`` allows, or None."""
    for i in range(len(order)):
        pos = order.position(i)
        if accept(pos):
            return pos
    return None
