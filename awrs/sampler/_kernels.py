"""Numba kernels for the sampler's passes over the kept mass (private).

Every AWRS step needs the next-token distribution as probabilities (one exponential per
candidate) and a way to draw from it without replacement. On SmolLM2's 49,153 candidates:

- ``exp_shifted`` computes ``exp(lp - top)`` in float64 by Cody-Waite reduction and a
  degree-12 Taylor polynomial, written so LLVM vectorises it (AVX2 has no float64
  exponential, and NumPy's float64 ``exp`` is scalar on CPUs without AVX-512): about 3x
  faster than ``np.exp`` here, with relative error below 4e-16 (two ulps; the tests compare
  with ``np.exp``). Values more than ``LOWEST`` = 708 nats below ``top`` give 0 (they are
  below float64's normal range relative to the top candidate). A float32 row into float32
  weights is computed in float32 instead (``_exp_shifted32``: a degree-7 polynomial, twice
  the lanes, half the bytes written), within ``(|lp - top| + 1) * 2**-23`` relative and down
  to ``LOWEST32`` = 87 nats (docs/sampler.md, "Weights in the row's precision").
- ``block_sums`` and ``draw`` keep the mass in blocks of ``BLOCK`` = 256 positions, so one
  draw without replacement reads the 193 block sums and one block instead of a cumulative
  sum over the whole vocabulary; a taken position's block is summed again from its
  remaining entries, so the remaining mass stays exact however much was taken. A draw finds
  its block by groups of 16 blocks and its position by parts of 32, their sums made as it
  goes, each a vectorised sum (0.37 against 0.85 us a draw scanning every sum and entry in
  order; any order of addition is as exact as float64 sums go).
- ``masked_argmax`` finds the most likely candidate not pruned (the scale of the weights,
  and a greedy step's first candidate). Inside kernels, ``_argmax`` is NumPy's ``argmax``
  (the first NaN, else the first largest value) vectorised as NumPy's is, where numba's own is
  a scalar loop (4 against 35 us over a float32 row of 49,152): the largest of the floats'
  bit patterns made monotonic as integers, which LLVM reduces in vector registers (with a
  NaN whose sign bit is set, the first largest value that is not a NaN instead).

Laying the candidates out from the model's row (the EOS candidate appended, the compact
layout) is :mod:`awrs.sampler._layout`. Where one call does the work of several, it is for
the hot path (docs/sampler.md, "The hot path").

Names with a leading underscore are unchecked (the compiled kernels, which index without
bounds checks, and ``_argmax_kept``): the kernels of :mod:`awrs.sampler._layout` build on
them, and their callers check first. The public wrappers check dtype, shape and contiguity;
``*_python`` are the references the tests compare with (NumPy for the exponential; for
``draw`` its law in NumPy, position by position, which checks the groups and parts the kernel
adds by, while the statistical tests check the algorithm).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

from awrs._numba import njit

__all__ = [
    "BLOCK",
    "LOWEST",
    "LOWEST32",
    "block_sum",
    "block_sums",
    "draw",
    "draw_many",
    "draw_python",
    "exp_shifted",
    "exp_shifted_python",
    "kept_weights",
    "masked_argmax",
    "total",
    "unvisited_allowed",
]

BLOCK = 256
_GROUP = 16  # a draw finds its block by groups of this many blocks: their sums, then one group
_PART = 32  # a draw finds its position in a block by parts of this many: their sums, then one part
LOWEST = -708.0  # exp(-708) ~ 3e-308, the smallest power of e that stays a normal float64

_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding it rounds a float64 of magnitude < 2**51 to an integer
_ROUND_BITS = 0x4338000000000000  # the bits of _ROUND; bits(_ROUND + k) = _ROUND_BITS + k
_EXP_BIAS = 1023


@njit(cache=True, nogil=True)
def _masked_argmax(lp, prune):  # pragma: no cover - compiled
    top = -np.inf
    at = -1
    for i in range(lp.shape[0]):
        v = lp[i]
        if v > top and not prune[i]:
            top = v
            at = i
    return at


def _argmax(lp):
    """A position of the largest value of a non-empty 1-D float array: NumPy's ``argmax``
    where there is no NaN; where there is one, NumPy's answer (the first NaN) or the first
    position of the largest value that is not a NaN (callers look for the most likely kept
    candidate, and look again where this one is NaN). Without the JIT, NumPy's; compiled, the
    overload below."""
    return int(np.argmax(lp))


def _float_bits(lp):  # typed by its overload: (bits, magnitude mask, sign shift)
    raise NotImplementedError


if not getattr(numba.config, "DISABLE_JIT", False):

    @overload(_float_bits)
    def _float_bits_typed(lp):  # pragma: no cover - compiled
        if lp.dtype == numba.types.float32:
            return lambda lp: (lp.view(np.int32), np.int32(0x7FFFFFFF), np.int32(31))
        return lambda lp: (lp.view(np.int64), np.int64(0x7FFFFFFFFFFFFFFF), np.int64(63))

    @overload(_argmax)
    def _argmax_typed(lp):  # pragma: no cover - compiled
        if lp.layout != "C" or lp.dtype not in (numba.types.float32, numba.types.float64):
            return lambda lp: lp.argmax()  # numba's (a scalar loop, NumPy's answers)
        return _argmax_bits


def _argmax_bits(lp):  # pragma: no cover - compiled (the overload of _argmax)
    # A float's bits as a signed integer, its magnitude bits flipped when negative, order the
    # floats as the floats are ordered (NaNs with the sign bit clear above +inf, the others
    # below -inf), and an integer maximum vectorises. Then the first position equal to the
    # largest, a block at a time (-0.0 equals 0.0, as NumPy compares), or the first NaN.
    bits, magnitude, shift = _float_bits(lp)
    key = bits[0] ^ ((bits[0] >> shift) & magnitude)
    for i in range(bits.shape[0]):
        b = bits[i]
        k = b ^ ((b >> shift) & magnitude)
        key = k if k > key else key
    box = np.empty(1, dtype=bits.dtype)
    box[0] = key ^ ((key >> shift) & magnitude)
    top = box.view(lp.dtype)[0]
    if top != top:
        for i in range(lp.shape[0]):
            if lp[i] != lp[i]:
                return i
    for b in range(0, lp.shape[0], 256):
        part = lp[b : b + 256]
        if _count_equal(part, top):
            for i in range(part.shape[0]):
                if part[i] == top:
                    return b + i
    return 0  # not reached: the largest value is in lp


@njit(cache=True, nogil=True)
def _count_equal(part, v):  # pragma: no cover - compiled
    count = 0
    for i in range(part.shape[0]):
        count += part[i] == v
    return count


# "contract" lets LLVM fuse multiply-adds; no flag that could reassociate the rounding trick.
@njit(inline="always", fastmath={"contract"})
def _exp_one(v, pruned):  # pragma: no cover - compiled
    low = not v >= LOWEST  # NaN too: never kept
    v = LOWEST if low else v
    t = v * _INV_LN2 + _ROUND  # _ROUND + k, k = round(v / ln 2), in [-1022, 0]
    k = t - _ROUND
    r = (v - k * _LN2_HI) - k * _LN2_LO  # |r| <= ln(2) / 2: the Taylor tail is below 2e-16
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # 2**k from the bits of t (bits(t) = _ROUND_BITS + k): integer ops and bit casts only,
    # so the loop vectorises without a scratch array.
    scale = np.int64((np.float64(t).view(np.int64) - _ROUND_BITS + _EXP_BIAS) << 52).view(np.float64)
    return 0.0 if (low | pruned) else p * scale


# float32: the same reduction and a degree-7 polynomial (its tail below 6e-9 for |r| <= ln(2) / 2),
# 2**k from the bits of t as above; kept down to LOWEST32 nats (float32's normal range).
LOWEST32 = np.float32(-87.0)
_INV_LN2_32 = np.float32(_INV_LN2)
_LN2_HI_32 = np.float32(0.693145751953125)  # 15 bits: k * _LN2_HI_32 is exact for |k| < 2**9 (|k| <= 126 here)
_LN2_LO_32 = np.float32(1.428606765330187e-06)
_ROUND_32 = np.float32(12582912.0)  # 1.5 * 2**23
_ROUND_BITS_32 = 0x4B400000
_EXP_BIAS_32 = 127


@njit(inline="always", fastmath={"contract"})
def _exp_one32(v, pruned):  # pragma: no cover - compiled
    low = not v >= LOWEST32
    v = LOWEST32 if low else v
    t = v * _INV_LN2_32 + _ROUND_32
    k = t - _ROUND_32
    r = (v - k * _LN2_HI_32) - k * _LN2_LO_32
    p = np.float32(1.0 / 5040.0)
    p = p * r + np.float32(1.0 / 720.0)
    p = p * r + np.float32(1.0 / 120.0)
    p = p * r + np.float32(1.0 / 24.0)
    p = p * r + np.float32(1.0 / 6.0)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    scale = np.int32((np.float32(t).view(np.int32) - _ROUND_BITS_32 + _EXP_BIAS_32) << 23).view(np.float32)
    return np.float32(0.0) if (low | pruned) else p * scale


@njit(cache=True, nogil=True, fastmath={"contract"})
def _exp_shifted64(lp, prune, top, out):  # pragma: no cover - compiled
    for i in range(lp.shape[0]):
        out[i] = _exp_one(np.float64(lp[i]) - top, prune[i])


@njit(cache=True, nogil=True, fastmath={"contract"})
def _exp_shifted32(lp, prune, top, out):  # pragma: no cover - compiled
    t = np.float32(top)
    for i in range(lp.shape[0]):
        out[i] = _exp_one32(lp[i] - t, prune[i])


def _exp_shifted(lp, prune, top, out):
    """``out = exp(lp - top)`` (0 where pruned or below the window): in float32 for float32
    ``lp`` and ``out`` (``top`` then a float32 value: the row's top candidate), else in
    float64. Compiled, the overload below picks the kernel by both types."""
    if out.dtype == np.float32 and lp.dtype == np.float32:
        _exp_shifted32(lp, prune, top, out)
    else:
        _exp_shifted64(lp, prune, top, out)


def _as_candidate(out, v):
    """``v`` (float64) as a candidate of weights ``out`` is: rounded to float32 for float32
    weights (the EOS candidate of a float32 row: float32 weights are a float32 row's, which
    ``CandidateLayout.kept`` checks), else as it is. Compiled, the overload below."""
    return float(np.float32(v)) if out.dtype == np.float32 else v


if not getattr(numba.config, "DISABLE_JIT", False):

    @overload(_exp_shifted)
    def _exp_shifted_typed(lp, prune, top, out):  # pragma: no cover - compiled
        if out.dtype == numba.types.float32 and lp.dtype == numba.types.float32:
            return lambda lp, prune, top, out: _exp_shifted32(lp, prune, top, out)
        return lambda lp, prune, top, out: _exp_shifted64(lp, prune, top, out)

    @overload(_as_candidate)
    def _as_candidate_typed(out, v):  # pragma: no cover - compiled
        if out.dtype == numba.types.float32:
            return lambda out, v: np.float64(np.float32(v))
        return lambda out, v: np.float64(v)


@njit(cache=True, nogil=True)
def _kept_weights(lp, extra, prune, top, out, sums, block):  # pragma: no cover - compiled
    # out[:n] = exp(lp - top) (0 where pruned), then out[n] = exp(extra - top) when out is one
    # longer than lp; the sums per block and the count of positive entries, as _block_sums.
    # One call instead of three (docs/sampler.md, "The hot path").
    # Returns (count, total): the total mass is the sum of the block sums.
    n = lp.shape[0]
    _exp_shifted(lp, prune[:n], top, out[:n])
    if out.shape[0] > n:
        tail = np.empty_like(lp[:1])  # the candidate in the row's type, its weight in out's
        tail[0] = extra
        _exp_shifted(tail, prune[n:], top, out[n:])
    count = _block_sums(out, block, sums)
    return count, _total(sums)


@njit(cache=True, nogil=True)
def _total(sums):  # pragma: no cover - compiled
    # The mass of a distribution from its block sums, added in order (every walk's total and
    # narrowed mass is this sum, in Python and in the kernel walks alike).
    total = 0.0
    for b in range(sums.shape[0]):
        total += sums[b]
    return total


@njit(cache=True, nogil=True)
def _block_sum(q, taken, b, block):  # pragma: no cover - compiled
    lo = b * block
    hi = min(lo + block, q.shape[0])
    return _sum_left(q[lo:hi], taken[lo:hi])


@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum_left(q, taken):  # pragma: no cover - compiled
    # The sum of q where not taken, in any order (as _sum: vectorised).
    s = 0.0
    for i in range(q.shape[0]):
        s += 0.0 if taken[i] else q[i]
    return s


@njit(cache=True, nogil=True)
def _block_sums(q, block, sums):  # pragma: no cover - compiled
    # Each block summed by a call on its slice: LLVM vectorises that loop, not the same loop
    # nested in the loop over blocks (24 us against 4 us over 49,153 entries).
    n = q.shape[0]
    count = 0
    for b in range(sums.shape[0]):
        part = q[b * block : min((b + 1) * block, n)]
        sums[b] = _sum(part)
        count += _positive(part)
    return count


# Reassociation lets the sums vectorise; any order is as exact as float64 sums go.
@njit(cache=True, nogil=True, fastmath={"reassoc", "nsz"})
def _sum(q):  # pragma: no cover - compiled
    s = 0.0
    for i in range(q.shape[0]):
        s += q[i]
    return s


@njit(cache=True, nogil=True)
def _positive(q):  # pragma: no cover - compiled
    count = 0
    for i in range(q.shape[0]):
        count += q[i] > 0.0
    return count


@njit(cache=True, nogil=True)
def _block_at(sums, target):  # pragma: no cover - compiled
    # (the block where ``target`` falls, what is left of it there): by groups of _GROUP blocks
    # (their sums made here, vectorised), then the blocks of one group.
    nb = sums.shape[0]
    group = -1
    for lo in range(0, nb, _GROUP):
        mass = _sum(sums[lo : min(lo + _GROUP, nb)])
        if mass > 0.0:
            group = lo
            if target < mass:
                break
            target -= mass
    chosen = -1
    for b in range(group, min(group + _GROUP, nb)):
        if sums[b] > 0.0:
            chosen = b
            if target < sums[b]:
                break
            target -= sums[b]
    return chosen, target


@njit(cache=True, nogil=True)
def _draw(q, sums, taken, u, block):  # pragma: no cover - compiled
    # Inverse CDF: the sums added in any order make the target, then groups of blocks, the
    # block, parts of it and the position are scanned (each scan, for rounding, falls back on
    # the last with mass); the taken position's block is summed again.
    chosen, target = _block_at(sums, u * _sum(sums))
    end = min((chosen + 1) * block, q.shape[0])
    part = -1
    for lo in range(chosen * block, end, _PART):  # the part of it (its sum made here, vectorised)
        left = _sum_left(q[lo : min(lo + _PART, end)], taken[lo : min(lo + _PART, end)])
        if left > 0.0:
            part = lo
            if target < left:
                break
            target -= left
    pos = -1
    for i in range(part, min(part + _PART, end)):  # the position in the part
        if q[i] > 0.0 and not taken[i]:
            pos = i
            if target < q[i]:
                break
            target -= q[i]
    taken[pos] = True
    sums[chosen] = _block_sum(q, taken, chosen, block)
    return pos


@njit(cache=True, nogil=True)
def _draw_many(q, sums, taken, us, block, out):  # pragma: no cover - compiled
    # One draw per uniform, in order: what len(us) calls of _draw give, in one call.
    for j in range(us.shape[0]):
        out[j] = _draw(q, sums, taken, us[j], block)


@njit(cache=True, nogil=True)
def _unvisited_allowed(q, refused, visited, out):  # pragma: no cover - compiled
    # q where neither refused nor visited, else 0 (what a narrowing walk goes on with).
    for i in range(q.shape[0]):
        out[i] = 0.0 if refused[i] else q[i]
    for v in visited:
        out[v] = 0.0


def unvisited_allowed(q: np.ndarray, refused: np.ndarray, visited: list[int]) -> np.ndarray:
    """``q`` with the ``refused`` positions and the ``visited`` ones set to 0, in one pass."""
    _check(q, refused, np.float32)
    out = np.empty_like(q)
    _unvisited_allowed(q, refused, np.asarray(visited, dtype=np.int64), out)
    return out


def _check(q: np.ndarray, flags: np.ndarray, also=None) -> None:
    if (q.dtype != np.float64 and q.dtype != also) or q.ndim != 1 or not q.flags.c_contiguous:
        raise TypeError("the values must be a C-contiguous 1-D float64 array" + (f" (or {np.dtype(also)})" if also else ""))
    if flags.dtype != np.bool_ or flags.shape != q.shape:
        raise TypeError("the flags must be a bool array of the values' shape")


def masked_argmax(lp: np.ndarray, prune: np.ndarray) -> int:
    """The first position of the largest ``lp[i]`` with ``prune[i]`` False; -1 if every
    such value is -inf (or there is none). ``lp`` may be float32 or float64."""
    _check(lp, prune, np.float32)
    return _argmax_kept(lp, prune)


def _argmax_kept(lp: np.ndarray, prune: np.ndarray) -> int:
    """:func:`masked_argmax` without the checks (its callers have made them)."""
    at = int(lp.argmax())  # vectorised; usually the answer (not pruned, not NaN or -inf)
    if lp[at] > -np.inf and not prune[at]:
        return at
    return int(_masked_argmax(lp, prune))


def exp_shifted(lp: np.ndarray, prune: np.ndarray, top: float) -> np.ndarray:
    """``exp(lp - top)``, 0 where ``prune`` is set or ``lp - top < LOWEST`` (so for -inf) or NaN;
    for float32 ``lp``, in float32 (``LOWEST32``: docs/sampler.md, "Weights in the row's
    precision"), where ``top`` must be a float32 value (the top candidate's own)."""
    _check(lp, prune, np.float32)
    _check_top(lp, top)
    out = np.empty_like(lp)
    _exp_shifted(lp, prune, float(top), out)
    return out


def kept_weights(lp: np.ndarray, prune: np.ndarray, top: float) -> tuple[np.ndarray, np.ndarray, int, float]:
    """``(q, sums, count, total)``: ``exp(lp - top)`` in ``lp``'s precision (float64, or
    float32 for float32 ``lp``: docs/sampler.md, "Weights in the row's precision"), 0 where
    pruned or more than the window below ``top``, its ``block_sums`` (float64) and their total,
    in one pass. For float32 ``lp``, ``top`` must be a float32 value (the top candidate's own:
    the weights are shifted by it in float32)."""
    _check(lp, prune, np.float32)
    _check_top(lp, top)
    out = np.empty(len(lp), dtype=lp.dtype)
    sums = np.empty(-(-len(lp) // BLOCK), dtype=np.float64)
    count, total = _kept_weights(lp, 0.0, prune, float(top), out, sums, BLOCK)
    return out, sums, int(count), float(total)


def _check_top(lp: np.ndarray, top: float) -> None:
    if lp.dtype == np.float32 and float(np.float32(top)) != float(top) and not np.isnan(top):
        raise ValueError(f"a float32 row's weights are shifted by a float32 top; {top!r} is not one (round it first)")


def exp_shifted_python(lp: np.ndarray, prune: np.ndarray, top: float) -> np.ndarray:
    shifted = lp - top
    return np.where(prune | ~(shifted >= LOWEST), 0.0, np.exp(np.maximum(shifted, LOWEST)))


def block_sums(q: np.ndarray) -> tuple[np.ndarray, int]:
    """The mass of each block of ``BLOCK`` positions, and how many positions have ``q > 0``."""
    if q.dtype not in (np.float32, np.float64) or q.ndim != 1 or not q.flags.c_contiguous:
        raise TypeError("the values must be a C-contiguous 1-D float64 (or float32) array")
    sums = np.empty(-(-len(q) // BLOCK), dtype=np.float64)
    count = _block_sums(q, BLOCK, sums)
    return sums, int(count)


def total(sums: np.ndarray) -> float:
    """The sum of block sums ``sums``, added in order (what ``kept_weights`` gives as the total)."""
    return float(_total(np.ascontiguousarray(sums, dtype=np.float64)))


def block_sum(q: np.ndarray, taken: np.ndarray, b: int) -> float:
    """The mass of block ``b`` over the positions not ``taken``."""
    _check(q, taken, np.float32)
    return float(_block_sum(q, taken, b, BLOCK))


def draw(q: np.ndarray, sums: np.ndarray, taken: np.ndarray, u: float) -> int:
    """The position where ``u * remaining mass`` falls among the positions with ``q > 0``
    not taken (inverse CDF, blocks first); marks it taken and updates its block's sum.
    There must be such a position."""
    return int(_draw(q, sums, taken, float(u), BLOCK))


def draw_many(q: np.ndarray, sums: np.ndarray, taken: np.ndarray, us: np.ndarray) -> list[int]:
    """:func:`draw` once per uniform of ``us`` (in order), in one call; there must be at
    least ``len(us)`` positions left."""
    out = np.empty(len(us), dtype=np.int64)
    _draw_many(q, sums, taken, us, BLOCK, out)
    return out.tolist()


def draw_python(q: np.ndarray, sums: np.ndarray, taken: np.ndarray, u: float) -> int:
    """``draw``'s law in NumPy, the reference the tests compare it with: the first position,
    among those with ``q > 0`` not taken, where their running mass in order passes ``u``
    times their whole mass (the last of them if rounding leaves it short); it is marked taken
    and its block summed again. The kernel adds by groups of blocks and parts of a block
    instead of position by position: the two agree except where ``u`` falls within rounding
    of a boundary."""
    left = np.where(taken, 0.0, q)
    running = np.cumsum(left)
    live = np.flatnonzero(left > 0)
    at = int(np.searchsorted(running[live], u * running[-1], side="right"))
    pos = int(live[min(at, len(live) - 1)])
    taken[pos] = True
    b = pos // BLOCK
    sums[b] = float(np.where(taken, 0.0, q)[b * BLOCK : (b + 1) * BLOCK].sum())
    return pos
