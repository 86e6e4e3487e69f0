"""The minimal DFA of a finite set of byte strings (``Choice``, ``enum`` and ``const``)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from awrs.automata.dfa import DEAD, ByteDFA
from awrs.errors import ConstraintError

__all__ = ["trie_dfa"]

#: A state of the merged trie: whether it accepts, and its (byte, target class) edges.
_Signature = tuple[bool, tuple[tuple[int, int], ...]]


def trie_dfa(strings: Iterable[bytes]) -> ByteDFA:
    """The minimal DFA accepting exactly the given byte strings (ConstraintError when none).

    Built as a trie and minimised by hash-consing suffixes bottom-up (Revuz's linear-time
    minimisation of acyclic automata): two states merge when both accept or not and their
    transitions lead to the same merged states.
    """
    strings = list(dict.fromkeys(strings))
    if not strings:
        raise ConstraintError("the list of choices is empty: give at least one string")
    children, final = _trie(strings)
    klass, signatures = _merge_suffixes(children, final)
    return _table(signatures, klass[0])


def _trie(strings: list[bytes]) -> tuple[list[dict[int, int]], list[bool]]:
    """The trie of the strings: each node's children by byte, and whether a string ends there
    (node 0 is the root)."""
    children: list[dict[int, int]] = [{}]
    final: list[bool] = [False]
    for s in strings:
        node = 0
        for b in s:
            nxt = children[node].get(b)
            if nxt is None:
                nxt = len(children)
                children[node][b] = nxt
                children.append({})
                final.append(False)
            node = nxt
        final[node] = True
    return children, final


def _post_order(children: list[dict[int, int]]) -> list[int]:
    """The trie's nodes, children before their parent (without recursion)."""
    order, stack = [], [(0, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children[node].values())
    return order


def _merge_suffixes(children: list[dict[int, int]], final: list[bool]) -> tuple[dict[int, int], list[_Signature]]:
    """Each node's class (nodes with equal suffix languages share one) and each class's
    signature, classes numbered bottom-up."""
    klass: dict[int, int] = {}
    index: dict[_Signature, int] = {}
    signatures: list[_Signature] = []
    for node in _post_order(children):
        sig = (final[node], tuple(sorted((b, klass[c]) for b, c in children[node].items())))
        k = index.get(sig)
        if k is None:
            k = index[sig] = len(signatures)
            signatures.append(sig)
        klass[node] = k
    return klass, signatures


def _table(signatures: list[_Signature], root: int) -> ByteDFA:
    """The DFA of the merged classes, renumbered so that the root's class is state 0."""
    number = {root: 0}
    for k in range(len(signatures)):
        if k != root:
            number[k] = len(number)
    rows = [[DEAD] * 256 for _ in signatures]
    fin = np.zeros(len(signatures), dtype=np.bool_)
    for k, (is_final, edges) in enumerate(signatures):
        row = rows[number[k]]
        fin[number[k]] = is_final
        for b, child in edges:
            row[b] = number[child]
    return ByteDFA(table=None, final=fin, rows=rows)
