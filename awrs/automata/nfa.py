"""Byte NFAs: character automata with each character set expanded into UTF-8 byte edges, and
the byte classes that subset construction works with.

What the lazily determinised automata are made of: the lexer's tagged DFA
(:mod:`awrs.automata.tagged_dfa`) and the regex constraint's lazy DFA
(:mod:`awrs.constraints.regex.lazy_dfa`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from awrs.automata.char_dfa import CharTransition, utf8_trie
from awrs.automata.minimise import reach_back

__all__ = ["ByteClasses", "ByteEdge", "ByteNFA"]

#: ``(lo, hi, target)``: the inclusive byte range ``lo..hi`` leads to ``target``.
ByteEdge = tuple[int, int, int]


class ByteNFA:
    """A byte NFA: ``edges[node]`` are its :data:`ByteEdge` edges, ``initial`` its start node,
    ``finals`` its accepting nodes; ``live[node]`` whether an accepting node is reachable from
    it (computed when not given), ``cuts`` the byte boundaries its edges draw. Treated as
    immutable."""

    __slots__ = ("cuts", "edges", "finals", "initial", "live")

    def __init__(self, edges: list[list[ByteEdge]], initial: int, finals: frozenset[int], live: list[bool] | None = None):
        self.edges = edges
        self.initial = initial
        self.finals = finals
        self.live = _live_nodes(edges, finals) if live is None else live
        self.cuts = frozenset(_cuts(edges))

    @classmethod
    def from_chars(cls, n_states: int, initial: int, finals: Iterable[int], transitions: Iterable[CharTransition]) -> ByteNFA:
        """The byte NFA of a character automaton (epsilon-free): its nodes first, then the
        nodes inside characters.

        Each character set is expanded as its UTF-8 trie (:func:`utf8_trie`), one node per
        distinct subtree and target, so a class like ``[^"]`` adds a few nodes and Unicode's
        ``\\w`` (817 ranges) about a hundred, not one per code point or per byte sequence.
        """
        return cls(_utf8_edges(n_states, transitions), initial, frozenset(finals))


def _utf8_edges(n_states: int, transitions: Iterable[CharTransition]) -> list[list[ByteEdge]]:
    """Byte edges per node; nodes past ``n_states`` are inside a character."""
    edges: list[list[ByteEdge]] = [[] for _ in range(n_states)]
    nodes: dict[tuple[int, int], int] = {}

    def node_for(trie: tuple, target: int) -> int:
        """The node from which ``trie``'s byte strings lead to ``target`` (depth <= 3)."""
        key = (id(trie), target)  # tries are interned and alive while the transitions are
        node = nodes.get(key)
        if node is None:
            node = nodes[key] = len(edges)
            edges.append([])  # numbered before its children
            edges[node] = [(lo, hi, target if child is None else node_for(child, target)) for lo, hi, child in trie]
        return node

    for src, ranges, dst in transitions:
        trie = utf8_trie(tuple(ranges))
        edges[src].extend((lo, hi, dst if child is None else node_for(child, dst)) for lo, hi, child in trie)
    return edges


def _live_nodes(edges: list[list[ByteEdge]], finals: frozenset[int]) -> list[bool]:
    """Whether an accepting node is reachable from each node."""
    predecessors: list[list[int]] = [[] for _ in edges]
    for src, out in enumerate(edges):
        for _, _, dst in out:
            predecessors[dst].append(src)
    return [bool(x) for x in reach_back(predecessors, [int(node in finals) for node in range(len(edges))])]


def _cuts(edges: list[list[ByteEdge]]) -> set[int]:
    """The byte boundaries the edges draw (each range's start and one past its end)."""
    cuts: set[int] = set()
    for out in edges:
        for lo, hi, _ in out:
            cuts.add(lo)
            cuts.add(hi + 1)
    return cuts


class ByteClasses:
    """The bytes cut into ``n`` classes at the boundaries ``cuts`` (a byte NFA's, or several
    NFAs' together), which no edge tells apart: subset construction then works per class, not
    per byte (``.{1,256}``: 0.34 -> 0.03 s). ``of_byte[b]`` is byte b's class."""

    __slots__ = ("_first", "n", "of_byte")

    def __init__(self, cuts: Iterable[int]):
        bounds = sorted(set(cuts) | {0, 256})
        self.n = len(bounds) - 1
        self._first = {b: k for k, b in enumerate(bounds)}  # boundary -> the class starting there
        self.of_byte: list[int] = np.repeat(np.arange(self.n), np.diff(bounds)).tolist()

    def class_edges(self, edges: list[ByteEdge], offset: int = 0) -> list[ByteEdge]:
        """``edges`` as ``(first class, end class, target + offset)``."""
        first = self._first
        return [(first[lo], first[hi + 1], dst + offset) for lo, hi, dst in edges]
