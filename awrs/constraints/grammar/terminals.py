r"""A grammar's terminals as Lark matches them: first matches, look-arounds, ``%ignore``.

Lark's Earley parser with ``lexer="dynamic_complete"`` tries, at each position, every terminal
the parser expects there. It takes the terminal's *first match* on the text — Python's
``re.match``: alternatives and repeats in their order of preference, lazy repeats shortest
first — and, for the grammar's own terminals (not the ``%ignore``'d ones), every shorter text
that is itself a first match. Hence:

- a terminal's **token language** is the set of texts ``w`` at whose end the leftmost-first
  search of the terminal over ``w`` ends: ``/a+?/`` has the token ``a`` only, ``/a|ab/`` has no
  token ``ab``, a C comment ``/\*(.|\n)*?\*/`` ends at its first ``*/``. It is regular: a DFA
  whose states are the *ordered lists* of the threads of Pike's VM recognises it (threads
  behind a finished match are cut; a thread met again keeps its first, preferred place);
- an **ignored** terminal's token is the first match on the text itself: its token language,
  and the threads that were ahead of the match at its end (the preferred ways to go on) must
  not reach a match in the text that follows. ``/#[^\n]*/`` ends only before a newline or at
  the end of the text;
- a **look-ahead** ``(?=P)`` / ``(?!P)`` asks the text from where it stands to begin (not to
  begin) with a match of ``P``; the text may reach past the token's end into the tokens after
  it (``select(?![A-Za-z0-9_])``: the next character);
- a **look-behind** ``(?<=P)`` / ``(?<!P)`` reads the token's own text (at the token's start it
  sees the start of a string, as Lark's shorter matches do); ``\b``, ``\B``, ``^``, ``$``,
  ``\A``, ``\Z`` are read as look-arounds of one character (``^``/``\A``: at the token's start).

What a token asks of the text after it is a :class:`Follow`: pending look-aheads and first-match
obligations, advanced byte by byte as that text comes, and interned, so that equal ones are one
object. :func:`terminal_lexemes` gives a terminal as lexer automata, each with the Follow its
tokens carry (a terminal whose tokens end with different Follows is split into one automaton
per Follow, each accepting where its tokens carry that one).

Where awrs differs from Lark (docs/grammars.md): a look-ahead is read on the real text after the
token for every token length (Lark reads it so for the first match only, and sees the end of
the text for the shorter ones: ``[a-z]+(?![a-z])`` then ends inside a word); a look-behind never
sees the text before the token; an ignored terminal whose more preferred threads carry a
look-ahead has them treated as if the look-ahead held; look-arounds inside look-arounds are
refused, except a trailing negative look-ahead of one character class.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from awrs.constraints.dfa import ByteDFA, build_byte_dfa
from awrs.constraints.regex_syntax import ANY, Ranges, UnsupportedSyntax, merge, parse
from awrs.constraints.utf8 import complement_ranges
from awrs.errors import ConstraintError

__all__ = ["Follow", "TerminalError", "follow_from_bytes", "terminal_lexemes", "MAX_TERMINAL_STATES"]

#: The ordered-list DFA of one terminal is refused past this many states (a bounded repeat of a
#: wide class with look-arounds can blow up); SQL's largest terminal has 4, JSON's string 5.
MAX_TERMINAL_STATES = 5000
#: Look-around bodies and look-behind trackers are byte DFAs of at most this many states.
MAX_LOOK_STATES = 2000


class TerminalError(ConstraintError):
    """A terminal's regular expression uses something awrs cannot compile for a grammar."""


# --- Follow: what the text after a token must (not) begin with -----------------------------


class Follow:
    """Pending conditions on the text that follows a token, interned (equal ones are the same
    object, so hypotheses compare them by identity). Items:

    - ``("neg", dfa, state, end_dfa, end_state)``: a negative look-ahead — violated when ``dfa``
      reaches a final state (``state`` None once it cannot), dropped once neither it nor
      ``end_dfa`` can go on; violated at the end of the text when ``end_dfa`` (or None) is in a
      final state (a body ending in ``(?!C)``: see :func:`_look_body`);
    - ``("pos", dfa, state, None, 0)``: a positive look-ahead — satisfied (dropped) at a final
      state; violated when it dies or at the end of the text;
    - ``("first", machine, positions, None, 0)``: threads of an ignored terminal that were ahead
      of its match — violated when one reaches a match; dropped when none is left.

    :meth:`step` gives the Follow after one more byte: None when violated, :data:`NOTHING` when
    nothing is pending.
    """

    __slots__ = ("items", "at_end", "_next", "__weakref__")

    def __init__(self, items: frozenset):
        self.items = items
        #: The text may end here: no positive look-ahead or end condition is pending.
        self.at_end = all(_holds_at_end(item) for item in items)
        self._next: list[Any] = [_UNKNOWN] * 256

    def __repr__(self) -> str:
        return f"Follow({len(self.items)} pending)"

    def step(self, b: int) -> Follow | None:
        nxt = self._next[b]
        if nxt is _UNKNOWN:
            nxt = self._next[b] = _step_items(self.items, b)
        return nxt

    def merge(self, other: Follow) -> Follow:
        """Both conditions at once."""
        if other is NOTHING:
            return self
        if self is NOTHING:
            return other
        return follow(self.items | other.items)


_UNKNOWN = object()
_INTERNED: weakref.WeakValueDictionary[frozenset, Follow] = weakref.WeakValueDictionary()
_INTERN_LOCK = threading.Lock()


def follow(items: Iterable) -> Follow:
    """The interned Follow of ``items``."""
    key = frozenset(items)
    with _INTERN_LOCK:
        found = _INTERNED.get(key)
        if found is None:
            found = _INTERNED[key] = Follow(key)
    return found


#: Nothing pending (kept alive here: the intern table holds Follows weakly).
NOTHING = follow(())


def _holds_at_end(item) -> bool:
    kind, _, _, end_dfa, end_state = item
    if kind == "pos":
        return False
    return not (end_dfa is not None and end_dfa.final[end_state])


def _step_items(items: frozenset, b: int) -> Follow | None:
    out = []
    for kind, machine, state, end_dfa, end_state in items:
        if kind == "first":
            positions, matched = machine.step_set(state, b)
            if matched:
                return None
            if positions:
                out.append((kind, machine, positions, None, 0))
            continue
        nxt = machine.rows[state][b] if state is not None else -1
        if kind == "pos":
            if nxt < 0:
                return None
            if not machine.final[nxt]:
                out.append((kind, machine, nxt, None, 0))
            continue
        if nxt >= 0 and machine.final[nxt]:
            return None
        end_next = end_dfa.rows[end_state][b] if end_dfa is not None else -1
        if nxt >= 0 or end_next >= 0:  # the body may still match (or end the text matched)
            out.append((kind, machine, nxt if nxt >= 0 else None, end_dfa if end_next >= 0 else None, max(end_next, 0)))
    return follow(out)


def follow_from_bytes(forbidden: np.ndarray | None) -> Follow:
    """The Follow of a one-byte follow restriction: the next byte is not one of ``forbidden``
    (a (256,) bool array), or nothing pending for None."""
    if forbidden is None:
        return NOTHING
    return follow([("neg", _byte_class_dfa(_mask_key(forbidden)), 0, None, 0)])


def _mask_key(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(np.flatnonzero(np.asarray(mask, dtype=np.bool_)).tolist())


@functools.lru_cache(maxsize=256)
def _byte_class_dfa(byte_values: tuple[int, ...]) -> ByteDFA:
    rows = [[-1] * 256, [-1] * 256]
    for b in byte_values:
        rows[0][b] = 1
    return ByteDFA(table=None, final=np.array([False, True]), rows=rows)


# --- the terminal's NFA: Thompson's construction, epsilons in order of preference ----------

_EPS, _CHAR, _LOOK, _MATCH, _ITER = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class _Look:
    """A look-around: ``behind`` (a tracker over the token's text) or ahead (a Follow item),
    ``negative``; ``dfa`` the byte DFA to run (``Σ*P`` behind, ``P`` ahead), None when ``P``
    matches nothing; ``end_dfa``: see :class:`Follow`."""

    behind: bool
    negative: bool
    dfa: ByteDFA | None
    end_dfa: ByteDFA | None = None


class _Nfa:
    """Nodes: ``(_EPS, [targets in order])``, ``(_CHAR, ranges, target)``, ``(_LOOK, look
    index, target)``, ``(_MATCH,)``, ``(_ITER, repeat, target)`` (an iteration of a repeat
    begins). ``choices[node] = (repeat, exit)`` for the nodes where a repeat chooses between
    one more iteration and going on (see :meth:`_Machine.closure`)."""

    def __init__(self):
        self.nodes: list[list] = []
        self.looks: list[_Look] = []
        self.choices: dict[int, tuple[int, int]] = {}
        self.repeats = 0

    def node(self, *content) -> int:
        if len(self.nodes) >= 20 * MAX_TERMINAL_STATES:
            raise TerminalError(f"its automaton would exceed {20 * MAX_TERMINAL_STATES} states")
        self.nodes.append(list(content))
        return len(self.nodes) - 1


def _thompson(tree, nfa: _Nfa, word: Ranges, target: int) -> int:
    """The start node of ``tree``'s fragment, which goes on to ``target`` (built back to front,
    iteratively over sequences; the reader has already bounded the nesting depth)."""
    kind = tree[0]
    if kind == "set":
        return nfa.node(_CHAR, tree[1], target) if tree[1] else nfa.node(_EPS, [])
    if kind in ("empty",):
        return target
    if kind == "seq":
        for item in reversed(tree[1]):
            target = _thompson(item, nfa, word, target)
        return target
    if kind == "alt":
        return nfa.node(_EPS, [_thompson(branch, nfa, word, target) for branch in tree[1]])
    if kind == "cap":
        return _thompson(tree[2], nfa, word, target)
    if kind == "rep":
        return _repeat(tree, nfa, word, target)
    if kind == "look":
        return nfa.node(_LOOK, _add_look(nfa, tree[1], tree[2], word), target)
    if kind == "anchor":
        return _anchor(tree[1], nfa, word, target)
    if kind == "ref":
        raise TerminalError("it uses a back-reference or a subroutine call, which no finite automaton can check")
    raise AssertionError(f"unknown node {kind}")


def _repeat(tree, nfa: _Nfa, word: Ranges, target: int) -> int:
    """``operand{lo,hi}``: ``lo`` iterations, then optional ones (innermost last:
    ``(x(x)?)?``) or a loop, each choice greedy (one more first) or lazy (going on first)."""
    operand, lo, hi = tree[1], tree[2], tree[3]
    mode = tree[4] if len(tree) > 4 else None
    if mode == "possessive":
        raise TerminalError("it uses a possessive quantifier, whose first match awrs does not model")
    lazy = mode == "lazy"
    repeat = nfa.repeats
    nfa.repeats += 1
    if hi is None:
        start = nfa.node(_EPS, [])
        body = _iteration(operand, nfa, word, start, repeat)
        nfa.nodes[start][1] = [target, body] if lazy else [body, target]
        nfa.choices[start] = (repeat, target)
    else:
        start = target
        for _ in range(hi - lo):
            body = _iteration(operand, nfa, word, start, repeat)
            start = nfa.node(_EPS, [target, body] if lazy else [body, target])
            nfa.choices[start] = (repeat, target)
    for _ in range(lo):
        start = _iteration(operand, nfa, word, start, repeat)
    return start


def _iteration(operand, nfa: _Nfa, word: Ranges, target: int, repeat: int) -> int:
    return nfa.node(_ITER, repeat, _thompson(operand, nfa, word, target))


_LOOK_KINDS = {"=": (False, False), "!": (False, True), "<=": (True, False), "<!": (True, True)}


def _add_look(nfa: _Nfa, kind: str, body, word: Ranges) -> int:
    behind, negative = _LOOK_KINDS[kind]
    if behind:
        dfa = _byte_dfa(("seq", (("rep", ("set", ANY), 0, None), body)), word, "a look-behind")
        look = _Look(True, negative, dfa)
    else:
        dfa, end_dfa = _look_body(body, word)
        look = _Look(False, negative, dfa, end_dfa)
    nfa.looks.append(look)
    return len(nfa.looks) - 1


def _look_body(body, word: Ranges) -> tuple[ByteDFA | None, ByteDFA | None]:
    """The DFAs of a look-ahead's body: ``P``, or for ``Q(?!C)`` (C one character class, how
    keywords end inside a keyword-excluding look-ahead) ``Q[^C]`` and ``Q`` (``Q`` is a match of
    the body at the end of the text)."""
    items = list(body[1]) if body[0] == "seq" else [body]
    last = items[-1] if items else None
    if last is not None and last[0] == "look" and last[1] == "!" and last[2][0] == "set":
        head = ("seq", tuple(items[:-1])) if len(items) > 2 else items[0] if len(items) == 2 else ("empty",)
        other = tuple(complement_ranges(list(last[2][1])))
        return _byte_dfa(("seq", (head, ("set", other))), word, "a look-ahead"), _byte_dfa(head, word, "a look-ahead")
    return _byte_dfa(body, word, "a look-ahead"), None


def _anchor(kind: str, nfa: _Nfa, word: Ranges, target: int) -> int:
    """Anchors as look-arounds of one character: see the module docstring."""
    any_char = ("set", ANY)
    word_set = ("set", word)
    looks = {
        "^": [("<!", any_char)], "\\A": [("<!", any_char)],
        "$": [("!", ("alt", (("set", tuple(complement_ranges([(10, 10)]))), ("seq", (("set", ((10, 10),)), any_char)))))],
        "\\Z": [("!", any_char)], "\\z": [("!", any_char)],
    }
    if kind in looks:
        (look_kind, body), = looks[kind]
        return nfa.node(_LOOK, _add_look(nfa, look_kind, body, word), target)
    if kind in ("\\b", "\\B"):
        # \b: a word character behind and none ahead, or none behind and one ahead; \B the others.
        pairs = [("<=", "!"), ("<!", "=")] if kind == "\\b" else [("<=", "="), ("<!", "!")]
        branches = []
        for behind, ahead in pairs:
            second = nfa.node(_LOOK, _add_look(nfa, ahead, word_set, word), target)
            branches.append(nfa.node(_LOOK, _add_look(nfa, behind, word_set, word), second))
        return nfa.node(_EPS, branches)
    raise TerminalError(f"it uses the anchor {kind}, which awrs does not support in a terminal")


def _byte_dfa(tree, word: Ranges, what: str) -> ByteDFA | None:
    """The byte DFA of a look-around-free tree (None when it matches nothing)."""
    nfa = _Nfa()
    match = nfa.node(_MATCH)
    start = _thompson(tree, nfa, word, match)
    if nfa.looks:
        raise TerminalError(f"it nests a look-around inside {what}")
    n, transitions, finals = _char_automaton(nfa, start, match)
    try:
        return build_byte_dfa(n, 0, finals, transitions, max_states=MAX_LOOK_STATES)
    except TerminalError:
        raise
    except ConstraintError as exc:
        if "empty" in str(exc):
            return None
        raise TerminalError(f"{what} is too large: {exc}") from None


def _char_automaton(nfa: _Nfa, start: int, match: int):
    """``(n, transitions, finals)`` of the plain (unordered) automaton, epsilons removed."""
    closures: dict[int, list[int]] = {}

    def closure(s: int) -> list[int]:
        found = closures.get(s)
        if found is None:
            seen, stack = {s}, [s]
            while stack:
                node = nfa.nodes[stack.pop()]
                nxt = node[1] if node[0] == _EPS else [node[2]] if node[0] in (_LOOK, _ITER) else []
                for t in nxt:
                    if t not in seen:
                        seen.add(t)
                        stack.append(t)
            found = closures[s] = list(seen)
        return found

    number, order, transitions, finals = {start: 0}, [start], [], []
    i = 0
    while i < len(order):
        s = order[i]
        for t in closure(s):
            node = nfa.nodes[t]
            if t == match:
                finals.append(number[s])
            elif node[0] == _CHAR:
                j = number.get(node[2])
                if j is None:
                    j = number[node[2]] = len(order)
                    order.append(node[2])
                transitions.append((number[s], node[1], j))
        i += 1
    return len(order), tuple(transitions), tuple(sorted(set(finals)))


# --- the ordered-list DFA ------------------------------------------------------------------

_MATCH_POS = (-1, 0)  # a finished match (it reads no more)


@functools.lru_cache(maxsize=1024)
def _char_dfa(ranges: Ranges) -> ByteDFA:
    """The byte DFA of one character of ``ranges`` (its final states end the character)."""
    return build_byte_dfa(2, 0, (1,), ((0, ranges, 1),))


class _Machine:
    """A terminal's NFA run as Pike's VM over bytes. A thread is ``(position, conds)``: the
    position is ``(char node, state of that node's one-character DFA)`` — state 0 at a character
    boundary — or :data:`_MATCH_POS`; ``conds`` are the look-aheads it has passed that are still
    pending (Follow items). Look-behind trackers run over the token's text beside the threads."""

    def __init__(self, nfa: _Nfa, start: int):
        self.nfa = nfa
        self.start = start
        self.trackers = [i for i, look in enumerate(nfa.looks) if look.behind]
        self._closures: dict[tuple, tuple] = {}
        self._sets: dict[tuple, tuple[frozenset, bool]] = {}
        self.approximate = False  # an ignored terminal's first-match obligation met a look-around

    def char_dfa(self, node: int) -> ByteDFA:
        return _char_dfa(self.nfa.nodes[node][1])

    def initial_trackers(self) -> tuple[int, ...]:
        return tuple(0 for _ in self.trackers)

    def step_trackers(self, trackers: tuple[int, ...], b: int) -> tuple[int, ...]:
        looks = self.nfa.looks
        return tuple(looks[i].dfa.rows[s][b] if looks[i].dfa is not None and s >= 0 else -1
                     for i, s in zip(self.trackers, trackers))

    def behind_holds(self, look_index: int, trackers: tuple[int, ...]) -> bool:
        look = self.nfa.looks[look_index]
        s = trackers[self.trackers.index(look_index)]
        matched = look.dfa is not None and s >= 0 and bool(look.dfa.final[s])
        return matched != look.negative

    def closure(self, node: int, conds: frozenset, trackers: tuple[int, ...]) -> tuple:
        """The threads reached from ``node`` through epsilons and look-arounds, in order of
        preference (memoised)."""
        key = (node, conds, trackers)
        found = self._closures.get(key)
        if found is not None:
            return found
        out, seen, emitted = [], set(), set()
        # Each path carries the repeats that began an iteration at this position and have not
        # been left since: reaching such a repeat's choice again means that iteration matched
        # nothing, and Python's re then goes on after the repeat instead of repeating (past the
        # minimum count). The same node on another such path may act otherwise, so it is seen
        # again there.
        stack: list = [(node, conds, frozenset())]
        nodes, looks, choices = self.nfa.nodes, self.nfa.looks, self.nfa.choices
        while stack:
            n, c, iterating = stack.pop()
            choice = choices.get(n)
            if choice is not None and choice[0] in iterating:
                stack.append((choice[1], c, iterating - {choice[0]}))
                continue
            if (n, c, iterating) in seen:
                continue
            seen.add((n, c, iterating))
            content = nodes[n]
            kind = content[0]
            if kind == _EPS:
                stack.extend((t, c, iterating) for t in reversed(content[1]))
            elif kind == _ITER:
                stack.append((content[2], c, iterating | {content[1]}))
            elif kind == _CHAR or kind == _MATCH:
                thread = ((n, 0) if kind == _CHAR else _MATCH_POS, c)
                if thread not in emitted:
                    emitted.add(thread)
                    out.append(thread)
            else:
                look = looks[content[1]]
                if look.behind:
                    if self.behind_holds(content[1], trackers):
                        stack.append((content[2], c, iterating))
                    continue
                item = _look_item(look)
                if item is True:
                    stack.append((content[2], c, iterating))
                elif item is not False:
                    stack.append((content[2], c | {item}, iterating))
        found = self._closures[key] = tuple(out)
        return found

    def step_thread(self, thread, b: int, trackers: tuple[int, ...]) -> tuple:
        """The threads after one byte (none when it dies)."""
        (node, state), conds = thread
        if node < 0:
            return ()
        if conds:
            stepped = follow(conds).step(b)
            if stepped is None:
                return ()
            conds = stepped.items
        dfa = self.char_dfa(node)
        nxt = dfa.rows[state][b]
        if nxt < 0:
            return ()
        if dfa.final[nxt]:
            return self.closure(self.nfa.nodes[node][2], conds, trackers)
        return (((node, nxt), conds),)

    def step_set(self, positions: frozenset, b: int) -> tuple[frozenset, bool]:
        """An ignored terminal's more preferred threads after one byte, as a set, and whether
        one reached a match. Look-arounds on their way are taken to hold (flagged by
        :attr:`approximate` when the terminal has any)."""
        key = (positions, b)
        found = self._sets.get(key)
        if found is not None:
            return found
        out: set = set()
        matched = False
        trackers = self.initial_trackers()
        for pos in positions:
            for p, _ in self.step_thread((pos, frozenset()), b, trackers):
                if p == _MATCH_POS:
                    matched = True
                else:
                    out.add(p)
        found = self._sets[key] = (frozenset(out), matched)
        return found


def _look_item(look: _Look):
    """A look-ahead met at a position: True (holds whatever follows), False (fails whatever
    follows), or the Follow item that decides it."""
    dfa = look.dfa
    if dfa is None:  # P matches nothing
        return look.negative
    if look.end_dfa is None and dfa.final[0]:  # P matches the empty string
        return not look.negative
    return ("neg" if look.negative else "pos", dfa, 0, look.end_dfa, 0)


class _Lists:
    """The ordered-list DFA of a terminal: states are ``(threads, trackers)``; a state accepts
    when a thread has finished a match. Built eagerly, within :data:`MAX_TERMINAL_STATES`."""

    def __init__(self, machine: _Machine):
        self.machine = machine
        trackers = machine.initial_trackers()
        first = (_cut(machine.closure(machine.start, frozenset(), trackers)), trackers)
        self.states: list[tuple] = [first]
        self.index = {first: 0}
        self.rows: list[list[int]] = []
        i = 0
        while i < len(self.states):
            self.rows.append(self._row(self.states[i]))
            i += 1

    def _row(self, state) -> list[int]:
        """The state's transitions. Bytes that every row deciding the step (the threads'
        one-character DFAs, their pending look-aheads, the trackers) treats alike are one class,
        stepped once."""
        threads, trackers = state
        row = [-1] * 256
        classes: dict[tuple, list[int]] = {}
        for b, signature in enumerate(zip(*self._deciding_rows(threads, trackers))):
            classes.setdefault(signature, []).append(b)
        for members in classes.values():
            j = self._target(threads, trackers, members[0])
            if j >= 0:
                for b in members:
                    row[b] = j
        return row

    def _deciding_rows(self, threads: tuple, trackers: tuple[int, ...]) -> list[list[int]]:
        machine = self.machine
        rows: list[list[int]] = [_DEAD_ROW]
        for (node, state), conds in threads:
            if node < 0:
                continue
            rows.append(machine.char_dfa(node).rows[state])
            for _, dfa, s, end_dfa, end_s in conds:
                rows.append(dfa.rows[s] if s is not None else _DEAD_ROW)
                if end_dfa is not None:
                    rows.append(end_dfa.rows[end_s])
        looks = machine.nfa.looks
        for i, s in zip(machine.trackers, trackers):
            rows.append(looks[i].dfa.rows[s] if looks[i].dfa is not None and s >= 0 else _DEAD_ROW)
        return rows

    def _target(self, threads: tuple, trackers: tuple[int, ...], b: int) -> int:
        machine = self.machine
        nxt_trackers = machine.step_trackers(trackers, b)
        out: list = []
        seen: set = set()
        for thread in threads:
            for t in machine.step_thread(thread, b, nxt_trackers):
                if t not in seen:
                    seen.add(t)
                    out.append(t)
        if not out:
            return -1
        key = (_cut(tuple(out)), nxt_trackers)
        j = self.index.get(key)
        if j is None:
            if len(self.states) >= MAX_TERMINAL_STATES:
                raise TerminalError(f"its automaton would exceed {MAX_TERMINAL_STATES} states")
            j = self.index[key] = len(self.states)
            self.states.append(key)
        return j


_DEAD_ROW = [-1] * 256


def _cut(threads: tuple) -> tuple:
    """Threads behind a match whose look-aheads are settled can never win: drop them."""
    for i, (pos, conds) in enumerate(threads):
        if pos == _MATCH_POS and not conds:
            return threads[: i + 1]
    return threads


# --- terminals to lexer automata ------------------------------------------------------------


#: The Follow of each accepting state of a terminal's DFA: one Follow for them all, or a dict
#: from state to Follow (``NOTHING`` where a token asks nothing of what follows).
FollowMap = "Follow | dict[int, Follow]"


@dataclass(frozen=True)
class TerminalLexemes:
    """A terminal as lexer automata: ``branches`` are ``(ByteDFA, follows)`` pairs — the DFA's
    accepting states end tokens, and ``follows`` (a :data:`FollowMap`) says what each asks of
    the text after it; a state that ends tokens in several ways (finished matches with
    different pending look-aheads) is accepting in as many branches. ``approximate`` says why
    the automata are not exactly Lark's reading (empty: exact)."""

    branches: tuple[tuple[ByteDFA, Any], ...]
    approximate: str = ""


def terminal_lexemes(pattern: str, ignored: bool, unicode: bool = True) -> TerminalLexemes:
    """The lexer automata of a terminal whose regular expression (Python ``re`` syntax, as Lark
    writes it) is ``pattern``; ``ignored`` for a ``%ignore``'d terminal. Raises
    :class:`TerminalError` for what awrs cannot compile."""
    return _terminal_lexemes(pattern, ignored, unicode)


@functools.lru_cache(maxsize=1024)
def _terminal_lexemes(pattern: str, ignored: bool, unicode: bool) -> TerminalLexemes:
    try:
        parsed = parse(pattern, unicode=unicode)
    except UnsupportedSyntax as exc:
        raise TerminalError(f"it uses syntax awrs does not model ({exc})") from None
    except RecursionError:
        raise TerminalError("it is nested too deeply") from None
    unsupported = [n for n in parsed.notes if not n.startswith(("a look-around", "an anchor"))]
    if unsupported:
        raise TerminalError("it uses " + ", ".join(unsupported))
    if _MULTILINE.search(pattern) and _has_line_anchor(parsed.tree):
        raise TerminalError("it uses ^ or $ under the multiline flag, which awrs does not support in a terminal")
    word = _word_class(unicode)
    nfa = _Nfa()
    match = nfa.node(_MATCH)
    start = _thompson(parsed.tree, nfa, word, match)
    machine = _Machine(nfa, start)
    lists = _Lists(machine)
    follows_of = [_follows(threads, ignored, machine) for threads, _ in lists.states]
    branches = []
    for j in range(max(map(len, follows_of), default=0)):
        ends = {s: fs[j] for s, fs in enumerate(follows_of) if len(fs) > j}
        final = np.zeros(len(lists.states), dtype=np.bool_)
        final[list(ends)] = True
        distinct = set(ends.values())
        follows = next(iter(distinct)) if len(distinct) == 1 else ends
        branches.append((ByteDFA(table=None, final=final, rows=lists.rows), follows))
    if not branches:
        why = " (a look-behind in a terminal reads only the token's own text)" if machine.trackers else ""
        raise TerminalError(f"it matches no text{why}")
    approximate = "an ignored terminal's more preferred threads pass a look-around" if machine.approximate else ""
    return TerminalLexemes(tuple(branches), approximate)


def _follows(threads: tuple, ignored: bool, machine: _Machine) -> list[Follow]:
    """The Follow of each way a state ends a token (one per finished match)."""
    out = []
    for i, (pos, conds) in enumerate(threads):
        if pos != _MATCH_POS:
            continue
        items = set(conds)
        ahead = [p for p, _ in threads[:i] if p != _MATCH_POS] if ignored else []
        if ahead:
            items.add(("first", machine, frozenset(ahead), None, 0))
            machine.approximate = machine.approximate or bool(machine.nfa.looks)
        out.append(follow(items))
    return out


_MULTILINE = re.compile(r"\(\?[a-zA-Z]*m[a-zA-Z-]*[:)]")


def _has_line_anchor(tree) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind == "anchor" and node[1] in ("^", "$"):
            return True
        if kind in ("seq", "alt"):
            stack.extend(node[1])
        elif kind in ("rep", "look"):
            stack.append(node[1] if kind == "rep" else node[2])
        elif kind == "cap":
            stack.append(node[2])
    return False


@functools.lru_cache(maxsize=4)
def _word_class(unicode: bool) -> Ranges:
    """The characters ``\\w`` matches in the reader's mode."""
    tree = parse(r"\w", unicode=unicode).tree
    return merge(tree[1])
