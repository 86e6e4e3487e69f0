"""JSON numbers: what a number must satisfy (:class:`NumberSpec`), and exact reasoning about
which values a literal's prefix can reach (the lexer is
:mod:`awrs.constraints.json_schema.number_lexer`).

A JSON number prefix such as ``-12.3`` can still become many values: more digits, a fraction,
and an exponent (``-12.3e-4``), which rescales it freely. :func:`prefix_viable` decides
exactly whether some completion lands in the allowed set — an interval (open or closed at
each end) intersected with the multiples of a step (``multipleOf``, ``integer``) or a finite
set of values (``enum``/``const``) — using exact rational arithmetic, never floats.

The lexer's caps on the digits of the significand and of the exponent bound the values a
prefix can reach, and so every search here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from awrs.constraints.json_schema.number_lexer import (
    EXP,
    EXP_DIGITS,
    EXP_SIGN,
    INT,
    MAX_EXPONENT_DIGITS,
    MAX_SIGNIFICAND_DIGITS,
    NUMBER_START,
    SIGN,
    START,
    ZERO,
    NumberState,
)

__all__ = ["NumberSpec", "prefix_viable"]


@dataclass(frozen=True)
class NumberSpec:
    """The allowed numbers: ``lo``/``hi`` bounds (None = unbounded, ``*_open`` = exclusive),
    values that are multiples of ``step`` (None = any), and optionally a finite ``values`` set."""

    lo: Fraction | None = None
    lo_open: bool = False
    hi: Fraction | None = None
    hi_open: bool = False
    step: Fraction | None = None
    values: frozenset[Fraction] | None = None
    plain: bool = False  # integer literals only: no fraction, no exponent (draft 4's "integer")

    def contains(self, v: Fraction) -> bool:
        if self.values is not None and v not in self.values:
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        if self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)):
            return False
        return self.step is None or (v / self.step).denominator == 1

    @property
    def empty(self) -> bool:
        """True when no number at all satisfies the spec (decided exactly)."""
        return not prefix_viable(NUMBER_START, self)


# --- which values a prefix can reach ------------------------------------------------------


def prefix_viable(state: NumberState, spec: NumberSpec) -> bool:
    """Whether some completion of the literal is a number in ``spec`` (exact)."""
    phase, text = state
    if spec.plain:
        if phase not in (START, SIGN, ZERO, INT):
            return False
        return _plain_viable(text, spec)
    if spec.values is not None:
        return any(_reachable(state, v) for v in spec.values if spec.contains(v))
    if phase in (EXP, EXP_SIGN, EXP_DIGITS):
        return _exponent_viable(text, spec)
    if phase == START:
        return spec.contains(Fraction(0)) or _signed_viable(spec, +1, None) or _signed_viable(spec, -1, None)
    negative = text.startswith(b"-")
    digits = text.lstrip(b"-").replace(b".", b"")
    significant = digits.lstrip(b"0")
    sign = -1 if negative else +1
    if not significant:  # only zeros so far: 0 itself, or any magnitude after more digits
        return spec.contains(Fraction(0)) or _signed_viable(spec, sign, None)
    return _signed_viable(spec, sign, int(significant))


def _plain_viable(text: bytes, spec: NumberSpec) -> bool:
    """Integer literals only: the values reachable from ``-12`` are -12, -120..-129, ..."""
    negative = text.startswith(b"-")
    digits = text.lstrip(b"-")
    if digits == b"0":
        return spec.contains(Fraction(0))
    candidates = spec.values if spec.values is not None else None
    if candidates is not None:
        return any(spec.contains(v) and v.denominator == 1 and _plain_reaches(digits, negative, v) for v in candidates)
    if not digits:  # only a sign or nothing: 0, or any positive or negative integer
        integers = NumberSpec(spec.lo, spec.lo_open, spec.hi, spec.hi_open, _integer_step(spec.step))
        return (
            (not negative and integers.contains(Fraction(0)))
            or _signed_viable(integers, -1 if negative else 1, None)
            or (not text and _signed_viable(integers, -1, None))
        )
    sign = -1 if negative else 1
    base = int(digits)
    step = _integer_step(spec.step)
    for extra in range(MAX_SIGNIFICAND_DIGITS - len(digits) + 1):
        lo_v, hi_v = base * 10**extra, base * 10**extra + 10**extra - 1
        lo_f, hi_f = (Fraction(lo_v), Fraction(hi_v)) if sign > 0 else (Fraction(-hi_v), Fraction(-lo_v))
        lo_b, lo_open = (lo_f, False) if spec.lo is None or lo_f > spec.lo else (spec.lo, spec.lo_open)
        hi_b, hi_open = (hi_f, False) if spec.hi is None or hi_f < spec.hi else (spec.hi, spec.hi_open)
        if _interval_has_multiple(lo_b, lo_open, hi_b, hi_open, step):
            return True
        if spec.hi is not None and sign > 0 and lo_f > spec.hi:
            return False
        if spec.lo is not None and sign < 0 and hi_f < spec.lo:
            return False
    return False


def _integer_step(step: Fraction | None) -> Fraction:
    """The step of integers that are also multiples of ``step``: lcm(a/b, 1) = a."""
    return Fraction(1) if step is None else Fraction(step.numerator)


def _plain_reaches(digits: bytes, negative: bool, v: Fraction) -> bool:
    if (v < 0) != negative and v != 0:
        return False
    return str(abs(v.numerator)).startswith(digits.decode()) if digits else True


def _reachable(state: NumberState, v: Fraction) -> bool:
    """Whether the literal prefix can be completed to exactly ``v``."""
    phase, text = state
    if phase == START:
        return True
    if phase in (EXP, EXP_SIGN, EXP_DIGITS):
        mantissa, ranges = _exponent_parts(text)
        if mantissa == 0 or v == 0:
            return mantissa == v
        k = _exact_log10(v / mantissa)
        return k is not None and any(lo <= k <= hi for lo, hi in ranges)
    negative = text.startswith(b"-")
    if v != 0 and (v < 0) != negative:
        return False
    digits = text.lstrip(b"-").replace(b".", b"")
    significant = digits.lstrip(b"0")
    if v == 0:
        return not significant
    if not significant:
        return True
    typed = significant.decode()
    target = _significant_digits_of(abs(v))  # e.g. "1" for 1.0: the typed "10" can still reach it
    return bool(target) and (target + "0" * len(typed))[: len(typed)] == typed


def _significant_digits_of(v: Fraction) -> str:
    """The significant digits of a positive value with a finite decimal expansion ('' if none)."""
    d = v.denominator
    twos = fives = 0
    while d % 2 == 0:
        d //= 2
        twos += 1
    while d % 5 == 0:
        d //= 5
        fives += 1
    if d != 1:
        return ""  # e.g. 1/3: no JSON literal equals it
    scale = max(twos, fives)
    return str(v.numerator * 10**scale // v.denominator).rstrip("0") or "0"


def _exponent_parts(text: bytes) -> tuple[Fraction, list[tuple[int, int]]]:
    """The fixed mantissa and the exponents the literal can still end with, as integer ranges."""
    mantissa_text, _, exp_text = text.partition(b"e")
    mantissa = Fraction(mantissa_text.decode())
    digits = exp_text.lstrip(b"+-").decode()
    positive = _digit_completion_ranges(digits, MAX_EXPONENT_DIGITS)
    if not exp_text:  # only 'e' so far: either sign may follow
        return mantissa, positive + [(-hi, -lo) for lo, hi in positive]
    if exp_text.startswith(b"-"):
        return mantissa, [(-hi, -lo) for lo, hi in positive]
    return mantissa, positive


def _digit_completion_ranges(prefix: str, max_digits: int) -> list[tuple[int, int]]:
    """The integers whose decimal digits (leading zeros allowed) extend ``prefix``, at most
    ``max_digits`` digits in all, as inclusive ranges."""
    if not prefix:
        return [(0, 10**max_digits - 1)]
    base = int(prefix)
    return [(base * 10**extra, base * 10**extra + 10**extra - 1) for extra in range(max_digits - len(prefix) + 1)]


def _exact_log10(r: Fraction) -> int | None:
    """k if r == 10**k for an integer k, else None."""
    if r <= 0:
        return None
    if r.denominator == 1:
        n, sign = r.numerator, 1
    elif r.numerator == 1:
        n, sign = r.denominator, -1
    else:
        return None
    text = str(n)
    if text.rstrip("0") != "1":
        return None
    return sign * (len(text) - 1)


def _exponent_viable(text: bytes, spec: NumberSpec) -> bool:
    """Some ``m * 10**k`` with k completing the exponent is in the spec (no enumeration of k)."""
    mantissa, ranges = _exponent_parts(text)
    if mantissa == 0:
        return spec.contains(Fraction(0))
    lo, hi, lo_open, hi_open = spec.lo, spec.hi, spec.lo_open, spec.hi_open
    a = abs(mantissa)
    if mantissa < 0:
        lo, hi, lo_open, hi_open = (-hi if hi is not None else None), (-lo if lo is not None else None), hi_open, lo_open
    k_lo, k_hi = _exponents_within(a, lo, lo_open, hi, hi_open)
    if spec.step is not None:
        k_step = _least_exponent_for_step(a, spec.step)
        if k_step is None:
            return False
        k_lo = k_step if k_lo is None else max(k_lo, k_step)
    for lo_r, hi_r in ranges:
        a_r = lo_r if k_lo is None else max(lo_r, k_lo)
        b_r = hi_r if k_hi is None else min(hi_r, k_hi)
        if a_r <= b_r:
            return True
    return False


def _exponents_within(a: Fraction, lo, lo_open, hi, hi_open) -> tuple[int | None, int | None]:
    """The range of k with a*10**k inside the bounds (a > 0); None = unbounded on that side.
    An empty range comes back with k_lo > k_hi."""
    k_lo = k_hi = None
    if hi is not None:
        if hi <= 0:
            return 1, 0
        k_hi = _floor_log10(hi / a)
        if hi_open and a * Fraction(10) ** k_hi == hi:
            k_hi -= 1
    if lo is not None and lo > 0:
        k_lo = _floor_log10(lo / a)
        if a * Fraction(10) ** k_lo < lo or (lo_open and a * Fraction(10) ** k_lo == lo):
            k_lo += 1
    return k_lo, k_hi


def _least_exponent_for_step(a: Fraction, step: Fraction) -> int | None:
    """The least k with a*10**k a multiple of ``step`` (every larger k works too), or None."""
    r = a / step
    q = r.denominator
    twos = fives = 0
    while q % 2 == 0:
        q //= 2
        twos += 1
    while q % 5 == 0:
        q //= 5
        fives += 1
    if q != 1:
        return None
    k = max(twos, fives)
    while k > -(10**MAX_EXPONENT_DIGITS) and (r * Fraction(10) ** (k - 1)).denominator == 1:
        k -= 1
    return k


def _signed_viable(spec: NumberSpec, sign: int, significant: int | None) -> bool:
    """Is there a value of the given sign, whose significant digits start with ``significant``
    (any, if None), in the spec? Reached values: ``[S*10^n, (S+1)*10^n)`` for every n."""
    lo, hi, lo_open, hi_open = spec.lo, spec.hi, spec.lo_open, spec.hi_open
    if sign < 0:  # mirror: -x in [lo, hi]  <=>  x in [-hi, -lo]
        lo, hi, lo_open, hi_open = (-hi if hi is not None else None), (-lo if lo is not None else None), hi_open, lo_open
    # Only strictly positive magnitudes here (zero is handled by the caller).
    if hi is not None and (hi < 0 or (hi == 0)):
        return False
    step = spec.step
    if significant is None:
        return _interval_has_multiple(
            max(lo, Fraction(0)) if lo is not None else Fraction(0), lo_open or lo is None or lo <= 0, hi, hi_open, step
        )
    for n in _scales(significant, lo, hi, step):
        a = Fraction(significant) * Fraction(10) ** n
        b = Fraction(significant + 1) * Fraction(10) ** n
        # the reachable values are [a, b): a itself, and everything up to b
        lo_n, lo_n_open = (a, False) if lo is None or a > lo else (lo, lo_open)
        hi_n, hi_n_open = (b, True) if hi is None or b < hi else (hi, hi_open)
        if hi is not None and b == hi:
            hi_n, hi_n_open = b, True
        if _interval_has_multiple(lo_n, lo_n_open, hi_n, hi_n_open, step):
            return True
    return False


def _scales(significant: int, lo: Fraction | None, hi: Fraction | None, step: Fraction | None):
    """The exponents n worth trying, in the order most likely to succeed first.

    ``[S*10^n, (S+1)*10^n)`` lies above ``lo`` only if ``(S+1)*10^n > lo`` and holds a positive
    multiple of the step only if ``(S+1)*10^n > step``: that bounds n below. It reaches down to
    ``hi`` only if ``S*10^n <= hi``: that bounds n above. Unbounded above, once the interval
    is above ``lo`` and wider than the step it surely holds a multiple, so the search stops
    there. The lexer's caps bound n in any case.
    """
    d = len(str(significant))
    lowest = -(10**MAX_EXPONENT_DIGITS) - MAX_SIGNIFICAND_DIGITS
    highest = 10**MAX_EXPONENT_DIGITS + MAX_SIGNIFICAND_DIGITS
    if lo is not None and lo > 0:
        lowest = max(lowest, _floor_log10(lo) - d - 1)
    if step is not None:
        lowest = max(lowest, _floor_log10(step) - d - 1)
    if hi is not None:
        highest = min(highest, _floor_log10(hi) - d + 2)
        return range(highest, lowest - 1, -1)
    enough = lowest + 1
    if step is not None:
        enough = max(enough, _floor_log10(step) + 1)
    if lo is not None and lo > 0:
        enough = max(enough, _floor_log10(lo) + 1)
    return range(lowest, min(highest, enough) + 1)


def _floor_log10(x: Fraction) -> int:
    """floor(log10(x)) for x > 0, exactly."""
    n = len(str(x.numerator)) - len(str(x.denominator))
    while Fraction(10) ** n > x:
        n -= 1
    while Fraction(10) ** (n + 1) <= x:
        n += 1
    return n


def _interval_has_multiple(lo: Fraction, lo_open: bool, hi: Fraction | None, hi_open: bool, step: Fraction | None) -> bool:
    """Does the interval (lo..hi, ends open or closed; hi None = unbounded) hold a value with a
    finite decimal expansion that is a multiple of ``step`` (any finite decimal if None)?"""
    if hi is not None and (hi < lo or (hi == lo and (lo_open or hi_open))):
        return False
    if step is None:
        return True  # a non-empty interval always holds a finite decimal
    step = _decimal_step(step)
    k = math.ceil(lo / step)
    if lo_open and k * step == lo:
        k += 1
    if hi is None:
        return True
    v = k * step
    return v < hi or (v == hi and not hi_open)


def _decimal_step(step: Fraction) -> Fraction:
    """The multiples of ``step`` that JSON can write (finite decimals) are the multiples of this."""
    d = step.denominator
    core = d
    while core % 2 == 0:
        core //= 2
    while core % 5 == 0:
        core //= 5
    return step * core  # k*step is a finite decimal iff core divides k
