"""An Earley recogniser over terminal ids with immutable, shareable charts.

A :class:`Chart` is the list of Earley columns for the terminals read so far. Scanning a
terminal returns a new chart (the old one is untouched, so particles share prefixes) and is
memoised on the chart, so every hypothesis and every particle that reads the same terminal
from the same chart gets the same object. Nullable nonterminals are handled by advancing over
them at prediction time (Aycock and Horspool), and unproductive rules are removed beforehand,
so every item in a column can still be completed: a non-empty column means a viable prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chart", "Rules"]

Item = tuple  # (rule index, dot, origin column)


@dataclass(frozen=True, eq=False)
class Rules:
    """A context-free grammar with symbols as ints: terminals are ``0..n_terminals-1`` and
    nonterminals are encoded as ``-1 - nt``. ``rules[r] = (lhs nt, rhs symbols)``."""

    rules: tuple[tuple[int, tuple[int, ...]], ...]
    start: int
    n_terminals: int
    n_nonterminals: int

    def __post_init__(self) -> None:
        by_lhs: list[list[int]] = [[] for _ in range(self.n_nonterminals)]
        for r, (lhs, _) in enumerate(self.rules):
            by_lhs[lhs].append(r)
        object.__setattr__(self, "by_lhs", tuple(tuple(x) for x in by_lhs))
        object.__setattr__(self, "nullable", _nullable(self))


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


class Column:
    """The items at one position, indexed by what they wait for."""

    __slots__ = ("items", "by_nt", "by_t", "expected", "accepting")

    def __init__(self, g: Rules, seeds: Sequence[Item], k: int, chart: Sequence[Column]):
        items: set[Item] = set()
        by_nt: dict[int, list[Item]] = {}
        by_t: dict[int, list[Item]] = {}
        agenda = list(seeds)
        rules, by_lhs, nullable = g.rules, g.by_lhs, g.nullable
        while agenda:
            item = agenda.pop()
            if item in items:
                continue
            items.add(item)
            r, dot, origin = item
            lhs, rhs = rules[r]
            if dot == len(rhs):  # complete: advance the items waiting for lhs at origin
                waiting = by_nt.get(lhs, ()) if origin == k else chart[origin].by_nt.get(lhs, ())
                agenda.extend((r2, d2 + 1, o2) for r2, d2, o2 in waiting)
                continue
            sym = rhs[dot]
            if sym >= 0:
                by_t.setdefault(sym, []).append(item)
                continue
            nt = -1 - sym
            by_nt.setdefault(nt, []).append(item)
            agenda.extend((r2, 0, k) for r2 in by_lhs[nt])
            if nt in nullable:
                agenda.append((r, dot + 1, origin))
        self.items = items
        self.by_nt = by_nt
        self.by_t = by_t
        mask = 0
        for t in by_t:
            mask |= 1 << t
        self.expected = mask
        self.accepting = any(origin == 0 and dot == len(rules[r][1]) and rules[r][0] == g.start for r, dot, origin in items)


class Chart:
    """Earley columns 0..k for the terminals read so far; immutable, with memoised scans."""

    __slots__ = ("grammar", "columns", "_next")

    def __init__(self, grammar: Rules, columns: tuple[Column, ...]):
        self.grammar = grammar
        self.columns = columns
        self._next: dict[int, Chart | None] = {}

    @classmethod
    def initial(cls, grammar: Rules) -> Chart:
        seeds = [(r, 0, 0) for r in grammar.by_lhs[grammar.start]]
        return cls(grammar, (Column(grammar, seeds, 0, ()),))

    @property
    def expected(self) -> int:
        """Bitmask of the terminals that may come next."""
        return self.columns[-1].expected

    @property
    def accepting(self) -> bool:
        """The terminals read so far form a sentence of the grammar."""
        return self.columns[-1].accepting

    def scan(self, terminal: int) -> Chart | None:
        """The chart after one more terminal, or None if the grammar does not allow it here."""
        if terminal in self._next:
            return self._next[terminal]
        last = self.columns[-1]
        waiting = last.by_t.get(terminal)
        result = None
        if waiting:
            k = len(self.columns)
            col = Column(self.grammar, [(r, d + 1, o) for r, d, o in waiting], k, self.columns)
            result = Chart(self.grammar, self.columns + (col,))
        self._next[terminal] = result
        return result
