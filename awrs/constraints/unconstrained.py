"""``Unconstrained``: every string is valid (the baseline every benchmark compares with)."""

from __future__ import annotations

import numpy as np

from awrs.constraints.base import Constraint
from awrs.lm.vocab import Vocabulary

__all__ = ["Unconstrained"]


class Unconstrained(Constraint):
    """Accepts everything; its only state is 0."""

    def __repr__(self) -> str:
        return "Unconstrained()"

    def initial(self) -> int:
        return 0

    def advance(self, state: int, data: bytes) -> int:
        return 0

    def is_complete(self, state: int) -> bool:
        return True

    def mask(self, state: int, vocab: Vocabulary) -> np.ndarray:
        return vocab.text_mask.copy()
