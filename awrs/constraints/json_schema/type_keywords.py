"""The type-specific keywords of a schema compiled into the specs a
:class:`~awrs.constraints.json_schema.nodes.TypedNode` reads: strings, numbers, objects,
arrays, literals, and ``enum``/``const`` values.

The subschemas these keywords hold (``properties``, ``items``...) are compiled by the
:class:`~awrs.constraints.json_schema.compiler.Compiler` given as ``c``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from awrs.constraints.json_schema.arrays import ArraySpec
from awrs.constraints.json_schema.combinators import AllOfNode, Unresolved
from awrs.constraints.json_schema.formats import FORMATS, format_max_length
from awrs.constraints.json_schema.nodes import Node, TypedNode
from awrs.constraints.json_schema.numbers import NumberSpec
from awrs.constraints.json_schema.objects import ObjectSpec
from awrs.constraints.json_schema.patterns import NameSearch, check_pattern, check_regex, string_automata
from awrs.constraints.json_schema.refs import Draft, Resolved
from awrs.constraints.json_schema.strings import StringSpec
from awrs.constraints.json_schema.values import accepts_value, check_json_value, json_equal, show, type_of, value_node
from awrs.constraints.json_schema.vocabulary import TYPED_KEYWORDS
from awrs.errors import ConstraintError

if TYPE_CHECKING:
    from awrs.constraints.json_schema.compiler import Compiler, Options

__all__ = ["check_list", "typed_node"]

_ALL_TYPES = ("string", "number", "integer", "object", "array", "boolean", "null")
# What _types and typed_node make for the usual cases, made once.
_ONE_TYPE = {t: frozenset({t, "integer"} if t == "number" else {t}) for t in _ALL_TYPES}
_EVERY_TYPE = frozenset(_ALL_TYPES)
_LITERALS = {
    (boolean, null): frozenset(({b"true", b"false"} if boolean else set()) | ({b"null"} if null else set()))
    for boolean in (False, True)
    for null in (False, True)
}


def typed_node(c: Compiler, schema: Mapping, where: Resolved) -> Node:
    """The node of a schema's type-specific keywords (``type``, ``enum``/``const`` and the
    keywords of each type)."""
    types = _types(schema, where.pointer)
    if "enum" in schema or "const" in schema:
        return _enum_node(c, schema, types, where)
    string = _string_spec(schema, where.pointer, c.options) if "string" in types else None
    number = _number_spec(schema, types, where.pointer, c.draft) if ("number" in types or "integer" in types) else None
    obj = _object_spec(c, schema, where) if "object" in types else None
    arr = _array_spec(c, schema, where) if "array" in types else None
    return TypedNode(string, number, obj, arr, _LITERALS[("boolean" in types, "null" in types)])


def _types(schema: Mapping, pointer: str) -> frozenset[str]:
    value = schema.get("type")
    if value is None and "type" not in schema:
        return _EVERY_TYPE
    common = _ONE_TYPE.get(value) if isinstance(value, str) else None
    if common is not None:
        return common
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or any(n not in _ALL_TYPES for n in names):
        raise ConstraintError(f"invalid type at {pointer}: {show(value)} (use {', '.join(_ALL_TYPES)})")
    types = set(names)
    if "number" in types:
        types.add("integer")
    return frozenset(types)


def _enum_node(c: Compiler, schema: Mapping, types: frozenset[str], where: Resolved) -> Node:
    """``enum``/``const``: the listed values that also satisfy the schema's other keywords."""
    if "const" in schema:
        check_json_value(schema["const"], where.pointer, "const")
    if "enum" in schema:
        if not isinstance(schema["enum"], list):
            raise ConstraintError(f"invalid enum at {where.pointer}: expected an array")
        check_json_value(schema["enum"], where.pointer, "enum")
    values = [schema["const"]] if "const" in schema else schema["enum"]
    if "enum" in schema and "const" in schema:
        values = [v for v in schema["enum"] if json_equal(v, schema["const"])]
    rest = {k: v for k, v in schema.items() if k not in ("enum", "const")}
    # Values are checked against the schema's other type-specific keywords; "type" alone
    # is a cheaper membership test, and combinators apply separately (see _compile).
    constraining = set(rest) & (TYPED_KEYWORDS - {"type"})
    others = typed_node(c, rest, where) if constraining else None
    typed = [v for v in values if type_of(v) in types]
    try:
        kept = [v for v in typed if others is None or accepts_value(others, v)]
    except Unresolved:  # the other keywords refer back to a schema still being compiled
        assert others is not None, "only accepts_value(others, ...) raises Unresolved"
        return AllOfNode([value_node(typed, c.layout), others])  # checked when reading
    return value_node(kept, c.layout)


def _string_spec(schema: Mapping, pointer: str, options: Options) -> StringSpec:
    min_len = _count(schema, "minLength", pointer)
    max_len = _count(schema, "maxLength", pointer, None)
    pattern = schema.get("pattern")
    if pattern is not None:
        check_pattern(pattern, pointer)
    fmt = schema.get("format")
    fmt = fmt if options.formats == "assert" and isinstance(fmt, str) and fmt in FORMATS else None
    if fmt is not None:
        limit = format_max_length(fmt)
        if limit is not None:
            max_len = limit if max_len is None else min(max_len, limit)
    cap = options.max_string_length
    if cap is not None:
        max_len = cap if max_len is None else min(max_len, cap)
    if pattern is None and fmt is None:
        return StringSpec(min_len=min_len, max_len=max_len)
    return StringSpec(min_len=min_len, max_len=max_len, build=lambda: string_automata(pattern, fmt))


def _number_spec(schema: Mapping, types: frozenset[str], pointer: str, draft: Draft) -> NumberSpec:
    lo = hi = None
    lo_open = hi_open = False
    if "minimum" in schema:
        lo = _fraction(schema["minimum"], pointer, "minimum")
        lo_open = schema.get("exclusiveMinimum") is True
    if "maximum" in schema:
        hi = _fraction(schema["maximum"], pointer, "maximum")
        hi_open = schema.get("exclusiveMaximum") is True
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        value = schema.get(key)
        if value is None or isinstance(value, bool):
            continue
        bound = _fraction(value, pointer, key)
        if key == "exclusiveMinimum" and (lo is None or bound >= lo):
            lo, lo_open = bound, True
        if key == "exclusiveMaximum" and (hi is None or bound <= hi):
            hi, hi_open = bound, True
    step = None
    if "multipleOf" in schema:
        step = _fraction(schema["multipleOf"], pointer, "multipleOf")
        if step <= 0:
            raise ConstraintError(f"invalid multipleOf at {pointer}: must be greater than 0")
    integers_only = "number" not in types
    if integers_only:
        step = Fraction(1) if step is None else _lcm(step, Fraction(1))
    # Draft 4 counts 1.0 as a number but not an integer: integers are plain literals.
    plain = integers_only and draft == 4
    return NumberSpec(lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, step=step, plain=plain)


def _object_spec(c: Compiler, schema: Mapping, where: Resolved) -> ObjectSpec:
    pointer = where.pointer
    properties = {}
    for name in _object_of(schema, "properties", pointer):  # a loop: one frame less per level of nesting
        properties[name] = c.child(where, "properties", name)
    patterns = []
    for pat in _object_of(schema, "patternProperties", pointer):
        check_regex(pat, pat, f"{pointer}/patternProperties")
        patterns.append((NameSearch(pat), pat, c.child(where, "patternProperties", pat)))
    additional = c.child(where, "additionalProperties") if "additionalProperties" in schema else c.any_value
    names = c.child(where, "propertyNames") if "propertyNames" in schema else None
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise ConstraintError(f"invalid required at {pointer}: expected an array of strings")
    dep_required: dict[str, frozenset[str]] = {}
    dep_schemas: dict[str, Node] = {}
    for name, deps in _object_of(schema, "dependentRequired", pointer).items():
        dep_required[name] = _names(deps, f"{pointer}/dependentRequired")
    for name in _object_of(schema, "dependentSchemas", pointer):
        dep_schemas[name] = c.child(where, "dependentSchemas", name)
    for name, dep in _object_of(schema, "dependencies", pointer).items():
        if isinstance(dep, list):
            dep_required[name] = _names(dep, f"{pointer}/dependencies")
        else:
            dep_schemas[name] = c.child(where, "dependencies", name)
    return ObjectSpec(
        c.layout,
        properties,
        patterns,
        additional,
        names=names,
        required=frozenset(required),
        min_props=_count(schema, "minProperties", pointer),
        max_props=_count(schema, "maxProperties", pointer, None),
        dependent_required=dep_required,
        dependent_schemas=dep_schemas,
        fixed_order=c.options.fixed_order,
    )


def _array_spec(c: Compiler, schema: Mapping, where: Resolved) -> ArraySpec:
    pointer = where.pointer
    items = schema.get("items")
    prefix: list[Node] = []
    rest: Node = c.any_value
    if "prefixItems" in schema and c.draft >= 2020:
        check_list(schema, "prefixItems", pointer)
        prefix = [c.child(where, "prefixItems", i) for i in range(len(schema["prefixItems"]))]
        if items is not None:
            rest = c.child(where, "items")
    elif isinstance(items, list):  # draft 4-2019 tuple form
        prefix = [c.child(where, "items", i) for i in range(len(items))]
        if "additionalItems" in schema:
            rest = c.child(where, "additionalItems")
    elif items is not None:
        rest = c.child(where, "items")
    contains = c.child(where, "contains") if "contains" in schema else None
    return ArraySpec(
        c.layout,
        prefix,
        rest,
        min_items=_count(schema, "minItems", pointer),
        max_items=_count(schema, "maxItems", pointer, None),
        unique=bool(schema.get("uniqueItems", False)),
        contains=contains,
        min_contains=_count(schema, "minContains", pointer, 1) if c.draft >= 2019 else 1,
        max_contains=_count(schema, "maxContains", pointer, None) if c.draft >= 2019 else None,
    )


def check_list(schema: Mapping, key: str, pointer: str) -> None:
    """``schema[key]`` must be a non-empty array of schemas (``allOf``, ``prefixItems``...)."""
    value = schema[key]
    if not isinstance(value, list) or not value:
        raise ConstraintError(f"invalid schema at {pointer}/{key}: expected a non-empty array of schemas")


_NO_KEYS: Mapping[str, Any] = {}  # never written to


def _object_of(schema: Mapping, key: str, pointer: str) -> Mapping[str, Any]:
    """The object a keyword such as ``properties`` holds (empty when absent)."""
    value = schema.get(key, _NO_KEYS)
    if (type(value) is dict or isinstance(value, Mapping)) and all(type(k) is str for k in value):
        return value
    raise ConstraintError(f"invalid {key} at {pointer}: expected an object (with string keys), got {show(value)}")


def _names(value: Any, pointer: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConstraintError(f"invalid schema at {pointer}: expected an array of property names, got {show(value)}")
    return frozenset(value)


def _count(schema: Mapping, key: str, pointer: str, default: Any = 0) -> Any:
    value = schema.get(key, default)
    if value is default:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value < 0
        or (isinstance(value, float) and not value.is_integer())
    ):
        raise ConstraintError(f"invalid {key} at {pointer}: expected a non-negative integer, got {show(value)}")
    return int(value)


def _fraction(value: Any, pointer: str, key: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise ConstraintError(f"invalid {key} at {pointer}: expected a number, got {show(value)}")
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


def _lcm(a: Fraction, b: Fraction) -> Fraction:
    """The least common multiple of two positive rationals."""
    num = a.numerator * b.numerator // math.gcd(a.numerator, b.numerator)
    return Fraction(num, math.gcd(a.denominator, b.denominator))
