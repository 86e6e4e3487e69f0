"""An Earley recogniser over terminal ids with immutable, shareable charts.

A :class:`Chart` is the last Earley column of the terminals read so far: its items name the
columns they started in (the *origin* column objects themselves), so a chart needs no list of
earlier columns, and scanning a terminal makes one new column — memory grows with the text,
not with its square. Charts are immutable (particles share prefixes) and **hash-consed**: two
columns with the same items still waiting for something, over the same origin columns, are one
object, so tokenisations of the text that lead to the same parser state (``(A | B)+`` with
``A`` and ``B`` matching the same text, a lexer that can cut a word anywhere) are one
hypothesis, not exponentially many. Scans are memoised on the chart by weak reference: a chart
reached again while something holds it is not recomputed, and charts nothing holds are freed,
however long a :class:`~awrs.constraints.grammar.Grammar` lives (a Grammar holds the columns
its scans made last, a bounded number: :data:`awrs.constraints.grammar.RECENT_COLUMNS`).

Nullable nonterminals are handled by advancing over them at prediction time (Aycock and
Horspool), and unproductive rules are removed beforehand, so every item in a column can still
be completed: a non-empty column means a viable prefix.
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Chart", "Rules"]

Item = tuple  # (rule index, dot, origin column, or SELF for the column that holds the item)

#: An item's origin when it is the column that holds it (so no column refers to itself, and
#: columns are freed by reference counting alone).
SELF = None


@dataclass(frozen=True, eq=False)
class Rules:
    """A context-free grammar with symbols as ints: terminals are ``0..n_terminals-1`` and
    nonterminals are encoded as ``-1 - nt``. ``rules[r] = (lhs nt, rhs symbols)``."""

    rules: tuple[tuple[int, tuple[int, ...]], ...]
    start: int
    n_terminals: int
    n_nonterminals: int
    # Derived in __post_init__:
    by_lhs: tuple[tuple[int, ...], ...] = field(init=False, repr=False)  # nonterminal -> its rules
    nullable: frozenset[int] = field(init=False, repr=False)
    columns: weakref.WeakValueDictionary[tuple[bool, bool, frozenset[Item]], Chart] = field(init=False, repr=False)
    lock: threading.Lock = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_lhs: list[list[int]] = [[] for _ in range(self.n_nonterminals)]
        for r, (lhs, _) in enumerate(self.rules):
            by_lhs[lhs].append(r)
        object.__setattr__(self, "by_lhs", tuple(tuple(x) for x in by_lhs))
        object.__setattr__(self, "nullable", _nullable(self))
        # The hash-consing table of the columns made so far and still held somewhere.
        object.__setattr__(self, "columns", weakref.WeakValueDictionary())
        object.__setattr__(self, "lock", threading.Lock())


def _nullable(g: Rules) -> frozenset[int]:
    nullable: set[int] = set()
    changed = True
    while changed:
        changed = False
        for lhs, rhs in g.rules:
            if lhs not in nullable and all(s < 0 and (-1 - s) in nullable for s in rhs):
                nullable.add(lhs)
                changed = True
    return frozenset(nullable)


class Chart:
    """An Earley column: the items at one position, indexed by what they wait for, standing for
    the whole chart of the terminals read so far. Immutable; made by :meth:`initial` and
    :meth:`scan` only (hash-consed)."""

    __slots__ = ("__weakref__", "_next", "accepting", "by_nt", "by_t", "expected", "grammar", "is_start")

    def __init__(self, grammar: Rules, by_nt: dict, by_t: dict, accepting: bool, is_start: bool):
        self.grammar = grammar
        self.by_nt = by_nt
        self.by_t = by_t
        mask = 0
        for t in by_t:
            mask |= 1 << t
        #: Bitmask of the terminals that may come next.
        self.expected = mask
        #: The terminals read so far form a sentence of the grammar.
        self.accepting = accepting
        self.is_start = is_start
        #: terminal -> weak reference to the chart after it, or _FAILS; other keys are the
        #: caller's (the Grammar keeps its allowed-lexeme mask under -1).
        self._next: dict = {}

    @classmethod
    def initial(cls, grammar: Rules) -> Chart:
        return _column(grammar, [(r, 0, SELF) for r in grammar.by_lhs[grammar.start]], True)

    def scan(self, terminal: int, made: deque[Chart] | None = None) -> Chart | None:
        """The chart after one more terminal, or None if the grammar does not allow it here;
        a column made here (neither memoised nor hash-consed) is also appended to ``made``."""
        hit = self._next.get(terminal)
        if hit is not None:
            if hit is _FAILS:
                return None
            chart = hit()
            if chart is not None:
                return chart
        waiting = self.by_t.get(terminal)
        if not waiting:
            self._next[terminal] = _FAILS
            return None
        chart = _column(self.grammar, [(r, d + 1, self if o is SELF else o) for r, d, o in waiting], False, made)
        self._next[terminal] = weakref.ref(chart)
        return chart


_FAILS = object()


def _column(g: Rules, seeds: Sequence[Item], is_start: bool, made: deque[Chart] | None = None) -> Chart:
    """The column grown from ``seeds`` by prediction and completion, hash-consed on the items
    that still wait for something (completed items have done all their work); appended to
    ``made`` when it is a new one."""
    items: set[Item] = set()
    by_nt: dict[int, list[Item]] = {}
    by_t: dict[int, list[Item]] = {}
    agenda = list(seeds)
    rules, by_lhs, nullable = g.rules, g.by_lhs, g.nullable
    accepting = False
    while agenda:
        item = agenda.pop()
        if item in items:
            continue
        items.add(item)
        r, dot, origin = item
        lhs, rhs = rules[r]
        if dot == len(rhs):  # complete: advance the items waiting for lhs at origin
            if origin is SELF:
                agenda.extend((r2, d2 + 1, o2) for r2, d2, o2 in by_nt.get(lhs, ()))
                accepting = accepting or (is_start and lhs == g.start)
            else:
                agenda.extend((r2, d2 + 1, origin if o2 is SELF else o2) for r2, d2, o2 in origin.by_nt.get(lhs, ()))
                accepting = accepting or (origin.is_start and lhs == g.start)
            continue
        sym = rhs[dot]
        if sym >= 0:
            by_t.setdefault(sym, []).append(item)
            continue
        nt = -1 - sym
        by_nt.setdefault(nt, []).append(item)
        agenda.extend((r2, 0, SELF) for r2 in by_lhs[nt])
        if nt in nullable:
            agenda.append((r, dot + 1, origin))
    key = (is_start, accepting, frozenset(i for waiting in (by_nt, by_t) for items_ in waiting.values() for i in items_))
    with g.lock:
        found = g.columns.get(key)
        if found is None:
            found = Chart(g, by_nt, by_t, accepting, is_start)
            g.columns[key] = found
            if made is not None:
                made.append(found)
    return found
