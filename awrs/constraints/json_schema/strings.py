"""What a JSON string must satisfy (:class:`StringSpec`): a byte DFA over the decoded text
(pattern, format, enum, intersected), length bounds in code points, and non-regular patterns
checked by partial matching; and what the spec can still reach from a DFA state, which the
lexer (:mod:`awrs.constraints.json_schema.string_lexer`) asks at every character.

Prefix viability is exact for DFA specs: the DFA keeps only live states, and when length
bounds are present a table of the code-point lengths each state can still reach decides
whether some completion fits. Non-regular patterns are as exact as the ``regex`` module's
partial matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awrs.automata.dfa import ByteDFA
from awrs.automata.utf8 import continuation_range, utf8_sequences
from awrs.errors import EmptyLanguageError

__all__ = ["MAX_LENGTH_TABLE", "StringSpec"]

#: Lengths up to this many code points are tracked exactly when a DFA and length bounds meet;
#: beyond it the check assumes long enough strings exist when the DFA can loop (documented).
MAX_LENGTH_TABLE = 4096

#: A DFA that accepts no string at all.
_NO_STRING = ByteDFA.nothing()


class cached_property:
    """``functools.cached_property`` without the lock it takes on every first access before
    Python 3.12 (a compile reads several per string spec). Two threads may both compute a
    value; the values are equal (pure functions of the spec)."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value


@dataclass(frozen=True, eq=False)
class StringSpec:
    """What a string value must satisfy. ``dfa`` accepts the UTF-8 of the decoded text.

    ``build``, when given, returns ``(dfa, partial, final_checks)`` and is called the first
    time the spec is used: pattern and format automata are built when generation first
    enters such a string, not when the schema compiles (most strings of a big schema are
    never generated).
    """

    min_len: int = 0
    max_len: int | None = None
    keep_text: bool = False
    build: Any = None
    eager_dfa: ByteDFA | None = None
    eager_partial: tuple[Any, ...] = ()  # compiled regex-module patterns checked by partial fullmatch
    eager_checks: tuple[Any, ...] = ()  # functions of the whole text, applied when it closes

    @cached_property
    def _parts(self) -> tuple[ByteDFA | None, tuple[Any, ...], tuple[Any, ...]]:
        if self.build is None:
            return self.eager_dfa, self.eager_partial, self.eager_checks
        try:
            dfa, partial, checks = self.build()
        except EmptyLanguageError:  # a pattern valid when the schema compiled whose language is empty ([^\s\S])
            return _NO_STRING, (), ()
        return dfa, tuple(partial), tuple(checks) + self.eager_checks

    @property
    def dfa(self) -> ByteDFA | None:
        return self._parts[0]

    @property
    def partial(self) -> tuple[Any, ...]:
        return self._parts[1]

    @property
    def final_checks(self) -> tuple[Any, ...]:
        return self._parts[2]

    @property
    def needs_text(self) -> bool:
        return self.keep_text or bool(self.partial) or bool(self.final_checks)

    @cached_property
    def empty(self) -> bool:
        """No string satisfies the spec. Cheap and nearly exact: compares the shortest and
        longest accepted lengths with the bounds (a gap in between, such as an odd length for
        ``(ab)*``, is only found when generation reaches it)."""
        if self.max_len is not None and self.max_len < self.min_len:
            return True
        if self.build is not None and "_parts" not in self.__dict__:
            return False  # not built yet: assumed satisfiable (generation finds out exactly)
        if self.dfa is None:
            return False
        if not self.dfa.final.any():
            return True  # accepts nothing (a pattern and a format that exclude each other)
        if (self.min_len == 0 and self.max_len is None) or self.dfa.n_states > self._EXTENT_LIMIT:
            return False  # only live states: some string is accepted, and no bound excludes it
        shortest, longest = self._extent
        if self.max_len is not None and shortest > self.max_len:
            return True
        return longest is not None and longest < self.min_len

    @cached_property
    def opens(self) -> bool:
        """Some string satisfies the spec, decided once its automata are built (``empty`` is
        decided at compile time, before a pattern's automaton exists): an opening quote is
        refused otherwise."""
        if self.max_len is not None and self.max_len < self.min_len:
            return False
        dfa = self.dfa
        return dfa is None or (bool(dfa.final.any()) and self.length_fits(0, 0))

    @cached_property
    def _extent(self) -> tuple[int, int | None]:
        """The shortest and longest (None: unbounded) accepted lengths from the start, in code points."""
        dfa = self._built_dfa
        succ = self._successors
        dist = {0: 0}
        frontier = [0]
        shortest = 0 if dfa.final[0] else None
        while frontier and shortest is None:
            nxt = []
            for s in frontier:
                for t in succ[s]:
                    if t not in dist:
                        dist[t] = dist[s] + 1
                        if dfa.final[t] and shortest is None:
                            shortest = dist[t]
                        nxt.append(t)
            frontier = nxt
        if self._loops[0]:
            return shortest or 0, None
        longest: dict[int, int] = {}

        def deepest(s: int) -> int:  # the DFA is acyclic from here
            if s not in longest:
                below = [deepest(t) + 1 for t in succ[s]]
                best = max([b for b in below if b > 0] + ([0] if dfa.final[s] else []), default=-1)
                longest[s] = best
            return longest[s]

        return shortest or 0, deepest(0)

    def kept_length(self, length: int) -> int:
        """``length`` as a string's state keeps it: without ``max_len``, no question asked of
        the spec tells a length past ``min_len`` from ``min_len`` (each reads it only as
        ``max(min_len - length, 0)``), so the state keeps ``min(length, min_len)`` and strings
        that differ only in how long they are share one state (what a state has been checked
        against is then known for all of them: awrs.sampler.space)."""
        return length if self.max_len is not None or length < self.min_len else self.min_len

    def length_fits(self, state: int, length: int) -> bool:
        """Can the DFA reach acceptance from ``state`` with a total length in bounds?"""
        need_lo = max(self.min_len - length, 0)
        need_hi = None if self.max_len is None else self.max_len - length
        if need_hi is not None and need_hi < 0:
            return False
        if need_lo == 0 and need_hi is None:
            return True  # live states always reach acceptance
        reach, cap = self._lengths[state], self._length_cap
        top = cap if need_hi is None else min(need_hi, cap)
        if need_lo <= top and (reach >> need_lo) & ((1 << (top - need_lo + 1)) - 1):
            return True
        if need_hi is not None and need_hi <= cap:
            return False  # the whole window was in the table
        if need_hi is None and cap == self.min_len + self._built_dfa.n_states + 1:
            return False  # exact: a long enough completion implies one within n more characters
        return self._loops[state]  # past MAX_LENGTH_TABLE: assume viable when the DFA can loop

    @cached_property
    def _built_dfa(self) -> ByteDFA:
        """``dfa``, for the questions only a spec with a DFA is asked (lengths, successors)."""
        assert self.dfa is not None, "a question about the DFA of a spec without one"
        return self.dfa

    @cached_property
    def _length_cap(self) -> int:
        n = self.dfa.n_states if self.dfa is not None else 0
        want = self.max_len if self.max_len is not None else self.min_len + n + 1
        return min(want, MAX_LENGTH_TABLE)

    @cached_property
    def _successors(self) -> list[set[int]]:
        dfa = self._built_dfa
        return [_char_successors(dfa, s) for s in range(dfa.n_states)]

    def next_char_fits(self, state: int, length: int) -> bool:
        """Some character read from DFA state ``state`` leads where a string of ``length + 1``
        code points can still be completed within the bounds."""
        if self.max_len is not None and length + 1 > self.max_len:
            return False
        if self.dfa is None:
            return True
        return any(self.length_fits(t, length + 1) for t in self._successors_of(state))

    def _successors_of(self, state: int) -> set[int]:
        """``_successors[state]``, worked out for this state alone (a string with an escape in
        it asks about a few states of a DFA that may have thousands)."""
        if "_successors" in self.__dict__:
            return self._successors[state]
        cache = self.__dict__.setdefault("_successors_cache", {})
        out = cache.get(state)
        if out is None:
            out = cache[state] = _char_successors(self._built_dfa, state)
        return out

    def chars_fit(self, state: int, length: int, ranges: tuple[tuple[int, int], ...]) -> bool:
        """Some character with a code point in ``ranges`` leads from DFA state ``state`` where a
        string of ``length + 1`` code points can still be completed within the bounds."""
        if not ranges or (self.max_len is not None and length + 1 > self.max_len):
            return False
        if self.dfa is None:
            return True
        rows = self.dfa.rows
        for lo, hi in ranges:
            for seq in utf8_sequences(lo, hi):
                frontier = {state}
                for b_lo, b_hi in seq:
                    frontier = {t for f in frontier for t in rows[f][b_lo : b_hi + 1] if t >= 0}
                    if not frontier:
                        break
                if any(self.length_fits(t, length + 1) for t in frontier):
                    return True
        return False

    def utf8_fits(self, state: int, length: int, pending: tuple) -> bool:
        """The UTF-8 character begun (``pending``, the DFA already at ``state`` after its bytes
        so far) can end where a string of ``length + 1`` code points still fits the bounds."""
        if self.max_len is not None and length + 1 > self.max_len:
            return False
        if self.dfa is None or (self.min_len == 0 and self.max_len is None):
            return True  # the DFA keeps live states only: some continuation of the character is accepted
        need, _, lo, hi, _ = pending
        rows, frontier = self.dfa.rows, {state}
        for i in range(need):
            b_lo, b_hi = (lo, hi) if i == 0 else (0x80, 0xBF)
            frontier = {t for f in frontier for t in rows[f][b_lo : b_hi + 1] if t >= 0}
        return any(self.length_fits(t, length + 1) for t in frontier)

    #: Emptiness is only worked out for DFAs up to this size at compile time (larger ones are
    #: assumed non-empty; generation finds out exactly, state by state).
    _EXTENT_LIMIT = 300

    @cached_property
    def _lengths(self) -> list[int]:
        """Bit r of entry s: some string of exactly r code points leads from s to acceptance."""
        succ = self._successors
        mask = (1 << (self._length_cap + 1)) - 1
        reach = [1 if f else 0 for f in self._built_dfa.final.tolist()]
        changed = True
        while changed:
            changed = False
            for s in range(len(reach)):
                new = reach[s]
                for t in succ[s]:
                    new |= (reach[t] << 1) & mask
                if new != reach[s]:
                    reach[s] = new
                    changed = True
        return reach

    @cached_property
    def _loops(self) -> list[bool]:
        """Whether arbitrarily long completions exist from each state (a cycle on the way)."""
        succ = self._successors
        n = len(succ)
        on_cycle = [False] * n
        for s in range(n):  # s is on a cycle if s reaches itself
            seen, stack = set(), list(succ[s])
            while stack:
                t = stack.pop()
                if t == s:
                    on_cycle[s] = True
                    break
                if t not in seen:
                    seen.add(t)
                    stack.extend(succ[t])
        loops = on_cycle[:]
        changed = True
        while changed:
            changed = False
            for s in range(n):
                if not loops[s] and any(loops[t] for t in succ[s]):
                    loops[s] = changed = True
        return loops


def _char_successors(dfa: ByteDFA, s: int) -> set[int]:
    """The DFA states reachable from ``s`` by the UTF-8 bytes of exactly one code point."""
    rows = dfa.rows
    row = rows[s]
    out = {t for t in row[:0x80] if t >= 0}
    groups: set[tuple[int, int, int]] = set()  # (state after the lead byte, bytes still needed, lead class)
    for lead in range(0xC2, 0xF5):
        t = row[lead]
        if t >= 0:
            need = 1 if lead < 0xE0 else 2 if lead < 0xF0 else 3
            special = lead if lead in (0xE0, 0xED, 0xF0, 0xF4) else 0
            groups.add((t, need, special))
    for t, need, special in groups:
        frontier = {t}
        for i in range(need):
            lo, hi = continuation_range(special, i) if special else (0x80, 0xBF)
            frontier = {u for f in frontier for u in set(rows[f][lo : hi + 1]) if u >= 0}
        out |= frontier
    return out
