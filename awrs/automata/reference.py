"""The DFA step as docs/algorithm.md §5 states it: the reference for :mod:`awrs.automata` and
the regex engines built on it.

Two references, plain loops and no caching:

- :func:`walk`, :func:`walk_vocabulary`, :func:`next_bytes` and :func:`allowed_bytes` read a
  :class:`~awrs.automata.dfa.ByteDFA`'s rows one byte at a time: what the Numba kernels
  (``walk_vocabulary``) and :class:`~awrs.constraints.dfa.DFAConstraint` compute;
- :class:`CharacterAutomaton` is the definition those tables are built to meet: a regular
  pattern's character automaton run on bytes by subset simulation, with the UTF-8 decoding
  done by Python. Its state after a text is the set of live nodes the text's characters reach
  and the bytes of an unfinished last character; a text is a viable prefix exactly when that
  state exists. The eager DFA (determinised and minimised) and the lazy DFA (made state by
  state) must agree with it on every text (tests/automata/test_reference.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from awrs.automata.dfa import ByteDFA

__all__ = ["CharacterAutomaton", "State", "allowed_bytes", "next_bytes", "walk", "walk_vocabulary"]

REFUSED = -1
#: Surrogates have no UTF-8 encoding: no text contains one.
SURROGATES = (0xD800, 0xDFFF)
#: The smallest and largest code point of each UTF-8 length (shorter forms are overlong).
CODE_POINTS_OF_LENGTH = {2: (0x80, 0x7FF), 3: (0x800, 0xFFFF), 4: (0x10000, 0x10FFFF)}


def walk(dfa: ByteDFA, state: int, data: bytes) -> int:
    """docs/algorithm.md §5.2: the state after ``data`` from ``state``, or -1 once a byte has
    no transition (no valid text starts that way)."""
    for b in data:
        state = dfa.rows[state][b]
        if state == REFUSED:
            return REFUSED
    return state


def walk_vocabulary(dfa: ByteDFA, state: int, tokens: Iterable[bytes]) -> list[int]:
    """docs/algorithm.md §5.2: :func:`walk` of every token from ``state`` (a token is allowed
    when its state is not -1)."""
    return [walk(dfa, state, token) for token in tokens]


def next_bytes(dfa: ByteDFA, state: int) -> list[bool]:
    """The bytes with a transition from ``state``."""
    return [dfa.rows[state][b] != REFUSED for b in range(256)]


def allowed_bytes(dfa: ByteDFA) -> list[bool]:
    """The bytes with a transition from some state: those some valid text contains."""
    return [any(row[b] != REFUSED for row in dfa.rows) for b in range(256)]


class State(NamedTuple):
    """Where a :class:`CharacterAutomaton` is after a text: the live nodes its complete
    characters lead to, and the bytes of an unfinished last character (b"" if none)."""

    nodes: frozenset[int]
    pending: bytes


class CharacterAutomaton:
    """docs/algorithm.md §5.1: ``(n_states, initial, finals, transitions)``, each transition
    ``(source, code point ranges, target)`` (what :func:`awrs.constraints.regex.char_automaton`
    gives), run on bytes."""

    def __init__(self, n_states: int, initial: int, finals: Iterable[int], transitions: Iterable[tuple]):
        self.initial, self.finals = initial, frozenset(finals)
        self.transitions = [(src, _encodable(ranges), dst) for src, ranges, dst in transitions]
        self.transitions = [t for t in self.transitions if t[1]]
        self.live = self._live(n_states)

    def _live(self, n_states: int) -> list[bool]:
        """The nodes from which a final node can be reached."""
        live = [node in self.finals for node in range(n_states)]
        changed = True
        while changed:
            changed = False
            for src, _, dst in self.transitions:
                if live[dst] and not live[src]:
                    live[src] = changed = True
        return live

    def start(self) -> State:
        return State(frozenset([self.initial]) if self.live[self.initial] else frozenset(), b"")

    def step(self, state: State, byte: int) -> State | None:
        """The state after one more byte, or None when no valid text starts with the bytes so far."""
        pending = state.pending + bytes([byte])
        try:
            char = pending.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data":
                return None  # not UTF-8, whatever follows
            lo, hi = completions(pending)  # an unfinished character: some completion must move on
            if any(self._moves(state.nodes, src, ranges, dst, lo, hi) for src, ranges, dst in self.transitions):
                return State(state.nodes, pending)
            return None
        cp = ord(char)
        nodes = frozenset(dst for src, ranges, dst in self.transitions if self._moves(state.nodes, src, ranges, dst, cp, cp))
        return State(nodes, b"") if nodes else None

    def _moves(self, nodes: frozenset[int], src: int, ranges, dst: int, lo: int, hi: int) -> bool:
        """The transition leaves one of ``nodes`` for a live node on a code point in [lo, hi]."""
        return src in nodes and self.live[dst] and any(a <= hi and lo <= b for a, b in ranges)

    def advance(self, state: State, data: bytes) -> State | None:
        for b in data:
            nxt = self.step(state, b)
            if nxt is None:
                return None
            state = nxt
        return state

    def is_complete(self, state: State) -> bool:
        return not state.pending and not self.finals.isdisjoint(state.nodes)


def completions(pending: bytes) -> tuple[int, int]:
    """The code points whose UTF-8 encoding starts with ``pending`` (a valid, unfinished
    prefix of one character), as a range ``(lo, hi)``; surrogates are left to the ranges."""
    length = 4 if pending[0] >= 0xF0 else 3 if pending[0] >= 0xE0 else 2
    value = pending[0] & (0x7F >> length)  # the lead byte's payload bits
    for b in pending[1:]:
        value = value << 6 | b & 0x3F
    missing = 6 * (length - len(pending))
    smallest, largest = CODE_POINTS_OF_LENGTH[length]
    return max(value << missing, smallest), min((value + 1 << missing) - 1, largest)


def _encodable(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``ranges`` less the surrogates."""
    lo_s, hi_s = SURROGATES
    out = []
    for lo, hi in ranges:
        if lo < lo_s:
            out.append((lo, min(hi, lo_s - 1)))
        if hi > hi_s:
            out.append((max(lo, hi_s + 1), hi))
    return out
