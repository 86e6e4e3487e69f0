"""The finite set of values a node accepts, when it has a small one: what ``uniqueItems`` needs
to see an array run out of values before its items do.

With ``{"items": {"type": "boolean"}, "uniqueItems": true}``, ``[true, false,`` cannot be
completed: a third item can only repeat one. An array reads its items through a node for the
values not used yet, and counts how many items can still come, when the item schema's values
are few enough to list: booleans and null, ``enum`` and ``const``, bounded ranges of integers
(or of multiples of ``multipleOf``), and ``anyOf``/``allOf``/``oneOf`` of such schemas.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any

from awrs.constraints.json_schema.arrays import canonical
from awrs.constraints.json_schema.combinators import AllOfNode, AnyOfNode, OneOfNode, RefNode, Unresolved
from awrs.constraints.json_schema.nodes import NeverNode, Node, TypedNode
from awrs.constraints.json_schema.numbers import NumberSpec

__all__ = ["DOMAIN_LIMIT", "Domain", "domain", "key_of", "set_domain"]

#: Domains are listed up to this many values; a larger one counts as unknown. A listed domain
#: costs a node over the values not used yet each time a unique item starts, and uniqueness only
#: binds once an array holds as many items as its item schema has values.
DOMAIN_LIMIT = 64

#: canonical form (arrays.canonical) -> the JSON text of one value.
Domain = dict

_UNKNOWN = "unknown"


def key_of(text: str | bytes) -> Any:
    """The canonical form of the JSON value a text stands for (as uniqueItems compares)."""
    return canonical(json.loads(text, parse_float=Fraction, parse_int=Fraction))


def set_domain(node: Node, values: list[Any]) -> None:
    """Record that ``node`` accepts exactly ``values`` (JSON values; a node made for them).
    Their domain is worked out when first asked for (most enums never meet uniqueItems)."""
    if len(values) > DOMAIN_LIMIT:
        node.__dict__["_domain"] = None
    else:
        node.__dict__["_domain_values"] = values


def domain(node: Node) -> Domain | None:
    """canonical form -> JSON text of every value ``node`` accepts, or None when there are
    more than :data:`DOMAIN_LIMIT` or awrs cannot list them. Exact when not None; memoised."""
    cached = node.__dict__.get("_domain", _UNKNOWN)
    if cached is not _UNKNOWN:
        return cached
    try:
        values = node.__dict__.get("_domain_values")
        out = _domain(node) if values is None else _listed(values)
    except Unresolved:  # a reference back to a schema still compiling: unknown for now
        return None
    if out is not None and len(out) > DOMAIN_LIMIT:
        out = None
    node.__dict__["_domain"] = out
    return out


def _domain(node: Node) -> Domain | None:
    if isinstance(node, NeverNode):
        return {}
    if isinstance(node, RefNode):
        return domain(node.target)
    if isinstance(node, TypedNode):
        return _typed_domain(node)
    if isinstance(node, OneOfNode):
        return _filtered(node, _union(node.children))
    if isinstance(node, AnyOfNode):
        return _union(node.children)
    if isinstance(node, AllOfNode):
        known = [d for d in (domain(c) for c in node.children) if d is not None]
        return _filtered(node, min(known, key=len)) if known else None
    return None  # not, if/then/else: unknown


def _listed(values: list[Any]) -> Domain:
    texts = [_json_text(v) for v in values]
    return {key_of(t): t for t in texts if t is not None}


def _json_text(value: Any) -> str | None:
    """JSON text of a JSON value whose numbers may be Fractions (None: a number with no
    finite decimal form)."""
    if isinstance(value, Fraction):
        return _number_text(value)
    if isinstance(value, list):
        parts = [_json_text(v) for v in value]
        texts = [p for p in parts if p is not None]
        return None if len(texts) < len(parts) else "[" + ",".join(texts) + "]"
    if isinstance(value, dict):
        parts = [_json_text(v) for v in value.values()]
        return None if None in parts else "{" + ",".join(f"{json.dumps(k)}:{p}" for k, p in zip(value, parts)) + "}"
    return json.dumps(value)


def _union(nodes) -> Domain | None:
    out: Domain = {}
    for child in nodes:
        d = domain(child)
        if d is None:
            return None
        out.update(d)
        if len(out) > DOMAIN_LIMIT:
            return None
    return out


def _filtered(node: Node, values: Domain | None) -> Domain | None:
    """The values ``node`` itself accepts among ``values``."""
    if values is None:
        return None
    return {k: t for k, t in values.items() if _accepts_text(node, t)}


def _accepts_text(node: Node, text: str) -> bool:
    st = node.start()
    for b in text.encode():
        st = node.feed(st, b)
        if st is None:
            return False
    return node.end(st)


def _typed_domain(node: TypedNode) -> Domain | None:
    if node.string is not None or node.obj is not None or node.arr is not None:
        return None  # (a node made for enum values has its domain recorded already)
    out = {key_of(w): w.decode() for w in node.literals}
    if node.number is not None:
        numbers = _number_domain(node.number)
        if numbers is None:
            return None
        out.update(numbers)
    return out


def _number_domain(spec: NumberSpec) -> Domain | None:
    """The numbers of a spec with finitely many: listed values, or the multiples of its step
    (or a single point) between two bounds."""
    if spec.values is not None:
        values = [v for v in spec.values if spec.contains(v)]
    elif spec.lo is None or spec.hi is None:
        return None
    elif spec.step is None:
        if spec.lo != spec.hi or not spec.contains(spec.lo):
            return None
        values = [spec.lo]
    else:
        first, last = math.ceil(spec.lo / spec.step), math.floor(spec.hi / spec.step)
        if last - first + 1 > DOMAIN_LIMIT:
            return None
        values = [k * spec.step for k in range(first, last + 1) if spec.contains(k * spec.step)]
    texts = [_number_text(v) for v in values]
    return {key_of(t): t for t in texts if t is not None}


def _number_text(v: Fraction) -> str | None:
    """The shortest JSON text of an exact number, or None when it has no finite decimal form."""
    if v.denominator == 1:
        return str(v.numerator)
    d, twos, fives = v.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    if d != 1:
        return None  # e.g. 1/3: no JSON number equals it
    scale = max(twos, fives)
    digits = str(abs(v.numerator) * 10**scale // v.denominator).rjust(scale + 1, "0")
    return ("-" if v < 0 else "") + digits[:-scale] + "." + digits[-scale:]
