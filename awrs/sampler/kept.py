"""The kept distribution: the candidates a step may visit and their mass.

A step keeps the candidates that are not pruned and whose log-probability is finite and
within 708 nats of the most likely kept one (below that their mass underflows float64
relative to it; 87 nats for a float32 row, whose weights are float32: docs/sampler.md,
"Weights in the row's precision"); their weights ``exp(lp - top)`` are kept unnormalised, with the log of the
kept mass ``P_kept`` (pruning is exact: docs/algorithm.md §2). A walk that restarts over the
candidates it has not visited makes their kept distribution again, with its own top
(:data:`Rest`; docs/sampler.md, "Small masses").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from awrs.errors import GenerationError
from awrs.sampler import _kernels
from awrs.sampler._layout import CandidateLayout

__all__ = ["Kept", "Rest", "as_logprobs", "keep", "keep_on_row", "kept_distribution", "prune_mask", "rest_of", "rest_on_row"]


class Kept(NamedTuple):
    """The kept candidates, unnormalised: ``weights`` are ``exp(lp - top)`` (0 where not kept),
    ``blocks`` their sums per block and how many are positive (what
    :class:`~awrs.sampler.order.RandomOrder` needs), ``total`` their sum, ``log_kept = top +
    log(total)``, ``argmax`` the first position of the largest kept log-probability."""

    weights: np.ndarray
    blocks: tuple[np.ndarray, int]
    total: float
    log_kept: float
    argmax: int


#: ``rest(excluded)``: the kept distribution of the candidates not ``excluded`` (a bool mask
#: over the candidates), made again from the log-probabilities with its own top, or None.
Rest = Callable[[np.ndarray], "Kept | None"]


def kept_distribution(logprobs: np.ndarray, prune: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """``(q, log_kept)``: the probabilities renormalised among the kept candidates (float64,
    from float32 weights for float32 ``logprobs``, 0 for the others; positions as in
    ``logprobs``) and the log of the kept mass ``P_kept``.

    ``logprobs`` need not be normalised: mass missing from it counts as pruned. Candidates
    with ``prune`` True or a log-probability of -inf are not kept, nor are those more than
    708 nats below the most likely kept one (their mass underflows float64 relative to it;
    87 nats for float32 ``logprobs``, whose weights are float32).
    """
    found = keep(logprobs, prune)
    if found is None:
        return np.zeros(len(logprobs)), -math.inf
    return np.multiply(found.weights, 1.0 / found.total, dtype=np.float64), found.log_kept


def keep(logprobs: np.ndarray, prune: np.ndarray | None) -> Kept | None:
    """The kept distribution in two calls (a masked argmax; the exponentials and their block
    sums, ``awrs.sampler._kernels``); None when nothing is kept. float32 log-probabilities
    are read as they are and weighed in float32, others as float64."""
    lp = np.asarray(logprobs)
    if lp.dtype != np.float32:
        lp = as_logprobs(lp)
    elif lp.ndim != 1:
        raise GenerationError(f"logprobs must be 1-D, got shape {lp.shape}")
    else:
        lp = np.ascontiguousarray(lp)
    pruned = prune_mask(prune, len(lp))
    at = _kernels.masked_argmax(lp, pruned)
    if at < 0:
        return None
    top = float(lp[at])
    weights, sums, count, total = _kernels.kept_weights(lp, pruned, top)
    return _make_kept(weights, sums, count, total, top, at)


def keep_on_row(
    layout: CandidateLayout, row: np.ndarray, prune: np.ndarray, out: np.ndarray | None = None, sums: np.ndarray | None = None
) -> Kept | None:
    """:func:`keep` of ``layout.candidates(row, row.dtype)``, without laying them out (into the
    buffers ``out`` and ``sums`` when given: see :meth:`CandidateLayout.kept`)."""
    found = layout.kept(row, prune, out, sums)
    return None if found is None else _make_kept(*found)


def rest_of(logprobs: np.ndarray, prune: np.ndarray | None) -> Rest:
    """``rest(excluded)`` for a step over laid-out candidates: :func:`keep` with ``excluded``
    pruned too."""
    return lambda excluded: keep(logprobs, excluded if prune is None else np.asarray(prune, dtype=np.bool_) | excluded)


def rest_on_row(layout: CandidateLayout, row: np.ndarray, prune: np.ndarray) -> Rest:
    """``rest(excluded)`` for a step on a model's row (:func:`keep_on_row`)."""
    return lambda excluded: keep_on_row(layout, row, prune | excluded)


def _make_kept(weights: np.ndarray, sums: np.ndarray, count: int, total: float, top: float, at: int) -> Kept:
    return Kept(weights, (sums, count), total, top + math.log(total), at)


def as_logprobs(logprobs: np.ndarray) -> np.ndarray:
    """``logprobs`` as a contiguous 1-D float64 array (GenerationError if not 1-D)."""
    lp = np.ascontiguousarray(logprobs, dtype=np.float64)
    if lp.ndim != 1:
        raise GenerationError(f"logprobs must be 1-D, got shape {lp.shape}")
    return lp


_NO_PRUNE: dict[int, np.ndarray] = {}


def prune_mask(prune: np.ndarray | None, n: int, copy: bool = False) -> np.ndarray:
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
