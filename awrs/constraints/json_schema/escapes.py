"""What a JSON string escape begun can still stand for: inclusive code point ranges, worked out
from the hex digits typed so far (``\\u00e`` stands for U+00E0..U+00EF; ``\\ud83d\\u`` for
the 1,024 characters of that high surrogate's pairs), so that a prefix ending inside an escape
is checked as exactly as a whole character.
"""

from __future__ import annotations

__all__ = ["ANY_CHARACTER", "escape_ranges", "low_ranges", "utf8_ranges"]

_HIGH, _LOW, _SUPPLEMENTARY = 0xD800, 0xDC00, 0x10000
_SURROGATE_END = 0xDFFF


def _hex_span(digits: str) -> tuple[int, int]:
    """The 16-bit units whose four hex digits start with ``digits``."""
    free = 4 * (4 - len(digits))
    base = int(digits, 16) << free if digits else 0
    return base, base + (1 << free) - 1


def escape_ranges(digits: str) -> tuple[tuple[int, int], ...]:
    """The code points a ``\\u`` escape begun with ``digits`` can stand for: the units that are
    not surrogates, and the characters of the surrogate pairs its high surrogates can begin."""
    lo, hi = _hex_span(digits)
    out = [(a, b) for a, b in ((lo, min(hi, _HIGH - 1)), (max(lo, _SURROGATE_END + 1), hi)) if a <= b]
    high_lo, high_hi = max(lo, _HIGH), min(hi, _LOW - 1)
    if high_lo <= high_hi:
        out.append((_SUPPLEMENTARY + ((high_lo - _HIGH) << 10), _SUPPLEMENTARY + ((high_hi - _HIGH) << 10) + 0x3FF))
    return tuple(out)


def low_ranges(high: int, digits: str) -> tuple[tuple[int, int], ...]:
    """The code points a surrogate pair with ``high`` can stand for when its low surrogate's
    escape has begun with ``digits`` (none when those digits cannot make a low surrogate)."""
    lo, hi = _hex_span(digits)
    lo, hi = max(lo, _LOW), min(hi, _SURROGATE_END)
    if lo > hi:
        return ()
    base = _SUPPLEMENTARY + ((high - _HIGH) << 10) - _LOW
    return ((base + lo, base + hi),)


#: Every code point a string can hold (a backslash alone can still become any of them).
ANY_CHARACTER = ((0, _HIGH - 1), (_SURROGATE_END + 1, 0x10FFFF))


def utf8_ranges(need: int, value: int, lo: int, hi: int) -> tuple[tuple[int, int], ...]:
    """The code points a UTF-8 character can still become when ``need`` continuation bytes
    are missing, ``value`` holds the bits read so far and the next byte lies in ``lo..hi``."""
    rest = 6 * (need - 1)
    first = value << (6 * need)
    return ((first | (lo & 0x3F) << rest, first | (hi & 0x3F) << rest | ((1 << rest) - 1)),)
