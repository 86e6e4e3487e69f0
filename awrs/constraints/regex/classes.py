r"""Character classes exactly as the ``regex`` module (version 0) matches them.

Every class of a pattern becomes a set of code points (:data:`Ranges`, surrogates never
included: no UTF-8 text holds one). Literal characters and ranges are read directly;
everything that depends on Unicode data — ``\d``, ``\w``, ``\s`` in Unicode mode,
``\p{..}``, POSIX classes, ``\N{..}`` and ignore-case matching — is asked of the regex module
itself, by one pass of a compiled one-character pattern over every code point (a few ms,
memoised). The automata awrs builds and the regex module's partial matching therefore agree
by construction, whatever Unicode version the installed regex module carries.

Ignore-case matching (measured on the regex module, and checked by the tests against its
own case table): a character ``c`` matches a literal, a range or a shorthand class ``S``
when some character of ``S`` is a *case variant* of ``c``. The relation is symmetric but not
transitive (``I``~``i`` and ``i``~``İ``, yet not ``I``~``İ``), so the closure of ``S`` is
``S`` plus every character the pattern ``(?i:[S])`` matches — found by one scan of the
characters that have case variants at all. Properties and POSIX classes follow rules of
their own under ignore-case (``(?i)\p{Lu}`` matches every cased letter) and are scanned with
the flag. A negated class is the complement of the union of its members so evaluated.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import regex

from awrs.automata import utf8
from awrs.automata.utf8 import MAX_CODE_POINT, complement_ranges

__all__ = [
    "ANY",
    "ASCII_SHORTHANDS",
    "Ranges",
    "case_closure",
    "class_text",
    "merge",
    "named_character",
    "shorthand",
    "without_surrogates",
]

Ranges = tuple[tuple[int, int], ...]
ANY: Ranges = ((0, 0xD7FF), (0xE000, MAX_CODE_POINT))
#: ``\d``, ``\w`` and ``\s`` under the ASCII flag (the tests compare them with the regex module).
ASCII_SHORTHANDS: dict[str, Ranges] = {
    "d": ((48, 57),),
    "w": ((48, 57), (65, 90), (95, 95), (97, 122)),
    "s": ((9, 13), (32, 32)),
}
#: Characters that may have case variants: those the Unicode properties below mark. The
#: tests check, for the installed regex module, that no other character has one.
_CASED = r"[\p{Cased}\p{Changes_When_Casemapped}\p{Changes_When_Casefolded}]"


def merge(ranges) -> Ranges:
    """Sorted, merged, inclusive ranges (empty ones dropped)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if lo > hi:
            continue
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def without_surrogates(ranges: Ranges) -> Ranges:
    """``ranges`` (merged) less U+D800..U+DFFF."""
    return tuple(utf8.without_surrogates(list(ranges)))


def negate(ranges: Ranges) -> Ranges:
    """Every code point outside ``ranges`` (merged), surrogates excluded."""
    return tuple(complement_ranges(list(ranges)))


@functools.cache
def _every_character() -> str:
    """All code points U+0000..U+10FFFF in order, surrogates included, so that a character's
    index is its code point (4.4 MB, built once in ~15 ms)."""
    return np.arange(MAX_CODE_POINT + 1, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")


def _flags(ascii: bool, ignorecase: bool) -> int:
    return regex.VERSION0 | (regex.ASCII if ascii else 0) | (regex.IGNORECASE if ignorecase else 0)


@functools.lru_cache(maxsize=1024)
def scan(one_character: str, ascii: bool, ignorecase: bool) -> Ranges:
    """The code points a pattern matching exactly one character (a class, a property, an
    escape) matches under the given flags: one pass of the regex module over every code point
    (3 to 15 ms; memoised). Raises ``regex.error`` when the module refuses the pattern.

    Not for ASCII with ignore-case: there the module's search (this pass) and its matching of
    one character disagree for POSIX classes and properties (``[[:lower:]]`` takes "T" in a
    match, not in a search); ASCII mode reads those without the flag and folds them itself."""
    assert not (ascii and ignorecase), "the regex module's search is unreliable under ASCII and IGNORECASE"
    compiled = regex.compile(f"(?:{one_character})+", flags=_flags(ascii, ignorecase))
    runs = [(m.start(), m.end() - 1) for m in compiled.finditer(_every_character())]
    return without_surrogates(merge(runs))


@functools.cache
def shorthand(letter: str, ascii: bool) -> Ranges:
    """``\\d``, ``\\w``, ``\\s`` (lower-case ``letter``) or their complements (upper-case), in
    ASCII or Unicode mode."""
    base = ASCII_SHORTHANDS[letter.lower()] if ascii else scan("\\" + letter.lower(), False, False)
    return base if letter.islower() else negate(base)


@functools.cache
def _with_case_variants() -> str:
    """The characters that may have case variants, as one string (about 4,800)."""
    return "".join("".join(map(chr, range(lo, hi + 1))) for lo, hi in scan(_CASED, False, False))


@functools.lru_cache(maxsize=4096)
def case_closure(ranges: Ranges, ascii: bool) -> Ranges:
    """``ranges`` plus every case variant of their characters, as the regex module's
    ignore-case matching pairs them (ASCII mode: the ASCII letters only). Memoised."""
    if not ranges:
        return ranges
    if ascii and ranges[-1][1] < 128:  # the ASCII flag pairs a-z with A-Z and nothing else
        extra = [(max(lo, a) + delta, min(hi, b) + delta) for lo, hi in ranges for a, b, delta in ((65, 90, 32), (97, 122, -32))]
        return merge(list(ranges) + extra)
    compiled = regex.compile("[" + class_text(ranges) + "]", flags=_flags(ascii, True))
    variants = [(ord(m.group()),) * 2 for m in compiled.finditer(_with_case_variants())]
    return merge(list(ranges) + variants)


def class_text(ranges: Ranges) -> str:
    """The body of a character class matching exactly ``ranges`` (escapes only: it reads the
    same with or without the verbose flag)."""
    return "".join(_escaped(lo) if lo == hi else f"{_escaped(lo)}-{_escaped(hi)}" for lo, hi in ranges)


def _escaped(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


@functools.lru_cache(maxsize=1024)
def named_character(name: str) -> int | None:
    r"""The code point ``\N{name}`` stands for in the regex module, or None if it knows no such
    name. Python's own table answers first (the regex module checks it); a name only the
    regex module knows (a newer Unicode version) is found by a scan."""
    try:
        ch = unicodedata.lookup(name)
    except KeyError:
        ch = None
    escape = "\\N{" + name + "}"
    try:
        compiled = regex.compile(escape, flags=regex.VERSION0)
    except regex.error:
        return None
    if ch is not None and len(ch) == 1 and compiled.fullmatch(ch):
        return ord(ch)
    found = scan(escape, False, False)
    return found[0][0] if len(found) == 1 and found[0][0] == found[0][1] else None
