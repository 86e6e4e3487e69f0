"""Byte DFAs: the table every regular check walks.

A :class:`ByteDFA` is built from a *character* automaton (transitions labelled with sets of
code points) by :func:`build_byte_dfa`, which determinises and minimises it over code points
and expands it into UTF-8 bytes (:mod:`awrs.automata.char_dfa`). Only live states (from which
an accepting state is reachable) remain, so "the walk has not fallen off the table" is
exactly "some completion is accepted": the prefix check is exact.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from awrs.automata import _kernels as kernels
from awrs.automata.char_dfa import DEAD, CharTransition, DFATooLarge, byte_table
from awrs.lm.vocab import Vocabulary

__all__ = ["DEAD", "MAX_DFA_STATES", "ByteDFA", "CharTransition", "DFATooLarge", "build_byte_dfa", "walk_vocabulary"]

#: Byte DFAs are built whole up to this many states (a 1 KB row each); past it a regular
#: pattern is determinised lazily (awrs.constraints.regex.lazy_dfa).
MAX_DFA_STATES = 4000


class ByteDFA:
    """A minimal DFA over bytes with only live states.

    ``rows[s][b]`` (Python lists, for fast scalar walks) and ``table[s, b]`` (a C-contiguous
    int32 array, for the Numba kernels; built on first use when not given) are the next
    state or -1 (no valid string continues that way); state 0 is the initial state;
    ``final[s]`` marks accepting states. Treated as immutable.
    """

    __slots__ = ("_table", "final", "rows")

    def __init__(self, table: np.ndarray | None, final: np.ndarray, rows: list[list[int]]):
        self.rows = rows
        self.final = final
        self._table = table

    def __repr__(self) -> str:
        return f"ByteDFA({self.n_states} states)"

    @property
    def table(self) -> np.ndarray:
        if self._table is None:
            self._table = np.ascontiguousarray(np.array(self.rows, dtype=np.int32))
        return self._table

    @property
    def n_states(self) -> int:
        return len(self.rows)

    @classmethod
    def nothing(cls) -> ByteDFA:
        """A DFA that accepts no string at all (one state, no transition, not accepting): the
        one exception to "live states only"."""
        table = np.full((1, 256), DEAD, dtype=np.int32)
        return cls(table=table, final=np.zeros(1, dtype=np.bool_), rows=table.tolist())


def build_byte_dfa(
    n_states: int,
    initial: int,
    finals: Iterable[int],
    transitions: Iterable[CharTransition],
    max_states: int = MAX_DFA_STATES,
) -> ByteDFA:
    """The minimal live byte DFA of a character automaton (possibly nondeterministic,
    epsilon-free), built by :func:`awrs.automata.char_dfa.byte_table`.

    Raises :class:`~awrs.errors.EmptyLanguageError` when the language is empty and
    :class:`DFATooLarge` past ``max_states`` states.
    """
    table, final = byte_table(n_states, initial, finals, transitions, max_states)
    return ByteDFA(table=table, final=np.array(final, dtype=np.bool_), rows=table.tolist())


def walk_vocabulary(dfa: ByteDFA, state: int, vocab: Vocabulary) -> np.ndarray:
    """The state after each token of ``vocab`` from ``state`` (-1 where rejected), via Numba."""
    buf, offsets = vocab.flat
    return kernels.walk_all(dfa.table, state, buf, offsets)
