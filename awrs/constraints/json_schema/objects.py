"""JSON objects: keys, values and the object-level keywords, checked byte by byte.

A state records where the parser is (a key, the colon, a value, a comma...), the keys seen so
far, the key or value in progress, and the states of ``dependentSchemas`` subschemas, which
read the whole object alongside. After every byte the object can still be completed: keys
that could not lead to a valid object (unknown under ``additionalProperties: false``,
duplicates, over ``maxProperties`` while required keys are missing...) are refused as soon as
no completion of the key text can be valid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from awrs.constraints.json_schema.nodes import WHITESPACE, AllOfNode, Layout, Node, Unresolved
from awrs.constraints.json_schema.strings import CLOSED as STR_CLOSED
from awrs.constraints.json_schema.strings import IN as STR_IN
from awrs.constraints.json_schema.strings import UTF8 as STR_UTF8
from awrs.constraints.json_schema.strings import StringSpec, feed_plain, feed_string, partial_bytes, pending_chars, string_start

__all__ = ["ObjectSpec"]

_KEY = StringSpec(keep_text=True)
# Phases.
START, OPEN, KEY, COLON, BEFORE_VALUE, VALUE, AFTER_VALUE, NEXT_KEY, CLOSED = range(9)


#: Entries past which an object spec's memos start afresh (the shared any-value object sees
#: every key set of every document).
_MEMO_LIMIT = 4096


class ObjState(NamedTuple):
    """(Made field by field on the hot path, not with ``_replace``: several times cheaper.)"""

    phase: int
    ws: int  # whitespace bytes in the current run
    seen: frozenset
    key: Any  # the key's string state, while reading a key
    names: Any  # the propertyNames node's state for the key
    child: Node | None  # the node of the value being read
    value: Any  # its state
    deps: tuple  # states of the dependentSchemas nodes (None once dead)
    last: int  # index in schema order of the last declared property (fixed key order)


class ObjectSpec:
    """The object keywords of one schema, compiled."""

    def __init__(
        self,
        layout: Layout,
        properties: Mapping[str, Node],
        patterns: Sequence[tuple[Any, Node]],
        additional: Node,
        names: Node | None = None,
        required: frozenset[str] = frozenset(),
        min_props: int = 0,
        max_props: int | None = None,
        dependent_required: Mapping[str, frozenset[str]] | None = None,
        dependent_schemas: Mapping[str, Node] | None = None,
        fixed_order: bool = False,
    ):
        self.layout = layout
        self.properties = dict(properties)
        self.patterns = list(patterns)  # (compiled regex searched in the name, its text, node)
        self._prefix_checkers: dict[str, Any] = {}
        self.additional = additional
        self.names = names
        self.required = frozenset(required)
        self.min_props = min_props
        self.max_props = max_props
        self.dep_required = dict(dependent_required or {})
        self.dep_keys = tuple((dependent_schemas or {}).keys())
        self.dep_nodes = tuple((dependent_schemas or {}).values())
        self.order = {name: i for i, name in enumerate(self.properties)} if fixed_order else None
        self._node_cache: dict[str, Node] = {}
        self._missing_memo: dict[frozenset, frozenset] = {}
        self._finish_memo: dict[tuple[frozenset, int], bool] = {}
        self._utf8: dict[str, bytes] = {}
        self.finite = additional.empty and not self.patterns
        self._candidates = tuple(n for n, node in self.properties.items() if not node.empty)
        self.empty = not self._satisfiable()

    def __repr__(self) -> str:
        return f"ObjectSpec(properties={list(self.properties)}, required={sorted(self.required)})"

    # --- compile-time reasoning ----------------------------------------------------------

    def node_for(self, name: str) -> Node:
        """The schema a property's value must satisfy (``properties``, matching
        ``patternProperties``, else ``additionalProperties``)."""
        if not self.properties and not self.patterns:  # e.g. the shared any-value object: nothing to cache
            return self.additional
        node = self._node_cache.get(name)
        if node is None:
            nodes = [self.properties[name]] if name in self.properties else []
            nodes += [n for rx, _, n in self.patterns if rx.search(name)]
            node = self.additional if not nodes else nodes[0] if len(nodes) == 1 else AllOfNode(nodes)
            self._node_cache[name] = node
        return node

    def _name_allowed(self, name: str) -> bool:
        if self.node_for(name).empty:
            return False
        return self.names is None or _node_accepts_string(self.names, name)

    def _satisfiable(self) -> bool:
        if self.max_props is not None and self.max_props < self.min_props:
            return False
        if not self.required and not self.min_props:
            return True  # the empty object (the usual case, decided without the memos)
        try:
            return self._can_finish(frozenset(), -1)
        except Unresolved:  # propertyNames refers back to a schema still being compiled
            return True  # assumed satisfiable; reading decides exactly

    def _missing(self, seen: frozenset) -> frozenset:
        """Required keys not yet seen, including dependentRequired ones (transitively).
        Memoised per set of seen keys (asked at every byte of a key)."""
        out = self._missing_memo.get(seen)
        if out is None:
            if len(self._missing_memo) >= _MEMO_LIMIT:
                self._missing_memo.clear()
            out = self._missing_memo[seen] = self._find_missing(seen)
        return out

    def _find_missing(self, seen: frozenset) -> frozenset:
        needed = set(self.required)
        frontier = list(needed | seen)
        while frontier:
            for dep in self.dep_required.get(frontier.pop(), ()):
                if dep not in needed:
                    needed.add(dep)
                    frontier.append(dep)
        return frozenset(needed - seen)

    def _can_finish(self, seen: frozenset, last: int) -> bool:
        """Can keys still be added so that the object closes validly? (Memoised: a key's
        every byte asks it of each candidate name.)"""
        key = (seen, last)
        out = self._finish_memo.get(key)
        if out is None:
            if len(self._finish_memo) >= _MEMO_LIMIT:
                self._finish_memo.clear()
            out = self._finish_memo[key] = self._find_can_finish(seen, last)
        return out

    def _find_can_finish(self, seen: frozenset, last: int) -> bool:
        missing = self._missing(seen)
        if not all(self._name_allowed(m) for m in missing):
            return False
        if self.order is not None and any(self.order.get(m, 1 << 30) < last for m in missing):
            return False
        room = None if self.max_props is None else self.max_props - len(seen)
        want = max(self.min_props - len(seen), len(missing))
        if room is not None and want > room:
            return False
        if self.finite:
            available = [c for c in self._candidates if c not in seen and self._order_ok(c, last) and self._name_allowed(c)]
            return len(available) >= want
        return True

    def _order_ok(self, name: str, last: int) -> bool:
        return self.order is None or name not in self.order or self.order[name] > last

    def _key_viable(self, st: ObjState, text: str, closed: bool, partial: bytes = b"", escape: Any = None) -> bool:
        """Can the key being read (``text`` so far, then the ``partial`` bytes of an unfinished
        character, or an escape begun that can still stand for the code points ``escape``)
        become a key of a valid object?"""
        seen, last = st.seen, st.last
        if closed:
            if text in seen or not self._order_ok(text, last) or not self._name_allowed(text):
                return False
            return self._can_finish(seen | {text}, self.order.get(text, last) if self.order else last)
        room = None if self.max_props is None else self.max_props - len(seen)
        if room is not None and room <= 0:
            return False
        missing = self._missing(seen)
        prefix = text.encode("utf-8", "surrogatepass") + partial
        if self.finite or (room is not None and room == len(missing)):
            pool = missing if (room is not None and room == len(missing)) else self._candidates
            return any(
                self._bytes(n).startswith(prefix)
                and _continues(n, text, escape)
                and n not in seen
                and self._order_ok(n, last)
                and self._name_allowed(n)
                and self._can_finish(seen | {n}, self.order.get(n, last) if self.order else last)
                for n in pool
            )
        if self.additional.empty:  # a declared name, or a name some patternProperties pattern can match
            return any(
                self._bytes(n).startswith(prefix) and _continues(n, text, escape) and n not in seen for n in self._candidates
            ) or any(self._pattern_viable(pattern, prefix, escape) for _, pattern, node in self.patterns if not node.empty)
        return True  # an open set of names: the text can always grow into a fresh one

    def _bytes(self, name: str) -> bytes:
        """A key's UTF-8 bytes (memoised: compared with the key read so far at every byte)."""
        out = self._utf8.get(name)
        if out is None:
            out = self._utf8[name] = name.encode("utf-8", "surrogatepass")
        return out

    def _pattern_viable(self, pattern: str, prefix: bytes, escape: Any) -> bool:
        """Can a name that starts with ``prefix`` (then, when ``escape`` is given, a character
        with a code point in those ranges) come to contain a match of ``pattern``? Exact when
        the pattern compiles to a DFA; with an escape begun and no DFA, the escape is assumed
        to fit."""
        checker = self._prefix_checker(pattern)
        if escape is None or checker.dfa is None:
            return checker.accepts_prefix(prefix)
        state = checker.walk(prefix)
        return state is not None and StringSpec(eager_dfa=checker.dfa)._chars_fit(state, 0, escape)

    def _prefix_checker(self, pattern: str):
        """An awrs Regex whose prefix check says whether a name can still come to contain a
        match of ``pattern`` (built the first time a key needs it)."""
        checker = self._prefix_checkers.get(pattern)
        if checker is None:
            from awrs.constraints.json_schema.compiler import search_pattern
            from awrs.constraints.regex import ECMA_262, Regex

            checker = self._prefix_checkers[pattern] = Regex(search_pattern(pattern), ECMA_262)
        return checker

    def _close_ok(self, st: ObjState) -> bool:
        seen = st.seen
        if self._missing(seen) or len(seen) < self.min_props:
            return False
        if self.max_props is not None and len(seen) > self.max_props:
            return False
        return all(k not in seen or (s is not None and node.end(s)) for k, node, s in zip(self.dep_keys, self.dep_nodes, st.deps))

    # --- reading ---------------------------------------------------------------------------

    def start(self) -> ObjState:
        return ObjState(START, 0, frozenset(), None, None, None, None, tuple(n.start() for n in self.dep_nodes), -1)

    def end(self, st: ObjState) -> bool:
        return st.phase == CLOSED

    def feed(self, st: ObjState, b: int) -> ObjState | None:
        if self.dep_nodes:
            deps = tuple(None if s is None else n.feed(s, b) for n, s in zip(self.dep_nodes, st.deps))
            if any(s is None and k in st.seen for k, s in zip(self.dep_keys, deps)):
                return None
            st = ObjState(st.phase, st.ws, st.seen, st.key, st.names, st.child, st.value, deps, st.last)
        return self._step(st, b)

    def feed_many(self, st: ObjState, data: bytes, i: int) -> tuple[ObjState, int]:
        """:meth:`Node.feed_many` of an object: bytes up to (not including) one :meth:`feed`
        refuses or one that closes the object; a value's inside runs through its own node."""
        if self.dep_nodes:  # every byte also feeds the dependent schemas: byte by byte
            return st, i
        n = len(data)
        while i < n:
            if st.phase == VALUE:
                value, j = st.child.feed_many(st.value, data, i)
                if j > i:  # still open: what _with_value keeps
                    st, i = ObjState(VALUE, st.ws, st.seen, st.key, st.names, st.child, value, st.deps, st.last), j
                    if i == n:
                        break
            elif st.phase == KEY:
                j = self._key_run(st, data, i)
                if j is not None:
                    st, i = j
                    if i == n:
                        break
            nxt = self._step(st, data[i])
            if nxt is None or nxt.phase == CLOSED:
                break
            st, i = nxt, i + 1
        return st, i

    def _key_run(self, st: ObjState, data: bytes, i: int) -> tuple[ObjState, int] | None:
        """The bytes of a key that leave it open, read as :meth:`_key_byte` reads them, with
        the viability check made once, on the longest prefix (a prefix of a viable key is
        viable); None when that prefix is not viable or no byte was read (the caller then
        goes byte by byte and stops where :meth:`_key_byte` does)."""
        key, names, j, n = st.key, st.names, i, len(data)
        while j < n:
            if self.names is None:
                key, j = feed_plain(_KEY, key, data, j)  # then data[j] is not plain, or is refused
                if j == n:
                    break
            b = data[j]
            nxt = feed_string(_KEY, key, b)
            if nxt is None or nxt.phase == STR_CLOSED:
                break
            if self.names is not None:
                fed = self.names.feed(names, b)
                if fed is None:
                    break
                names = fed
            key, j = nxt, j + 1
        if j == i or not self._key_viable(st, key.text, False, partial_bytes(key), _escape_of(key)):
            return None
        return ObjState(KEY, st.ws, st.seen, key, names, st.child, st.value, st.deps, st.last), j

    def _step(self, st: ObjState, b: int) -> ObjState | None:
        phase = st.phase
        if phase == VALUE:
            nxt = st.child.feed(st.value, b)
            if nxt is not None:
                return self._with_value(st, nxt)
            if not st.child.end(st.value):
                return None
            st = ObjState(AFTER_VALUE, 0, st.seen, st.key, st.names, None, None, st.deps, st.last)
            phase = AFTER_VALUE
        if phase == KEY:
            return self._key_byte(st, b)
        if b in WHITESPACE and phase in (OPEN, COLON, BEFORE_VALUE, AFTER_VALUE, NEXT_KEY):
            return (
                ObjState(st.phase, st.ws + 1, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
                if st.ws < self.layout.max_run
                else None
            )
        if phase == START:
            return ObjState(OPEN, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last) if b == 0x7B else None
        if phase in (OPEN, NEXT_KEY):
            if b == 0x22:
                if not self._key_viable(st, "", closed=False):
                    return None
                names = None if self.names is None else self.names.feed(self.names.start(), b)
                if self.names is not None and names is None:
                    return None
                return ObjState(
                    KEY, 0, st.seen, feed_string(_KEY, string_start(_KEY), b), names, st.child, st.value, st.deps, st.last
                )
            if b == 0x7D and phase == OPEN:
                return (
                    ObjState(CLOSED, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
                    if self._close_ok(st)
                    else None
                )
            return None
        if phase == COLON:
            return (
                ObjState(BEFORE_VALUE, 0, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last) if b == 0x3A else None
            )
        if phase == BEFORE_VALUE:
            value = st.child.feed(st.child.start(), b)
            return (
                None
                if value is None
                else self._with_value(
                    ObjState(VALUE, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last), value
                )
            )
        if phase == AFTER_VALUE:
            if b == 0x2C:
                return (
                    ObjState(NEXT_KEY, 0, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
                    if self._key_viable(st, "", closed=False)
                    else None
                )
            if b == 0x7D:
                return (
                    ObjState(CLOSED, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
                    if self._close_ok(st)
                    else None
                )
            return None
        return None  # CLOSED

    def _with_value(self, st: ObjState, value: Any) -> ObjState | None:
        """Store the value's new state; a value that can take no more bytes is judged now."""
        if not st.child.closed(value):
            return ObjState(st.phase, st.ws, st.seen, st.key, st.names, st.child, value, st.deps, st.last)
        if not st.child.end(value):
            return None
        return ObjState(AFTER_VALUE, 0, st.seen, st.key, st.names, None, None, st.deps, st.last)

    def _key_byte(self, st: ObjState, b: int) -> ObjState | None:
        key = feed_string(_KEY, st.key, b)
        if key is None:
            return None
        names = st.names
        if self.names is not None:
            names = self.names.feed(names, b)
            if names is None:
                return None
        closed = key.phase == STR_CLOSED
        if not self._key_viable(st, key.text, closed, partial_bytes(key), _escape_of(key)):
            return None
        if not closed:
            return ObjState(st.phase, st.ws, st.seen, key, names, st.child, st.value, st.deps, st.last)
        if self.names is not None and not self.names.end(names):
            return None
        name = key.text
        last = self.order.get(name, st.last) if self.order is not None else st.last
        return ObjState(COLON, 0, st.seen | {name}, None, None, self.node_for(name), st.value, st.deps, last)


def _escape_of(key: Any) -> Any:
    """The code points an escape begun in a key can still stand for (None: no escape begun;
    a UTF-8 character begun is compared byte by byte instead)."""
    return None if key.phase in (STR_IN, STR_CLOSED, STR_UTF8) else pending_chars(key)


def _continues(name: str, text: str, escape: Any) -> bool:
    """``name`` goes on after ``text`` with a character in the code point ranges ``escape``
    (always true without an escape)."""
    if escape is None:
        return True
    if len(name) <= len(text):
        return False
    cp = ord(name[len(text)])
    return any(lo <= cp <= hi for lo, hi in escape)


def _node_accepts_string(node: Node, text: str) -> bool:
    """Whether ``node`` accepts the JSON string ``text`` (as a value)."""
    import json

    st = node.start()
    for b in json.dumps(text).encode():
        st = node.feed(st, b)
        if st is None:
            return False
    return node.end(st)
