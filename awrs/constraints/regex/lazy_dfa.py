"""A byte DFA made on first use, for regular patterns whose whole DFA would be too large.

Subset construction done lazily (as RE2 and Rust's ``regex`` do): a state is the set of byte
NFA nodes the text so far can be in, and its row of successors is computed the first time a
walk leaves it, then memoised. Nodes from which no accepting node is reachable are dropped, so
a state exists exactly when some completion is accepted: the prefix check is exact, as with
the eager :class:`~awrs.automata.dfa.ByteDFA`.

Budget: at most :data:`MAX_CACHED_STATES` rows are kept; past that the memo is emptied and
rebuilt as walks need it (states are the node sets themselves, so states held by sequences
stay valid). A new row costs time linear in the NFA edges of its state: a check never
backtracks, whatever the pattern (``([a-z]+ ?){1,100}`` on 101 words, a 100,000-character
literal).
"""

from __future__ import annotations

import threading

import numpy as np

from awrs.automata.char_dfa import CharTransition
from awrs.automata.nfa import ByteClasses, ByteNFA
from awrs.constraints.base import Constraint
from awrs.errors import EmptyLanguageError

__all__ = ["MAX_CACHED_STATES", "LazyDFA"]

#: Rows kept before the memo is emptied: each row holds one successor per byte class (a few
#: dozen) and its state's node set, so 20,000 rows stay within tens of MB even for states of
#: hundreds of nodes.
MAX_CACHED_STATES = 20_000

_State = frozenset
#: Each row interns up to one new state per byte class; the interning map is emptied with the
#: rows, or once it holds this many states per allowed row.
_CANONICAL_PER_ROW = 4


class LazyDFA(Constraint):
    """The strings a character automaton accepts, checked by a byte DFA made on first use.

    A state is an immutable frozenset of byte NFA nodes (copying it is copying a reference).
    Thread-safe: rows are memoised in a dict, and two threads that make the same row make
    equal ones."""

    def __init__(
        self, n_states: int, initial: int, finals, transitions: list[CharTransition] | tuple, max_cached: int = MAX_CACHED_STATES
    ):
        nfa = ByteNFA.from_chars(n_states, initial, finals, transitions)
        if not nfa.live[initial]:
            raise EmptyLanguageError("the constraint's language is empty: no string satisfies it")
        edges = nfa.edges
        classes = ByteClasses(nfa.cuts)
        self._of_byte = classes.of_byte
        self._n_classes = classes.n
        self._edges = [classes.class_edges(out) for out in edges]
        self._live = nfa.live
        self._finals = nfa.finals
        self._max_cached = max_cached
        self._rows: dict[_State, tuple[list[_State | None], bool]] = {}
        # One object per distinct state, so that a memo hit compares identities, not sets.
        self._canonical: dict[_State, _State] = {}
        self._lock = threading.Lock()
        self._start: _State = frozenset([initial])
        self._allowed = np.zeros(256, dtype=np.bool_)
        for out in edges:
            for lo, hi, _ in out:
                self._allowed[lo : hi + 1] = True
        self.n_nodes = len(edges)

    @property
    def n_cached(self) -> int:
        """States whose rows are memoised now."""
        return len(self._rows)

    def initial(self) -> _State:
        return self._start

    def advance(self, state: _State, data: bytes) -> _State | None:
        rows, of_byte = self._rows, self._of_byte
        for b in data:
            row = rows.get(state)
            if row is None:
                row = self._row(state)
            nxt = row[0][of_byte[b]]
            if nxt is None:
                return None
            state = nxt
        return state

    def is_complete(self, state: _State) -> bool:
        row = self._rows.get(state)
        return row[1] if row is not None else not self._finals.isdisjoint(state)

    def next_bytes(self, state: _State) -> np.ndarray:
        row = self._rows.get(state) or self._row(state)
        successors = row[0]
        return np.array([successors[k] is not None for k in self._of_byte], dtype=np.bool_)

    def allowed_bytes(self) -> np.ndarray:
        return self._allowed

    def _row(self, state: _State) -> tuple[list[_State | None], bool]:
        """The successors of ``state`` per byte class (None: no completion) and whether it
        accepts; memoised within the budget."""
        targets: list[set[int] | None] = [None] * self._n_classes
        live, edges = self._live, self._edges
        for node in state:
            for lo, hi, dst in edges[node]:
                if not live[dst]:
                    continue
                for k in range(lo, hi):
                    found = targets[k]
                    if found is None:
                        targets[k] = {dst}
                    else:
                        found.add(dst)
        canonical = self._canonical
        successors: list[_State | None] = []
        for found in targets:
            if found is None:
                successors.append(None)
                continue
            key = frozenset(found)
            successors.append(canonical.setdefault(key, key))
        row = (successors, not self._finals.isdisjoint(state))
        with self._lock:
            if len(self._rows) >= self._max_cached or len(canonical) >= _CANONICAL_PER_ROW * self._max_cached:
                self._rows.clear()
                self._canonical.clear()
            self._rows[state] = row
        return row
