r"""Patterns beyond regular languages, checked by the ``regex`` module's partial matching.

Back-references, look-arounds, conditionals, atomic groups, possessive quantifiers,
recursion and Unicode properties cannot become a DFA. Here a state is the text so far (as
bytes); a prefix is accepted when ``regex.fullmatch(pattern, text, partial=True)`` says a
full match is still possible, and a text is complete when it fully matches.

Exactness: the prefix check is as exact as the ``regex`` module's partial matching. When a
token ends inside a multi-byte UTF-8 character, the characters those bytes can still become
are tried one by one until one keeps a match possible: those the envelope (below) accepts, or
all of them without one (at most 4,096 for a 2-byte prefix of a 3- or 4-byte character,
262,144 for a lone 4-byte lead, about 1 µs each). Accepting such bytes without trying them
would leave the sampler in dead ends: a pattern like ``(?=\p{Sc})`` rejected every
continuation of a lone lead byte, a scan of the whole vocabulary each time.

Time: the regex module backtracks, and a pattern such as ``(a|aa)+\1b`` takes exponential
time on some texts. Every call runs under the module's timeout, :data:`MATCH_TIMEOUT_S`;
past it the check raises :class:`ConstraintError` (never a hang). Regular patterns never come
here (:mod:`awrs.constraints.regex` gives them a DFA).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import numpy as np
import regex

from awrs.automata.dfa import ByteDFA, walk_vocabulary
from awrs.constraints.base import Constraint
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary

__all__ = ["MATCH_TIMEOUT_S", "PartialMatch", "split_utf8"]

#: The longest one call of the regex module may take (its own timeout; it is checked every so
#: often, so a call may run up to about twice as long). A well-behaved pattern takes
#: microseconds per check, catastrophic backtracking takes ages: anything in between is rare.
MATCH_TIMEOUT_S = 1.0


def split_utf8(data: bytes) -> tuple[str, bytes] | None:
    """``(text, tail)``: the decoded complete characters and the bytes of an unfinished last
    character; None if ``data`` is not a prefix of any valid UTF-8 string."""
    try:
        return data.decode("utf-8"), b""
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data":
            return None
        head, tail = data[: exc.start], data[exc.start :]
        return head.decode("utf-8"), tail


def completions_of(tail: bytes) -> range | None:
    """The code points whose UTF-8 encoding starts with ``tail`` (the bytes of an unfinished
    character, already known to be a valid UTF-8 prefix); None if there are none."""
    lead = tail[0]
    length = 4 if lead >= 0xF0 else 3 if lead >= 0xE0 else 2
    value = lead & (0x7F >> length)  # the payload bits of the lead byte
    for b in tail[1:]:
        value = (value << 6) | (b & 0x3F)
    missing = length - len(tail)
    lo = value << (6 * missing)
    hi = lo | ((1 << (6 * missing)) - 1)
    lo = max(lo, _SMALLEST[length])  # no overlong encodings
    hi = min(hi, _LARGEST[length])
    return range(lo, hi + 1) if lo <= hi else None


def relax_end_anchors(pattern: str) -> str:
    """``$``, ``\\Z`` and ``\\z`` inside look-arounds rewritten for prefix checks: ``(?!)`` (never)
    inside a negative look-around, nothing (always) inside a positive one."""
    out: list[str] = []
    stack: list[str] = []  # for each open group: "neg", "pos" or ""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pair = pattern[i : i + 2]
            out.append(_relaxed(pair, stack) if pair in ("\\Z", "\\z") else pair)
            i += 2
            continue
        if ch == "[":  # a character class: copy it whole
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while j < len(pattern) and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if ch == "(":
            head = pattern[i : i + 4]
            stack.append("neg" if head.startswith(("(?!", "(?<!")) else "pos" if head.startswith(("(?=", "(?<=")) else "")
        elif ch == ")" and stack:
            stack.pop()
        out.append(_relaxed(ch, stack) if ch == "$" else ch)
        i += 1
    return "".join(out)


def _relaxed(anchor: str, stack: list[str]) -> str:
    inside = next((kind for kind in reversed(stack) if kind), "")
    return "(?!)" if inside == "neg" else "" if inside == "pos" else anchor


_SMALLEST = {2: 0x80, 3: 0x800, 4: 0x10000}
_LARGEST = {2: 0x7FF, 3: 0xFFFF, 4: 0x10FFFF}


class PartialMatch(Constraint):
    """A pattern checked by partial matching. A state is ``(text so far as UTF-8 bytes, state of
    the envelope DFA)``.

    ``envelope``, when given, is a byte DFA whose language contains every full match of the
    pattern (a regular over-approximation, see :mod:`awrs.constraints.regex.syntax`). A text it
    refuses cannot be completed, so it is refused without calling the regex module, and
    :meth:`impossible_tokens` lists the tokens it refuses from a state (the sampler prunes them
    exactly). The envelope also refuses what the regex module's partial matching wrongly keeps
    open, e.g. ``abc(`` for ``abc(?=.{0,10}$)``, where the look-ahead reaching the end of the
    partial text reads as "partial".
    """

    def __init__(self, compiled: Any, envelope: ByteDFA | None = None, *, recursive: bool = False):
        self._compiled = compiled
        self._envelope = envelope
        # A pattern that calls a group from inside itself may recurse without end; whether the
        # regex module stops that with MemoryError or our timeout first depends on the machine.
        self._recursive = recursive
        # Tokens with a byte no transition of the envelope reads are pruned before sampling.
        self._allowed: np.ndarray | None = None if envelope is None else np.any(envelope.table >= 0, axis=0)
        # The regex module's partial matching treats the end of the partial text as the end of
        # the string inside look-arounds, so "(?!in$)\\w+" refuses "in", which "int" continues.
        # Prefixes are therefore checked with a relaxed pattern in which an end anchor inside a
        # negative look-around never holds and one inside a positive look-around always does:
        # an over-approximation, never a refusal of a viable prefix.
        relaxed = relax_end_anchors(compiled.pattern)
        self._prefix = compiled if relaxed == compiled.pattern else regex.compile(relaxed, flags=compiled.flags)
        # Masking asks the same question for every token that ends inside a character; the
        # answer depends only on the text so far and the unfinished bytes.
        self._completable = functools.lru_cache(maxsize=4096)(self._completable_uncached)
        # The tokens the envelope refuses depend only on its state.
        self._refused = functools.lru_cache(maxsize=64)(self._refused_uncached)

    def allowed_bytes(self) -> np.ndarray | None:
        return self._allowed

    @property
    def compiled(self) -> Any:
        return self._compiled

    @property
    def envelope(self) -> ByteDFA | None:
        return self._envelope

    def initial(self) -> tuple[bytes, int]:
        return (b"", 0)

    def advance(self, state: tuple[bytes, int], data: bytes) -> tuple[bytes, int] | None:
        text_bytes, env = state
        if self._envelope is not None:
            rows = self._envelope.rows
            for b in data:
                env = rows[env][b]
                if env < 0:
                    return None
        return self._extend(text_bytes + data, env)

    def _extend(self, new: bytes, env: int) -> tuple[bytes, int] | None:
        """The state for the text ``new`` (already inside the envelope, at its state ``env``),
        or None when partial matching refuses it. The envelope has already refused any byte
        it cannot read, so an unfinished last character only needs a completion check."""
        split = split_utf8(new)
        if split is None:
            return None
        text, tail = split
        if not self._viable(text):
            return None
        if tail and not self._completable(text, tail, env):
            return None
        return (new, env)

    def _completable_uncached(self, text: str, tail: bytes, env: int) -> bool:
        """Some character starting with the bytes ``tail`` (the envelope in state ``env`` after
        them) keeps a match possible after ``text``."""
        return any(self._viable(text + chr(c)) for c in self._completions(tail, env))

    def _completions(self, tail: bytes, env: int) -> Iterator[int]:
        """The code points whose UTF-8 encoding starts with ``tail`` and which the envelope
        accepts from state ``env`` (every one when there is no envelope)."""
        candidates = completions_of(tail)
        if candidates is None:
            return
        if self._envelope is None:
            yield from (c for c in candidates if not 0xD800 <= c <= 0xDFFF)
            return
        rows = self._envelope.rows
        missing = len(chr(candidates.start).encode()) - len(tail)
        stack = [(env, candidates.start >> (6 * missing), missing)]  # (state, bits so far, bytes to go)
        while stack:
            state, value, left = stack.pop()
            if left == 0:
                yield value
                continue
            row = rows[state]
            # continuation bytes, pushed so the smallest comes first
            stack.extend((row[b], (value << 6) | (b & 0x3F), left - 1) for b in range(0xBF, 0x7F, -1) if row[b] >= 0)

    def is_complete(self, state: tuple[bytes, int]) -> bool:
        text_bytes, env = state
        if self._envelope is not None and not self._envelope.final[env]:
            return False
        split = split_utf8(text_bytes)
        if split is None or split[1]:
            return False
        return _within_time(self._compiled, split[0], False, self._recursive) is not None

    def impossible_tokens(self, state: tuple[bytes, int], vocab: Vocabulary) -> np.ndarray | None:
        if self._envelope is None:
            return None
        return self._refused(state[1], vocab)

    def _refused_uncached(self, env: int, vocab: Vocabulary) -> np.ndarray:
        assert self._envelope is not None, "impossible_tokens asks only with an envelope"
        refused = walk_vocabulary(self._envelope, env, vocab) < 0
        refused.flags.writeable = False
        return refused

    def mask(self, state: tuple[bytes, int], vocab: Vocabulary) -> np.ndarray:
        """Every token checked: the envelope walks the whole vocabulary in one Numba pass, and
        the regex module sees only the tokens it keeps, from the states it reached."""
        out = np.zeros(len(vocab), dtype=np.bool_)
        text_bytes = state[0]
        special = vocab.special_ids
        tokens = vocab.tokens
        if self._envelope is None:
            for i, token in enumerate(tokens):
                if i not in special:
                    out[i] = self.advance(state, token) is not None
            return out
        reached = walk_vocabulary(self._envelope, state[1], vocab)
        for i in np.flatnonzero(reached >= 0).tolist():
            if i not in special:
                out[i] = self._extend(text_bytes + tokens[i], int(reached[i])) is not None
        return out

    def _viable(self, text: str) -> bool:
        return _within_time(self._prefix, text, True, self._recursive) is not None


def _within_time(compiled: Any, text: str, partial: bool, recursive: bool = False) -> Any:
    """``compiled.fullmatch(text, partial=partial)`` under :data:`MATCH_TIMEOUT_S`; ``recursive``
    says the pattern calls a group from inside itself (the error then names that cause too)."""
    try:
        return compiled.fullmatch(text, partial=partial, timeout=MATCH_TIMEOUT_S)
    except MemoryError:  # the module's own limit on its backtracking stack, e.g. left recursion "(?R)b"
        raise ConstraintError(
            f"the regex module ran out of memory matching the pattern {compiled.pattern[:60]!r} (recursion that "
            "consumes nothing, such as (?R) at the start of a branch, never ends); rewrite the recursive part"
        ) from None
    except TimeoutError:
        cause = "catastrophic backtracking in the regex module"
        fix = "rewrite the pattern without nested or overlapping repeats around back-references or look-arounds"
        if recursive:
            cause += ", or recursion that consumes nothing, such as (?R) at the start of a branch"
            fix += ", make each recursive call follow at least one character"
        raise ConstraintError(
            f"checking {len(text):,} characters against the pattern {compiled.pattern[:60]!r} took more than "
            f"{MATCH_TIMEOUT_S:g} s ({cause}); {fix}, or make the pattern regular so that awrs uses a DFA"
        ) from None
