"""The JSON checker's byte step as docs/algorithm.md §6 states it: the reference for
:class:`~awrs.constraints.json_schema.JsonSchema`.

A schema compiles into a graph of nodes, each of which reads the bytes of one JSON value,
one byte at a time (:meth:`~awrs.constraints.json_schema.nodes.Node.feed`). The document
around the value — whitespace before and after it, and the nesting depth, which stops at
:data:`~awrs.constraints.json_schema.limits.MAX_DEPTH` — is read here, one byte at a time too.
The engine gets to the same states faster: :meth:`JsonSchema.advance` runs a token's bytes
through the inside of a string, number, key or container without going back up through the
enclosing nodes for every byte (``Node.feed_many``), and finds the nesting of the whole token
with one regular-expression scan. :class:`Document` sends every byte through the root's
``feed``, so, compiled from the same schema, it must reach *equal* states
(tests/constraints/json_schema/test_reference.py). It works on any compiled root, so the test
also runs it on a compile that shares no node (``share_any=False``: no memo around any
``feed``) and compares the verdicts.
"""

from __future__ import annotations

import numpy as np

from awrs.constraints.json_schema import LEAD, TRAIL, VALUE, DocState, JsonSchema
from awrs.constraints.json_schema.limits import MAX_DEPTH
from awrs.constraints.json_schema.nodes import WHITESPACE, Node
from awrs.lm.vocab import Vocabulary

__all__ = ["Document", "nesting_step"]

#: A nesting state is ``depth << 2 | flags``: inside a string, and after its backslash.
IN_STRING, ESCAPED = 1, 2
QUOTE, BACKSLASH = ord('"'), ord("\\")
OPENING, CLOSING = frozenset(b"[{"), frozenset(b"]}")


def nesting_step(nest: int, b: int) -> int | None:
    """docs/algorithm.md §6.2: the nesting state after byte ``b``; None when ``b`` opens a
    level beyond :data:`MAX_DEPTH`. Brackets inside strings do not count."""
    depth = nest >> 2
    if nest & ESCAPED:
        return depth << 2 | IN_STRING  # the escaped byte
    if nest & IN_STRING:
        if b == BACKSLASH:
            return nest | ESCAPED
        return depth << 2 if b == QUOTE else nest
    if b == QUOTE:
        return nest | IN_STRING
    if b in OPENING:
        return None if depth >= MAX_DEPTH else (depth + 1) << 2
    if b in CLOSING:
        return (depth - 1) << 2
    return nest


class Document:
    """docs/algorithm.md §6.1: a JSON document that is one value read by ``root``, with at most
    ``max_ws`` whitespace bytes before it and after it; its states are
    :class:`~awrs.constraints.json_schema.DocState`."""

    def __init__(self, root: Node, max_ws: int):
        self.root, self.max_ws = root, max_ws

    @classmethod
    def of(cls, schema: JsonSchema) -> Document:
        """The document of a compiled schema (its root node and whitespace budget)."""
        return cls(schema._root, schema._max_ws)

    def initial(self) -> DocState:
        return DocState(LEAD, 0, self.root.start(), 0)

    def step(self, state: DocState, b: int) -> DocState | None:
        """The state after one more byte, or None when no valid document starts with the text."""
        nest = nesting_step(state.nest, b)
        if nest is None:
            return None
        phase, ws, value, _ = state
        if phase == VALUE:
            nxt = self.root.feed(value, b)
            if nxt is not None:
                return DocState(VALUE, ws, nxt, nest)
            if self.root.end(value) and b in WHITESPACE and self.max_ws > 0:
                return DocState(TRAIL, 1, value, nest)  # the value ended: whitespace may follow
            return None
        if b in WHITESPACE:
            return DocState(phase, ws + 1, value, nest) if ws < self.max_ws else None
        if phase == TRAIL:
            return None
        nxt = self.root.feed(value, b)  # the value's first byte
        return None if nxt is None else DocState(VALUE, 0, nxt, nest)

    def advance(self, state: DocState, data: bytes) -> DocState | None:
        for b in data:
            nxt = self.step(state, b)
            if nxt is None:
                return None
            state = nxt
        return state

    def is_complete(self, state: DocState) -> bool:
        """The text is a whole valid document: its value has ended, or whitespace follows it."""
        return state.phase == TRAIL or (state.phase == VALUE and self.root.end(state.value))

    def is_final(self, state: DocState) -> bool:
        """Complete, and no byte but whitespace can follow."""
        return self.is_complete(state) and all(self.step(state, b) is None for b in range(256) if b not in WHITESPACE)

    def next_bytes(self, state: DocState) -> np.ndarray:
        return np.array([self.step(state, b) is not None for b in range(256)])

    def mask(self, state: DocState, vocab: Vocabulary) -> np.ndarray:
        """Which tokens may come next (special tokens never)."""
        text = vocab.text_mask
        return np.array([bool(text[i]) and self.advance(state, t) is not None for i, t in enumerate(vocab.tokens)])
