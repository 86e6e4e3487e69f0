"""One read per (node, state): the work shared between parents that read the same value.

A compiled schema is a graph, not a tree: ``$ref`` points many parents at one node, and the
parents of one value read it in parallel (the branches of ``allOf``/``anyOf``/``oneOf``, ``not``
and ``if`` beside their carrier, ``dependentSchemas`` beside their object, ``contains`` beside
``items``). Every reader of a node that started on the same byte reads the same bytes, so the
readers' states are equal; read one by one, though, a chain of 16 ``anyOf``s that each refer
twice to the level below makes 2**16 readers of the innermost schema (a one-kilobyte schema
that took seconds per byte).

A node that the compiler hands to a second parent is *shared* (:func:`share`): from then on its
``feed`` and ``end`` go through memos keyed by the identity of the state (and the byte), and
its ``start`` always returns the same state. Equal readers then hold the very same state
object, step after step, and a node reads each distinct state once per byte: the work of a
byte is bounded by the number of distinct (node, state) pairs, at most the number of nodes
times the nesting depth, instead of the number of paths through the graph.

The memos are keyed by ``id(state)`` and keep the state itself, so an identity can never be
reused while its entry lives; each memo starts afresh past :data:`MEMO_LIMIT` entries (the
memos then only cost recomputation, never a wrong answer). Thread-safe under the GIL: a race
computes an entry twice, and both values are equal.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MEMO_LIMIT", "share"]

#: Entries a shared node's memo keeps before it starts afresh. One byte asks a node about at
#: most one state per nesting level it is reading at; 256 covers that with room for the 256
#: one-byte probes of ``next_bytes`` from one state, and bounds what a memo keeps alive.
MEMO_LIMIT = 256


def share(node: Any) -> None:
    """Route ``node``'s ``feed``, ``end`` and ``start`` through memos (see the module
    docstring). Idempotent; a node that reads no value of its own in parallel (a string,
    number or literal reader, a reference, ``false``) is left as it is: its work per byte is
    constant, and its parents are shared when they need to be."""
    if not node.composite or "feed" in vars(node):
        return
    feed, end, start = node.feed, node.end, node.start
    feeds: dict[int, tuple[Any, Any]] = {}
    ends: dict[int, tuple[Any, bool]] = {}
    first: list[Any] = []

    def shared_feed(state: Any, b: int) -> Any:
        key = id(state) << 8 | b
        hit = feeds.get(key)
        if hit is not None and hit[0] is state:
            return hit[1]
        out = feed(state, b)
        if len(feeds) >= MEMO_LIMIT:
            feeds.clear()
        feeds[key] = (state, out)
        return out

    def shared_end(state: Any) -> bool:
        hit = ends.get(id(state))
        if hit is not None and hit[0] is state:
            return hit[1]
        out = end(state)
        if len(ends) >= MEMO_LIMIT:
            ends.clear()
        ends[id(state)] = (state, out)
        return out

    def shared_start() -> Any:
        if not first:  # made on first use: during a compile, references may not resolve yet
            first.append(start())
        return first[0]

    node.feed, node.end, node.start = shared_feed, shared_end, shared_start
