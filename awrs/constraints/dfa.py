"""Byte-level deterministic automata and the constraint that walks them.

A :class:`ByteDFA` is built from a *character* automaton (transitions labelled with sets of
code points) by expanding each character set into UTF-8 byte-range sequences, determinising
the resulting byte automaton, keeping only live states (from which an accepting state is
reachable) and minimising. Because only live states remain, "the walk has not fallen off the
table" is exactly "some completion is accepted": the prefix check is exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from awrs.constraints import _dfa_kernels as kernels
from awrs.constraints.base import Constraint
from awrs.constraints.utf8 import utf8_sequences
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary

__all__ = [
    "ByteDFA",
    "CharTransition",
    "DFAConstraint",
    "TaggedDFA",
    "build_byte_dfa",
    "build_tagged_dfa",
    "difference",
    "intersect",
    "trie_dfa",
]

DEAD = -1
#: Determinisation stops past this many states (a bounded repeat of a wide class can blow up);
#: the regex engine then falls back to partial matching.
MAX_DFA_STATES = 4000
#: Minimisation (Moore refinement, quadratic in the worst case) is skipped above this size;
#: the expanded DFA of interegular's minimal automaton is close to minimal already.
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

    __slots__ = ("rows", "final", "_table")

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


def build_byte_dfa(n_states: int, initial: int, finals: Iterable[int], transitions: Iterable[CharTransition]) -> ByteDFA:
    """Expand a character automaton (possibly nondeterministic) to a minimal live byte DFA.

    Raises :class:`ConstraintError` when the language is empty.
    """
    edges, n_nodes = _byte_nfa(n_states, transitions)
    table, final = _determinise(edges, initial, frozenset(finals), n_nodes)
    table, final = _keep_live(table, final)
    if table.shape[0] == 0:
        raise ConstraintError("the constraint's language is empty: no string satisfies it")
    if table.shape[0] <= MAX_MINIMISE_STATES:
        table, final = _minimise(table, final)
    table = np.ascontiguousarray(table, dtype=np.int32)
    return ByteDFA(table=table, final=final, rows=table.tolist())


@dataclass(frozen=True, eq=False)
class TaggedDFA:
    """A byte DFA over several automata at once (a lexer): ``accept[s]`` is the bitmask of the
    automata that accept in state s, ``live[s]`` of those that can still accept from s."""

    table: np.ndarray
    rows: list[list[int]] = field(repr=False)
    accept: list[int] = field(repr=False)
    live: list[int] = field(repr=False)


def build_tagged_dfa(automata: Sequence[Any]) -> TaggedDFA:
    """The union of several automata — character automata ``(n, initial, finals, transitions)``
    or byte DFAs — each accepting state tagged with the index of its automaton. No automaton
    may accept the empty string (ConstraintError)."""
    offset = 1
    transitions: list[CharTransition] = []
    byte_edges: list[tuple[int, int, int]] = []  # (src, byte, dst) of byte DFAs, renumbered
    tags: dict[int, int] = {}
    for k, automaton in enumerate(automata):
        if isinstance(automaton, ByteDFA):
            n, initial, finals = automaton.n_states, 0, set(np.flatnonzero(automaton.final).tolist())
            for src, row in enumerate(automaton.rows):
                for b, dst in enumerate(row):
                    if dst >= 0:
                        byte_edges.append((src + offset, b, dst + offset))
                        if src == initial:
                            byte_edges.append((0, b, dst + offset))
        else:
            n, initial, finals, trans = automaton
            finals = set(finals)
            for src, ranges, dst in trans:
                transitions.append((src + offset, ranges, dst + offset))
                if src == initial:
                    transitions.append((0, ranges, dst + offset))  # the shared start state
        if initial in finals:
            raise ConstraintError(f"terminal #{k} matches the empty string")
        for f in finals:
            tags[f + offset] = tags.get(f + offset, 0) | (1 << k)
        offset += n
    edges, n_nodes = _byte_nfa(offset, transitions)
    for src, b, dst in byte_edges:
        edges[src].append((b, b, dst))
    index = {frozenset([0]): 0}
    order = [frozenset([0])]
    rows: list[list[int]] = []
    i = 0
    while i < len(order):
        targets: dict[int, set[int]] = {}
        for node in order[i]:
            for lo, hi, dst in edges[node]:
                for b in range(lo, hi + 1):
                    targets.setdefault(b, set()).add(dst)
        row = [DEAD] * 256
        for b, dsts in targets.items():
            key = frozenset(dsts)
            j = index.get(key)
            if j is None:
                j = index[key] = len(order)
                order.append(key)
                if len(order) > MAX_DFA_STATES:
                    raise DFATooLarge(f"the lexer would exceed {MAX_DFA_STATES} states")
            row[b] = j
        rows.append(row)
        i += 1
    accept = [0] * len(order)
    for j, subset in enumerate(order):
        for node in subset:
            accept[j] |= tags.get(node, 0)
    live = accept[:]
    changed = True
    while changed:  # a state can reach what its successors can
        changed = False
        for j, row in enumerate(rows):
            reach = live[j]
            for t in set(row):
                if t >= 0:
                    reach |= live[t]
            if reach != live[j]:
                live[j] = reach
                changed = True
    rows = [[t if t >= 0 and live[t] else DEAD for t in row] for row in rows]
    table = np.array(rows, dtype=np.int32).reshape(len(rows), 256)
    return TaggedDFA(table=table, rows=rows, accept=accept, live=live)


def difference(a: ByteDFA, b: ByteDFA) -> ByteDFA:
    """The DFA of strings ``a`` accepts and ``b`` does not (ConstraintError if none)."""
    sink = b.n_states  # b's missing transitions go to a rejecting sink
    rows_b = [row + [] for row in b.rows] + [[sink] * 256]
    rows_b = [[t if t >= 0 else sink for t in row] for row in rows_b]
    final_b = list(b.final.tolist()) + [False]
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
        raise ConstraintError("the constraint's language is empty: no string satisfies it")
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


def _byte_nfa(n_states: int, transitions: Iterable[CharTransition]):
    """Byte edges (lo, hi, target) per node; nodes past ``n_states`` are inside a character.

    Chains for the same target and the same remaining byte ranges are shared, so a class like
    ``[^"]`` adds a few dozen nodes, not one per code point.
    """
    edges: list[list[tuple[int, int, int]]] = [[] for _ in range(n_states)]
    chain: dict[tuple[int, tuple[tuple[int, int], ...]], int] = {}

    def node_for(target: int, rest: tuple[tuple[int, int], ...]) -> int:
        if not rest:
            return target
        key = (target, rest)
        node = chain.get(key)
        if node is None:
            node = len(edges)
            edges.append([])
            chain[key] = node
            edges[node].append((rest[0][0], rest[0][1], node_for(target, rest[1:])))
        return node

    sequences: dict[tuple[tuple[int, int], ...], list[list[tuple[int, int]]]] = {}
    for src, ranges, dst in transitions:
        key = tuple(ranges)
        seqs = sequences.get(key)
        if seqs is None:
            seqs = sequences[key] = [seq for lo, hi in ranges for seq in utf8_sequences(lo, hi)]
        for seq in seqs:
            first, rest = seq[0], tuple(seq[1:])
            edges[src].append((first[0], first[1], node_for(dst, rest)))
    return edges, len(edges)


def _determinise(edges, initial: int, finals: frozenset[int], n_nodes: int):
    start = frozenset([initial])
    index = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    i = 0
    while i < len(order):
        subset = order[i]
        targets: dict[int, set[int]] = {}
        for node in subset:
            for lo, hi, dst in edges[node]:
                for b in range(lo, hi + 1):
                    targets.setdefault(b, set()).add(dst)
        row = [DEAD] * 256
        for b, dsts in targets.items():
            key = frozenset(dsts)
            j = index.get(key)
            if j is None:
                j = index[key] = len(order)
                order.append(key)
                if len(order) > MAX_DFA_STATES:
                    raise DFATooLarge(f"the automaton would exceed {MAX_DFA_STATES} states")
            row[b] = j
        rows.append(row)
        i += 1
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 256)
    final = np.array([bool(s & finals) for s in order], dtype=np.bool_)
    return table, final


def _keep_live(table: np.ndarray, final: np.ndarray):
    """Drop states from which no accepting state is reachable; renumber with 0 first."""
    n = table.shape[0]
    live = final.copy()
    changed = True
    while changed:  # backward reachability by fixed point (vectorised over states)
        reach = np.zeros(n, dtype=np.bool_)
        valid = table >= 0
        reach |= (valid & live[np.where(valid, table, 0)]).any(axis=1)
        new = live | reach
        changed = bool((new != live).any())
        live = new
    if not live[0]:
        return np.zeros((0, 256), dtype=np.int64), np.zeros(0, dtype=np.bool_)
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
    astronomically unlikely case of a collision.
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
        h = (signature + 2) @ _MULTIPLIERS
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


# --- the constraint -------------------------------------------------------------------------


class DFAConstraint(Constraint):
    """A constraint whose states are the integer states of a :class:`ByteDFA`."""

    def __init__(self, dfa: ByteDFA):
        self._dfa = dfa
        self._allowed = (dfa.table >= 0).any(axis=0)

    @property
    def dfa(self) -> ByteDFA:
        return self._dfa

    def initial(self) -> int:
        return 0

    def advance(self, state: int, data: bytes) -> int | None:
        rows = self._dfa.rows
        for b in data:
            state = rows[state][b]
            if state < 0:
                return None
        return state

    def is_complete(self, state: int) -> bool:
        return bool(self._dfa.final[state])

    def mask(self, state: int, vocab: Vocabulary) -> np.ndarray:
        return (walk_vocabulary(self._dfa, state, vocab) >= 0) & vocab.text_mask

    def allowed_bytes(self) -> np.ndarray:
        return self._allowed


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
        raise ConstraintError("the constraint's language is empty: no string satisfies it")
    if table.shape[0] <= MAX_MINIMISE_STATES:
        table, final = _minimise(table, final)
    table = np.ascontiguousarray(table, dtype=np.int32)
    return ByteDFA(table=table, final=final, rows=table.tolist())
