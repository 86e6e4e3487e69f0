"""JSON arrays: items by position, counts, ``contains`` and ``uniqueItems``, byte by byte."""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, NamedTuple

from awrs.constraints.json_schema.combinators import AllOfNode
from awrs.constraints.json_schema.nodes import WHITESPACE, Layout, Node

__all__ = ["ArraySpec", "canonical"]

# Phases.
START, OPEN, VALUE, AFTER_VALUE, NEXT, CLOSED = range(6)

#: Restricted item nodes an array keeps (one per set of values left), before it starts afresh.
_UNUSED_LIMIT = 256


class ArrState(NamedTuple):
    phase: int
    ws: int
    n_items: int  # items completed
    child: Any  # the current item's Node (in phase VALUE), else None
    value: Any
    hit: Any  # state of the `contains` node on the current item (None once dead)
    matched: int  # items that satisfied `contains`
    text: bytes  # the current item's bytes (kept only for uniqueItems)
    seen: frozenset  # canonical forms of the items so far (uniqueItems)


class ArraySpec:
    """The array keywords of one schema, compiled. ``items`` applies past ``prefix``."""

    def __init__(
        self,
        layout: Layout,
        prefix: Sequence[Node],
        items: Node,
        min_items: int = 0,
        max_items: int | None = None,
        unique: bool = False,
        contains: Node | None = None,
        min_contains: int = 1,
        max_contains: int | None = None,
    ):
        self.layout = layout
        self.prefix = tuple(prefix)
        self.items = items
        self.min_items = min_items
        self.max_items = max_items
        self.unique = unique
        self.contains = contains
        self.min_contains = min_contains if contains is not None else 0
        self.max_contains = max_contains if contains is not None else None
        self._unused_memo: dict[tuple[int, frozenset], Node] = {}
        self.empty = not self._satisfiable()

    def __repr__(self) -> str:
        return f"ArraySpec(prefix={len(self.prefix)}, min={self.min_items}, max={self.max_items})"

    def item(self, i: int) -> Node:
        return self.prefix[i] if i < len(self.prefix) else self.items

    def _longest(self) -> int | None:
        """The most items an array can hold (an empty item schema ends it)."""
        limit = self.max_items
        for i, node in enumerate(self.prefix):
            if node.empty:
                limit = i if limit is None else min(limit, i)
                break
        else:
            if self.items.empty:
                n = len(self.prefix)
                limit = n if limit is None else min(limit, n)
        return limit

    def _satisfiable(self) -> bool:
        if self.max_contains is not None and self.max_contains < self.min_contains:
            return False
        if self.contains is not None and self.min_contains > 0 and self.contains.empty:
            return False
        return self._can_finish(0, 0, frozenset())

    def _room(self, count: int, seen: frozenset) -> int | None:
        """How many more items the array can take after ``count`` (None: no bound)."""
        longest = self._longest()
        room = None if longest is None else longest - count
        further = self._further(count, seen) if self.unique else None
        if further is not None and (room is None or further < room):
            room = further
        return room

    def _further(self, count: int, seen: frozenset) -> int | None:
        """With uniqueItems, how many more items the values not used yet allow, when the item
        schemas have few enough values to list (domains.domain; None otherwise). Each tuple
        position needs a value not used yet; past them, each item takes one of the ``items``
        values not used yet. (Values that later tuple positions will take are not subtracted:
        with a tuple, an over-approximation.)"""
        from awrs.constraints.json_schema.domains import domain  # (domains builds on this module)

        for i in range(count, len(self.prefix)):
            values = domain(self.prefix[i])
            if values is not None and values.keys() <= seen:
                return i - count
        values = domain(self.items)
        if values is None:
            return None
        return max(len(self.prefix) - count, 0) + len(values.keys() - seen)

    def _can_finish(self, count: int, matched: int, seen: frozenset, more: int = 0) -> bool:
        """After ``count`` items (``matched`` of them matching ``contains``; ``seen`` their
        canonical forms, with uniqueItems), can the array still close validly with at least
        ``more`` items to come?"""
        if self.max_contains is not None and matched > self.max_contains:
            return False
        room = self._room(count, seen)
        if room is not None and room < 0:
            return False
        need = max(self.min_items - count, self.min_contains - matched, more)
        return room is None or need <= room

    def _close_ok(self, st: ArrState) -> bool:
        return (
            st.n_items >= self.min_items
            and (self.max_items is None or st.n_items <= self.max_items)
            and st.matched >= self.min_contains
            and (self.max_contains is None or st.matched <= self.max_contains)
        )

    def start(self) -> ArrState:
        return ArrState(START, 0, 0, None, None, None, 0, b"", frozenset())

    def end(self, st: ArrState) -> bool:
        return st.phase == CLOSED

    def feed(self, st: ArrState, b: int) -> ArrState | None:
        phase = st.phase
        if phase == VALUE:
            nxt = st.child.feed(st.value, b)
            if nxt is not None:
                # st.hit is set only when ``contains`` is (_begin_item): no test for None per byte
                hit = None if st.hit is None else self.contains.feed(st.hit, b)  # type: ignore[union-attr]
                return self._with_value(st._replace(value=nxt, hit=hit, text=st.text + bytes([b]) if self.unique else b""))
            if not st.child.end(st.value):
                return None
            finished = self._finish_item(st)
            if finished is None:
                return None
            st, phase = finished, AFTER_VALUE
        if b in WHITESPACE and phase in (OPEN, AFTER_VALUE, NEXT):
            return st._replace(ws=st.ws + 1) if st.ws < self.layout.max_run else None
        if phase == START:
            return st._replace(phase=OPEN) if b == 0x5B else None
        if phase == OPEN and b == 0x5D:
            return st._replace(phase=CLOSED) if self._close_ok(st) else None
        if phase in (OPEN, NEXT):
            return self._begin_item(st, b)
        if phase == AFTER_VALUE:
            if b == 0x2C:  # another item must come (and may or may not satisfy `contains`)
                ok = not self.item(st.n_items).empty and self._can_finish(st.n_items, st.matched, st.seen, more=1)
                return st._replace(phase=NEXT, ws=0) if ok else None
            if b == 0x5D:
                return st._replace(phase=CLOSED) if self._close_ok(st) else None
        return None

    def feed_many(self, st: ArrState, data: bytes, i: int) -> tuple[ArrState, int]:
        """:meth:`Node.feed_many` of an array: bytes up to (not including) one :meth:`feed`
        refuses or one that closes the array; an item's inside runs through its own node
        (unless ``contains`` or ``uniqueItems`` also read its bytes)."""
        n = len(data)
        runs = self.contains is None and not self.unique
        while i < n:
            if runs and st.phase == VALUE:
                value, j = st.child.feed_many(st.value, data, i)
                if j > i:  # still open: what _with_value keeps (made field by field: _replace is
                    # several times slower, and this runs once per check inside an array)
                    st = ArrState(st.phase, st.ws, st.n_items, st.child, value, st.hit, st.matched, st.text, st.seen)
                    i = j
                    if i == n:
                        break
            nxt = self.feed(st, data[i])
            if nxt is None or nxt.phase == CLOSED:
                break
            st, i = nxt, i + 1
        return st, i

    def _begin_item(self, st: ArrState, b: int) -> ArrState | None:
        child = self.item(st.n_items)
        if child.empty or (self.max_items is not None and st.n_items >= self.max_items):
            return None
        if self.unique and st.seen:
            unused = self._unused(child, st.seen)
            if unused is None:
                return None
            child = unused
        value = child.feed(child.start(), b)
        if value is None:
            return None
        hit = None
        if self.contains is not None:
            hit = self.contains.feed(self.contains.start(), b)
        return self._with_value(
            st._replace(phase=VALUE, ws=0, child=child, value=value, hit=hit, text=bytes([b]) if self.unique else b"")
        )

    def _unused(self, child: Node, seen: frozenset) -> Node | None:
        """``child`` restricted to the values not in ``seen`` when its values can be listed
        (domains.domain), so that an item that can only repeat one is refused as soon as it
        can; None when every value is used. Memoised per set of values left."""
        from awrs.constraints.json_schema.domains import domain  # (domains builds on this module)
        from awrs.constraints.json_schema.values import value_node

        values = domain(child)
        if values is None:
            return child
        left = values.keys() - seen
        if len(left) == len(values):
            return child
        if not left:
            return None
        key = (id(child), frozenset(left))
        node = self._unused_memo.get(key)
        if node is None:
            if len(self._unused_memo) >= _UNUSED_LIMIT:
                self._unused_memo.clear()
            parsed = [json.loads(values[k], parse_float=Fraction) for k in left]
            node = self._unused_memo[key] = AllOfNode([child, value_node(parsed, self.layout)])
        return node

    def _with_value(self, st: ArrState) -> ArrState | None:
        """An item that can take no more bytes is judged at once."""
        if not st.child.closed(st.value):
            return st
        if not st.child.end(st.value):
            return None
        return self._finish_item(st)

    def _finish_item(self, st: ArrState) -> ArrState | None:
        count = st.n_items + 1
        matched = st.matched + (1 if st.hit is not None and self.contains.end(st.hit) else 0)  # type: ignore[union-attr]
        seen = st.seen
        if self.unique:
            key = canonical(json.loads(st.text, parse_float=Fraction, parse_int=Fraction))
            if key in seen:
                return None
            seen = seen | {key}
        if not self._can_finish(count, matched, seen):
            return None
        return ArrState(AFTER_VALUE, 0, count, None, None, None, matched, b"", seen)


def canonical(value: Any) -> Any:
    """A hashable form under which two JSON values are equal exactly when JSON Schema says so
    (numbers compare by value, ``true`` is not ``1``, object key order does not matter)."""
    if isinstance(value, bool) or value is None:
        return ("lit", value)
    if isinstance(value, Fraction):
        return ("num", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list):
        return ("arr", tuple(canonical(v) for v in value))
    return ("obj", frozenset((k, canonical(v)) for k, v in value.items()))
