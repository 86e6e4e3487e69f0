"""Numba kernels that lay the candidates out from the model's row (private).

A step's candidates are the vocabulary's tokens (all of them, or the compact layout's few,
``awrs.sampler.proposal``) and one end-of-sequence candidate, the log-sum-exp of the end ids.
:class:`CandidateLayout` makes them from the model's row in one pass: ``candidates`` widens
the model's log-probabilities to float64 (or keeps float32 when asked: greedy steps only
compare them) and appends the EOS candidate; ``greedy`` finds the most likely one not pruned
and ``kept`` the kept weights in the row's precision (:mod:`awrs.sampler._kernels`; a float32
row's in float32, docs/sampler.md "Weights in the row's precision"), both without laying the
candidates out. ``with_eos``, ``gather_with_eos``, ``greedy_at`` and ``eos_logprob`` are the
same for one call (each checks its arguments anew).
"""

from __future__ import annotations

import numba
import numpy as np

from awrs._numba import njit
from awrs.sampler._kernels import BLOCK, _argmax, _argmax_kept, _as_candidate, _kept_weights, _masked_argmax, kept_weights

__all__ = ["CandidateLayout", "eos_logprob", "gather_with_eos", "greedy_at", "with_eos"]


@njit(cache=True, nogil=True)
def _full_kept(lp, at, eos, prune, out, sums, block):  # pragma: no cover - compiled
    # The full layout's kept weights in one call: `at` is np.argmax(lp) or _argmax(lp)
    # (vectorised; usually the most likely token kept), the EOS candidate is the log-sum-exp
    # of the end ids (rounded to float32 for float32 weights, as a float32 greedy step compares
    # it), `top` the most likely kept candidate (CandidateLayout.greedy's choice).
    # Returns (at, top, count, total), at = -1 when nothing is kept.
    n = lp.shape[0]
    if not (lp[at] > -np.inf and not prune[at]):
        at = _masked_argmax(lp, prune[:n])
    top = np.float64(lp[at]) if at >= 0 else -np.inf
    eos_lp = _as_candidate(out, _logsumexp_at(lp, eos))
    if eos_lp > top and not prune[n]:
        at = n
        top = eos_lp
    if at < 0:
        return -1, top, 0, 0.0
    count, total = _kept_weights(lp, eos_lp, prune, top, out, sums, block)
    return at, top, count, total


def _fence_python() -> None:
    """Nothing: without the JIT the kernels run as Python, under the GIL."""


if getattr(numba.config, "DISABLE_JIT", False):
    _fence = _fence_python
else:

    @numba.extending.intrinsic
    def _fence(typingctx):  # pragma: no cover - compiled
        # A sequentially consistent fence: the memory writes before it are seen by other
        # threads before those after it, and reads after it are not made before it (on every
        # CPU: x86 keeps stores in order anyway, Arm does not).
        def codegen(context, builder, signature, args):
            builder.fence("seq_cst")
            return context.get_dummy_value()

        return numba.types.void(), codegen


#: The slots of a row of ``ctl`` when the kept passes are made beside the walks
#: (_kept_in_order, _ensure_kept), row j for the j-th of the threads beside them: stop, it has
#: ended, it has begun; and in row 0, the row the walking thread would take next from the back
#: while it waits.
STOP, ENDED, BEGUN, TAIL = range(4)

#: ``claims[WALKS, d]``: the walking thread claims row d; ``claims[THREAD, d]``: the thread
#: beside it that makes row d does (with h threads, thread d mod h; Dekker's protocol, row by
#: row: :func:`_claim`).
WALKS, THREAD = 0, 1


@njit(cache=True, nogil=True)
def _kept_row(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row):  # pragma: no cover - compiled
    # _full_kept of rows[which[d]] with prunes[prune_of[d]] pruned, into out[d] and sums[d],
    # and meta[d] = (at, top, count, total); then done[d] += 1, after a fence (a thread that
    # sees it, then fences, sees the row's results: _is_done). ``copy``: copy the row into
    # ``row`` first (rows that are not C-contiguous, a broadcast view, are read unvectorised).
    if copy:
        row[:] = rows[which[d]]
        at, top, count, total = _full_kept(row, _argmax(row), eos, prunes[prune_of[d]], out[d], sums[d], 256)
    else:
        lp = rows[which[d]]
        at, top, count, total = _full_kept(lp, _argmax(lp), eos, prunes[prune_of[d]], out[d], sums[d], 256)
    meta[d, 0] = at
    meta[d, 1] = top
    meta[d, 2] = count
    meta[d, 3] = total
    _fence()
    done[d] += 1  # 1: made once (the tests check that no row is made twice)


@njit(cache=True, nogil=True)
def _claim(claims, side, d):  # pragma: no cover - compiled
    # Dekker's protocol for row d: this side writes its claim, fences, then reads the other's.
    # Both cannot read the other's as unwritten, so never do both make a row. True: the row
    # is this side's. When both claimed it, the thread beside the walks withdraws its claim
    # (the walking thread waits for that, or for the row: _ensure_kept).
    claims[side, d] = 1
    _fence()
    if claims[1 - side, d] == 0:
        return True
    if side == THREAD:
        claims[THREAD, d] = 0
    return False


@njit(cache=True, nogil=True)
def _kept_in_order(
    rows, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl, me
):  # pragma: no cover - compiled
    # The kept passes of thread ``me`` of the h = ctl.shape[0] beside the walks: rows me,
    # me + h, me + 2h... in the walks' order, each it can claim: ahead of walks that take
    # longer than the passes, the walks never wait and make none. Stops when ctl[me, STOP] is
    # set; ctl[me, ENDED] = 1 once it makes no more rows.
    ctl[me, BEGUN] = 1
    for d in range(me, which.shape[0], ctl.shape[0]):
        if ctl[me, STOP] != 0:
            break
        if claims[WALKS, d] == 0 and _claim(claims, THREAD, d):
            _kept_row(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row)
    _fence()
    ctl[me, ENDED] = 1


@njit(cache=True, nogil=True)
def _ensure_kept(
    rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl
):  # pragma: no cover - compiled
    # Row d made (the walking thread's side; its walk needs it): made already; made here if
    # this side can claim it; else the thread beside that owns it (d mod h) is making it, and
    # this one, while it waits (spinning: it holds no GIL), makes rows from the last down that
    # no side has claimed (ctl[0, TAIL]), so that walks faster than the passes share them.
    # Made here too if that thread withdrew its claim or ended short of it.
    if _is_done(done, d):
        return
    if _claim(claims, WALKS, d):
        _kept_row(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row)
        return
    owner = ctl[d % ctl.shape[0]]
    while not _is_done(done, d):
        if claims[THREAD, d] == 0 or _is_done(owner, ENDED):  # withdrawn (read after the fence above), or ended
            if not _is_done(done, d):  # read again: it may have made row d since the read above
                _kept_row(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row)
            return
        t = ctl[0, TAIL]
        if t > d:
            ctl[0, TAIL] = t - 1
            if claims[THREAD, t] == 0 and not _is_done(done, t) and _claim(claims, WALKS, t):
                _kept_row(rows, t, which, eos, prunes, prune_of, copy, out, sums, meta, done, row)


@njit(cache=True, nogil=True)
def _is_done(done, d):  # pragma: no cover - compiled
    # done[d] != 0, read before what the thread that set it wrote before it (_kept_row).
    ready = done[d] != 0
    _fence()
    return ready


@njit(cache=True, nogil=True)
def _logsumexp_at(lp, eos):  # pragma: no cover - compiled
    top = -np.inf
    for j in eos:
        v = np.float64(lp[j])
        if v > top:
            top = v
    if top == -np.inf:  # NaN stays NaN below: never kept
        return -np.inf
    s = 0.0
    for j in eos:
        s += np.exp(np.float64(lp[j]) - top)
    return top + np.log(s)


@njit(cache=True, nogil=True)
def _with_eos(lp, eos, out):  # pragma: no cover - compiled
    n = lp.shape[0]
    for i in range(n):
        out[i] = lp[i]
    out[n] = _logsumexp_at(lp, eos)


@njit(cache=True, nogil=True)
def _gather_with_eos(lp, ids, eos, out):  # pragma: no cover - compiled
    n = ids.shape[0]
    for k in range(n):
        out[k] = lp[ids[k]]
    out[n] = _logsumexp_at(lp, eos)


@njit(cache=True, nogil=True)
def _greedy_at(lp, ids, eos, prune, as32):  # pragma: no cover - compiled
    n = ids.shape[0]
    top = -np.inf
    at = -1
    for k in range(n):
        v = lp[ids[k]]
        if v > top and not prune[k]:
            top = v
            at = k
    e = _logsumexp_at(lp, eos)
    if as32:
        e = np.float64(np.float32(e))
    if e > top and not prune[n]:
        at = n
    return at


#: The float types the kernels read, compared by identity (docs/sampler.md, "The hot path").
F32, F64 = np.dtype(np.float32), np.dtype(np.float64)


class CandidateLayout:
    """The candidates over a row of ``n`` log-probabilities: the tokens ``ids`` (increasing
    int64 positions; None for all ``n``), then one end-of-sequence candidate, the log-sum-exp
    of the end ids ``eos``. The positions are checked once, here; each call then checks only
    the row it reads (its length and float type: the kernels index it without bounds checks),
    as these calls are on every step's path (docs/sampler.md, "The hot path")."""

    __slots__ = ("eos", "ids", "n", "size")

    def __init__(self, n: int, eos: np.ndarray, ids: np.ndarray | None = None):
        if eos.dtype != np.int64 or eos.ndim != 1 or (len(eos) and not 0 <= eos.min() <= eos.max() < n):
            raise TypeError("the end ids must be a 1-D int64 array of positions in the log-probabilities")
        if ids is not None and (
            ids.dtype != np.int64 or ids.ndim != 1 or (len(ids) and not 0 <= ids[0] <= ids[-1] < n) or np.any(np.diff(ids) <= 0)
        ):
            raise TypeError("the ids must be a 1-D int64 array of increasing positions in the log-probabilities")
        self.n, self.eos, self.ids = n, eos, ids
        #: The number of candidates (tokens and EOS).
        self.size = (n if ids is None else len(ids)) + 1

    def _row(self, lp: np.ndarray, dtype=None) -> None:
        if lp.shape != (self.n,) or (lp.dtype is not F32 and lp.dtype is not F64 and lp.dtype not in (np.float32, np.float64)):
            raise TypeError(f"the log-probabilities must be a 1-D float32 or float64 array of length {self.n}")
        if dtype is not None and dtype is not np.float64 and np.dtype(dtype) not in (np.float64, lp.dtype):
            raise TypeError("the candidates' float type widens float32 to float64 or keeps the input's type; it never narrows")

    def _flags(self, prune: np.ndarray) -> None:
        if prune.shape != (self.size,) or prune.dtype != np.bool_:
            raise TypeError(f"the flags must be a bool array over the {self.size} candidates")

    def candidates(self, lp: np.ndarray, dtype=np.float64) -> np.ndarray:
        """The candidates' log-probabilities (the EOS candidate last), as ``dtype``."""
        self._row(lp, dtype)
        out = np.empty(self.size, dtype=dtype)
        if self.ids is None:
            _with_eos(lp, self.eos, out)
        else:
            _gather_with_eos(lp, self.ids, self.eos, out)
        return out

    def greedy(self, lp: np.ndarray, prune: np.ndarray, dtype=np.float64) -> int:
        """``masked_argmax(self.candidates(lp, dtype), prune)`` without the array: the most
        likely candidate not pruned (the first of equals), or -1."""
        self._row(lp, dtype)
        self._flags(prune)
        as32 = dtype is not np.float64 and np.dtype(dtype) == np.float32
        if self.ids is not None:
            return int(_greedy_at(lp, self.ids, self.eos, prune, as32))
        n = self.n
        at = _argmax_kept(lp, prune[:n])
        eos = float(_logsumexp_at(lp, self.eos))
        e = float(np.float32(eos)) if as32 else eos
        if e > (float(lp[at]) if at >= 0 else -np.inf) and not prune[n]:  # in float64: NumPy would compare in float32
            at = n
        return at

    def kept(
        self, lp: np.ndarray, prune: np.ndarray, out: np.ndarray | None = None, sums: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, int, float, float, int] | None:
        """``(q, sums, count, total, top, at)`` of the candidates in the row's precision
        (float64, or float32 for a float32 row: docs/sampler.md, "Weights in the row's
        precision"): ``at`` the most likely one not pruned (:meth:`greedy` in that type), ``top``
        its log-probability, ``q``, ``sums``, ``count`` and ``total`` as :func:`kept_weights`
        gives them for ``self.candidates(lp, lp.dtype)``; None when every candidate is pruned or
        -inf. The full layout reads the row in one kernel call (after NumPy's vectorised
        argmax), EOS appended, into ``out`` and ``sums`` when given (buffers of the row's type
        that a caller reuses; the compact layout ignores them)."""
        self._row(lp)
        self._flags(prune)
        if self.ids is not None:
            cand = self.candidates(lp, lp.dtype)
            at = _argmax_kept(cand, prune)
            if at < 0:
                return None
            top = float(cand[at])
            return (*kept_weights(cand, prune, top), top, at)
        if out is None or sums is None:  # else the caller's buffers (of the row's type, of the right sizes)
            out = np.empty(self.size, dtype=lp.dtype)
            sums = np.empty(-(-self.size // BLOCK), dtype=np.float64)
        elif out.dtype != lp.dtype:
            raise TypeError(f"the weights' buffer must be of the row's type ({lp.dtype}), got {out.dtype}")
        at, top, count, total = _full_kept(lp, int(lp.argmax()), self.eos, prune, out, sums, BLOCK)
        if at < 0:
            return None
        return out, sums, int(count), float(total), float(top), int(at)

    def eos_logprob(self, lp: np.ndarray) -> float:
        """``logsumexp(lp[eos])`` in float64 (the EOS candidate before any narrowing)."""
        self._row(lp)
        return float(_logsumexp_at(lp, self.eos))


def with_eos(lp: np.ndarray, eos: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``lp`` with one more entry, ``logsumexp(lp[eos])`` (computed in float64), at the end,
    as ``dtype`` (float64, or float32 for float32 input: greedy steps only compare values)."""
    return CandidateLayout(_length(lp), eos).candidates(lp, dtype)


def gather_with_eos(lp: np.ndarray, ids: np.ndarray, eos: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``lp[ids]`` with ``logsumexp(lp[eos])`` appended: :func:`with_eos` restricted to the
    positions ``ids`` (strictly increasing int64)."""
    return CandidateLayout(_length(lp), eos, ids).candidates(lp, dtype)


def greedy_at(lp: np.ndarray, ids: np.ndarray, eos: np.ndarray, prune: np.ndarray, dtype=np.float64) -> int:
    """``masked_argmax(gather_with_eos(lp, ids, eos, dtype), prune)`` in one pass, without
    the array: the compact index of the most likely candidate not pruned (``len(ids)`` for
    EOS), or -1."""
    return CandidateLayout(_length(lp), eos, ids).greedy(lp, prune, dtype)


def eos_logprob(lp: np.ndarray, eos: np.ndarray) -> float:
    """``logsumexp(lp[eos])`` in float64: the entry :func:`with_eos` appends (before any
    narrowing to its ``dtype``); -inf when there is no end id or every one is -inf."""
    return CandidateLayout(_length(lp), eos).eos_logprob(lp)


def _length(lp: np.ndarray) -> int:
    if lp.ndim != 1:
        raise TypeError("the log-probabilities must be a 1-D float32 or float64 array")
    return len(lp)
