"""The lexer's automaton: one byte DFA over several automata at once, each accepting state
tagged with the automata that accept there, determinised lazily.

Built from the automata's byte NFAs (:class:`~awrs.automata.nfa.ByteNFA`, memoised per
automaton): a state's row is made by subset construction the first time it is read, and an
NFA node's edges are mapped to the lexer's byte classes the first time a state holding it is
expanded. Compiling a grammar therefore costs only what is new in it (SQL restricted to a
schema: its name automata), and a check pays once for each lexer state it reaches.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from awrs.automata.dfa import DEAD, ByteDFA
from awrs.automata.nfa import ByteClasses, ByteEdge, ByteNFA
from awrs.errors import ConstraintError

__all__ = ["TaggedDFA", "build_tagged_dfa"]


class TaggedDFA:
    """A byte DFA over several automata at once (a lexer): ``rows[s][b]`` is the next state (or
    -1), ``accept[s]`` the bitmask of the automata that accept in state s, ``live[s]`` of those
    that can still accept from s (transitions to states with ``live == 0`` are -1).

    Rows are made on first use (see the module docstring) and memoised under a lock, so one
    lexer serves many threads. NFA node 0 is the shared start (the initial edges of every
    automaton); automaton k's node j is ``offsets[k] + j``.
    """

    def __init__(self, fragments: Sequence[ByteNFA]):
        self._fragments = tuple(fragments)
        offsets: list[int] = []
        start_edges: list[tuple[int, int, int]] = []  # (lo, hi, node)
        start_live = 0
        cuts: set[int] = set()
        offset = 1
        for k, f in enumerate(self._fragments):
            offsets.append(offset)
            start_edges.extend((lo, hi, dst + offset) for lo, hi, dst in f.edges[f.initial])
            if f.live[f.initial]:
                start_live |= 1 << k
            cuts |= f.cuts
            offset += len(f.edges)
        self._offsets = offsets
        self._classes = ByteClasses(cuts)
        self._edges: dict[int, list[ByteEdge]] = {0: self._classes.class_edges(start_edges)}
        self._start_live = start_live
        self._index: dict[frozenset[int], int] = {}
        self._subsets: list[frozenset[int]] = []
        self._lock = threading.Lock()
        self.accept: list[int] = []
        self.live: list[int] = []
        self.rows = _LazyRows(self)
        self._add(frozenset([0]))

    @property
    def n_states(self) -> int:
        """States discovered so far."""
        return len(self._subsets)

    def nodes_of(self, i: int, k: int) -> list[int]:
        """The nodes of automaton ``k`` in state ``i`` (for an automaton given as a ByteDFA,
        at most one: its own state)."""
        lo = self._offsets[k]
        hi = lo + len(self._fragments[k].edges)
        return [node - lo for node in self._subsets[i] if lo <= node < hi]

    def _node(self, node: int) -> tuple[int, ByteNFA, int]:
        """(automaton index, its fragment, the node's number in it) of an NFA node > 0."""
        k = bisect.bisect_right(self._offsets, node) - 1
        return k, self._fragments[k], node - self._offsets[k]

    def _add(self, subset: frozenset[int]) -> int:
        """The subset's state, made if new; DEAD when no automaton can accept from it."""
        accept = live = 0
        for node in subset:
            if node == 0:
                live |= self._start_live
                continue
            k, f, local = self._node(node)
            if local in f.finals:
                accept |= 1 << k
            if f.live[local]:
                live |= 1 << k
        if not live and self._subsets:
            self._index[subset] = DEAD
            return DEAD
        j = self._index[subset] = len(self._subsets)
        self._subsets.append(subset)
        self.accept.append(accept)
        self.live.append(live)
        return j

    def _successors(self, subset: frozenset[int]) -> dict[int, set[int]]:
        """Class -> the NFA nodes the subset moves to on it (classes with no move left out)."""
        targets: dict[int, set[int]] = {}
        memo = self._edges
        for node in subset:
            edges = memo.get(node)
            if edges is None:
                k, f, local = self._node(node)
                edges = memo[node] = self._classes.class_edges(f.edges[local], self._offsets[k])
            for lo, hi, dst in edges:
                for c in range(lo, hi):
                    targets.setdefault(c, set()).add(dst)
        return targets

    def _row(self, i: int) -> list[int]:
        by_class = [DEAD] * self._classes.n
        for c, nodes in self._successors(self._subsets[i]).items():
            key = frozenset(nodes)
            j = self._index.get(key)
            if j is None:
                j = self._add(key)
            by_class[c] = j
        return [by_class[c] for c in self._classes.of_byte]


class _LazyRows(dict):
    """``rows[s]``: the row of state s, made on first use (a dict, so a hit costs no Python call)."""

    __slots__ = ("_dfa",)

    def __init__(self, dfa: TaggedDFA):
        super().__init__()
        self._dfa = dfa

    def __missing__(self, i: int) -> list[int]:
        with self._dfa._lock:
            row = self.get(i)
            if row is None:
                row = self[i] = self._dfa._row(i)
        return row


#: Fragments by automaton identity (each entry keeps its automaton alive, so an id is not
#: reused while it is cached). Automata come memoised (char_automaton, the keyword-excluding
#: DFAs), so lexers for different schemas of one grammar expand each shared terminal once.
_FRAGMENTS: dict[int, tuple[Any, ByteNFA]] = {}
_FRAGMENTS_LOCK = threading.Lock()
_MAX_FRAGMENTS = 4096


def build_tagged_dfa(automata: Sequence[Any]) -> TaggedDFA:
    """The union of several automata — character automata ``(n, initial, finals, transitions)``,
    byte DFAs or byte NFAs — each accepting state tagged with the index of its automaton. No
    automaton may accept the empty string (ConstraintError)."""
    fragments = [_fragment(a) for a in automata]
    for k, f in enumerate(fragments):
        if f.initial in f.finals:
            raise ConstraintError(f"terminal #{k} matches the empty string")
    return TaggedDFA(fragments)


def _fragment(automaton: Any) -> ByteNFA:
    """The byte NFA of one automaton (memoised by identity in :data:`_FRAGMENTS`)."""
    if isinstance(automaton, ByteNFA):
        return automaton
    hit = _FRAGMENTS.get(id(automaton))
    if hit is not None and hit[0] is automaton:
        return hit[1]
    if isinstance(automaton, ByteDFA):
        edges: list[list[ByteEdge]] = [[] for _ in range(automaton.n_states)]
        for src, lo, hi, dst in _byte_runs(automaton):
            edges[src].append((lo, hi, dst))
        fragment = ByteNFA(edges, 0, frozenset(np.flatnonzero(automaton.final).tolist()))
    else:
        fragment = ByteNFA.from_chars(*automaton)
    with _FRAGMENTS_LOCK:
        if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
            _FRAGMENTS.clear()
        _FRAGMENTS[id(automaton)] = (automaton, fragment)
    return fragment


@functools.lru_cache(maxsize=256)
def _byte_runs(dfa: ByteDFA) -> tuple[tuple[int, int, int, int], ...]:
    """The DFA's transitions as ``(src, lo, hi, dst)``: runs of consecutive bytes with one
    target (memoised: grammars for different schemas share their keyword-excluding DFAs)."""
    table = dfa.table
    starts = np.ones(table.shape, dtype=np.bool_)
    starts[:, 1:] = table[:, 1:] != table[:, :-1]
    src, lo = np.nonzero(starts)
    hi = np.append(lo[1:] - 1, 255)
    hi[np.append(src[1:] != src[:-1], True)] = 255  # a run ends at the end of its row
    dst = table[src, lo]
    keep = dst >= 0
    return tuple(zip(src[keep].tolist(), lo[keep].tolist(), hi[keep].tolist(), dst[keep].tolist()))
