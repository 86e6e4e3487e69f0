"""Character automata to byte DFAs: determinise and minimise over code points, then expand.

A character automaton's transitions carry sets of code points; Unicode classes carry hundreds
of ranges (``\\w`` has 817). Expanding them into UTF-8 byte sequences *before* determinising
multiplies the subset construction's work by the size of each class's byte trie; here the
automaton is determinised and minimised over code points first, with every set represented
as a bitmask over the *code point classes* its ranges cut the code space into (Python ints:
unions and intersections of hundreds of ranges are single operations). Each state's outgoing
sets are then disjoint, so expanding them into one UTF-8 trie per state gives a deterministic
byte automaton directly; equal subtries are made once, so states that end characters the same
way share them. The result is the minimal byte DFA of the language, with only live states.

:func:`byte_table` is what :func:`awrs.automata.dfa.build_byte_dfa` runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from awrs.automata.utf8 import utf8_sequences
from awrs.errors import ConstraintError, EmptyLanguageError

__all__ = ["DEAD", "CharAutomaton", "CharTransition", "DFATooLarge", "byte_table", "utf8_trie"]

#: A missing transition: no string continues that way.
DEAD = -1
#: A character automaton's transition: (source state, inclusive code point ranges, target state).
CharTransition = tuple[int, Sequence[tuple[int, int]], int]
#: A character automaton, as ``build_byte_dfa`` takes it: (number of states, initial state,
#: final states, transitions).
CharAutomaton = tuple[int, int, tuple[int, ...], tuple[CharTransition, ...]]
#: Per state, its (mask of code point classes, target state) edges.
_Edges = list[list[tuple[int, int]]]


class DFATooLarge(ConstraintError):
    """The automaton would exceed its state budget (``max_states``; for a byte DFA
    :data:`awrs.automata.dfa.MAX_DFA_STATES` unless given)."""


def byte_table(
    n_states: int,
    initial: int,
    finals: Iterable[int],
    transitions: Iterable[CharTransition],
    max_states: int,
) -> tuple[np.ndarray, list[bool]]:
    """The minimal byte DFA of a character automaton (possibly nondeterministic, epsilon-free):
    its table (``table[s, b]``: next state or -1; state 0 initial; int32) and accepting states,
    every state live. Raises :class:`EmptyLanguageError` and :class:`DFATooLarge` (past
    ``max_states`` byte or character states)."""
    transitions = list(transitions)
    space = _CodeSpace(transitions)
    out: list[list[tuple[int, int]]] = [[] for _ in range(n_states)]
    for src, ranges, dst in transitions:
        mask = space.mask(ranges)
        if mask:
            out[src].append((mask, dst))
    dfa_out, dfa_final = _determinise(out, initial, frozenset(finals), max_states)
    dfa_out, dfa_final = _live(dfa_out, dfa_final)
    dfa_out, dfa_final = _minimise(dfa_out, dfa_final)
    return _expand(dfa_out, dfa_final, space, max_states)


class _CodeSpace:
    """The code points cut into classes at every boundary of the automaton's ranges; a set of
    code points is an int whose bit k stands for class k."""

    def __init__(self, transitions: Sequence[CharTransition]) -> None:
        cuts = {0}
        for _, ranges, _ in transitions:
            for lo, hi in ranges:
                cuts.add(lo)
                cuts.add(hi + 1)
        self.bounds = sorted(cuts)
        self._index = {b: k for k, b in enumerate(self.bounds)}
        self._masks: dict[tuple, int] = {}

    def mask(self, ranges) -> int:
        key = tuple(ranges)
        found = self._masks.get(key)
        if found is None:
            found = 0
            index = self._index
            for lo, hi in key:
                a, b = index[lo], index[hi + 1]
                found |= ((1 << (b - a)) - 1) << a
            self._masks[key] = found
        return found

    def ranges(self, mask: int) -> tuple[tuple[int, int], ...]:
        """The code point ranges of a mask (each run of set bits is one range)."""
        out = []
        bounds = self.bounds
        while mask:
            low = (mask & -mask).bit_length() - 1
            run = mask >> low
            length = (~run & (run + 1)).bit_length() - 1  # the run of ones starting at `low`
            out.append((bounds[low], bounds[low + length] - 1))
            mask &= ~(((1 << length) - 1) << low)
        return tuple(out)


def _determinise(out: _Edges, initial: int, finals: frozenset[int], max_states: int) -> tuple[_Edges, list[bool]]:
    """Subset construction over code point classes: per DFA state, ``(mask, target)`` pairs
    with disjoint masks."""
    start = frozenset([initial])
    index = {start: 0}
    order = [start]
    dfa_out: list[list[tuple[int, int]]] = []
    i = 0
    while i < len(order):
        per_target: dict[int, int] = {}  # target state -> mask of the classes leading there
        for mask, targets in _partition(order[i], out):
            j = index.get(targets)
            if j is None:
                j = index[targets] = len(order)
                order.append(targets)
                if len(order) > max_states:
                    raise DFATooLarge(f"the automaton would exceed {max_states} states")
            per_target[j] = per_target.get(j, 0) | mask
        dfa_out.append([(mask, j) for j, mask in per_target.items()])
        i += 1
    return dfa_out, [not finals.isdisjoint(s) for s in order]


def _partition(subset: frozenset[int], out: _Edges) -> list[tuple[int, frozenset[int]]]:
    """The classes the subset's transitions cut: ``(mask, target states)`` blocks, disjoint.
    Targets reached on the same code points are refined as one group (a counted repeat's
    subsets hold hundreds of states that all move on the same character)."""
    groups: dict[int, list[int]] = {}  # mask -> the targets reached on it
    for s in subset:
        for mask, dst in out[s]:
            groups.setdefault(mask, []).append(dst)
    blocks: list[tuple[int, tuple[int, ...]]] = []  # (mask, masks of the groups it is in)
    for m in groups:
        refined = []
        rest = m
        for bm, keys in blocks:
            both = bm & m
            if both:
                refined.append((both, (*keys, m)))
                if bm & ~m:
                    refined.append((bm & ~m, keys))
                rest &= ~bm
            else:
                refined.append((bm, keys))
        if rest:
            refined.append((rest, (m,)))
        blocks = refined
    return [(bm, frozenset(dst for key in keys for dst in groups[key])) for bm, keys in blocks]


def _live(dfa_out: _Edges, final: list[bool]) -> tuple[_Edges, list[bool]]:
    """Only the states from which an accepting state is reachable (state 0 first)."""
    n = len(dfa_out)
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for s, edges in enumerate(dfa_out):
        for _, t in edges:
            predecessors[t].append(s)
    live = [bool(f) for f in final]
    stack = [s for s in range(n) if live[s]]
    while stack:
        for p in predecessors[stack.pop()]:
            if not live[p]:
                live[p] = True
                stack.append(p)
    if not live[0]:
        raise EmptyLanguageError("the constraint's language is empty: no string satisfies it")
    number: dict[int, int] = {}  # live state -> its new number
    for s in range(n):
        if live[s]:
            number[s] = len(number)
    kept_out = [[(m, number[t]) for m, t in dfa_out[s] if live[t]] for s in number]
    return kept_out, [final[s] for s in number]


def _minimise(dfa_out: _Edges, final: list[bool]) -> tuple[_Edges, list[bool]]:
    """Hopcroft's partition refinement over sets of code points: a block splits by the code
    points on which its states enter a splitter block; all parts but the largest become
    splitters (O(m log n) for m transitions). Each resulting class is numbered by its first
    state, so state 0 stays first."""
    n = len(dfa_out)
    predecessors: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for p, edges in enumerate(dfa_out):
        for mask, t in edges:
            predecessors[t].append((p, mask))
    blocks: list[set[int]] = [b for b in ({s for s in range(n) if final[s]}, {s for s in range(n) if not final[s]}) if b]
    block_of = [0] * n
    for k, members in enumerate(blocks):
        for s in members:
            block_of[s] = k
    pending = set(range(len(blocks)))
    while pending:
        splitter = list(blocks[pending.pop()])
        entering: dict[int, int] = {}  # state -> the code points on which it enters the splitter
        for t in splitter:
            for p, mask in predecessors[t]:
                entering[p] = entering.get(p, 0) | mask
        by_block: dict[int, dict[int, list[int]]] = {}
        for p, mask in entering.items():
            by_block.setdefault(block_of[p], {}).setdefault(mask, []).append(p)
        for b, groups in by_block.items():
            pending.update(_split(blocks, block_of, b, groups.values()))
    return _quotient(dfa_out, final, block_of)


def _split(blocks: list[set[int]], block_of: list[int], b: int, groups) -> list[int]:
    """Split block ``b`` into the ``groups`` of its states (those that enter the splitter on
    the same code points) and the rest; the largest part keeps the block's number. The numbers
    of the new blocks."""
    parts = [set(g) for g in groups]
    rest = blocks[b].difference(*parts)
    if rest:
        parts.append(rest)
    if len(parts) == 1:
        return []
    parts.sort(key=len, reverse=True)
    blocks[b] = parts[0]
    new = []
    for part in parts[1:]:
        k = len(blocks)
        blocks.append(part)
        for s in part:
            block_of[s] = k
        new.append(k)
    return new


def _quotient(dfa_out: _Edges, final: list[bool], block_of: list[int]) -> tuple[_Edges, list[bool]]:
    """The automaton of the blocks, each numbered by its first state (dicts keep insertion
    order), its edges joined per target block."""
    first: dict[int, int] = {}
    for s in range(len(dfa_out)):
        first.setdefault(block_of[s], s)
    number = {c: k for k, c in enumerate(first)}
    reps = list(first.values())
    renumbered = [number[c] for c in block_of]
    return [[(mask, t) for t, mask in _by_class(dfa_out[s], renumbered)] for s in reps], [final[s] for s in reps]


def _by_class(edges, classes) -> tuple[tuple[int, int], ...]:
    """``(class of target, mask)`` pairs, the masks of targets of one class joined."""
    joined: dict[int, int] = {}
    for mask, t in edges:
        c = classes[t]
        joined[c] = joined.get(c, 0) | mask
    return tuple(sorted(joined.items()))


def _expand(dfa_out: _Edges, final: list[bool], space: _CodeSpace, max_states: int) -> tuple[np.ndarray, list[bool]]:
    """The byte table: each character state's outgoing sets as one UTF-8 trie whose leaves are
    character states; equal subtries (interned) are one byte state, numbered after the
    character states in the order rows first reach them."""
    interned: dict[tuple, tuple] = {}
    labelled: dict[tuple[int, int], tuple] = {}
    order: list[tuple] = []
    for edges in dfa_out:
        top: tuple = ()
        for mask, t in edges:
            top = _merge(top, _labelled(utf8_trie(space.ranges(mask)), t, interned, labelled), interned)
        order.append(top)
    number: dict[int, int] = {}  # id(subtrie) -> its byte state
    runs: list[tuple[int, int, int, int]] = []  # (state, first byte, last byte, next state)
    for state, trie in enumerate(order):  # grows while rows reach new subtries
        for lo, hi, child in trie:
            target: int | None
            if isinstance(child, int):
                target = child
            else:
                target = number.get(id(child))
                if target is None:
                    if len(order) >= max_states:
                        raise DFATooLarge(f"the automaton would exceed {max_states} states")
                    target = number[id(child)] = len(order)
                    order.append(child)
            runs.append((state, lo, hi, target))
    return _table(len(order), runs), list(final) + [False] * (len(order) - len(final))


def _table(n: int, runs: list[tuple[int, int, int, int]]) -> np.ndarray:
    """An (n, 256) int32 table, -1 but where the runs say (filled in one vectorised pass)."""
    table = np.full((n, 256), DEAD, dtype=np.int32)
    if runs:
        state, lo, hi, target = np.array(runs, dtype=np.int64).T
        lengths = hi - lo + 1
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        byte = np.arange(int(lengths.sum())) - starts + np.repeat(lo, lengths)
        table[np.repeat(state, lengths), byte] = np.repeat(target, lengths)
    return table


def _labelled(trie: tuple, target: int, interned: dict, memo: dict) -> tuple:
    """``trie`` (unlabelled, from :func:`utf8_trie`) with its leaves leading to ``target``
    (each shared subtrie relabelled once per target: ``memo``)."""
    key = (id(trie), target)  # unlabelled tries are interned and held by their cache
    found = memo.get(key)
    if found is None:
        items = tuple((lo, hi, target if child is None else _labelled(child, target, interned, memo)) for lo, hi, child in trie)
        found = memo[key] = interned.setdefault(items, items)
    return found


def _merge(a: tuple, b: tuple, interned: dict) -> tuple:
    """The union of two labelled tries of disjoint sets of characters (their ranges at each
    level are equal or disjoint; equal ones lead on to subtries, which merge), with adjacent
    ranges leading to the same child joined."""
    if not a:
        return b
    merged: list[tuple[int, int, Any]] = []  # (lo, hi, a subtrie or a target state)
    for lo, hi, child in sorted(a + b, key=lambda item: item[0]):
        if merged and merged[-1][0] == lo:  # the same lead range in both: one subtrie each
            merged[-1] = (lo, hi, _merge(merged[-1][2], child, interned))
        else:
            merged.append((lo, hi, child))
    joined: list[tuple[int, int, object]] = []
    for lo, hi, child in merged:
        if joined and joined[-1][1] + 1 == lo and joined[-1][2] is child:
            joined[-1] = (joined[-1][0], hi, child)
        else:
            joined.append((lo, hi, child))
    items = tuple(joined)
    return interned.setdefault(items, items)


@functools.lru_cache(maxsize=4096)
def utf8_trie(ranges: tuple[tuple[int, int], ...]) -> tuple:
    """The UTF-8 encodings of a set of code points as a trie of byte ranges: a tuple of
    ``(lo, hi, child)``, ``child`` None where a character ends. Ranges at one level are
    disjoint (the sequences of :func:`utf8_sequences` agree on their leading ranges or are
    disjoint there, for any disjoint sets), and equal subtrees are one object. Memoised."""
    sequences = [seq for lo, hi in ranges for seq in utf8_sequences(lo, hi)]
    return _trie(sequences, {})


def _trie(sequences: list[list[tuple[int, int]]], interned: dict[tuple, tuple]) -> tuple:
    groups: dict[tuple[int, int], list[list[tuple[int, int]]]] = {}
    for seq in sequences:
        groups.setdefault(seq[0], []).append(seq[1:])
    items = []
    for (lo, hi), rests in sorted(groups.items()):
        items.append((lo, hi, _trie(rests, interned) if rests[0] else None))  # one lead, one length
    trie = tuple(items)
    return interned.setdefault(trie, trie)
