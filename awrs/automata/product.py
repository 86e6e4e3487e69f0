"""The product of two byte DFAs: the intersection of their languages (a ``pattern`` and a
``format`` on one JSON string).

The pairs of states reachable from ``(0, 0)`` are walked breadth first; the live pairs are
kept and minimised (:mod:`awrs.automata.minimise`) when the product is small enough for it.
"""

from __future__ import annotations

import numpy as np

from awrs.automata.dfa import DEAD, MAX_DFA_STATES, ByteDFA, DFATooLarge
from awrs.automata.minimise import keep_live, minimise
from awrs.errors import EmptyLanguageError

__all__ = ["MAX_MINIMISE_STATES", "intersect"]

#: Products are minimised (Moore refinement, quadratic in the worst case) up to this size.
MAX_MINIMISE_STATES = 300


def intersect(a: ByteDFA, b: ByteDFA) -> ByteDFA:
    """The DFA of strings both accept (product construction, then live states, minimised).

    Raises :class:`EmptyLanguageError` when the intersection is empty and :class:`DFATooLarge`
    past :data:`MAX_DFA_STATES` pairs.
    """
    index = {(0, 0): 0}
    order = [(0, 0)]
    rows: list[list[int]] = []
    i = 0
    while i < len(order):
        sa, sb = order[i]
        rows.append(_product_row(a.rows[sa], b.rows[sb], index, order))
        i += 1
    table = np.array(rows, dtype=np.int64).reshape(len(rows), 256)
    final = np.array([bool(a.final[x] and b.final[y]) for x, y in order], dtype=np.bool_)
    table, final = keep_live(table, final)
    if table.shape[0] == 0:
        raise EmptyLanguageError("the constraint's language is empty: no string satisfies it")
    if table.shape[0] <= MAX_MINIMISE_STATES:
        table, final = minimise(table, final)
    table = np.ascontiguousarray(table, dtype=np.int32)
    return ByteDFA(table=table, final=final, rows=table.tolist())


def _product_row(
    row_a: list[int], row_b: list[int], index: dict[tuple[int, int], int], order: list[tuple[int, int]]
) -> list[int]:
    """The row of the pair whose rows are given; pairs met for the first time are numbered
    (in ``index``) and queued (on ``order``)."""
    row = [DEAD] * 256
    for byte in range(256):
        na, nb = row_a[byte], row_b[byte]
        if na < 0 or nb < 0:
            continue
        key = (na, nb)
        j = index.get(key)
        if j is None:
            j = index[key] = len(order)
            order.append(key)
            if len(order) > MAX_DFA_STATES:
                raise DFATooLarge(f"the automaton would exceed {MAX_DFA_STATES} states")
        row[byte] = j
    return row
