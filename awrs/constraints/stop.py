"""Stop strings: the text ends where one of them first appears, across token boundaries.

The model writes bytes. The first time one of the stop strings appears in them — at the
earliest end, and of the stop strings ending there the one that starts first — generation
ends: the output is the text before that stop string (the stop string, and whatever follows
it in the same token, are dropped), and it must satisfy the constraint. Until a stop string
appears every byte is text; bytes that could begin one are text only if it does not go on to
appear. :func:`first_stop` says where that is in a finished byte string.

:class:`StopAt` is that rule as a constraint around another one, checked token by token: a
token is allowed when, with the stop rule applied, some continuation can still give an output
the inner constraint accepts. When a token makes a stop string appear, the state is
:class:`Stopped`: the sequence ends there, with no end-of-sequence token — the stop ends it
with probability one, so its weight has no EOS factor (see docs/smc.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from awrs.constraints.base import Constraint, State
from awrs.errors import GenerationError
from awrs.lm.vocab import Vocabulary

__all__ = ["StopAt", "Stopped", "first_stop", "held_back"]


class Stopped(NamedTuple):
    """A stop string has appeared: the last ``cut`` bytes written are not output."""

    cut: int


class _Running(NamedTuple):
    """No stop string yet. ``text``: the inner state after every byte so far, or None when the
    inner constraint refuses them (or text went on past a final state). ``pending``: the
    partial stop matches that end at the last byte, as (stop index, bytes matched, whether the
    text before the match is complete)."""

    text: Any
    pending: tuple[tuple[int, int, bool], ...]


def first_stop(data: bytes, stops: Sequence[bytes]) -> int | None:
    """Where the output ends in ``data``: the start of the first stop string to appear (the
    earliest end; at that end, the earliest start), or None when none appears."""
    for end in range(1, len(data) + 1):
        starts = [end - len(s) for s in stops if len(s) <= end and data.startswith(s, end - len(s))]
        if starts:
            return min(starts)
    return None


def held_back(data: bytes, stops: Sequence[bytes]) -> int:
    """How many bytes at the end of ``data`` could still be the start of a stop string (the
    longest such suffix): text a stream must hold back until it knows."""
    longest = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(data)), longest, -1):
            if data.endswith(s[:n]):
                longest = n
                break
    return longest


class StopAt(Constraint):
    """``inner``, with generation ending where one of ``stops`` first appears (module doc).

    Raises :class:`~awrs.errors.GenerationError` for an empty list or an empty stop string.
    Final states of ``inner`` (:meth:`~awrs.constraints.base.Constraint.is_final`) let no text
    follow, as in generation without stop strings, but a stop string may: the text then ends
    with end-of-sequence or with a stop string.
    """

    def __init__(self, inner: Constraint, stops: Sequence[bytes]):
        stops = tuple(dict.fromkeys(stops))
        if not stops or not all(stops):
            raise GenerationError("stop strings must be non-empty: an empty one would end the text before it starts")
        self.inner = inner
        self.stops = stops
        self._firsts = {s[0] for s in stops}
        self._stop_bytes = bytes(sorted({b for s in stops for b in s}))
        self._by_vocab: dict[int, tuple[Vocabulary, np.ndarray, np.ndarray | None]] = {}

    def __repr__(self) -> str:
        return f"StopAt({self.inner!r}, {list(self.stops)!r})"

    def initial(self) -> _Running:
        return _Running(self.inner.initial(), ())

    def stopped(self, state: State) -> Stopped | None:
        """The :class:`Stopped` state when a stop string has appeared, else None."""
        return state if type(state) is Stopped else None

    def is_complete(self, state: State) -> bool:
        if type(state) is Stopped:
            return True  # the output before the stop string was checked complete
        return state.text is not None and self.inner.is_complete(state.text)

    def is_final(self, state: State) -> bool:
        return type(state) is Stopped

    def advance(self, state: State, data: bytes) -> State | None:
        if type(state) is Stopped:
            return state  # what follows a stop string is not text
        if not data:
            return state
        text, pending = state
        if text is not None and self.inner.is_final(text):
            text = _CLOSED  # no text may follow a final state, only a stop string
        if not pending and len(data.translate(None, self._stop_bytes)) == len(data):
            return self._plain(text, data)  # no byte of any stop string: text only
        return self._scan(text, pending, data)

    def _plain(self, text: Any, data: bytes) -> _Running | None:
        text = self._feed(text, data)
        return None if text is None else _Running(text, ())

    def _feed(self, text: Any, data: bytes) -> Any:
        """The inner state after ``data`` is appended to the text (None: refused)."""
        if text is None or not data:
            return text
        if text is _CLOSED:
            return None  # text after a final state
        return self.inner.advance(text, data)

    def _scan(self, text: Any, pending: tuple, data: bytes) -> State | None:
        """Byte by byte: extend the partial matches, start new ones, stop at the first
        complete one. The inner constraint reads the bytes in runs, up to each byte where a
        stop string could start (where it must know whether the text so far is complete)."""
        fed = 0
        for i, b in enumerate(data):
            pending, ended = self._extend(pending, b)
            if b in self._firsts:
                text, fed = self._feed(text, data[fed:i]), i
                complete = text is _CLOSED or (text is not None and self.inner.is_complete(text))
                pending, ended = self._start(pending, ended, b, complete)
            if ended is not None:  # (its length, whether the text before it was complete)
                return Stopped(len(data) - i - 1 + ended[0]) if ended[1] else None
        text = self._feed(text, data[fed:])  # not empty: never _CLOSED
        if text is None and not any(ok for _, _, ok in pending):
            return None
        return _Running(text, pending)

    def _extend(self, pending: tuple, b: int) -> tuple[tuple, tuple[int, bool] | None]:
        """The partial matches that byte ``b`` continues, and the longest one it completes (the
        earliest start) as (length, complete before it), or None."""
        grown, ended = [], None
        for k, m, ok in pending:
            s = self.stops[k]
            if s[m] != b:
                continue
            if m + 1 < len(s):
                grown.append((k, m + 1, ok))
            elif ended is None or m + 1 > ended[0]:
                ended = (m + 1, ok)
        return tuple(grown), ended

    def _start(self, pending: tuple, ended: tuple[int, bool] | None, b: int, complete: bool):
        """``pending`` and ``ended`` with the stop strings that start with byte ``b`` added (a
        one-byte stop string ends there, unless a longer match already does)."""
        grown = list(pending)
        for k, s in enumerate(self.stops):
            if s[0] != b:
                continue
            if len(s) > 1:
                grown.append((k, 1, complete))
            elif ended is None:
                ended = (1, complete)
        return tuple(grown), ended

    # --- the sampler's fast paths --------------------------------------------------------

    def next_bytes(self, state: State) -> np.ndarray | None:
        """The inner constraint's next bytes, and every byte that starts or continues a stop
        string (sound: a byte refused here is neither text nor part of a stop)."""
        if type(state) is Stopped:
            return None
        text, pending = state
        final = text is not None and self.inner.is_final(text)
        if text is None or final:
            out = np.zeros(256, dtype=np.bool_)
        else:
            inner = self.inner.next_bytes(text)
            if inner is None:
                return None
            out = np.array(inner, dtype=np.bool_)
        if final or (text is not None and self.inner.is_complete(text)):
            out[list(self._firsts)] = True  # a stop string may start here
        for k, m, _ in pending:
            out[self.stops[k][m]] = True
        return out

    def never_tokens(self, vocab: Vocabulary) -> np.ndarray | None:
        """Tokens in which a byte the inner constraint never produces comes before any byte of
        a stop string: text, in every state, that no valid output holds."""
        return self._vocab_arrays(vocab)[1]

    def impossible_tokens(self, state: State, vocab: Vocabulary) -> np.ndarray | None:
        """Tokens that hold no byte of a stop string (so are text only) and that the inner
        constraint refuses as text; every such token where no text may follow."""
        if type(state) is Stopped:
            return None
        touch = self._vocab_arrays(vocab)[0]
        text = state.text
        if text is None or self.inner.is_final(text):
            return ~touch
        inner = self.inner.impossible_tokens(text, vocab)
        return None if inner is None else inner & ~touch

    def mask(self, state: State, vocab: Vocabulary) -> np.ndarray:
        """Tokens without a byte of a stop string are text: the inner mask decides them (none
        where no text may follow); the others are checked one by one."""
        out = np.zeros(len(vocab), dtype=np.bool_)
        if type(state) is Stopped:
            return out
        touch, _ = self._vocab_arrays(vocab)
        text = state.text
        if text is not None and not self.inner.is_final(text):
            out[:] = self.inner.mask(text, vocab) & ~touch
        tokens = vocab.tokens
        for t in np.flatnonzero(touch & vocab.text_mask):
            out[t] = self.advance(state, tokens[t]) is not None
        return out

    def _vocab_arrays(self, vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray | None]:
        """(tokens holding a byte of some stop string, tokens no state can take or None), per
        vocabulary."""
        cached = self._by_vocab.get(id(vocab))
        if cached is None or cached[0] is not vocab:
            touch = vocab.tokens_with_bytes(self._stop_bytes)
            touch.flags.writeable = False
            allowed = self.inner.allowed_bytes()
            never = None
            if allowed is not None:
                never = vocab.bytes_before(~np.asarray(allowed, dtype=np.bool_), self._stop_bytes)
                never.flags.writeable = False
            cached = self._by_vocab[id(vocab)] = (vocab, touch, never)
        return cached[1], cached[2]


#: The text state of a sequence whose inner state was final at the start of the token being
#: read: complete, but no text byte may follow.
_CLOSED = object()
