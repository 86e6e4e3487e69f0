"""What a token asks of the text after it: a look-ahead still to be decided, or an ignored
terminal's more preferred threads, which must not reach a match (docs/grammars.md).

A :class:`Follow` is advanced byte by byte as that text comes, across later tokens if need be,
and interned, so that equal ones are one object (hypotheses compare them by identity).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Iterable
from typing import Any

import numpy as np

from awrs.automata.dfa import ByteDFA

__all__ = ["NOTHING", "Follow", "follow", "follow_from_bytes"]


class Follow:
    """Pending conditions on the text that follows a token, interned (equal ones are the same
    object, so hypotheses compare them by identity). Items:

    - ``("neg", dfa, state, end_dfa, end_state)``: a negative look-ahead — violated when ``dfa``
      reaches a final state (``state`` None once it cannot), dropped once neither it nor
      ``end_dfa`` can go on; violated at the end of the text when ``end_dfa`` (or None) is in a
      final state (a body ending in ``(?!C)``: see :func:`_look_body`);
    - ``("pos", dfa, state, None, 0)``: a positive look-ahead — satisfied (dropped) at a final
      state; violated when it dies or at the end of the text;
    - ``("first", machine, positions, None, 0)``: threads of an ignored terminal that were ahead
      of its match — violated when one reaches a match; dropped when none is left.

    :meth:`step` gives the Follow after one more byte: None when violated, :data:`NOTHING` when
    nothing is pending.
    """

    __slots__ = ("__weakref__", "_next", "at_end", "items")

    def __init__(self, items: frozenset):
        self.items = items
        #: The text may end here: no positive look-ahead or end condition is pending.
        self.at_end = all(_holds_at_end(item) for item in items)
        self._next: list[Any] = [_UNKNOWN] * 256

    def __repr__(self) -> str:
        return f"Follow({len(self.items)} pending)"

    def step(self, b: int) -> Follow | None:
        nxt = self._next[b]
        if nxt is _UNKNOWN:
            nxt = self._next[b] = _step_items(self.items, b)
        return nxt

    def merge(self, other: Follow) -> Follow:
        """Both conditions at once."""
        if other is NOTHING:
            return self
        if self is NOTHING:
            return other
        return follow(self.items | other.items)


_UNKNOWN = object()
_INTERNED: weakref.WeakValueDictionary[frozenset, Follow] = weakref.WeakValueDictionary()
_INTERN_LOCK = threading.Lock()


def follow(items: Iterable) -> Follow:
    """The interned Follow of ``items``."""
    key = frozenset(items)
    with _INTERN_LOCK:
        found = _INTERNED.get(key)
        if found is None:
            found = _INTERNED[key] = Follow(key)
    return found


#: Nothing pending (kept alive here: the intern table holds Follows weakly).
NOTHING = follow(())


def _holds_at_end(item) -> bool:
    kind, _, _, end_dfa, end_state = item
    if kind == "pos":
        return False
    return not (end_dfa is not None and end_dfa.final[end_state])


def _step_items(items: frozenset, b: int) -> Follow | None:
    out = []
    for kind, machine, state, end_dfa, end_state in items:
        if kind == "first":
            positions, matched = machine.step_set(state, b)
            if matched:
                return None
            if positions:
                out.append((kind, machine, positions, None, 0))
            continue
        nxt = machine.rows[state][b] if state is not None else -1
        if kind == "pos":
            if nxt < 0:
                return None
            if not machine.final[nxt]:
                out.append((kind, machine, nxt, None, 0))
            continue
        if nxt >= 0 and machine.final[nxt]:
            return None
        end_next = end_dfa.rows[end_state][b] if end_dfa is not None else -1
        if nxt >= 0 or end_next >= 0:  # the body may still match (or end the text matched)
            out.append((kind, machine, nxt if nxt >= 0 else None, end_dfa if end_next >= 0 else None, max(end_next, 0)))
    return follow(out)


def follow_from_bytes(forbidden: np.ndarray | None) -> Follow:
    """The Follow of a one-byte follow restriction: the next byte is not one of ``forbidden``
    (a (256,) bool array), or nothing pending for None."""
    if forbidden is None:
        return NOTHING
    return follow([("neg", _byte_class_dfa(_mask_key(forbidden)), 0, None, 0)])


def _mask_key(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(np.flatnonzero(np.asarray(mask, dtype=np.bool_)).tolist())


@functools.lru_cache(maxsize=256)
def _byte_class_dfa(byte_values: tuple[int, ...]) -> ByteDFA:
    rows = [[-1] * 256, [-1] * 256]
    for b in byte_values:
        rows[0][b] = 1
    return ByteDFA(table=None, final=np.array([False, True]), rows=rows)
