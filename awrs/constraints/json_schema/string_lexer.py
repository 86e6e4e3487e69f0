"""The lexer of a JSON string (quotes, escapes, surrogate pairs, UTF-8), checked against a
:class:`~awrs.constraints.json_schema.strings.StringSpec` character by character.

A state is a :class:`StringState`; :func:`feed_string` reads one byte, :func:`feed_plain` a
run of plain characters at once. Every state returned is viable: some completion is a string
the spec accepts (exactly, as far as the spec can tell: see its module).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from awrs.automata.utf8 import continuation_range
from awrs.constraints.json_schema.escapes import ANY_CHARACTER, escape_ranges, low_ranges, utf8_ranges
from awrs.constraints.json_schema.strings import StringSpec

__all__ = [
    "CLOSED",
    "IN",
    "UTF8",
    "StringState",
    "feed_plain",
    "feed_string",
    "partial_bytes",
    "pending_chars",
    "string_start",
]

# Phases of the lexer: before the opening quote, inside the string, after a backslash, inside
# \uXXXX, after a high surrogate's escape (its backslash, its u, its hex digits), inside a
# multi-byte UTF-8 character, after the closing quote.
BEFORE, IN, ESC, UHEX, LOW_BACKSLASH, LOW_U, LOW_HEX, UTF8, CLOSED = range(9)
_SIMPLE_ESCAPES = {
    ord('"'): 0x22,
    ord("\\"): 0x5C,
    ord("/"): 0x2F,
    ord("b"): 0x08,
    ord("f"): 0x0C,
    ord("n"): 0x0A,
    ord("r"): 0x0D,
    ord("t"): 0x09,
}
_HEX = {c: int(chr(c), 16) for c in b"0123456789abcdefABCDEF"}


class StringState(NamedTuple):
    phase: int
    dfa: int  # DFA state (0 when the spec has no DFA)
    length: int  # code points so far (up to min_len only, without max_len: StringSpec.kept_length)
    pending: Any  # escape digits, surrogate, or partial UTF-8 (need, value, lo, hi, raw bytes)
    text: str | None  # the decoded text, when the spec needs it


def string_start(spec: StringSpec) -> StringState:
    return StringState(BEFORE, 0, 0, None, "" if spec.needs_text else None)


def feed_string(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    """Consume one byte of a JSON string (quotes included); None if no valid string follows.

    Inside the string (the usual phase) the byte is read here; in the other phases by that
    phase's step (:data:`_STEPS`)."""
    if st.phase != IN:
        return _STEPS[st.phase](spec, st, b)
    if b == 0x22:  # closing quote
        return StringState(CLOSED, st.dfa, st.length, st.pending, st.text) if _complete(spec, st) else None
    if b == 0x5C:  # an escape: some character must still fit
        return StringState(ESC, st.dfa, st.length, st.pending, st.text) if spec.next_char_fits(st.dfa, st.length) else None
    if b < 0x20:
        return None  # control characters must be escaped
    if b < 0x80:
        return _add_char(spec, st, b)
    return _utf8_lead(spec, st, b)


def _utf8_lead(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    """The first byte of a multi-byte UTF-8 character (the DFA reads the bytes as they come)."""
    if not 0xC2 <= b <= 0xF4:
        return None
    need = 1 if b < 0xE0 else 2 if b < 0xF0 else 3
    lo, hi = continuation_range(b, 0)
    value = b & (0x1F if need == 1 else 0x0F if need == 2 else 0x07)
    dfa = _dfa_byte(spec, st.dfa, b)
    if dfa is None:
        return None
    pending = (need, value, lo, hi, bytes([b]))
    return st._replace(phase=UTF8, dfa=dfa, pending=pending) if spec.utf8_fits(dfa, st.length, pending) else None


def _utf8_continuation(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    need, value, lo, hi, raw = st.pending
    if not lo <= b <= hi:
        return None
    dfa = _dfa_byte(spec, st.dfa, b)
    if dfa is None:
        return None
    value = (value << 6) | (b & 0x3F)
    if need == 1:
        return _add_char(spec, st._replace(phase=IN, dfa=dfa, pending=None), value, walked=True)
    pending = (need - 1, value, 0x80, 0xBF, raw + bytes([b]))
    return st._replace(dfa=dfa, pending=pending) if spec.utf8_fits(dfa, st.length, pending) else None


def _opening_quote(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    return StringState(IN, st.dfa, st.length, st.pending, st.text) if b == 0x22 and spec.opens else None


def _escape_letter(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    """The letter after a backslash: ``u`` begins a ``\\uXXXX`` escape."""
    if b == ord("u"):
        return st._replace(phase=UHEX, pending=("", None))
    cp = _SIMPLE_ESCAPES.get(b)
    return None if cp is None else _add_char(spec, StringState(IN, st.dfa, st.length, st.pending, st.text), cp)


def _hex_digit(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    """A hex digit of a ``\\uXXXX`` escape (of a low surrogate's, in LOW_HEX)."""
    digit = _HEX.get(b)
    if digit is None:
        return None
    digits, high = st.pending
    digits += chr(b)
    if len(digits) < 4:  # the code points the escape can still stand for must fit
        ranges = escape_ranges(digits) if st.phase == UHEX else low_ranges(high, digits)
        return st._replace(pending=(digits, high)) if spec.chars_fit(st.dfa, st.length, ranges) else None
    unit = int(digits, 16)
    if st.phase == UHEX:
        return _escaped_unit(spec, st, unit)
    if not 0xDC00 <= unit <= 0xDFFF:
        return None  # a high surrogate must be followed by a low one
    cp = 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00)
    return _add_char(spec, st._replace(phase=IN, pending=None), cp)


def _escaped_unit(spec: StringSpec, st: StringState, unit: int) -> StringState | None:
    """The 16-bit unit of a whole ``\\uXXXX`` escape: a character, or a high surrogate whose
    pair must follow."""
    if 0xD800 <= unit <= 0xDBFF:  # a high surrogate: the pair's code points must fit
        fits = spec.chars_fit(st.dfa, st.length, low_ranges(unit, ""))
        return st._replace(phase=LOW_BACKSLASH, pending=("", unit)) if fits else None
    if 0xDC00 <= unit <= 0xDFFF:
        return None  # a lone low surrogate
    return _add_char(spec, st._replace(phase=IN, pending=None), unit)


def _low_backslash(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    return st._replace(phase=LOW_U) if b == 0x5C else None


def _low_u(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    return st._replace(phase=LOW_HEX) if b == ord("u") else None


def _closed(spec: StringSpec, st: StringState, b: int) -> None:
    return None  # the string is over


def _inside(spec: StringSpec, st: StringState, b: int) -> StringState | None:
    raise AssertionError("feed_string reads the bytes inside the string itself")


#: The step of each phase, indexed by phase (IN's is never taken: see :func:`feed_string`).
_STEPS = (
    _opening_quote,  # BEFORE
    _inside,  # IN
    _escape_letter,  # ESC
    _hex_digit,  # UHEX
    _low_backslash,  # LOW_BACKSLASH
    _low_u,  # LOW_U
    _hex_digit,  # LOW_HEX
    _utf8_continuation,  # UTF8
    _closed,  # CLOSED
)


def pending_chars(st: StringState) -> tuple[tuple[int, int], ...] | None:
    """The code points (inclusive ranges) the character being read can still become: an
    escape begun, or the first bytes of a UTF-8 character; None when no character is begun."""
    phase = st.phase
    if phase == ESC:
        return ANY_CHARACTER
    if phase == UHEX:
        return escape_ranges(st.pending[0])
    if phase in (LOW_BACKSLASH, LOW_U):
        return low_ranges(st.pending[1], "")
    if phase == LOW_HEX:
        return low_ranges(st.pending[1], st.pending[0])
    if phase == UTF8:
        need, value, lo, hi, _ = st.pending
        return utf8_ranges(need, value, lo, hi)
    return None


def _dfa_byte(spec: StringSpec, state: int, b: int) -> int | None:
    """The DFA state after one more byte of the decoded text (None: no valid string continues)."""
    if spec.dfa is None:
        return state
    nxt = spec.dfa.rows[state][b]
    return None if nxt < 0 else nxt


#: A run of characters that stand for themselves inside a JSON string: printable ASCII but the
#: quote and the backslash (most of what a model writes inside strings).
_PLAIN = re.compile(rb"[ !#-\[\]-~]+")


def feed_plain(spec: StringSpec, st: StringState, data: bytes, i: int) -> tuple[StringState, int]:
    """``(state, j)``: the plain characters at ``data[i:]`` (see ``_PLAIN``) read inside a
    string as :func:`feed_string` reads them one at a time, stopping before the first one it
    would refuse; ``j == i`` when there is none to read. Length bounds and the DFA are checked
    character by character; a spec checked by partial matching reads them one at a time."""
    if st.phase != IN:
        return st, i
    m = _PLAIN.match(data, i)
    if m is None:
        return st, i
    end = m.end()
    length = st.length
    if spec.max_len is not None:
        end = min(end, i + spec.max_len - length)
    dfa = spec.dfa
    if spec.partial:
        j = i
        while j < end:
            nxt = _add_char(spec, st, data[j])
            if nxt is None:
                break
            st, j = nxt, j + 1
        return st, j
    state = st.dfa
    if dfa is not None:
        rows, j = dfa.rows, i
        while j < end:
            target = rows[state][data[j]]
            if target < 0 or not spec.length_fits(target, length + j - i + 1):
                break
            state, j = target, j + 1
        end = j
    if end <= i:
        return st, i
    text = st.text
    if text is not None:
        text = text + data[i:end].decode("ascii")
    return StringState(IN, state, spec.kept_length(length + end - i), st.pending, text), end


def partial_bytes(st: StringState) -> bytes:
    """The bytes of a character still being read (a multi-byte UTF-8 sequence), else b""."""
    return st.pending[4] if st.phase == UTF8 else b""


def _add_char(spec: StringSpec, st: StringState, cp: int, walked: bool = False) -> StringState | None:
    """One more character; ``walked`` when the DFA has already read its bytes."""
    length = st.length + 1
    if spec.max_len is not None and length > spec.max_len:
        return None
    state = st.dfa
    if spec.dfa is not None:
        if not walked:
            rows = spec.dfa.rows
            for byte in chr(cp).encode("utf-8", "surrogatepass"):
                state = rows[state][byte]
                if state < 0:
                    return None
        if not spec.length_fits(state, length):
            return None
    text = st.text
    if text is not None:
        text = text + chr(cp)
        for pattern in spec.partial:
            if pattern.fullmatch(text, partial=True) is None:
                return None
    return StringState(st.phase, state, spec.kept_length(length), st.pending, text)


def _complete(spec: StringSpec, st: StringState) -> bool:
    if st.length < spec.min_len:
        return False
    if spec.dfa is not None and not spec.dfa.final[st.dfa]:
        return False
    return all(p.fullmatch(st.text) is not None for p in spec.partial) and all(check(st.text) for check in spec.final_checks)
