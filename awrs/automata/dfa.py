"""Byte-level deterministic automata: built from character automata, minimised, combined.

A :class:`ByteDFA` is built from a *character* automaton (transitions labelled with sets of
code points) by expanding each character set into UTF-8 byte-range sequences, determinising
the resulting byte automaton, keeping only live states (from which an accepting state is
reachable) and minimising. Because only live states remain, "the walk has not fallen off the
table" is exactly "some completion is accepted": the prefix check is exact.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from awrs.automata import _kernels as kernels
from awrs.automata.char_dfa import EmptyLanguage, TooManyStates, byte_table, utf8_trie
from awrs.errors import ConstraintError, EmptyLanguageError
from awrs.lm.vocab import Vocabulary

__all__ = [
    "ByteClasses",
    "ByteDFA",
    "ByteNFA",
    "CharTransition",
    "TaggedDFA",
    "build_byte_dfa",
    "build_tagged_dfa",
    "byte_nfa",
    "difference",
    "intersect",
    "trie_dfa",
    "walk_vocabulary",
]

DEAD = -1
#: Byte DFAs are built whole up to this many states (a 1 KB row each); past it a regular
#: pattern is determinised lazily (awrs.constraints.regex.lazy_dfa).
MAX_DFA_STATES = 4000
#: Products and differences are minimised (Moore refinement, quadratic in the worst case) up to
#: this size.
MAX_MINIMISE_STATES = 300


class DFATooLarge(ConstraintError):
    """The automaton would exceed :data:`MAX_DFA_STATES` states."""


#: (source state, inclusive code point ranges, target state)
CharTransition = tuple[int, Sequence[tuple[int, int]], int]


class ByteDFA:
    """A minimal DFA over bytes with only live states.

    ``rows[s][b]`` (Python lists, for fast scalar walks) and ``table[s, b]`` (a C-contiguous
    int32 array, for the Numba kernels; built on first use when not given) are the next
    state or -1 (no valid string continues that way); state 0 is the initial state;
    ``final[s]`` marks accepting states. Treated as immutable.
    """

    __slots__ = ("_table", "final", "rows")

    def __init__(self, table: np.ndarray | None, final: np.ndarray, rows: list[list[int]]):
        self.rows = rows
        self.final = final
        self._table = table

    def __repr__(self) -> str:
        return f"ByteDFA({self.n_states} states)"

    @property
    def table(self) -> np.ndarray:
        if self._table is None:
            self._table = np.ascontiguousarray(np.array(self.rows, dtype=np.int32))
        return self._table

    @property
    def n_states(self) -> int:
        return len(self.rows)


def build_byte_dfa(
    n_states: int,
    initial: int,
    finals: Iterable[int],
    transitions: Iterable[CharTransition],
    max_states: int = MAX_DFA_STATES,
) -> ByteDFA:
    """The minimal live byte DFA of a character automaton (possibly nondeterministic,
    epsilon-free), built by :func:`awrs.automata.char_dfa.byte_table`.

    Raises :class:`ConstraintError` when the language is empty and :class:`DFATooLarge` past
    ``max_states`` states.
    """
    try:
        table, final = byte_table(n_states, initial, finals, transitions, max_states)
    except EmptyLanguage:
        raise EmptyLanguageError("the constraint's language is empty: no string satisfies it") from None
    except TooManyStates:
        raise DFATooLarge(f"the automaton would exceed {max_states} states") from None
    return ByteDFA(table=table, final=np.array(final, dtype=np.bool_), rows=table.tolist())


class TaggedDFA:
    """A byte DFA over several automata at once (a lexer): ``rows[s][b]`` is the next state (or
    -1), ``accept[s]`` the bitmask of the automata that accept in state s, ``live[s]`` of those
    that can still accept from s (transitions to states with ``live == 0`` are -1).

    Built lazily from the automata's byte NFAs (:class:`ByteNFA`, memoised per automaton):
    a state's row is made by subset construction the first time it is read, and an NFA node's
    edges are mapped to the lexer's byte classes the first time a state holding it is
    expanded. Compiling a grammar therefore costs only what is new in it (SQL restricted to
    a schema: its name automata), and a check pays once for each lexer state it reaches. Rows
    are memoised under a lock, so one lexer serves many threads.

    NFA node 0 is the shared start (the initial edges of every automaton); automaton k's node
    j is ``offsets[k] + j``.
    """

    def __init__(self, fragments: Sequence[ByteNFA]):
        self._fragments = tuple(fragments)
        offsets, start_edges, start_live, cuts = [], [], 0, set()
        offset = 1
        for k, f in enumerate(self._fragments):
            offsets.append(offset)
            start_edges.extend((lo, hi, dst + offset) for lo, hi, dst in f.edges[f.initial])
            if f.live[f.initial]:
                start_live |= 1 << k
            cuts |= f.cuts
            offset += len(f.edges)
        self._offsets = offsets
        self._first, self._n_classes, of_byte = _byte_classes(cuts)
        self._byte_list = of_byte.tolist()
        self._edges: dict[int, list[tuple[int, int, int]]] = {0: self._class_edges(start_edges, 0)}
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

    def _class_edges(self, edges, offset: int) -> list[tuple[int, int, int]]:
        first = self._first
        return [(first[lo], first[hi + 1], dst + offset) for lo, hi, dst in edges]

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
                edges = memo[node] = self._class_edges(f.edges[local], self._offsets[k])
            for lo, hi, dst in edges:
                for c in range(lo, hi):
                    targets.setdefault(c, set()).add(dst)
        return targets

    def _row(self, i: int) -> list[int]:
        by_class = [DEAD] * self._n_classes
        for c, nodes in self._successors(self._subsets[i]).items():
            key = frozenset(nodes)
            j = self._index.get(key)
            if j is None:
                j = self._add(key)
            by_class[c] = j
        return [by_class[c] for c in self._byte_list]


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


class ByteNFA:
    """A byte NFA: ``edges[node]`` are its ``(lo, hi, target)`` byte edges (inclusive byte
    ranges), ``initial`` its start node, ``finals`` its accepting nodes; ``live[node]``
    whether an accepting node is reachable from it (computed when not given), ``cuts`` the
    byte boundaries its edges draw. What the lexer is assembled from: each automaton given to
    :func:`build_tagged_dfa` is expanded into one (or is one already). Treated as immutable."""

    __slots__ = ("cuts", "edges", "finals", "initial", "live")

    def __init__(
        self, edges: list[list[tuple[int, int, int]]], initial: int, finals: frozenset[int], live: list[bool] | None = None
    ):
        self.edges = edges
        self.initial = initial
        self.finals = finals
        if live is None:
            predecessors: list[list[int]] = [[] for _ in edges]
            for src, out in enumerate(edges):
                for _, _, dst in out:
                    predecessors[dst].append(src)
            live = [bool(x) for x in _reach_back(predecessors, [int(node in finals) for node in range(len(edges))])]
        self.live = live
        self.cuts = frozenset(_cuts(edges))


#: Fragments by automaton identity (each entry keeps its automaton alive, so an id is not
#: reused while it is cached). Automata come memoised (char_automaton, the keyword-excluding
#: DFAs), so lexers for different schemas of one grammar expand each shared terminal once.
_FRAGMENTS: dict[int, tuple[Any, ByteNFA]] = {}
_FRAGMENTS_LOCK = threading.Lock()
_MAX_FRAGMENTS = 4096


def _fragment(automaton: Any) -> ByteNFA:
    if isinstance(automaton, ByteNFA):
        return automaton
    hit = _FRAGMENTS.get(id(automaton))
    if hit is not None and hit[0] is automaton:
        return hit[1]
    if isinstance(automaton, ByteDFA):
        edges: list[list[tuple[int, int, int]]] = [[] for _ in range(automaton.n_states)]
        for src, lo, hi, dst in _byte_runs(automaton):
            edges[src].append((lo, hi, dst))
        fragment = ByteNFA(edges, 0, frozenset(np.flatnonzero(automaton.final).tolist()))
    else:
        n, initial, finals, transitions = automaton
        fragment = ByteNFA(byte_nfa(n, transitions)[0], initial, frozenset(finals))
    with _FRAGMENTS_LOCK:
        if len(_FRAGMENTS) >= _MAX_FRAGMENTS:
            _FRAGMENTS.clear()
        _FRAGMENTS[id(automaton)] = (automaton, fragment)
    return fragment


def build_tagged_dfa(automata: Sequence[Any]) -> TaggedDFA:
    """The union of several automata — character automata ``(n, initial, finals, transitions)``,
    byte DFAs or byte NFAs — each accepting state tagged with the index of its automaton. No
    automaton may accept the empty string (ConstraintError)."""
    fragments = [_fragment(a) for a in automata]
    for k, f in enumerate(fragments):
        if f.initial in f.finals:
            raise ConstraintError(f"terminal #{k} matches the empty string")
    return TaggedDFA(fragments)


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


def _reach_back(predecessors: Sequence[Iterable[int]], marks: list[int]) -> list[int]:
    """Each node's mark OR-ed with the marks of every node it can reach (bitmasks pushed back
    along the predecessor lists until nothing changes)."""
    out = list(marks)
    stack = [node for node, mark in enumerate(out) if mark]
    while stack:
        node = stack.pop()
        mark = out[node]
        for p in predecessors[node]:
            if out[p] | mark != out[p]:
                out[p] |= mark
                stack.append(p)
    return out


def difference(a: ByteDFA, b: ByteDFA) -> ByteDFA:
    """The DFA of strings ``a`` accepts and ``b`` does not (ConstraintError if none)."""
    sink = b.n_states  # b's missing transitions go to a rejecting sink
    rows_b = [[*row] for row in b.rows] + [[sink] * 256]
    rows_b = [[t if t >= 0 else sink for t in row] for row in rows_b]
    final_b = [*list(b.final.tolist()), False]
    index = {(0, 0): 0}
    order = [(0, 0)]
    rows: list[list[int]] = []
    i = 0
    while i < len(order):
        sa, sb = order[i]
        row = [DEAD] * 256
        for byte, na in enumerate(a.rows[sa]):
            if na < 0:
                continue
            key = (na, rows_b[sb][byte])
            j = index.get(key)
            if j is None:
                j = index[key] = len(order)
                order.append(key)
                if len(order) > MAX_DFA_STATES:
                    raise DFATooLarge(f"the automaton would exceed {MAX_DFA_STATES} states")
            row[byte] = j
        rows.append(row)
        i += 1
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 256)
    final = np.array([bool(a.final[x]) and not final_b[y] for x, y in order], dtype=np.bool_)
    table, final = _keep_live(table, final)
    if table.shape[0] == 0:
        raise EmptyLanguageError("the constraint's language is empty: no string satisfies it")
    if table.shape[0] <= MAX_MINIMISE_STATES:
        table, final = _minimise(table, final)
    table = np.ascontiguousarray(table, dtype=np.int32)
    return ByteDFA(table=table, final=final, rows=table.tolist())


def trie_dfa(strings: Iterable[bytes]) -> ByteDFA:
    """The minimal DFA accepting exactly the given byte strings.

    Built as a trie and minimised by hash-consing suffixes bottom-up (Revuz's linear-time
    minimisation of acyclic automata): two states merge when both accept or not and their
    transitions lead to the same merged states.
    """
    strings = list(dict.fromkeys(strings))
    if not strings:
        raise ConstraintError("the list of choices is empty: give at least one string")
    children: list[dict[int, int]] = [{}]
    final: list[bool] = [False]
    for s in strings:
        node = 0
        for b in s:
            nxt = children[node].get(b)
            if nxt is None:
                nxt = len(children)
                children[node][b] = nxt
                children.append({})
                final.append(False)
            node = nxt
        final[node] = True
    # Post-order (children first), then hash-cons each state's signature.
    order, stack = [], [(0, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children[node].values())
    klass: dict[int, int] = {}
    signatures: dict[tuple, int] = {}
    reps: list[tuple[bool, tuple]] = []
    for node in order:
        sig = (final[node], tuple(sorted((b, klass[c]) for b, c in children[node].items())))
        k = signatures.get(sig)
        if k is None:
            k = signatures[sig] = len(reps)
            reps.append(sig)
        klass[node] = k
    # Renumber so that the root's class is state 0.
    root = klass[0]
    number = {root: 0}
    for k in range(len(reps)):
        if k != root:
            number[k] = len(number)
    rows = [[DEAD] * 256 for _ in reps]
    fin = np.zeros(len(reps), dtype=np.bool_)
    for k, (is_final, edges) in enumerate(reps):
        row = rows[number[k]]
        fin[number[k]] = is_final
        for b, child in edges:
            row[b] = number[child]
    return ByteDFA(table=None, final=fin, rows=rows)


# --- construction -------------------------------------------------------------------------


def byte_nfa(n_states: int, transitions: Iterable[CharTransition]):
    """Byte edges (lo, hi, target) per node; nodes past ``n_states`` are inside a character.

    Each character set is expanded as its UTF-8 trie (:func:`utf8_trie`), one node per
    distinct subtree and target, so a class like ``[^"]`` adds a few nodes and Unicode's
    ``\\w`` (817 ranges) about a hundred, not one per code point or per byte sequence.
    """
    edges: list[list[tuple[int, int, int]]] = [[] for _ in range(n_states)]
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
    return edges, len(edges)


def _cuts(edges: list[list[tuple[int, int, int]]]) -> set[int]:
    """The byte boundaries the edges draw (each range's start and one past its end)."""
    cuts: set[int] = set()
    for out in edges:
        for lo, hi, _ in out:
            cuts.add(lo)
            cuts.add(hi + 1)
    return cuts


def _byte_classes(cuts: set[int] | frozenset[int]) -> tuple[dict[int, int], int, np.ndarray]:
    """The classes the boundaries cut the bytes into: (boundary -> the class starting there,
    the number of classes, each byte's class)."""
    bounds = sorted(cuts | {0, 256})
    n = len(bounds) - 1
    return {b: k for k, b in enumerate(bounds)}, n, np.repeat(np.arange(n), np.diff(bounds))


class ByteClasses:
    """The bytes cut into classes that no edge of a byte NFA tells apart, and each node's edges
    as ``(first class, end class, target)``: subset construction then works per class, not
    per byte (``.{1,256}``: 0.34 -> 0.03 s)."""

    def __init__(self, edges: list[list[tuple[int, int, int]]]):
        first, self.n, self.of_byte = _byte_classes(_cuts(edges))
        self.byte_list = self.of_byte.tolist()
        self.edges = [[(first[lo], first[hi + 1], dst) for lo, hi, dst in out] for out in edges]


def _keep_live(table: np.ndarray, final: np.ndarray):
    """Drop states from which no accepting state is reachable; renumber with 0 first (a column
    per byte or per byte class)."""
    n = table.shape[0]
    src, byte = np.nonzero(table >= 0)
    edges = np.unique(table[src, byte].astype(np.int64) * n + src)  # (dst, src) pairs, once each
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for dst, s in zip((edges // n).tolist(), (edges % n).tolist()):
        predecessors[dst].append(s)
    live = np.array(_reach_back(predecessors, final.astype(int).tolist()), dtype=np.bool_)
    if not live[0]:
        return np.zeros((0, table.shape[1]), dtype=np.int64), np.zeros(0, dtype=np.bool_)
    keep = np.flatnonzero(live)
    renumber = np.full(n, DEAD, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    sub = table[keep]
    sub = np.where(sub >= 0, renumber[np.where(sub >= 0, sub, 0)], DEAD)
    return sub, final[keep]


def _minimise(table: np.ndarray, final: np.ndarray):
    """Moore partition refinement; state 0 stays the initial state.

    Each round groups states by (class, classes of the 256 successors). Rows are grouped by a
    64-bit hash (a product with random odd multipliers, wrapping), which keeps a round at one
    matrix-vector product; a final exact check falls back to exact row grouping in the
    astronomically unlikely case of a collision. ``table`` may have a column per byte class
    rather than per byte (any width works).
    """
    classes = _refine(table, final, _row_hash_groups)
    if not _is_consistent(table, classes):  # pragma: no cover - a 64-bit hash collision
        classes = _refine(table, final, _row_exact_groups)
    _, first = np.unique(classes, return_index=True)
    order = np.argsort(first)  # classes numbered by first appearance: the initial state's is 0
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    cls = rank[classes]
    reps = first[order]
    small = table[reps]
    small = np.where(small >= 0, cls[np.where(small >= 0, small, 0)], DEAD)
    return small, final[reps]


_MULTIPLIERS = np.random.default_rng(20250401).integers(1, 2**62, size=257, dtype=np.int64) | 1


def _signatures(table: np.ndarray, classes: np.ndarray) -> np.ndarray:
    succ = np.where(table >= 0, classes[np.where(table >= 0, table, 0)], DEAD)
    return np.concatenate([classes[:, None], succ], axis=1)


def _row_hash_groups(signature: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = (signature + 2) @ _MULTIPLIERS[: signature.shape[1]]
    return np.unique(h, return_inverse=True)[1].reshape(-1)


def _row_exact_groups(signature: np.ndarray) -> np.ndarray:
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)


def _refine(table: np.ndarray, final: np.ndarray, groups) -> np.ndarray:
    classes = np.unique(final, return_inverse=True)[1].reshape(-1).astype(np.int64)
    count = int(classes.max()) + 1 if len(classes) else 0
    while True:
        new = groups(_signatures(table, classes))
        new_count = int(new.max()) + 1 if len(new) else 0
        if new_count == count:
            return classes
        classes, count = new, new_count


def _is_consistent(table: np.ndarray, classes: np.ndarray) -> bool:
    sig = _signatures(table, classes)
    order = np.argsort(classes, kind="stable")
    same_class = classes[order][1:] == classes[order][:-1]
    same_row = (sig[order][1:] == sig[order][:-1]).all(axis=1)
    return bool((same_row | ~same_class).all())


def walk_vocabulary(dfa: ByteDFA, state: int, vocab: Vocabulary) -> np.ndarray:
    """The state after each token of ``vocab`` from ``state`` (-1 where rejected), via Numba."""
    buf, offsets = vocab.flat
    return kernels.walk_all(dfa.table, state, buf, offsets)


def intersect(a: ByteDFA, b: ByteDFA) -> ByteDFA:
    """The DFA of strings both accept (product construction, then live states, minimised).

    Raises :class:`ConstraintError` when the intersection is empty.
    """
    index = {(0, 0): 0}
    order = [(0, 0)]
    rows: list[list[int]] = []
    ta, tb = a.rows, b.rows
    i = 0
    while i < len(order):
        sa, sb = order[i]
        row = [DEAD] * 256
        ra, rb = ta[sa], tb[sb]
        for byte in range(256):
            na, nb = ra[byte], rb[byte]
            if na < 0 or nb < 0:
                continue
            key = (na, nb)
            j = index.get(key)
            if j is None:
                j = index[key] = len(order)
                order.append(key)
                if len(order) > MAX_DFA_STATES:
                    raise DFATooLarge(f"the automaton would exceed {MAX_DFA_STATES} states")
            row[byte] = j
        rows.append(row)
        i += 1
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 256)
    final = np.array([bool(a.final[x] and b.final[y]) for x, y in order], dtype=np.bool_)
    table, final = _keep_live(table, final)
    if table.shape[0] == 0:
        raise EmptyLanguageError("the constraint's language is empty: no string satisfies it")
    if table.shape[0] <= MAX_MINIMISE_STATES:
        table, final = _minimise(table, final)
    table = np.ascontiguousarray(table, dtype=np.int32)
    return ByteDFA(table=table, final=final, rows=table.tolist())
