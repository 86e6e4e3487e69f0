"""JSON objects read byte by byte: keys, values and the object-level keywords.

A state records where the reader is (a key, the colon, a value, a comma...), the keys seen so
far, the key or value in progress, and the states of ``dependentSchemas`` subschemas, which
read the whole object alongside. After every byte the object can still be completed: what
the keys may be is :class:`~awrs.constraints.json_schema.object_keys.ObjectKeys`' to say.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from awrs.constraints.json_schema.nodes import WHITESPACE
from awrs.constraints.json_schema.object_keys import ObjectKeys
from awrs.constraints.json_schema.string_lexer import CLOSED as STR_CLOSED
from awrs.constraints.json_schema.string_lexer import IN as STR_IN
from awrs.constraints.json_schema.string_lexer import UTF8 as STR_UTF8
from awrs.constraints.json_schema.string_lexer import feed_plain, feed_string, partial_bytes, pending_chars, string_start
from awrs.constraints.json_schema.strings import StringSpec

__all__ = ["ObjectSpec"]

_KEY = StringSpec(keep_text=True)
# Phases.
START, OPEN, KEY, COLON, BEFORE_VALUE, VALUE, AFTER_VALUE, NEXT_KEY, CLOSED = range(9)
#: The phases where whitespace may come (between two tokens).
_BETWEEN_TOKENS = frozenset({OPEN, COLON, BEFORE_VALUE, AFTER_VALUE, NEXT_KEY})


class ObjState(NamedTuple):
    """(Made field by field on the hot path, not with ``_replace``: several times cheaper.)"""

    phase: int
    ws: int  # whitespace bytes in the current run
    seen: frozenset
    key: Any  # the key's string state, while reading a key
    names: Any  # the propertyNames node's state for the key
    child: Any  # the Node of the value being read (phases COLON to VALUE), else None
    value: Any  # its state
    deps: tuple  # states of the dependentSchemas nodes (None once dead)
    last: int  # index in schema order of the last declared property (fixed key order)


class ObjectSpec(ObjectKeys):
    """The object keywords of one schema, compiled, and the reader of an object's bytes."""

    def __repr__(self) -> str:
        return f"ObjectSpec(properties={list(self.properties)}, required={sorted(self.required)})"

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
        if j == i or not self.key_viable(st.seen, st.last, key.text, False, partial_bytes(key), _escape_of(key)):
            return None
        return ObjState(KEY, st.ws, st.seen, key, names, st.child, st.value, st.deps, st.last), j

    def _step(self, st: ObjState, b: int) -> ObjState | None:
        """One byte of the object. Inside a value or a key (most bytes) the byte is read here;
        between tokens by the phase's step (:data:`_TOKEN_STEPS`)."""
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
        if b in WHITESPACE and phase in _BETWEEN_TOKENS:
            if st.ws >= self.layout.max_run:
                return None
            return ObjState(phase, st.ws + 1, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
        return _TOKEN_STEPS[phase](self, st, b)

    def _opening_brace(self, st: ObjState, b: int) -> ObjState | None:
        return ObjState(OPEN, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last) if b == 0x7B else None

    def _key_or_close(self, st: ObjState, b: int) -> ObjState | None:
        """After ``{`` (a key or ``}``) or after a comma (a key)."""
        if b == 0x22:
            return self._key_quote(st, b)
        if b == 0x7D and st.phase == OPEN:
            return self._closing_brace(st)
        return None

    def _key_quote(self, st: ObjState, b: int) -> ObjState | None:
        """The opening quote of a key: some key must still be possible."""
        if not self.key_viable(st.seen, st.last, "", closed=False):
            return None
        names = None if self.names is None else self.names.feed(self.names.start(), b)
        if self.names is not None and names is None:
            return None
        return ObjState(KEY, 0, st.seen, feed_string(_KEY, string_start(_KEY), b), names, st.child, st.value, st.deps, st.last)

    def _colon(self, st: ObjState, b: int) -> ObjState | None:
        return ObjState(BEFORE_VALUE, 0, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last) if b == 0x3A else None

    def _value_start(self, st: ObjState, b: int) -> ObjState | None:
        value = st.child.feed(st.child.start(), b)
        if value is None:
            return None
        return self._with_value(ObjState(VALUE, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last), value)

    def _comma_or_close(self, st: ObjState, b: int) -> ObjState | None:
        """After a value: a comma (some key must still be possible) or ``}``."""
        if b == 0x2C:
            if not self.key_viable(st.seen, st.last, "", closed=False):
                return None
            return ObjState(NEXT_KEY, 0, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)
        if b == 0x7D:
            return self._closing_brace(st)
        return None

    def _closed(self, st: ObjState, b: int) -> None:
        return None  # the object is over

    def _inside(self, st: ObjState, b: int) -> ObjState | None:
        raise AssertionError("_step reads the bytes of a key or a value itself")

    def _closing_brace(self, st: ObjState) -> ObjState | None:
        """``}``: the keys seen must satisfy the counts and the dependent schemas."""
        if not self.counts_ok(st.seen):
            return None
        if not all(
            k not in st.seen or (s is not None and node.end(s)) for k, node, s in zip(self.dep_keys, self.dep_nodes, st.deps)
        ):
            return None
        return ObjState(CLOSED, st.ws, st.seen, st.key, st.names, st.child, st.value, st.deps, st.last)

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
        text: str = key.text  # type: ignore[assignment]  # _KEY keeps the text: never None
        names = st.names
        if self.names is not None:
            names = self.names.feed(names, b)
            if names is None:
                return None
        closed = key.phase == STR_CLOSED
        if not self.key_viable(st.seen, st.last, text, closed, partial_bytes(key), _escape_of(key)):
            return None
        if not closed:
            return ObjState(st.phase, st.ws, st.seen, key, names, st.child, st.value, st.deps, st.last)
        if self.names is not None and not self.names.end(names):
            return None
        last = self.order.get(text, st.last) if self.order is not None else st.last
        return ObjState(COLON, 0, st.seen | {text}, None, None, self.node_for(text), st.value, st.deps, last)


#: The step of each phase between tokens, indexed by phase (those of KEY and VALUE are never
#: taken: ObjectSpec._step reads the bytes of a key or a value itself).
_TOKEN_STEPS = (
    ObjectSpec._opening_brace,  # START
    ObjectSpec._key_or_close,  # OPEN
    ObjectSpec._inside,  # KEY
    ObjectSpec._colon,  # COLON
    ObjectSpec._value_start,  # BEFORE_VALUE
    ObjectSpec._inside,  # VALUE
    ObjectSpec._comma_or_close,  # AFTER_VALUE
    ObjectSpec._key_or_close,  # NEXT_KEY
    ObjectSpec._closed,  # CLOSED
)


def _escape_of(key: Any) -> Any:
    """The code points an escape begun in a key can still stand for (None: no escape begun;
    a UTF-8 character begun is compared byte by byte instead)."""
    return None if key.phase in (STR_IN, STR_CLOSED, STR_UTF8) else pending_chars(key)
