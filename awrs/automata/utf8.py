"""Character sets as UTF-8 byte-range sequences.

A set of code points becomes a list of sequences of byte ranges, each sequence matching the
UTF-8 encodings of one contiguous block of code points (the construction of RE2 and Rust's
``regex-syntax``). Surrogates (U+D800..U+DFFF) have no UTF-8 encoding and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = [
    "MAX_CODE_POINT",
    "code_point_ranges",
    "complement_ranges",
    "continuation_range",
    "utf8_sequences",
    "without_surrogates",
]

MAX_CODE_POINT = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
# Code points where the UTF-8 length changes: 1 byte up to 0x7F, 2 up to 0x7FF, 3 up to 0xFFFF.
_LENGTH_BOUNDARIES = (0x7F, 0x7FF, 0xFFFF)

ByteRange = tuple[int, int]


def code_point_ranges(chars: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, merged, inclusive code point ranges of a set of characters."""
    points = sorted({ord(c) for c in chars})
    ranges: list[tuple[int, int]] = []
    for p in points:
        if ranges and ranges[-1][1] + 1 == p:
            ranges[-1] = (ranges[-1][0], p)
        else:
            ranges.append((p, p))
    return ranges


def complement_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Every code point not in ``ranges`` (sorted and merged), surrogates excluded."""
    out, start = [], 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = max(start, hi + 1)
    if start <= MAX_CODE_POINT:
        out.append((start, MAX_CODE_POINT))
    return without_surrogates(out)


def without_surrogates(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` less U+D800..U+DFFF (which have no UTF-8 form)."""
    lo_s, hi_s = _SURROGATES
    out = []
    for lo, hi in ranges:
        if hi < lo_s or lo > hi_s:
            out.append((lo, hi))
            continue
        if lo < lo_s:
            out.append((lo, lo_s - 1))
        if hi > hi_s:
            out.append((hi_s + 1, hi))
    return out


def utf8_sequences(lo: int, hi: int) -> Iterator[list[ByteRange]]:
    """Byte-range sequences whose concatenations are exactly the UTF-8 encodings of the code
    points in ``[lo, hi]`` (surrogates skipped)."""
    stack = list(reversed(without_surrogates([(lo, hi)])))
    while stack:
        lo, hi = stack.pop()
        split = _split(lo, hi)
        if split is not None:
            stack.extend(reversed(split))
            continue
        first, last = chr(lo).encode("utf-8"), chr(hi).encode("utf-8")
        yield list(zip(first, last))


def _split(lo: int, hi: int) -> list[tuple[int, int]] | None:
    """Split [lo, hi] so that every piece has one encoded length and, at every byte position,
    a contiguous range of byte values; None when [lo, hi] is already such a piece."""
    for boundary in _LENGTH_BOUNDARIES:
        if lo <= boundary < hi:
            return [(lo, boundary), (boundary + 1, hi)]
    if hi <= 0x7F:
        return None
    for i in range(1, 4):
        m = (1 << (6 * i)) - 1  # the bits of the i trailing continuation bytes
        if lo & ~m != hi & ~m:
            if lo & m != 0:
                return [(lo, lo | m), ((lo | m) + 1, hi)]
            if hi & m != m:
                return [(lo, (hi & ~m) - 1), (hi & ~m, hi)]
    return None


def continuation_range(lead: int, index: int) -> tuple[int, int]:
    """The valid values of the ``index``-th continuation byte after the lead byte ``lead``
    (no overlong encodings, no surrogates, nothing past U+10FFFF)."""
    if index == 0:
        if lead == 0xE0:
            return 0xA0, 0xBF
        if lead == 0xED:
            return 0x80, 0x9F
        if lead == 0xF0:
            return 0x90, 0xBF
        if lead == 0xF4:
            return 0x80, 0x8F
    return 0x80, 0xBF
