"""The constraint whose states are the states of a byte DFA (:mod:`awrs.automata.dfa`)."""

from __future__ import annotations

import numpy as np

from awrs.automata.dfa import ByteDFA, walk_vocabulary
from awrs.constraints.base import Constraint
from awrs.lm.vocab import Vocabulary

__all__ = ["DFAConstraint"]


class DFAConstraint(Constraint):
    """A constraint whose states are the integer states of a :class:`ByteDFA`."""

    def __init__(self, dfa: ByteDFA):
        self._dfa = dfa
        self._allowed: np.ndarray = np.any(dfa.table >= 0, axis=0)  # the bytes some transition reads

    @property
    def dfa(self) -> ByteDFA:
        return self._dfa

    def initial(self) -> int:
        return 0

    def advance(self, state: int, data: bytes) -> int | None:
        rows = self._dfa.rows
        for b in data:
            state = rows[state][b]
            if state < 0:
                return None
        return state

    def is_complete(self, state: int) -> bool:
        return bool(self._dfa.final[state])

    def next_bytes(self, state: int) -> np.ndarray:
        return self._dfa.table[state] >= 0

    def mask(self, state: int, vocab: Vocabulary) -> np.ndarray:
        return (walk_vocabulary(self._dfa, state, vocab) >= 0) & vocab.text_mask

    def allowed_bytes(self) -> np.ndarray:
        return self._allowed
