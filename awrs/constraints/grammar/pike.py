"""A terminal's regular expression run as Pike's VM: a Thompson NFA with its epsilons in order
of preference (:mod:`awrs.constraints.grammar.thompson`), and the DFA over its ordered thread
lists, whose accepting states end a first match (docs/grammars.md, "How Lark matches a
terminal").

Threads behind a finished match are cut; a thread met again keeps its first, more preferred
place; a repeat goes on after an iteration that matched nothing, as Python's ``re`` does; a
look-ahead a thread passes is a condition it carries (a :class:`~awrs.constraints.grammar.follow.Follow`
item) until the text decides it, and a look-behind is read from a tracker that runs over the
token's text.
"""

from __future__ import annotations

import functools

from awrs.automata.dfa import ByteDFA, build_byte_dfa
from awrs.constraints.grammar.follow import follow
from awrs.constraints.grammar.thompson import CHAR, EPS, ITER, MATCH, MAX_TERMINAL_STATES, Look, Nfa, TerminalError
from awrs.constraints.regex.classes import Ranges

__all__ = ["MATCH_POS", "Machine", "OrderedLists"]


MATCH_POS = (-1, 0)  # a finished match (it reads no more)


@functools.lru_cache(maxsize=1024)
def _one_char_dfa(ranges: Ranges) -> ByteDFA:
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

    def one_char_dfa(self, node: int) -> ByteDFA:
        """The byte DFA of the character the CHAR node ``node`` reads."""
        return _one_char_dfa(self.nfa.nodes[node][1])

    def initial_trackers(self) -> tuple[int, ...]:
        return tuple(0 for _ in self.trackers)

    def step_trackers(self, trackers: tuple[int, ...], b: int) -> tuple[int, ...]:
        looks = self.nfa.looks
        return tuple(
            dfa.rows[s][b] if (dfa := looks[i].dfa) is not None and s >= 0 else -1 for i, s in zip(self.trackers, trackers)
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
        choices = self.nfa.choices
        while stack:
            n, c, iterating = stack.pop()
            choice = choices.get(n)
            if choice is not None and choice[0] in iterating:
                stack.append((choice[1], c, iterating - {choice[0]}))
                continue
            if (n, c, iterating) in seen:
                continue
            seen.add((n, c, iterating))
            thread = self._expand(n, c, iterating, trackers, stack)
            if thread is not None and thread not in emitted:
                emitted.add(thread)
                out.append(thread)
        found = self._closures[key] = tuple(out)
        return found

    def _expand(self, n: int, conds: frozenset, iterating: frozenset, trackers: tuple[int, ...], stack: list) -> tuple | None:
        """The thread node ``n`` is when it reads (a character or the match); otherwise None,
        with the paths it leads on to pushed on ``stack`` (last pushed, first taken)."""
        content = self.nfa.nodes[n]
        kind = content[0]
        if kind == CHAR:
            return ((n, 0), conds)
        if kind == MATCH:
            return (MATCH_POS, conds)
        if kind == EPS:
            stack.extend((t, conds, iterating) for t in reversed(content[1]))
        elif kind == ITER:
            stack.append((content[2], conds, iterating | {content[1]}))
        else:
            passed = self._pass_look(content[1], conds, trackers)
            if passed is not None:
                stack.append((content[2], passed, iterating))
        return None

    def _pass_look(self, look_index: int, conds: frozenset, trackers: tuple[int, ...]) -> frozenset | None:
        """A thread's conditions once it has passed a look-around: None when the look-around
        fails here, the look-ahead's Follow item added while what follows must decide it."""
        look = self.nfa.looks[look_index]
        if look.behind:
            return conds if self.behind_holds(look_index, trackers) else None
        item = _look_item(look)
        if item is True:
            return conds
        if item is False:
            return None
        return conds | {item}

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
        dfa = self.one_char_dfa(node)
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


def _look_item(look: Look):
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
            rows.append(machine.one_char_dfa(node).rows[state])
            for _, dfa, s, end_dfa, end_s in conds:
                rows.append(dfa.rows[s] if s is not None else _DEAD_ROW)
                if end_dfa is not None:
                    rows.append(end_dfa.rows[end_s])
        looks = machine.nfa.looks
        for i, s in zip(machine.trackers, trackers):
            rows.append(dfa.rows[s] if (dfa := looks[i].dfa) is not None and s >= 0 else _DEAD_ROW)
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
