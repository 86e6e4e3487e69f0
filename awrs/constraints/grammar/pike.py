"""A terminal's regular expression run as Pike's VM: a Thompson NFA with its epsilons in order
of preference, and the DFA over its ordered thread lists, whose accepting states end a first
match (docs/grammars.md, "How Lark matches a terminal").

Threads behind a finished match are cut; a thread met again keeps its first, more preferred
place; a repeat goes on after an iteration that matched nothing, as Python's ``re`` does; a
look-ahead a thread passes is a condition it carries (a :class:`~awrs.constraints.grammar.follow.Follow`
item) until the text decides it, and a look-behind is read from a tracker that runs over the
token's text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from awrs.automata.dfa import ByteDFA, build_byte_dfa
from awrs.automata.utf8 import complement_ranges
from awrs.constraints.grammar.follow import follow
from awrs.constraints.regex.automaton import remove_epsilons
from awrs.constraints.regex.classes import ANY, Ranges
from awrs.errors import ConstraintError, EmptyLanguageError

__all__ = [
    "MATCH",
    "MATCH_POS",
    "MAX_LOOK_STATES",
    "MAX_TERMINAL_STATES",
    "Machine",
    "Nfa",
    "OrderedLists",
    "TerminalError",
    "thompson",
]


#: The ordered-list DFA of one terminal is refused past this many states (a bounded repeat of a
#: wide class with look-arounds can blow up); SQL's largest terminal has 4, JSON's string 5.
MAX_TERMINAL_STATES = 5000
#: Look-around bodies and look-behind trackers are byte DFAs of at most this many states.
MAX_LOOK_STATES = 2000


class TerminalError(ConstraintError):
    """A terminal's regular expression uses something awrs cannot compile for a grammar."""


# --- the terminal's NFA: Thompson's construction, epsilons in order of preference ----------

_EPS, _CHAR, _LOOK, MATCH, _ITER = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class _Look:
    """A look-around: ``behind`` (a tracker over the token's text) or ahead (a Follow item),
    ``negative``; ``dfa`` the byte DFA to run (``Σ*P`` behind, ``P`` ahead), None when ``P``
    matches nothing; ``end_dfa``: see :class:`Follow`."""

    behind: bool
    negative: bool
    dfa: ByteDFA | None
    end_dfa: ByteDFA | None = None


class Nfa:
    """Nodes: ``(_EPS, [targets in order])``, ``(_CHAR, ranges, target)``, ``(_LOOK, look
    index, target)``, ``(MATCH,)``, ``(_ITER, repeat, target)`` (an iteration of a repeat
    begins). ``choices[node] = (repeat, exit)`` for the nodes where a repeat chooses between
    one more iteration and going on (see :meth:`Machine.closure`)."""

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


def thompson(tree, nfa: Nfa, word: Ranges, target: int) -> int:
    """The start node of ``tree``'s fragment, which goes on to ``target`` (built back to front,
    iteratively over sequences; the reader has already bounded the nesting depth)."""
    kind = tree[0]
    if kind == "set":
        return nfa.node(_CHAR, tree[1], target) if tree[1] else nfa.node(_EPS, [])
    if kind in ("empty",):
        return target
    if kind == "seq":
        for item in reversed(tree[1]):
            target = thompson(item, nfa, word, target)
        return target
    if kind == "alt":
        return nfa.node(_EPS, [thompson(branch, nfa, word, target) for branch in tree[1]])
    if kind == "cap":
        return thompson(tree[2], nfa, word, target)
    if kind == "rep":
        return _repeat(tree, nfa, word, target)
    if kind == "look":
        return nfa.node(_LOOK, _add_look(nfa, tree[1], tree[2], word), target)
    if kind == "anchor":
        return _anchor(tree[1], nfa, word, target)
    if kind == "ref":
        raise TerminalError("it uses a back-reference or a subroutine call, which no finite automaton can check")
    raise AssertionError(f"unknown node {kind}")


def _repeat(tree, nfa: Nfa, word: Ranges, target: int) -> int:
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


def _iteration(operand, nfa: Nfa, word: Ranges, target: int, repeat: int) -> int:
    return nfa.node(_ITER, repeat, thompson(operand, nfa, word, target))


_LOOK_KINDS = {"=": (False, False), "!": (False, True), "<=": (True, False), "<!": (True, True)}


def _add_look(nfa: Nfa, kind: str, body, word: Ranges) -> int:
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


def _anchor(kind: str, nfa: Nfa, word: Ranges, target: int) -> int:
    """Anchors as look-arounds of one character: see the module docstring."""
    any_char = ("set", ANY)
    word_set = ("set", word)
    looks = {
        "^": [("<!", any_char)],
        "\\A": [("<!", any_char)],
        "$": [("!", ("alt", (("set", tuple(complement_ranges([(10, 10)]))), ("seq", (("set", ((10, 10),)), any_char)))))],
        "\\Z": [("!", any_char)],
        "\\z": [("!", any_char)],
    }
    if kind in looks:
        ((look_kind, body),) = looks[kind]
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
    nfa = Nfa()
    match = nfa.node(MATCH)
    start = thompson(tree, nfa, word, match)
    if nfa.looks:
        raise TerminalError(f"it nests a look-around inside {what}")
    try:
        return build_byte_dfa(*_char_automaton(nfa, start, match), max_states=MAX_LOOK_STATES)
    except EmptyLanguageError:
        return None
    except ConstraintError as exc:
        raise TerminalError(f"{what} is too large: {exc}") from None


def _char_automaton(nfa: Nfa, start: int, match: int):
    """The plain (unordered) automaton ``(n, initial, finals, transitions)``, epsilons removed:
    order, repeats and look-arounds read as plain epsilons (callers refuse look-arounds)."""
    eps = [c[1] if c[0] == _EPS else [c[2]] if c[0] in (_LOOK, _ITER) else [] for c in nfa.nodes]
    edges = [[(c[1], c[2])] if c[0] == _CHAR else [] for c in nfa.nodes]
    return remove_epsilons(eps, edges, start, match)


# --- the ordered-list DFA ------------------------------------------------------------------

MATCH_POS = (-1, 0)  # a finished match (it reads no more)


@functools.lru_cache(maxsize=1024)
def _char_dfa(ranges: Ranges) -> ByteDFA:
    """The byte DFA of one character of ``ranges`` (its final states end the character)."""
    return build_byte_dfa(2, 0, (1,), ((0, ranges, 1),))


class Machine:
    """A terminal's NFA run as Pike's VM over bytes. A thread is ``(position, conds)``: the
    position is ``(char node, state of that node's one-character DFA)`` — state 0 at a character
    boundary — or :data:`MATCH_POS`; ``conds`` are the look-aheads it has passed that are still
    pending (Follow items). Look-behind trackers run over the token's text beside the threads."""

    def __init__(self, nfa: Nfa, start: int):
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
        return tuple(
            looks[i].dfa.rows[s][b] if looks[i].dfa is not None and s >= 0 else -1 for i, s in zip(self.trackers, trackers)
        )

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
            elif kind in (_CHAR, MATCH):
                thread = ((n, 0) if kind == _CHAR else MATCH_POS, c)
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
                if p == MATCH_POS:
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


class OrderedLists:
    """The ordered-list DFA of a terminal: states are ``(threads, trackers)``; a state accepts
    when a thread has finished a match. Built eagerly, within :data:`MAX_TERMINAL_STATES`."""

    def __init__(self, machine: Machine):
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
        if pos == MATCH_POS and not conds:
            return threads[: i + 1]
    return threads
