"""Character automata for regex syntax trees (:mod:`awrs.constraints.regex_syntax`).

:func:`read` gives a :class:`Reading`: ``(n_states, initial, finals, transitions)`` over code
points, ready for :func:`awrs.constraints.dfa.build_byte_dfa`, and the approximations made.
Two uses follow:

- **exact** (no approximation): the automaton's language is the pattern's full-match language,
  and :mod:`awrs.constraints.regex` expands it to a byte DFA (the DFA engine);
- **envelope** (some approximation): the automaton accepts every full match of the pattern and
  possibly more. A pattern checked by partial matching uses the envelope's byte DFA to refuse,
  without calling the regex module, every text the envelope refuses — which is sound — and the
  sampler prunes, from each state, every token the envelope refuses (exactly, with its mass).

The construction is Thompson's (a fragment per tree node, bounded repeats and references
copied), then epsilon removal; the byte DFA builder determinises and minimises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from awrs.constraints.regex_syntax import Parsed, Ranges, UnsupportedSyntax, merge, parse

__all__ = ["MAX_NFA_STATES", "MAX_REF_DEPTH", "MAX_REPEAT", "Reading", "read"]

#: Bounded repeats copy their operand; past this many copies the bound is dropped (an
#: approximation), so ``(?:\\S+\\s+){0,999}`` stays small.
MAX_REPEAT = 256
#: The Thompson automaton is refused past this many states (copies of copies blow up).
MAX_NFA_STATES = 20_000


@dataclass
class Reading:
    """An automaton for a pattern: ``(n_states, initial, finals, transitions)`` with
    transitions ``(src, ranges, dst)`` over code points, ready for ``build_byte_dfa``.
    ``approximations`` lists what made it a superset; empty means exact."""

    automaton: tuple
    approximations: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.approximations


#: References (back-references and calls) are copied as their groups this many levels deep;
#: deeper ones match any string of their group's characters (copies of copies blow up: a
#: recursive JSON pattern's envelope had 2,500 states at depth 8).
MAX_REF_DEPTH = 2


def read(pattern: str, *, unicode: bool = False, max_repeat: int = MAX_REPEAT, max_ref_depth: int = MAX_REF_DEPTH) -> Reading:
    r"""The automaton of ``pattern`` (already known to compile with the ``regex`` module).

    ``unicode`` is the matching mode (see :func:`~awrs.constraints.regex_syntax.parse`).
    ``max_repeat`` is the repeat bound past which repeats are unbounded and ``max_ref_depth``
    how deep references are copied (lower values give coarser envelopes, smaller to build;
    neither changes a reading that is exact, which has no references). Raises
    :class:`UnsupportedSyntax` for syntax outside the module docstring's list or an
    automaton past :data:`MAX_NFA_STATES` states.
    """
    parsed = parse(pattern, unicode=unicode)
    builder = _Builder(parsed, max_repeat, max_ref_depth)
    automaton = builder.automaton()
    return Reading(automaton, sorted(set(parsed.notes) | set(builder.notes)))


# --- Thompson construction, then epsilon removal ------------------------------------------


class _Builder:
    def __init__(self, parsed: Parsed, max_repeat: int, max_ref_depth: int):
        self.groups = parsed.groups
        self.names = parsed.names
        self.root = parsed.tree
        self.max_repeat = max_repeat
        self.max_ref_depth = max_ref_depth
        self.ref_depth = 0
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[Ranges, int]]] = []
        self.expanding: list[int] = []
        self.notes: list[str] = []

    def state(self) -> int:
        if len(self.eps) >= MAX_NFA_STATES:
            raise UnsupportedSyntax(f"the automaton would exceed {MAX_NFA_STATES} states")
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def automaton(self):
        start, end = self.build(("cap", 0, self.root))
        return _remove_epsilons(self.eps, self.edges, start, end)

    def build(self, node) -> tuple[int, int]:
        kind = node[0]
        if kind == "set":
            s, e = self.state(), self.state()
            if node[1]:
                self.edges[s].append((node[1], e))
            return s, e
        if kind in ("empty", "anchor", "look"):
            s = self.state()
            return s, s
        if kind == "seq":
            start, end = self.build(node[1][0])
            for item in node[1][1:]:
                s, e = self.build(item)
                self.eps[end].append(s)
                end = e
            return start, end
        if kind == "alt":
            s, e = self.state(), self.state()
            for branch in node[1]:
                bs, be = self.build(branch)
                self.eps[s].append(bs)
                self.eps[be].append(e)
            return s, e
        if kind == "rep":
            return self.repeat(node[1], node[2], node[3])
        if kind == "cap":
            self.expanding.append(node[1])
            try:
                return self.build(node[2])
            finally:
                self.expanding.pop()
        if kind == "ref":
            return self.reference(node[1])
        raise AssertionError(f"unknown node {kind}")

    def repeat(self, operand, lo: int, hi: int | None) -> tuple[int, int]:
        cap = self.max_repeat
        if lo > cap or (hi is not None and hi > cap):
            self.notes.append(f"a repeat bound above {cap}")
            lo, hi = min(lo, cap), None
        start = end = self.state()
        for _ in range(lo):
            s, e = self.build(operand)
            self.eps[end].append(s)
            end = e
        if hi is None:  # one more copy in a loop, with a fresh exit (never jump into a copy)
            s, e = self.build(operand)
            exit_ = self.state()
            self.eps[end] += [s, exit_]
            self.eps[e] += [s, exit_]
            return start, exit_
        exit_ = self.state()
        for _ in range(hi - lo):
            self.eps[end].append(exit_)
            s, e = self.build(operand)
            self.eps[end].append(s)
            end = e
        self.eps[end].append(exit_)
        return start, exit_

    def reference(self, target) -> tuple[int, int]:
        index = self.index(target)
        if index in self.expanding:
            self.notes.append("recursion")
        if index in self.expanding or self.ref_depth >= self.max_ref_depth:
            # Any string of the characters the group can ever match (through its own references too).
            return self.build(("rep", ("set", merge(self.alphabet(("ref", index), set()))), 0, None))
        self.expanding.append(index)
        self.ref_depth += 1
        try:
            nodes = self.groups[index]
            return self.build(nodes[0] if len(nodes) == 1 else ("alt", tuple(nodes)))
        finally:
            self.expanding.pop()
            self.ref_depth -= 1

    def index(self, target) -> int:
        index = self.names.get(target) if isinstance(target, str) else target
        if index is None or index not in self.groups:
            raise UnsupportedSyntax(f"a reference to an unknown group {target!r}")
        return index

    def alphabet(self, node, seen: set[int]) -> list[tuple[int, int]]:
        """Every character ``node`` can match, following references (each group once)."""
        kind = node[0]
        if kind == "set":
            return list(node[1])
        if kind in ("seq", "alt"):
            return [r for child in node[1] for r in self.alphabet(child, seen)]
        if kind == "rep":
            return self.alphabet(node[1], seen)
        if kind == "cap":
            return self.alphabet(node[2], seen)
        if kind == "ref":
            index = self.index(node[1])
            if index in seen:
                return []
            seen.add(index)
            return [r for child in self.groups[index] for r in self.alphabet(child, seen)]
        return []


def _remove_epsilons(eps, edges, start: int, end: int):
    """An epsilon-free automaton over the states that begin a character or start it all."""
    closures: dict[int, list[int]] = {}

    def closure(s: int) -> list[int]:
        found = closures.get(s)
        if found is None:
            seen, stack = {s}, [s]
            while stack:
                for t in eps[stack.pop()]:
                    if t not in seen:
                        seen.add(t)
                        stack.append(t)
            found = closures[s] = list(seen)
        return found

    number = {start: 0}
    order = [start]
    transitions = []
    finals = []
    i = 0
    while i < len(order):
        s = order[i]
        for t in closure(s):
            if t == end:
                finals.append(number[s])
            for ranges, dst in edges[t]:
                j = number.get(dst)
                if j is None:
                    j = number[dst] = len(order)
                    order.append(dst)
                transitions.append((number[s], ranges, j))
        i += 1
    return len(order), 0, tuple(sorted(set(finals))), tuple(transitions)


