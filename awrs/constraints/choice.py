"""``awrs.Choice``: exactly one of a list of strings.

A short list compiles to a byte DFA (a trie, minimised): Numba masks, one table lookup per
byte. The DFA's dense rows cost about 3.5 KB per trie node (measured: 10,000 options of 20
random letters made 147,000 nodes, 525 MB and 2.7 s; 10,000 options of 1,000 letters would
need some 35 GB), so a long list is searched in sorted order instead: its memory is the
options themselves, and a check is two binary searches.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import islice

import numpy as np

from awrs.automata.dfa import ByteDFA
from awrs.automata.trie import trie_dfa
from awrs.constraints.base import Constraint, Delegating, to_bytes
from awrs.constraints.dfa import DFAConstraint
from awrs.errors import AwrsError, ConstraintError

__all__ = ["DFA_MAX_BYTES", "MAX_OPTIONS", "MAX_OPTION_BYTES", "Choice"]

#: Options totalling at most this many bytes compile to a DFA: at most ~3.5 KB per byte of
#: options (one trie node each, shared prefixes fewer), i.e. at most ~60 MB and ~0.3 s.
DFA_MAX_BYTES = 1 << 14
#: The most options a Choice takes (the sorted form holds each as a Python bytes object, ~40
#: bytes of overhead each: ~80 MB here). A longer list is refused, not read to the end, so an
#: endless iterator cannot exhaust memory; a Regex or Grammar describes such sets better.
MAX_OPTIONS = 2_000_000
#: The most bytes all options together may have (held about twice while sorting).
MAX_OPTION_BYTES = 1 << 28


class Choice(Delegating):
    """Accepts exactly the listed strings (``str`` as UTF-8, or ``bytes``).

    Raises :class:`~awrs.errors.ConstraintError` when ``options`` is not a list of strings,
    is empty, holds a str that has no UTF-8 encoding (a lone surrogate), or is larger than
    :data:`MAX_OPTIONS` options or :data:`MAX_OPTION_BYTES` bytes.
    """

    def __init__(self, options: Iterable[str | bytes]):
        self.options: tuple[str | bytes, ...] = _read_options(options)
        encoded = _encode_options(self.options)
        if sum(map(len, encoded)) <= DFA_MAX_BYTES:
            self._impl: Constraint = DFAConstraint(trie_dfa(encoded))
        else:
            self._impl = SortedOptions(encoded)

    def __repr__(self) -> str:
        shown = ", ".join(repr(o) for o in self.options[:5])
        more = f", ... ({len(self.options)} in all)" if len(self.options) > 5 else ""
        return f"Choice([{shown}{more}])"

    @property
    def dfa(self) -> ByteDFA | None:
        """The byte DFA, for a list of at most :data:`DFA_MAX_BYTES` bytes; else None."""
        return self._impl.dfa if isinstance(self._impl, DFAConstraint) else None


def _read_options(options: object) -> tuple[str | bytes, ...]:
    """The options as a tuple, read at most :data:`MAX_OPTIONS` + 1 deep."""
    if isinstance(options, (str, bytes)):
        raise ConstraintError('Choice takes a list of strings, not a single string: Choice(["yes", "no"])')
    try:
        # Whatever the user passed: a non-iterable raises TypeError here, answered below.
        items = tuple(islice(options, MAX_OPTIONS + 1))  # type: ignore[call-overload]
    except TypeError:
        raise ConstraintError(f"Choice takes a list of strings, got {type(options).__name__}") from None
    if len(items) > MAX_OPTIONS:
        raise ConstraintError(
            f"Choice takes at most {MAX_OPTIONS:,} options and was given more; describe so large a set with a Regex or a Grammar"
        )
    if not items:
        raise ConstraintError("the list of choices is empty: give at least one string")
    return items


def _encode_options(options: tuple[str | bytes, ...]) -> list[bytes]:
    """The UTF-8 bytes of each option; ConstraintError naming the first one that has none."""
    encoded, total = [], 0
    for i, option in enumerate(options):
        try:
            data = to_bytes(option, f"option {i}")
        except AwrsError as exc:  # a wrong type, or a str with a lone surrogate
            raise ConstraintError(f"Choice options must be str or bytes: {exc}") from None
        total += len(data)
        if total > MAX_OPTION_BYTES:
            raise ConstraintError(
                f"the options of this Choice total more than {MAX_OPTION_BYTES:,} bytes (past option {i}); "
                "describe so large a set with a Regex or a Grammar"
            )
        encoded.append(data)
    return encoded


class SortedOptions(Constraint):
    """Exactly the given byte strings, found by binary search in their sorted order.

    A state ``(lo, hi, depth)`` is the range of sorted options that start with the ``depth``
    bytes of text so far (the range is never empty). Memory: the options; ``advance``: two
    binary searches of the range, whatever the length of ``data``.
    """

    def __init__(self, options: list[bytes]):
        self._options = sorted(set(options))
        if not self._options:
            raise ConstraintError("the list of choices is empty: give at least one string")
        present = np.zeros(256, dtype=np.bool_)
        for option in self._options:
            present[np.frombuffer(option, dtype=np.uint8)] = True
        present.flags.writeable = False
        self._allowed = present

    def initial(self) -> tuple[int, int, int]:
        return (0, len(self._options), 0)

    def advance(self, state: tuple[int, int, int], data: bytes) -> tuple[int, int, int] | None:
        if not data:
            return state
        lo, hi, depth = state
        opts = self._options
        prefix = opts[lo][:depth] + data
        n = len(prefix)
        start = bisect_left(opts, prefix, lo, hi)
        # Cutting sorted strings to n bytes keeps them sorted: those that start with the
        # prefix are one run from ``start``.
        end = bisect_right(opts, prefix, start, hi, key=lambda s: s[:n])
        return (start, end, n) if start < end else None

    def is_complete(self, state: tuple[int, int, int]) -> bool:
        lo, _, depth = state
        return len(self._options[lo]) == depth  # the text itself sorts first in its range

    def next_bytes(self, state: tuple[int, int, int]) -> np.ndarray:
        lo, hi, depth = state
        opts = self._options
        out = np.zeros(256, dtype=np.bool_)
        i = lo + (len(opts[lo]) == depth)
        cut = depth + 1
        while i < hi:  # one binary search per distinct next byte
            out[opts[i][depth]] = True
            i = bisect_right(opts, opts[i][:cut], i, hi, key=lambda s: s[:cut])
        return out

    def allowed_bytes(self) -> np.ndarray:
        return self._allowed
