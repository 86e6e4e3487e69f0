"""JSON values inside a schema (``enum``, ``const``): checked, compared, and compiled into nodes
that accept exactly them."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from awrs.automata.trie import trie_dfa
from awrs.constraints.json_schema.arrays import ArraySpec, canonical
from awrs.constraints.json_schema.combinators import AnyOfNode
from awrs.constraints.json_schema.domains import set_domain
from awrs.constraints.json_schema.limits import MAX_DEPTH, DepthError
from awrs.constraints.json_schema.nodes import Layout, NeverNode, Node, TypedNode
from awrs.constraints.json_schema.numbers import NumberSpec
from awrs.constraints.json_schema.objects import ObjectSpec
from awrs.constraints.json_schema.strings import StringSpec
from awrs.errors import ConstraintError

__all__ = ["accepts_value", "check_json_value", "exact", "json_equal", "show", "type_of", "value_node"]

_JSON_SCALARS = (str, int, float, bool, type(None))


def check_json_value(value: Any, pointer: str, keyword: str) -> None:
    """Raise ConstraintError unless ``value`` is a JSON value: dicts with string keys, lists,
    strings, finite numbers, booleans and null, nested at most :data:`MAX_DEPTH` levels (NaN
    and Infinity, which ``json.loads`` lets through, are not JSON). Iterative."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise ConstraintError(f"invalid {keyword} at {pointer}: {v!r} is not a JSON value (JSON numbers are finite)")
        if isinstance(v, _JSON_SCALARS):
            continue
        if depth > MAX_DEPTH:
            raise DepthError(
                f"the {keyword} value at {pointer} nests deeper than {MAX_DEPTH} levels: {MAX_DEPTH} is the most awrs.JsonSchema compiles"
            )
        if isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, dict) and all(isinstance(k, str) for k in v):
            stack.extend((x, depth + 1) for x in v.values())
        else:
            raise ConstraintError(f"invalid {keyword} at {pointer}: a {type(v).__name__} is not a JSON value")


def show(value: Any, limit: int = 60) -> str:
    """The start of ``value`` as JSON, for an error message (never raises)."""
    try:
        return json.dumps(value)[:limit]
    except (TypeError, ValueError, RecursionError):
        return repr(value)[:limit]


def type_of(value: Any) -> str:
    """The JSON Schema type of a JSON value (integers include 1.0)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def json_equal(a: Any, b: Any) -> bool:
    """Equal as JSON Schema compares values (``1`` equals ``1.0``, key order does not matter)."""
    return canonical(exact(a)) == canonical(exact(b))


def exact(value: Any) -> Any:
    """Numbers as Fractions (exact), recursively, as the canonical form expects."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if isinstance(value, list):
        return [exact(v) for v in value]
    return {k: exact(v) for k, v in value.items()}


def accepts_value(node: Node, value: Any) -> bool:
    """Whether ``node`` accepts the JSON text of ``value``."""
    st = node.start()
    for b in json.dumps(value).encode():  # ASCII: a lone surrogate is an escape, refused as such
        st = node.feed(st, b)
        if st is None:
            return False
    return node.end(st)


def value_node(values: list[Any], layout: Layout) -> Node:
    """A node accepting exactly the given JSON values (any serialisation of them; numbers
    may be Fractions). It records them as its domain (domains.domain)."""
    node = _value_node(values, layout)
    set_domain(node, values)
    return node


def _value_node(values: list[Any], layout: Layout) -> Node:
    strings = [v for v in values if isinstance(v, str)]
    numbers = frozenset(
        Fraction(repr(v)) if isinstance(v, float) else Fraction(v)
        for v in values
        if isinstance(v, (int, float, Fraction)) and not isinstance(v, bool)
    )
    literals = frozenset(json.dumps(v).encode() for v in values if v is None or isinstance(v, bool))
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    # The trie is built when generation first enters one of these strings (most of a big
    # schema's enums are never generated); a non-empty list of strings is never empty.
    string = StringSpec(build=lambda: (trie_dfa(encoded), (), ())) if strings else None
    number = NumberSpec(values=numbers) if numbers else None
    nodes: list[Node] = []
    if string or number or literals:
        nodes.append(TypedNode(string, number, None, None, literals))
    for v in values:
        if isinstance(v, dict):
            props = {k: value_node([x], layout) for k, x in v.items()}
            nodes.append(TypedNode(obj=ObjectSpec(layout, props, [], NeverNode(), required=frozenset(v))))
        elif isinstance(v, list):
            items = [value_node([x], layout) for x in v]
            nodes.append(TypedNode(arr=ArraySpec(layout, items, NeverNode(), min_items=len(v))))
    if not nodes:
        return NeverNode()
    return nodes[0] if len(nodes) == 1 else AnyOfNode(nodes)
