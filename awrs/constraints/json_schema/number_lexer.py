"""The lexer of a JSON number literal: its phase and its text so far, one byte at a time.

The lexer caps the digits of the significand (:data:`MAX_SIGNIFICAND_DIGITS`) and of the
exponent (:data:`MAX_EXPONENT_DIGITS`) so generation cannot grow a number without end; every
float ``json.dumps`` writes fits (17 significant digits, 3 exponent digits). Which values a
literal can still become is :mod:`awrs.constraints.json_schema.numbers`' question.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

__all__ = [
    "MAX_EXPONENT_DIGITS",
    "MAX_SIGNIFICAND_DIGITS",
    "NUMBER_START",
    "NumberState",
    "feed_number",
    "number_complete",
    "number_value",
]

#: Digits a literal may have before the exponent, and in the exponent. 40 digits cover every
#: float json.dumps writes (17 significant digits) and 128-bit integers; exponents up to 999.
MAX_SIGNIFICAND_DIGITS = 40
MAX_EXPONENT_DIGITS = 3

# Lexer phases.
START, SIGN, ZERO, INT, POINT, FRAC, EXP, EXP_SIGN, EXP_DIGITS = range(9)
_DIGITS = frozenset(b"0123456789")
#: The phase a digit other than a leading ``0`` leads to, per phase (None: no digit may follow
#: a leading zero). A ``0`` first (after nothing or a sign) is the phase ZERO.
_AFTER_DIGIT = (INT, INT, None, INT, FRAC, FRAC, EXP_DIGITS, EXP_DIGITS, EXP_DIGITS)
#: (phase, byte) -> (the next phase, the text it appends) for the bytes other than digits.
_AFTER_SYMBOL = {
    (START, 0x2D): (SIGN, b"-"),
    (EXP, 0x2D): (EXP_SIGN, b"-"),
    (EXP, 0x2B): (EXP_SIGN, b"+"),
    **{(phase, 0x2E): (POINT, b".") for phase in (ZERO, INT)},
    **{(phase, e): (EXP, b"e") for phase in (ZERO, INT, FRAC) for e in (0x65, 0x45)},  # e and E, written e
}
_BYTE = tuple(bytes([b]) for b in range(256))


class NumberState(NamedTuple):
    """A number literal read so far: its phase and text (at most ~45 bytes)."""

    phase: int
    text: bytes


#: The state before the literal's first byte.
NUMBER_START = NumberState(START, b"")


def feed_number(state: NumberState, b: int) -> NumberState | None:
    """Append one byte to a number literal, or None if the result is not a number prefix."""
    phase, text = state
    if b not in _DIGITS:
        step = _AFTER_SYMBOL.get((phase, b))
        return None if step is None else NumberState(step[0], text + step[1])
    nxt = ZERO if b == 0x30 and phase <= SIGN else _AFTER_DIGIT[phase]
    if nxt is None:  # a digit after a leading zero
        return None
    new = NumberState(nxt, text + _BYTE[b])
    if nxt in (INT, FRAC, ZERO) and _significand_digits(new.text) > MAX_SIGNIFICAND_DIGITS:
        return None
    if nxt == EXP_DIGITS and len(new.text) - _exponent_start(new.text) > MAX_EXPONENT_DIGITS:
        return None
    return new


def _significand_digits(text: bytes) -> int:
    return sum(1 for c in text if 0x30 <= c <= 0x39)


def _exponent_start(text: bytes) -> int:
    i = text.index(b"e") + 1
    return i + 1 if i < len(text) and text[i] in b"+-" else i


def number_complete(state: NumberState) -> bool:
    """The literal is a whole JSON number."""
    return state.phase in (ZERO, INT, FRAC, EXP_DIGITS)


def number_value(state: NumberState) -> Fraction:
    """The exact value of a complete literal."""
    return Fraction(state.text.decode("ascii"))
