"""The nodes that read a value through other nodes: ``allOf``, ``anyOf``, ``oneOf``, ``not``,
``if``/``then``/``else``, and references back to a schema still being compiled.
"""

from __future__ import annotations

from typing import Any

from awrs.constraints.json_schema.nodes import ALL_KINDS, Node

__all__ = ["AllOfNode", "AnyOfNode", "IfNode", "NotNode", "OneOfNode", "RefNode", "Unresolved"]


class AllOfNode(Node):
    """Every child holds (``allOf``, and the conjunction of a schema's own keywords). A child
    listed twice is read once."""

    composite = True

    def __init__(self, children: list[Node]):
        self.children = tuple(dict.fromkeys(children))  # nodes compare by identity
        kinds = ALL_KINDS
        for c in self.children:
            kinds = kinds & c.kinds
        self.kinds = kinds

    def __repr__(self) -> str:
        return f"AllOf{list(self.children)}"

    def same_value(self) -> tuple[Node, ...]:
        return self.children

    def closed(self, state: Any) -> bool:
        return self.children[0].closed(state[0])

    def start(self) -> Any:
        return tuple(c.start() for c in self.children)

    def feed(self, state: Any, b: int) -> Any | None:
        out = []
        for child, st in zip(self.children, state):
            nxt = child.feed(st, b)
            if nxt is None:
                return None
            out.append(nxt)
        return tuple(out)

    def end(self, state: Any) -> bool:
        return all(c.end(s) for c, s in zip(self.children, state))


class AnyOfNode(Node):
    """At least one child holds. States keep the children still alive. A child listed twice
    is read once."""

    composite = True

    def __init__(self, children: list[Node]):
        self.children = tuple(dict.fromkeys(c for c in children if not c.empty))
        self.kinds = frozenset().union(*(c.kinds for c in self.children))

    def __repr__(self) -> str:
        return f"AnyOf{list(self.children)}"

    def same_value(self) -> tuple[Node, ...]:
        return self.children

    def closed(self, state: Any) -> bool:
        i, st = state[0]
        return self.children[i].closed(st)

    def start(self) -> Any:
        return tuple((i, c.start()) for i, c in enumerate(self.children))

    def feed(self, state: Any, b: int) -> Any | None:
        out = []
        children = self.children
        for i, st in state:  # a loop, not a generator: one frame less per level of nesting
            nxt = children[i].feed(st, b)
            if nxt is not None:
                out.append((i, nxt))
        return tuple(out) if out else None

    def end(self, state: Any) -> bool:
        return any(self.children[i].end(st) for i, st in state)


class OneOfNode(AnyOfNode):
    """Exactly one child holds. Prefixes are checked as for ``anyOf`` (an over-approximation:
    two children may both end up valid); the end check is exact. A child listed twice counts
    twice (the value then satisfies both or neither)."""

    def __init__(self, children: list[Node]):
        self.children = tuple(c for c in children if not c.empty)
        self.kinds = frozenset().union(*(c.kinds for c in self.children))

    def end(self, state: Any) -> bool:
        return sum(1 for i, st in state if self.children[i].end(st)) == 1


class NotNode(Node):
    """The value must not satisfy ``child``. A syntax-only node keeps reading the value when
    the child dies. Prefixes are not restricted beyond syntax (over-approximation)."""

    composite = True

    def __init__(self, child: Node, carrier: Node):
        self.child = child
        self.carrier = carrier  # accepts any JSON value: tracks where the value ends

    def same_value(self) -> tuple[Node, ...]:
        return (self.child, self.carrier)

    def closed(self, state: Any) -> bool:
        return self.carrier.closed(state[0])

    def start(self) -> Any:
        return (self.carrier.start(), self.child.start())

    def feed(self, state: Any, b: int) -> Any | None:
        carried, inner = state
        nxt = self.carrier.feed(carried, b)
        if nxt is None:
            return None
        return (nxt, self.child.feed(inner, b) if inner is not None else None)

    def end(self, state: Any) -> bool:
        carried, inner = state
        return self.carrier.end(carried) and (inner is None or not self.child.end(inner))


class IfNode(Node):
    """``if``/``then``/``else``: the value satisfies ``then`` if it satisfies ``if``, else
    ``else``. A prefix is kept while (``if`` and ``then``) or ``else`` can still hold."""

    composite = True

    def __init__(self, cond: Node, then: Node, otherwise: Node, carrier: Node):
        self.cond, self.then, self.otherwise, self.carrier = cond, then, otherwise, carrier

    def same_value(self) -> tuple[Node, ...]:
        return (self.cond, self.then, self.otherwise, self.carrier)

    def closed(self, state: Any) -> bool:
        return self.carrier.closed(state[0])

    def start(self) -> Any:
        return (self.carrier.start(), self.cond.start(), self.then.start(), self.otherwise.start())

    def feed(self, state: Any, b: int) -> Any | None:
        carried, c, t, o = state
        carried = self.carrier.feed(carried, b)
        if carried is None:
            return None
        c = self.cond.feed(c, b) if c is not None else None
        t = self.then.feed(t, b) if t is not None else None
        o = self.otherwise.feed(o, b) if o is not None else None
        if not ((c is not None and t is not None) or o is not None):
            return None
        return (carried, c, t, o)

    def end(self, state: Any) -> bool:
        carried, c, t, o = state
        if not self.carrier.end(carried):
            return False
        if c is not None and self.cond.end(c):
            return t is not None and self.then.end(t)
        return o is not None and self.otherwise.end(o)


class Unresolved(Exception):
    """A reference back to a schema that is still being compiled was followed: only the
    compiler's own reasoning about a schema (which enum values it allows, whether an object
    can be completed) can meet one, and it then falls back to a check made when reading."""


class RefNode(Node):
    """A reference back to a schema still being compiled (recursion): resolved on first use,
    so recursive schemas compile to finite graphs. ``pointer`` says where that schema is."""

    def __init__(self, resolve, pointer: str = "#"):
        self._resolve = resolve  # the target Node, or None while it is being compiled
        self._target: Node | None = None
        self.pointer = pointer

    @property
    def target(self) -> Node:
        if self._target is None:
            target = self._resolve()
            if target is None:
                raise Unresolved(self.pointer)
            self._target = target
        return self._target

    def same_value(self) -> tuple[Node, ...]:
        return (self.target,)

    @property
    def kinds(self) -> frozenset[str]:  # type: ignore[override]  # Node.kinds is an attribute; a reference's are its target's
        return ALL_KINDS if self._target is None else self._target.kinds

    def __repr__(self) -> str:
        return "RefNode()"

    def closed(self, state: Any) -> bool:
        return self.target.closed(state)

    def start(self) -> Any:
        return self.target.start()

    def feed(self, state: Any, b: int) -> Any | None:
        return self.target.feed(state, b)

    def feed_many(self, state: Any, data: bytes, i: int) -> tuple[Any, int]:
        return self.target.feed_many(state, data, i)

    def end(self, state: Any) -> bool:
        return self.target.end(state)
