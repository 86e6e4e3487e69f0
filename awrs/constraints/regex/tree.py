"""The regex reader's syntax tree: the shapes of its nodes, and the explicit stack the reader
runs on (:func:`run_nested`), so that no pattern's nesting costs Python frames.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

__all__ = ["EMPTY", "NO_ATOM", "Nested", "UnsupportedSyntax", "run_nested"]


class UnsupportedSyntax(Exception):
    """The pattern uses syntax this reader does not model (no automaton is made)."""


# --- the syntax tree ----------------------------------------------------------------------
# ("set", ranges) one character; ("seq", items); ("alt", branches); ("rep", node, lo, hi|None);
# ("cap", index, node) a capturing group; ("ref", index|name) a back-reference or call;
# ("anchor", kind); ("look", "=" | "!" | "<=" | "<!", node) a look-around; ("empty",).
# A lazy or possessive repeat carries its mode: ("rep", node, lo, hi, "lazy" | "possessive")
# (the same language as the greedy one; the order of preference differs, which matters where
# the first match counts: a grammar's terminals).

EMPTY = ("empty",)
#: What a comment or an inline flag group leaves: no atom, which (unlike an empty group) no
#: quantifier may follow.
NO_ATOM = ("empty", "nothing")


#: A step of the recursive descent: a generator that yields the generator of each
#: sub-computation and is sent back its result (see :func:`run_nested`).
Nested = Generator[Any, Any, Any]


def run_nested(root: Nested) -> Any:
    """Run a recursive computation written as generators without recursing: a generator
    ``yield``s the generator of a sub-computation and is sent back its result. Exceptions
    propagate to the caller. The stack lives in a list, so depth costs memory, not frames."""
    stack = [root]
    value = None
    while True:
        try:
            sub = stack[-1].send(value)
        except StopIteration as stop:
            stack.pop()
            if not stack:
                return stop.value
            value = stop.value
            continue
        stack.append(sub)
        value = None
