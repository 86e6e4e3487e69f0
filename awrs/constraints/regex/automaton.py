"""Character automata for regex syntax trees (:mod:`awrs.constraints.regex.syntax`).

:func:`read` gives a :class:`Reading`: ``(n_states, initial, finals, transitions)`` over code
points, ready for :func:`awrs.automata.dfa.build_byte_dfa`, and the approximations made.
Two uses follow:

- **exact** (no approximation): the automaton's language is the pattern's full-match language,
  and :mod:`awrs.constraints.regex` expands it to a byte DFA (the DFA engine);
- **envelope** (some approximation): the automaton accepts every full match of the pattern and
  possibly more. A pattern checked by partial matching uses the envelope's byte DFA to refuse,
  without calling the regex module, every text the envelope refuses — which is sound — and the
  sampler prunes, from each state, every token the envelope refuses (exactly, with its mass).

The construction is Thompson's (a fragment per tree node, bounded repeats and references
copied), then epsilon removal; the byte DFA builder determinises and minimises. It runs on an
explicit stack (:func:`~awrs.constraints.regex.tree.run_nested`), so deep trees cost no
Python recursion, and within a budget of :data:`MAX_NFA_STATES` states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from awrs.automata.char_dfa import CharAutomaton
from awrs.constraints.regex.classes import Ranges, merge
from awrs.constraints.regex.syntax import Parsed, parse
from awrs.constraints.regex.tree import Nested, UnsupportedSyntax, run_nested

__all__ = [
    "MAX_NFA_STATES",
    "MAX_REF_DEPTH",
    "AutomatonTooLarge",
    "Reading",
    "estimated_states",
    "read",
    "read_parsed",
    "remove_epsilons",
]

#: The Thompson automaton is refused past this many states (about 10 µs and 750 bytes each
#: with their byte automaton: a 100,000-character literal takes about a second and 75 MB).
#: Copies of copies blow up — ``(a{1,1000}){1,1000}`` would need a million — and such a
#: pattern, refused before anything is built (:func:`estimated_states`), gets an envelope
#: with its large repeats left unbounded.
MAX_NFA_STATES = 150_000


class AutomatonTooLarge(UnsupportedSyntax):
    """The automaton would exceed its state budget."""


@dataclass
class Reading:
    """An automaton for a pattern: ``(n_states, initial, finals, transitions)`` with
    transitions ``(src, ranges, dst)`` over code points, ready for ``build_byte_dfa``.
    ``approximations`` lists what made it a superset; empty means exact."""

    automaton: CharAutomaton
    approximations: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.approximations


#: References (back-references and calls) are copied as their groups this many levels deep;
#: deeper ones match any string of their group's characters (copies of copies blow up: a
#: recursive JSON pattern's envelope had 2,500 states at depth 8).
MAX_REF_DEPTH = 2


def read(
    pattern: str,
    *,
    unicode: bool = False,
    flags: Iterable[str] = (),
    max_repeat: int | None = None,
    max_ref_depth: int = MAX_REF_DEPTH,
    max_states: int = MAX_NFA_STATES,
) -> Reading:
    r"""The automaton of ``pattern``.

    ``unicode`` and ``flags`` are the matching mode and the flags in force at the start (see
    :func:`~awrs.constraints.regex.syntax.parse`). ``max_repeat``, when given, is the repeat
    bound past which repeats are left unbounded and ``max_ref_depth`` how deep references are
    copied (lower values give coarser envelopes, smaller to build; ``max_ref_depth`` does not
    change a reading that is exact, which has no references). Raises :class:`UnsupportedSyntax`
    for syntax outside the reader's list and :class:`AutomatonTooLarge` past ``max_states``.
    """
    parsed = parse(pattern, unicode=unicode, flags=flags)
    return read_parsed(parsed, max_repeat=max_repeat, max_ref_depth=max_ref_depth, max_states=max_states)


def read_parsed(
    parsed: Parsed, *, max_repeat: int | None = None, max_ref_depth: int = MAX_REF_DEPTH, max_states: int = MAX_NFA_STATES
) -> Reading:
    """:func:`read` for a tree already parsed."""
    if max_repeat is None and estimated_states(parsed) > max_states:
        raise AutomatonTooLarge(f"the automaton would exceed {max_states:,} states")
    builder = _Builder(parsed, max_repeat, max_ref_depth, max_states)
    automaton = builder.automaton()
    return Reading(automaton, sorted(set(parsed.notes) | set(builder.notes)))


def estimated_states(parsed: Parsed) -> int:
    """About how many states the Thompson automaton of the tree has (references count as the
    groups they name, once), computed without building it and without recursion."""
    sizes: dict[int, int] = {}
    stack: list[tuple[tuple, bool]] = [(parsed.tree, False)]
    while stack:
        node, done = stack.pop()
        kind = node[0]
        children = (
            node[1] if kind in ("seq", "alt") else (node[1],) if kind == "rep" else (node[2],) if kind in ("cap", "look") else ()
        )
        if not done and children:
            stack.append((node, True))
            stack.extend((child, False) for child in children)
            continue
        inner = [sizes[id(child)] for child in children]
        if kind == "seq":  # a character inside a sequence adds one state (see _Builder.sequence)
            size = sum(1 if child[0] == "set" else sizes[id(child)] for child in children) + 1
        elif kind == "rep":
            lo, hi = node[2], node[3]
            size = inner[0] * (max(lo, 1) if hi is None else max(hi, 1)) + 2
        elif kind == "ref":
            size = sum(sizes.get(id(group), 2) for group in parsed.groups.get(node[1], ())) if isinstance(node[1], int) else 2
        else:
            size = sum(inner) + 2
        sizes[id(node)] = size
    return sizes[id(parsed.tree)]


# --- Thompson construction, then epsilon removal ------------------------------------------


class _Builder:
    def __init__(self, parsed: Parsed, max_repeat: int | None, max_ref_depth: int, max_states: int):
        self.groups = parsed.groups
        self.names = parsed.names
        self.root = parsed.tree
        self.max_repeat = max_repeat
        self.max_ref_depth = max_ref_depth
        self.max_states = max_states
        self.ref_depth = 0
        self.eps: list[list[int]] = []
        self.edges: list[list[tuple[Ranges, int]]] = []
        self.expanding: list[int] = []
        self.notes: list[str] = []

    def state(self) -> int:
        if len(self.eps) >= self.max_states:
            raise AutomatonTooLarge(f"the automaton would exceed {self.max_states:,} states")
        self.eps.append([])
        self.edges.append([])
        return len(self.eps) - 1

    def automaton(self) -> CharAutomaton:
        start, end = run_nested(self.build(("cap", 0, self.root)))
        return remove_epsilons(self.eps, self.edges, start, end)

    def build(self, node) -> Nested:
        """The fragment ``(start, end)`` of ``node``: its start state has no incoming edge and
        its end state no outgoing one (so a character can leave the previous end directly)."""
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
            return (yield self.sequence(node[1]))
        if kind == "alt":
            s, e = self.state(), self.state()
            for branch in node[1]:
                bs, be = yield self.build(branch)
                self.eps[s].append(bs)
                self.eps[be].append(e)
            return s, e
        if kind == "rep":
            return (yield self.repeat(node[1], node[2], node[3]))
        if kind == "cap":
            self.expanding.append(node[1])
            try:
                return (yield self.build(node[2]))
            finally:
                self.expanding.pop()
        if kind == "ref":
            return (yield self.reference(node[1]))
        raise AssertionError(f"unknown node {kind}")

    def sequence(self, items) -> Nested:
        start, end = yield self.build(items[0])
        for item in items[1:]:
            if item[0] == "set":  # one state per character of a literal run, no epsilon
                e = self.state()
                if item[1]:
                    self.edges[end].append((item[1], e))
                end = e
                continue
            s, e = yield self.build(item)
            self.eps[end].append(s)
            end = e
        return start, end

    def repeat(self, operand, lo: int, hi: int | None) -> Nested:
        cap = self.max_repeat
        if cap is not None and (lo > cap or (hi is not None and hi > cap)):
            self.notes.append(f"a repeat bound above {cap}")
            lo, hi = min(lo, cap), None
        start = end = self.state()
        for _ in range(lo):
            s, e = yield self.build(operand)
            self.eps[end].append(s)
            end = e
        if hi is None:  # one more copy in a loop, with a fresh exit (never jump into a copy)
            s, e = yield self.build(operand)
            exit_ = self.state()
            self.eps[end] += [s, exit_]
            self.eps[e] += [s, exit_]
            return start, exit_
        exit_ = self.state()
        for _ in range(hi - lo):
            self.eps[end].append(exit_)
            s, e = yield self.build(operand)
            self.eps[end].append(s)
            end = e
        self.eps[end].append(exit_)
        return start, exit_

    def reference(self, target) -> Nested:
        index = self.index(target)
        if index in self.expanding:
            self.notes.append("recursion")
        if index in self.expanding or self.ref_depth >= self.max_ref_depth:
            # Any string of the characters the group can ever match (through its own references too).
            return (yield self.build(("rep", ("set", merge(self.alphabet(index))), 0, None)))
        self.expanding.append(index)
        self.ref_depth += 1
        try:
            nodes = self.groups[index]
            return (yield self.build(nodes[0] if len(nodes) == 1 else ("alt", tuple(nodes))))
        finally:
            self.expanding.pop()
            self.ref_depth -= 1

    def index(self, target) -> int:
        index = self.names.get(target) if isinstance(target, str) else target
        if index is None or index not in self.groups:
            raise UnsupportedSyntax(f"a reference to an unknown group {target!r}")
        return index

    def alphabet(self, index: int) -> list[tuple[int, int]]:
        """Every character group ``index`` can match, following references (each group once)."""
        out: list[tuple[int, int]] = []
        seen = {index}
        stack = list(self.groups[index])
        while stack:
            node = stack.pop()
            kind = node[0]
            if kind == "set":
                out.extend(node[1])
            elif kind in ("seq", "alt"):
                stack.extend(node[1])
            elif kind == "rep":
                stack.append(node[1])
            elif kind == "cap":
                stack.append(node[2])
            elif kind == "ref":
                target = self.index(node[1])
                if target not in seen:
                    seen.add(target)
                    stack.extend(self.groups[target])
        return out


def remove_epsilons(eps, edges, start: int, end: int) -> CharAutomaton:
    """An epsilon-free automaton over the states that begin a character or start it all."""
    closures: dict[int, list[int]] = {}

    def closure(s: int) -> list[int]:
        found = closures.get(s)
        if found is None:
            if not eps[s]:
                found = closures[s] = [s]
                return found
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
