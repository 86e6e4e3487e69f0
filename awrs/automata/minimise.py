"""Live states and Moore minimisation of byte tables (the products of
:mod:`awrs.automata.product`).

A table here is an ``int64`` array ``table[s, c]`` (next state or -1, state 0 initial) with a
column per byte or per byte class, and ``final`` a boolean array. Character automata are
minimised over code points before they become byte tables (:mod:`awrs.automata.char_dfa`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from awrs.automata.char_dfa import DEAD

__all__ = ["keep_live", "minimise", "reach_back"]


def reach_back(predecessors: Sequence[Iterable[int]], marks: list[int]) -> list[int]:
    """Each node's mark OR-ed with the marks of every node it can reach (bitmasks pushed back
    along the predecessor lists until nothing changes)."""
    out = list(marks)
    stack = [node for node, mark in enumerate(out) if mark]
    while stack:
        node = stack.pop()
        mark = out[node]
        for p in predecessors[node]:
            if out[p] | mark != out[p]:
                out[p] |= mark
                stack.append(p)
    return out


def keep_live(table: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop states from which no accepting state is reachable; renumber with 0 first. Empty
    arrays (no rows) when the initial state is not live."""
    n = table.shape[0]
    src, byte = np.nonzero(table >= 0)
    edges = np.unique(table[src, byte].astype(np.int64) * n + src)  # (dst, src) pairs, once each
    predecessors: list[list[int]] = [[] for _ in range(n)]
    for dst, s in zip((edges // n).tolist(), (edges % n).tolist()):
        predecessors[dst].append(s)
    live = np.array(reach_back(predecessors, final.astype(int).tolist()), dtype=np.bool_)
    if not live[0]:
        return np.zeros((0, table.shape[1]), dtype=np.int64), np.zeros(0, dtype=np.bool_)
    keep = np.flatnonzero(live)
    renumber = np.full(n, DEAD, dtype=np.int64)
    renumber[keep] = np.arange(len(keep))
    sub = table[keep]
    sub = np.where(sub >= 0, renumber[np.where(sub >= 0, sub, 0)], DEAD)
    return sub, final[keep]


def minimise(table: np.ndarray, final: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moore partition refinement; state 0 stays the initial state.

    Each round groups states by (class, classes of the successors). Rows are grouped by a
    64-bit hash (a product with random odd multipliers, wrapping), which keeps a round at one
    matrix-vector product; a final exact check falls back to exact row grouping in the
    astronomically unlikely case of a collision.
    """
    classes = _refine(table, final, _row_hash_groups)
    if not _is_consistent(table, classes):  # pragma: no cover - a 64-bit hash collision
        classes = _refine(table, final, _row_exact_groups)
    _, first = np.unique(classes, return_index=True)
    order = np.argsort(first)  # classes numbered by first appearance: the initial state's is 0
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    cls = rank[classes]
    reps = first[order]
    small = table[reps]
    small = np.where(small >= 0, cls[np.where(small >= 0, small, 0)], DEAD)
    return small, final[reps]


#: One odd multiplier per column of a signature (a class and up to 256 successors).
_MULTIPLIERS = np.random.default_rng(20250401).integers(1, 2**62, size=257, dtype=np.int64) | 1


def _signatures(table: np.ndarray, classes: np.ndarray) -> np.ndarray:
    succ = np.where(table >= 0, classes[np.where(table >= 0, table, 0)], DEAD)
    return np.concatenate([classes[:, None], succ], axis=1)


def _row_hash_groups(signature: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        h = (signature + 2) @ _MULTIPLIERS[: signature.shape[1]]
    return np.unique(h, return_inverse=True)[1].reshape(-1)


def _row_exact_groups(signature: np.ndarray) -> np.ndarray:
    return np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)


def _refine(table: np.ndarray, final: np.ndarray, groups: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    classes = np.unique(final, return_inverse=True)[1].reshape(-1).astype(np.int64)
    count = int(classes.max()) + 1 if len(classes) else 0
    while True:
        new = groups(_signatures(table, classes))
        new_count = int(new.max()) + 1 if len(new) else 0
        if new_count == count:
            return classes
        classes, count = new, new_count


def _is_consistent(table: np.ndarray, classes: np.ndarray) -> bool:
    sig = _signatures(table, classes)
    order = np.argsort(classes, kind="stable")
    same_class = classes[order][1:] == classes[order][:-1]
    same_row = (sig[order][1:] == sig[order][:-1]).all(axis=1)
    return bool((same_row | ~same_class).all())
