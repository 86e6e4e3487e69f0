"""Constraints built from constraints: sequences, unions, intersections and free text
(docs/composition.md).

Each result is an ordinary :class:`~awrs.constraints.base.Constraint`, so every method, the
engine, the CLI and the server take it as they take its parts.

- :class:`Sequence` (``a + b``): a text that splits into a text of each part, in order. Its
  state is the set of *configurations* a prefix can be in: (part, that part's state) for
  each way of splitting the prefix so far. A part that is complete may end at any byte, so
  an ambiguous split (``Regex("a*") + Regex("a*b")``) keeps every reading alive, and the
  prefix check stays exact: a prefix is viable iff some configuration is, since every part
  can complete (its language is not empty) and the parts after it too.
- :class:`Union` (``a | b``): the parts side by side; viable while one is.
- :class:`Intersection` (``a & b``): the parts side by side; viable while all are. Exact
  when every part is a DFA (regular expressions, :class:`Free`, choices): the product
  automaton is built with its dead states removed. Otherwise two viable prefixes may have no
  completion in common, and the check over-approximates, as a
  :class:`~awrs.constraints.predicate.Predicate` may: a particle that follows such a prefix
  dies (weight 0), and SMC stays properly weighted (docs/composition.md).
- :class:`Free`: free text, up to and including a delimiter (``until``), in at most
  ``max_bytes`` bytes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from typing import Any

import numpy as np

from awrs.automata.char_dfa import DFATooLarge
from awrs.automata.dfa import ByteDFA, build_byte_dfa
from awrs.automata.product import intersect
from awrs.automata.utf8 import complement_ranges, without_surrogates
from awrs.constraints.base import Constraint, Delegating, State, probe_next_bytes, to_bytes
from awrs.constraints.dfa import DFAConstraint
from awrs.errors import ConstraintError, EmptyLanguageError
from awrs.lm.vocab import Vocabulary

__all__ = ["Free", "Intersection", "Sequence", "Union", "as_dfa"]

#: A configuration of a chain: (part index, the part's state).
Config = tuple[int, Any]


def _parts(parts: Iterable[Constraint], kind: type) -> tuple[Constraint, ...]:
    """The parts of a ``kind`` composition, checked, with those that are themselves ``kind``
    compositions opened: ``(a + b) + c`` is one sequence of three."""
    given = tuple(parts)
    what = kind.__name__
    if len(given) < 1:
        raise ConstraintError(f"{what} needs at least one constraint")
    out: list[Constraint] = []
    for p in given:
        if not isinstance(p, Constraint):
            raise ConstraintError(f"{what} takes constraints (awrs.Regex, awrs.JsonSchema, ...), got {type(p).__name__}")
        out.extend(p.parts if type(p) is kind else (p,))  # type: ignore[attr-defined]
    return tuple(out)


def _dedupe(configs: list[Config]) -> tuple[Config, ...]:
    """The configurations in first-seen order, each once (by equality: states are values)."""
    try:
        return tuple(dict.fromkeys(configs))
    except TypeError:  # an unhashable state
        out: list[Config] = []
        for c in configs:
            if c not in out:
                out.append(c)
        return tuple(out)


def in_order(n: int) -> list[list[int]]:
    """A chain's ``after`` for ``n`` parts one after the other."""
    return [[k + 1] if k + 1 < n else [] for k in range(n)]


def _any_allowed(parts: Iterable[Constraint]) -> np.ndarray | None:
    """The bytes some part can use (None when a part does not say)."""
    out = np.zeros(256, dtype=np.bool_)
    for p in parts:
        allowed = p.allowed_bytes()
        if allowed is None:
            return None
        out |= allowed
    return out


def _first_bytes(part: Constraint, state: State) -> np.ndarray:
    """The bytes ``part`` may read first from ``state`` (its next_bytes, else probed)."""
    found = part.next_bytes(state)
    return probe_next_bytes(part, state) if found is None else np.asarray(found, dtype=np.bool_)


class _Chain(Constraint):
    """Parts wired as an automaton: the text runs through ``starts`` parts first; when part
    ``k`` is complete the text may go on in any part of ``after[k]``; it is complete when a
    part in ``ends`` is. States are tuples of configurations (module doc)."""

    def __init__(self, parts: Seq[Constraint], starts: Seq[int], after: Seq[Seq[int]], ends: Iterable[int]):
        self._parts = tuple(parts)
        self._after = tuple(tuple(a) for a in after)
        self._ends = frozenset(ends)
        initials = [p.initial() for p in self._parts]
        # The configurations a completed part k hands on to (the parts after it, and past
        # those that accept the empty text), and the bytes those can start with.
        self._next: list[tuple[Config, ...]] = []
        self._next_firsts: list[np.ndarray] = []
        for k in range(len(self._parts)):
            found = self._closure([(j, initials[j]) for j in self._after[k]])
            self._next.append(found)
            firsts = np.zeros(256, dtype=np.bool_)
            for j, s in found:
                firsts |= _first_bytes(self._parts[j], s)
            self._next_firsts.append(firsts)
        self._starts = tuple(starts)
        self._initial = self._closure([(k, initials[k]) for k in starts])
        if not self._initial:
            raise EmptyLanguageError("the composed constraint has no part to start with")

    def _closure(self, configs: list[Config]) -> tuple[Config, ...]:
        """``configs`` and every configuration reached by ending complete parts at once."""
        out: list[Config] = []
        stack = list(reversed(configs))
        while stack:
            k, s = stack.pop()
            if (k, s) in out:
                continue
            out.append((k, s))
            if self._after[k] and self._parts[k].is_complete(s):
                stack.extend(reversed([(j, self._parts[j].initial()) for j in self._after[k]]))
        return tuple(out)

    def initial(self) -> tuple[Config, ...]:
        return self._initial

    def advance(self, state: tuple[Config, ...], data: bytes) -> tuple[Config, ...] | None:
        out: list[Config] = []
        for k, s in state:
            self._run(k, s, data, 0, out)
        if not out:
            return None
        closed: list[Config] = []
        for k, s in _dedupe(out):
            closed.append((k, s))
            if self._after[k] and self._parts[k].is_complete(s):
                closed.extend(self._next[k])
        return _dedupe(closed)

    def _run(self, k: int, s: State, data: bytes, i: int, out: list[Config]) -> None:
        """Part ``k`` from ``s`` reads ``data[i:]``; each configuration it ends in goes to
        ``out``. Where the part is complete before the end, the text may go on in the parts
        after it: only at bytes one of them can start with is the part stopped to ask, so it
        reads the rest in as few calls as possible."""
        part, n = self._parts[k], len(data)
        if i == n:
            out.append((k, s))
            return
        if not self._after[k]:
            t = part.advance(s, data[i:] if i else data)
            if t is not None:
                out.append((k, t))
            return
        firsts = self._next_firsts[k]
        pos = i
        for j in range(i + 1, n):
            if not firsts[data[j]]:
                continue
            s = part.advance(s, data[pos:j])
            if s is None:
                return
            pos = j
            if part.is_complete(s):
                for m, init in self._next[k]:
                    self._run(m, init, data, j, out)
        s = part.advance(s, data[pos:])
        if s is not None:
            out.append((k, s))

    def is_complete(self, state: tuple[Config, ...]) -> bool:
        return any(k in self._ends and self._parts[k].is_complete(s) for k, s in state)

    def is_final(self, state: tuple[Config, ...]) -> bool:
        """Complete, and every reading is in a last part that is final."""
        return self.is_complete(state) and all(not self._after[k] and self._parts[k].is_final(s) for k, s in state)

    def next_bytes(self, state: tuple[Config, ...]) -> np.ndarray:
        out = np.zeros(256, dtype=np.bool_)
        for k, s in state:
            out |= _first_bytes(self._parts[k], s)
        return out

    def allowed_bytes(self) -> np.ndarray | None:
        return _any_allowed(self._parts)

    def pieces(self, text: str | bytes) -> list[tuple[int, bytes]] | None:
        """One way ``text`` splits among the parts, as (part index, its bytes), or None when
        ``text`` is not complete. Of several splits, the one whose earlier parts end first."""
        data = to_bytes(text)
        # Each reading: (part, state, the (part, start) of every piece so far).
        readings = self._handed([(k, self._parts[k].initial(), ((k, 0),)) for k in self._starts], 0)
        for i in range(len(data)):
            byte = data[i : i + 1]
            moved = []
            for k, s, path in readings:
                t = self._parts[k].advance(s, byte)
                if t is not None:
                    moved.append((k, t, path))
            readings = self._handed(moved, i + 1)
            if not readings:
                return None
        for k, s, path in readings:
            if k in self._ends and self._parts[k].is_complete(s):
                bounds = [start for _, start in path] + [len(data)]
                return [(part, data[bounds[n] : bounds[n + 1]]) for n, (part, _) in enumerate(path)]
        return None

    def whole(self, text: str | bytes) -> list[tuple[int, bytes]]:
        """:meth:`pieces` of a complete text; ConstraintError for any other."""
        pieces = self.pieces(text)
        if pieces is None:
            raise ConstraintError(f"{text[:80]!r} is not a complete text of {self!r}")
        return pieces

    def _handed(self, readings: list, at: int) -> list:
        """``readings`` and those that hand on to the next parts at byte ``at``, each (part,
        state) once: of readings that meet, the one whose earlier parts end first."""
        best: list = []  # [(part, state, path)]
        stack = list(reversed(readings))
        while stack:
            k, s, path = stack.pop()
            for n, (k2, s2, p2) in enumerate(best):
                if k2 == k and s2 == s:
                    if [start for _, start in path] >= [start for _, start in p2]:
                        break
                    best[n] = (k, s, path)
                    self._hand_on(k, s, path, at, stack)
                    break
            else:
                best.append((k, s, path))
                self._hand_on(k, s, path, at, stack)
        return best

    def _hand_on(self, k: int, s: Any, path: tuple, at: int, stack: list) -> None:
        if self._after[k] and self._parts[k].is_complete(s):
            stack.extend(reversed([(j, self._parts[j].initial(), (*path, (j, at))) for j in self._after[k]]))


class Sequence(_Chain):
    """The texts made of a text of each part, in order (``a + b + c``). Its value
    (:meth:`parse`) is the parts' values, less those of :class:`Free` parts, as a list; the
    one value itself when one is left."""

    def __init__(self, parts: Iterable[Constraint]):
        self.parts: tuple[Constraint, ...] = _parts(parts, Sequence)
        super().__init__(self.parts, [0], in_order(len(self.parts)), [len(self.parts) - 1])

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self.parts)

    def parse(self, text: str) -> Any:
        pieces = self.whole(text)
        values = [self.parts[k].parse(piece.decode("utf-8")) for k, piece in pieces if not isinstance(self.parts[k], Free)]
        return values[0] if len(values) == 1 else values


class Union(Constraint):
    """The texts of any part (``a | b``). Its value is that of the first part that accepts
    the text."""

    def __init__(self, parts: Iterable[Constraint]):
        self.parts: tuple[Constraint, ...] = _parts(parts, Union)

    def __repr__(self) -> str:
        return "(" + " | ".join(repr(p) for p in self.parts) + ")"

    def initial(self) -> tuple[Any, ...]:
        return tuple(p.initial() for p in self.parts)

    def advance(self, state: tuple[Any, ...], data: bytes) -> tuple[Any, ...] | None:
        out = tuple(None if s is None else p.advance(s, data) for p, s in zip(self.parts, state))
        return None if all(s is None for s in out) else out

    def is_complete(self, state: tuple[Any, ...]) -> bool:
        return any(s is not None and p.is_complete(s) for p, s in zip(self.parts, state))

    def is_final(self, state: tuple[Any, ...]) -> bool:
        live = [(p, s) for p, s in zip(self.parts, state) if s is not None]
        return self.is_complete(state) and all(p.is_final(s) for p, s in live)

    def next_bytes(self, state: tuple[Any, ...]) -> np.ndarray:
        out = np.zeros(256, dtype=np.bool_)
        for p, s in zip(self.parts, state):
            if s is not None:
                out |= _first_bytes(p, s)
        return out

    def impossible_tokens(self, state: tuple[Any, ...], vocab: Vocabulary) -> np.ndarray | None:
        out = None
        for p, s in zip(self.parts, state):
            if s is None:
                continue
            found = p.impossible_tokens(s, vocab)
            if found is None:
                return None
            out = found.copy() if out is None else out & found
        return out

    def allowed_bytes(self) -> np.ndarray | None:
        return _any_allowed(self.parts)

    def parse(self, text: str) -> Any:
        for p in self.parts:
            if p.accepts(text):
                return p.parse(text)
        raise ConstraintError(f"{text[:80]!r} is not a complete text of {self!r}")


class Intersection(Delegating):
    """The texts of every part (``a & b``). Its value is the first part's. When every part is
    a DFA the intersection is one (the product automaton, dead states removed): the prefix
    check is exact and as fast as a regular expression's. Otherwise each part checks the text
    (module doc: exact for complete texts; prefixes over-approximated)."""

    def __init__(self, parts: Iterable[Constraint]):
        self.parts: tuple[Constraint, ...] = _parts(parts, Intersection)
        dfas = [as_dfa(p) for p in self.parts]
        product = None
        if all(d is not None for d in dfas):
            product = _product([d for d in dfas if d is not None])
        #: True when the prefix check is exact (a DFA).
        self.exact = product is not None
        self._impl = DFAConstraint(product) if product is not None else _Both(self.parts)

    def __repr__(self) -> str:
        return "(" + " & ".join(repr(p) for p in self.parts) + ")"

    def is_final(self, state: State) -> bool:
        return self._impl.is_final(state)

    def never_tokens(self, vocab: Vocabulary) -> np.ndarray | None:
        return self._impl.never_tokens(vocab)

    def parse(self, text: str) -> Any:
        return self.parts[0].parse(text)


class _Both(Constraint):
    """Every part checks the text (an intersection that is not one DFA)."""

    def __init__(self, parts: tuple[Constraint, ...]):
        self.parts = parts

    def initial(self) -> tuple[Any, ...]:
        return tuple(p.initial() for p in self.parts)

    def advance(self, state: tuple[Any, ...], data: bytes) -> tuple[Any, ...] | None:
        out = []
        for p, s in zip(self.parts, state):
            t = p.advance(s, data)
            if t is None:
                return None
            out.append(t)
        return tuple(out)

    def is_complete(self, state: tuple[Any, ...]) -> bool:
        return all(p.is_complete(s) for p, s in zip(self.parts, state))

    def is_final(self, state: tuple[Any, ...]) -> bool:
        return self.is_complete(state) and any(p.is_final(s) for p, s in zip(self.parts, state))

    def next_bytes(self, state: tuple[Any, ...]) -> np.ndarray | None:
        return _combined((p.next_bytes(s) for p, s in zip(self.parts, state)), np.logical_and)

    def impossible_tokens(self, state: tuple[Any, ...], vocab: Vocabulary) -> np.ndarray | None:
        return _combined((p.impossible_tokens(s, vocab) for p, s in zip(self.parts, state)), np.logical_or)

    def allowed_bytes(self) -> np.ndarray | None:
        return _combined((p.allowed_bytes() for p in self.parts), np.logical_and)

    def never_tokens(self, vocab: Vocabulary) -> np.ndarray | None:
        return _combined((p.never_tokens(vocab) for p in self.parts), np.logical_or)


def _combined(found: Iterable[np.ndarray | None], op: Any) -> np.ndarray | None:
    """The parts' answers that say something (not None), combined with ``op`` (and for what
    all allow, or for what any refuses); None when no part says."""
    out = None
    for f in found:
        if f is not None:
            out = np.array(f, dtype=np.bool_) if out is None else op(out, f)
    return out


def as_dfa(constraint: Constraint) -> ByteDFA | None:
    """The byte DFA that makes every check of ``constraint``, or None when it has none."""
    if isinstance(constraint, DFAConstraint):
        return constraint.dfa
    impl = getattr(constraint, "_impl", None)
    if isinstance(constraint, Delegating) and isinstance(impl, Constraint):
        return as_dfa(impl)
    return None


def _product(dfas: list[ByteDFA]) -> ByteDFA | None:
    """The DFA of the intersection of ``dfas`` (:func:`~awrs.automata.product.intersect`, two at
    a time: live states only, minimised when small); EmptyLanguageError when there is none;
    None past MAX_DFA_STATES states (then the parts check in turn)."""
    try:
        return functools.reduce(intersect, dfas)
    except DFATooLarge:
        return None
    except EmptyLanguageError:
        raise EmptyLanguageError("the intersection accepts no text: its parts have no text in common") from None


class Free(Delegating):
    """Free text: any UTF-8 text, ending with the first appearance of ``until`` when given
    (the delimiter included; nothing follows it), of at most ``max_bytes`` bytes when given
    (the delimiter included). Its value is the text. A DFA: checks cost a table walk."""

    def __init__(self, until: str | None = None, max_bytes: int | None = None):
        if until is not None and (not isinstance(until, str) or not until):
            raise ConstraintError(f"Free(until=...) takes a non-empty str delimiter, got {until!r}")
        if max_bytes is not None and (not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 0):
            raise ConstraintError(f"Free(max_bytes=...) takes a non-negative int, got {max_bytes!r}")
        if until is not None and max_bytes is not None and max_bytes < len(until.encode("utf-8")):
            raise EmptyLanguageError(
                f"Free(until={until!r}, max_bytes={max_bytes}) accepts no text: the delimiter alone is "
                f"{len(until.encode('utf-8'))} bytes; raise max_bytes"
            )
        self.until = until
        self.max_bytes = max_bytes
        dfa = _delimited(until, ends=True)
        self._impl = DFAConstraint(dfa) if max_bytes is None else _Bounded(dfa, max_bytes)
        self._ends = [not (row >= 0).any() for row in dfa.table]

    def __repr__(self) -> str:
        args = [f"until={self.until!r}"] if self.until is not None else []
        if self.max_bytes is not None:
            args.append(f"max_bytes={self.max_bytes}")
        return f"Free({', '.join(args)})"

    def is_final(self, state: State) -> bool:
        """After the delimiter (or at ``max_bytes``) nothing may follow."""
        if isinstance(self._impl, _Bounded):
            return self._impl.is_final(state)
        return self.until is not None and self._impl.is_complete(state) and self._ends[state]


class _Avoiding(Delegating):
    """Free text in which ``delimiter`` never appears (any prefix of it may end the text)."""

    def __init__(self, delimiter: str):
        self.delimiter = delimiter
        self._impl = DFAConstraint(_delimited(delimiter, ends=False))

    def __repr__(self) -> str:
        return f"_Avoiding({self.delimiter!r})"


def _delimited(until: str | None, ends: bool) -> ByteDFA:
    """The DFA of UTF-8 texts in which ``until`` does not appear, then (``ends``) ``until``
    once, at the end; any text when ``until`` is None. KMP over the delimiter's characters."""
    every = without_surrogates([(0, 0x10FFFF)])
    if until is None:
        return build_byte_dfa(1, 0, [0], [(0, every, 0)])
    m = len(until)
    # fail[j]: the longest proper border of until[:j] (the KMP failure function).
    fail = [0] * (m + 1)
    k = 0
    for j in range(1, m):
        while k and until[j] != until[k]:
            k = fail[k]
        if until[j] == until[k]:
            k += 1
        fail[j + 1] = k
    chars = sorted(set(until))
    others = without_surrogates(complement_ranges([(ord(c), ord(c)) for c in chars]))
    transitions = []
    for j in range(m):  # state j: the text ends with until[:j], and until has not appeared
        for c in chars:
            t = j
            while t and until[t] != c:
                t = fail[t]
            t = t + 1 if until[t] == c else 0
            if t == m and not ends:
                continue  # the delimiter would appear: no such text
            transitions.append((j, [(ord(c), ord(c))], t))
        if others:
            transitions.append((j, others, 0))
    finals = [m] if ends else list(range(m))
    try:
        return build_byte_dfa(m + 1, 0, finals, transitions)
    except DFATooLarge as exc:  # not for any delimiter of reasonable length
        raise ConstraintError(f"the delimiter {until!r} is too long for free text: {exc}") from None


class _Bounded(Constraint):
    """The texts of ``dfa`` of at most ``limit`` bytes; states are (DFA state, bytes so far).
    Exact: a prefix is viable when the DFA can reach a final state in the bytes left (the
    fewest bytes from each state to a final one, found once)."""

    def __init__(self, dfa: ByteDFA, limit: int):
        self.dfa = dfa
        self.limit = limit
        table = dfa.table
        to_final = np.where(dfa.final, 0, np.iinfo(np.int64).max)
        changed = True
        while changed:  # relax: to_final[s] = 1 + min over the states s reads into
            nxt = np.where(table >= 0, to_final[np.maximum(table, 0)], np.iinfo(np.int64).max)
            best = np.minimum(to_final, np.where(nxt.min(axis=1) < np.iinfo(np.int64).max, nxt.min(axis=1) + 1, to_final))
            changed = bool((best != to_final).any())
            to_final = best
        self._to_final = to_final.tolist()
        self._ends = [not (row >= 0).any() for row in table]
        if self._to_final[0] > limit:
            raise EmptyLanguageError(f"no text fits in {limit} bytes here; raise max_bytes")

    def initial(self) -> tuple[int, int]:
        return 0, 0

    def advance(self, state: tuple[int, int], data: bytes) -> tuple[int, int] | None:
        s, n = state
        n += len(data)
        if n > self.limit:
            return None
        rows = self.dfa.rows
        for b in data:
            s = rows[s][b]
            if s < 0:
                return None
        return (s, n) if self._to_final[s] <= self.limit - n else None

    def is_complete(self, state: tuple[int, int]) -> bool:
        return bool(self.dfa.final[state[0]])

    def is_final(self, state: tuple[int, int]) -> bool:
        return self.is_complete(state) and (state[1] == self.limit or self._ends[state[0]])

    def next_bytes(self, state: tuple[int, int]) -> np.ndarray:
        if state[1] >= self.limit:
            return np.zeros(256, dtype=np.bool_)
        return self.dfa.table[state[0]] >= 0

    def allowed_bytes(self) -> np.ndarray:
        return np.any(self.dfa.table >= 0, axis=0)
