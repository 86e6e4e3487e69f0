"""Compiled schema nodes: each one reads the bytes of one JSON value. Here the contract
(:class:`Node`), the ``false`` schema and the node of the type-specific keywords
(:class:`TypedNode`); the combinators and references are in
:mod:`awrs.constraints.json_schema.combinators`.

A :class:`Node` is immutable; its states are immutable values. ``feed(state, byte)`` returns
the next state or None when the byte cannot continue a valid value — either because the
value is invalid, or because the value has already ended (then ``end(state)`` is True and the
enclosing container handles the byte). ``end(state)`` says whether the bytes so far form a
complete value that satisfies the node.

Every state a node returns is *viable*: some continuation completes a valid value. That is
what makes the constraint's prefix check exact; where a keyword makes this out of reach the
node over-approximates and docs/json-schema.md lists the case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from awrs.constraints.json_schema.number_lexer import NUMBER_START, feed_number, number_complete, number_value
from awrs.constraints.json_schema.numbers import NumberSpec, prefix_viable
from awrs.constraints.json_schema.string_lexer import CLOSED as STR_CLOSED
from awrs.constraints.json_schema.string_lexer import feed_plain, feed_string, string_start
from awrs.constraints.json_schema.strings import StringSpec

if TYPE_CHECKING:  # they build on this module
    from awrs.constraints.json_schema.arrays import ArraySpec
    from awrs.constraints.json_schema.objects import ObjectSpec

__all__ = ["ALL_KINDS", "WHITESPACE", "Layout", "NeverNode", "Node", "TypedNode"]

_PENDING = ()  # the state of a value before its first byte

# Kinds of values a TypedNode dispatches to.
STRING, NUMBER, OBJECT, ARRAY, LITERAL = range(5)
_LITERALS = {ord("t"): b"true", ord("f"): b"false", ord("n"): b"null"}
_NUMBER_FIRST_BYTES = frozenset(b"-0123456789")


class Layout:
    """Whitespace policy shared by every container of one schema.

    ``max_run`` is the longest run of whitespace allowed between two tokens (0 = compact).
    """

    __slots__ = ("max_run",)

    def __init__(self, max_run: int):
        self.max_run = max_run


WHITESPACE = frozenset(b" \t\n\r")


#: The kinds of JSON values, as TypedNode dispatches them.
ALL_KINDS = frozenset({"string", "number", "object", "array", "true", "false", "null"})


class Node(ABC):
    """One compiled (sub)schema."""

    #: The kinds of value the node may accept (an over-approximation).
    kinds: frozenset[str] = ALL_KINDS
    #: The node reads values through other nodes (a container's items or properties, the
    #: branches of a combinator): the compiler shares such a node when a second parent reads
    #: it (sharing.share), so that parallel readers of one value do its work once.
    composite: bool = False

    def same_value(self) -> tuple[Node, ...]:
        """The nodes that read the very value this node reads, beside it (the branches of a
        combinator, a reference's target, an object's ``dependentSchemas``): the edges a
        reference cycle must not consist of alone (the compiler refuses such a cycle)."""
        return ()

    @property
    def empty(self) -> bool:
        """True when no JSON value satisfies the node (decided at compile time, best effort)."""
        return not self.kinds

    def start(self) -> Any:
        return _PENDING

    @abstractmethod
    def feed(self, state: Any, b: int) -> Any | None: ...

    @abstractmethod
    def end(self, state: Any) -> bool: ...

    def closed(self, state: Any) -> bool:
        """True when the value is over: no further byte can belong to it (a closing quote or
        bracket, a whole literal). Numbers are never closed: a digit may always follow."""
        return False

    def feed_many(self, state: Any, data: bytes, i: int) -> tuple[Any, int]:
        """``(state', j)``: ``data[i:j]`` fed one byte at a time with :meth:`feed`, stopping
        before the first byte that :meth:`feed` refuses or that would leave the value
        :meth:`closed` (neither is consumed). The run of a token through the inside of a
        string, a number or a container, without going back up the enclosing containers for
        every byte; byte for byte what :meth:`feed` does. The default consumes nothing
        (``j == i``): callers then feed ``data[i]`` themselves."""
        return state, i


class NeverNode(Node):
    """The ``false`` schema."""

    kinds = frozenset()

    def feed(self, state: Any, b: int) -> None:
        return None

    def end(self, state: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return "NeverNode()"


#: TypedNode's kinds per (literals, which of string/number/object/array it allows).
_KINDS: dict[tuple, frozenset[str]] = {}


class TypedNode(Node):
    """A value of the allowed types, each checked by its own spec.

    ``string``/``number``/``obj``/``arr`` are None when that type is not allowed;
    ``literals`` holds the allowed literal spellings among ``true``, ``false``, ``null``.

    A state is ``(kind, sub)``, and :meth:`_dispatch` makes one of a kind only where that
    kind's spec is set: the byte steps read the spec of their state's kind without testing it
    for None, each such line marked ``# type: ignore`` (mypy cannot tie an attribute's type to
    the kind of a state; a test per byte would cost time on every byte).
    """

    def __init__(
        self,
        string: StringSpec | None = None,
        number: NumberSpec | None = None,
        obj: ObjectSpec | None = None,
        arr: ArraySpec | None = None,
        literals: frozenset[bytes] = frozenset(),
    ):
        self.string: StringSpec | None = None if string is None or string.empty else string
        self.number: NumberSpec | None = None if number is None or number.empty else number
        self.obj: ObjectSpec | None = None if obj is None or obj.empty else obj
        self.arr: ArraySpec | None = None if arr is None or arr.empty else arr
        self.literals = literals
        key = (literals, self.string is not None, self.number is not None, self.obj is not None, self.arr is not None)
        kinds = _KINDS.get(key)
        if kinds is None:
            kinds = _KINDS[key] = frozenset(
                [w.decode() for w in literals] + [k for k, on in zip(("string", "number", "object", "array"), key[1:]) if on]
            )
        self.kinds = kinds
        self.composite = self.obj is not None or self.arr is not None

    def same_value(self) -> tuple[Node, ...]:
        return self.obj.dep_nodes if self.obj is not None else ()

    def __repr__(self) -> str:
        kinds = [k for k, v in (("string", self.string), ("number", self.number), ("object", self.obj), ("array", self.arr)) if v]
        return f"TypedNode({kinds + sorted(x.decode() for x in self.literals)})"

    def feed(self, state: Any, b: int) -> Any | None:
        if state is _PENDING:
            return self._dispatch(b)
        kind, sub = state
        nxt: Any  # the kind's own state
        if kind == STRING:
            nxt = feed_string(self.string, sub, b)  # type: ignore[arg-type]
        elif kind == NUMBER:
            nxt = feed_number(sub, b)
            if nxt is not None and not prefix_viable(nxt, self.number):  # type: ignore[arg-type]
                return None
        elif kind == OBJECT:
            nxt = self.obj.feed(sub, b)  # type: ignore[union-attr]
        elif kind == ARRAY:
            nxt = self.arr.feed(sub, b)  # type: ignore[union-attr]
        else:  # literal
            word, i = sub
            if i >= len(word) or word[i] != b:
                return None
            nxt = (word, i + 1)
        return None if nxt is None else (kind, nxt)

    def feed_many(self, state: Any, data: bytes, i: int) -> tuple[Any, int]:
        if state is _PENDING:
            return state, i
        kind, sub = state
        j, n = i, len(data)
        if kind == STRING:
            string: StringSpec = self.string  # type: ignore[assignment]
            while j < n:
                sub, j = feed_plain(string, sub, data, j)  # then data[j] is not plain, or is refused
                if j == n:
                    break
                nxt = feed_string(string, sub, data[j])
                if nxt is None or nxt.phase == STR_CLOSED:
                    break
                sub, j = nxt, j + 1
        elif kind == NUMBER:
            number: NumberSpec = self.number  # type: ignore[assignment]
            while j < n:
                digit = feed_number(sub, data[j])
                if digit is None or not prefix_viable(digit, number):
                    break
                sub, j = digit, j + 1
        elif kind == OBJECT:
            sub, j = self.obj.feed_many(sub, data, i)  # type: ignore[union-attr]
        elif kind == ARRAY:
            sub, j = self.arr.feed_many(sub, data, i)  # type: ignore[union-attr]
        return (state, i) if j == i else ((kind, sub), j)

    def _dispatch(self, b: int) -> Any | None:
        if b == 0x22 and self.string is not None:
            st = feed_string(self.string, string_start(self.string), b)
            return None if st is None else (STRING, st)
        if b in _NUMBER_FIRST_BYTES and self.number is not None:
            num = feed_number(NUMBER_START, b)
            return (NUMBER, num) if num is not None and prefix_viable(num, self.number) else None
        if b == 0x7B and self.obj is not None:
            return (OBJECT, self.obj.feed(self.obj.start(), b))
        if b == 0x5B and self.arr is not None:
            return (ARRAY, self.arr.feed(self.arr.start(), b))
        word = _LITERALS.get(b)
        if word is not None and word in self.literals:
            return (LITERAL, (word, 1))
        return None

    def closed(self, state: Any) -> bool:
        if state is _PENDING:
            return False
        kind, sub = state
        if kind == STRING:
            return sub.phase == STR_CLOSED
        if kind == OBJECT:
            return self.obj.end(sub)  # type: ignore[union-attr]
        if kind == ARRAY:
            return self.arr.end(sub)  # type: ignore[union-attr]
        if kind == LITERAL:
            return sub[1] == len(sub[0])
        return False

    def end(self, state: Any) -> bool:
        if state is _PENDING:
            return False
        kind, sub = state
        if kind == STRING:
            return sub.phase == STR_CLOSED
        if kind == NUMBER:
            return number_complete(sub) and self.number.contains(number_value(sub))  # type: ignore[union-attr]
        if kind == OBJECT:
            return self.obj.end(sub)  # type: ignore[union-attr]
        if kind == ARRAY:
            return self.arr.end(sub)  # type: ignore[union-attr]
        word, i = sub
        return i == len(word)
