"""Compile a JSON Schema (draft 4, 6, 7, 2019-09 or 2020-12) into nodes.

Every keyword is either enforced, an annotation (no effect on validity), or refused with
:class:`~awrs.errors.UnsupportedSchemaError` naming it and its JSON pointer (with
``strict=False`` it is reported as an :class:`UnenforcedKeywordWarning` instead). Unknown
keywords outside the JSON Schema vocabulary are extensions and do not affect validity; the
compiled schema lists them in ``ignored``.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from operator import itemgetter
from typing import Any

from awrs.automata.dfa import ByteDFA, DFATooLarge
from awrs.automata.product import intersect
from awrs.constraints.json_schema.arrays import ArraySpec
from awrs.constraints.json_schema.formats import FINAL_CHECKS, FORMATS, UNSUPPORTED, format_dfa, format_max_length
from awrs.constraints.json_schema.limits import MAX_DEPTH, DepthError, check_cycles, short_pointer
from awrs.constraints.json_schema.nodes import (
    AllOfNode,
    AnyOfNode,
    IfNode,
    Layout,
    NeverNode,
    Node,
    NotNode,
    OneOfNode,
    RefNode,
    TypedNode,
    Unresolved,
)
from awrs.constraints.json_schema.numbers import NumberSpec
from awrs.constraints.json_schema.objects import ObjectSpec
from awrs.constraints.json_schema.refs import Draft, Resolved, Resources, join
from awrs.constraints.json_schema.sharing import share
from awrs.constraints.json_schema.strings import StringSpec
from awrs.constraints.json_schema.values import accepts_value, check_json_value, json_equal, show, type_of, value_node
from awrs.constraints.regex.syntax import parses_exactly
from awrs.errors import ConstraintError, UnsupportedSchemaError

__all__ = ["ANNOTATIONS", "ENFORCED", "UNENFORCED", "Compiler", "Options", "UnenforcedKeywordWarning"]


class UnenforcedKeywordWarning(UserWarning):
    """A schema keyword is accepted with ``strict=False`` but not enforced."""


#: Keywords that never affect validity.
ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "id",
        "$anchor",
        "$defs",
        "definitions",
        "$comment",
        "$vocabulary",
        "title",
        "description",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentMediaType",
        "contentEncoding",
        "contentSchema",
        "discriminator",
        "xml",
        "example",
        "externalDocs",
    }
)
#: Keywords awrs enforces.
ENFORCED = frozenset(
    {
        "type",
        "enum",
        "const",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "if",
        "then",
        "else",
        "$ref",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "items",
        "prefixItems",
        "additionalItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
    }
)
#: JSON Schema keywords awrs recognises but does not enforce.
UNENFORCED = frozenset(
    {
        "unevaluatedProperties",
        "unevaluatedItems",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
    }
)

#: The keywords _typed reads: a schema without any of them accepts every value of every type.
_TYPED_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "propertyNames",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "items",
        "prefixItems",
        "additionalItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
    }
)
_ALL_TYPES = ("string", "number", "integer", "object", "array", "boolean", "null")
# What _types and _typed make for the usual cases, made once.
_ONE_TYPE = {t: frozenset({t, "integer"} if t == "number" else {t}) for t in _ALL_TYPES}
_EVERY_TYPE = frozenset(_ALL_TYPES)
_LITERALS = {
    (boolean, null): frozenset(({b"true", b"false"} if boolean else set()) | ({b"null"} if null else set()))
    for boolean in (False, True)
    for null in (False, True)
}

#: Keywords that appeared after draft 4, with the first draft that has them, and those that
#: later drafts dropped. A keyword outside its draft is not part of that draft's vocabulary:
#: like any unknown keyword it does not affect validity (python-jsonschema agrees).
_SINCE = {
    "const": 6,
    "contains": 6,
    "propertyNames": 6,
    "if": 7,
    "then": 7,
    "else": 7,
    "dependentRequired": 2019,
    "dependentSchemas": 2019,
    "minContains": 2019,
    "maxContains": 2019,
    "unevaluatedProperties": 2019,
    "unevaluatedItems": 2019,
    "$recursiveRef": 2019,
    "$recursiveAnchor": 2019,
    "prefixItems": 2020,
    "$dynamicRef": 2020,
    "$dynamicAnchor": 2020,
}
_UNTIL = {"dependencies": 7, "additionalItems": 2019, "$recursiveRef": 2019, "$recursiveAnchor": 2019}
_KNOWN = ENFORCED | ANNOTATIONS
#: Keywords with scalar values a leaf schema may hold (see Compiler._leaf_key), and the
#: annotations it may hold whatever their values (identifiers and $defs make a schema more
#: than a leaf: references can reach into it). Not ``pattern``: a shared node would keep the
#: pattern's automaton, built during generation, for as long as the process runs.
_LEAF_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minProperties",
        "maxProperties",
        "minItems",
        "maxItems",
        "uniqueItems",
    }
)
_LEAF_ANNOTATIONS = ANNOTATIONS - {"$schema", "$id", "id", "$anchor", "$defs", "definitions", "$vocabulary"}
_SCALARS = (str, int, float, bool, type(None))
#: Leaf nodes shared by every compile in the process: (options, keywords) -> node.
_LEAVES: dict[tuple, Node] = {}
_LEAF_LIMIT = 1024


#: The memo's mark of a schema whose node is being compiled.
_COMPILING: Any = object()


@functools.cache
def _vocabulary(draft: int) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The keywords a draft does not have, the known keywords it has, and the leaf keywords
    it has (see Compiler._leaf_key)."""
    foreign = frozenset(k for k in set(_SINCE) | set(_UNTIL) if _SINCE.get(k, 0) > draft or _UNTIL.get(k, 9999) < draft)
    return foreign, _KNOWN - foreign, _LEAF_KEYWORDS - foreign


@dataclass(frozen=True)
class Options:
    strict: bool = True
    max_whitespace: int = 32  # 0 = compact
    formats: str = "assert"  # or "annotate"
    max_string_length: int | None = None
    fixed_order: bool = False
    registry: Mapping[str, Any] = field(default_factory=dict)


class Compiler:
    """Compiles one root schema; nodes are memoised per subschema so references can loop."""

    def __init__(self, schema: Any, draft: Draft, options: Options, *, share_any: bool = True):
        self.options = options
        self._share_any = share_any
        self.draft = draft
        self.layout = Layout(options.max_whitespace)
        self.resources = Resources(schema, draft, options.registry)
        self.ignored: set[str] = set()
        self.unenforced: list[tuple[str, str]] = []
        self._memo: dict[int, Node] = {}
        self._loops: dict[int, int] = {}  # schema -> the references that loop back to it
        self._refs: dict[int, tuple[RefNode, int]] = {}  # the references that loop back, and to what
        self._depth = 0  # schemas being compiled, one inside the other
        self._any: Node | None = None
        self._foreign, self._known, self._leaf_keywords = _vocabulary(draft)
        self._options_key = (
            draft,
            options.strict,
            options.max_whitespace,
            options.formats,
            options.max_string_length,
            options.fixed_order,
        )

    def compile_root(self) -> Node:
        """The root schema's node. Raises ConstraintError when a reference cycle reads no part
        of the value (see check_cycles)."""
        root = self.node(self.resources.root)
        if self._refs:
            check_cycles(ref for ref, _ in self._refs.values())
        return root

    @property
    def any_value(self) -> Node:
        """A node that accepts every JSON value: one per draft and options, shared by every
        schema compiled with them (it holds nothing of any schema)."""
        if self._any is None:
            if self._share_any:
                self._any = _shared_any_value(self.draft, self.options)
            else:
                self._any = self.node(Resolved(True, self.resources.root.base, "#"))
        return self._any

    def node(self, where: Resolved) -> Node:
        shared = self._shared(where.schema, where)
        return shared if shared is not None else self._memoised(where)

    def _child(self, where: Resolved, *path: str | int) -> Node:
        """The node of the subschema at ``path`` inside ``where``; its Resolved is made only
        when it has to be compiled."""
        schema = where.schema
        for p in path:
            schema = schema[p]
        shared = self._shared(schema, where, *path)
        return shared if shared is not None else self._memoised(self._sub(where, *path))

    def _shared(self, schema: Any, where: Resolved, *path: str | int) -> Node | None:
        """The node shared by every compile in the process for ``schema`` (the subschema at
        ``path`` inside ``where``), or None when it has none: the any-value node for ``true``
        and ``{}``, and a leaf's node (see _leaf_key), compiled the first time its key is met."""
        if not self._share_any:
            return None
        if schema is True:
            return self.any_value
        if type(schema) is not dict:
            return self.any_value if not schema and isinstance(schema, Mapping) else None
        leaf = self._leaf_key(schema)
        if leaf is None:
            return None
        node = _LEAVES.get(leaf[:2]) if leaf[1] else self.any_value  # annotations only: like {}
        if node is None:
            node = self._compile(self._sub(where, *path) if path else where)  # one that does not compile is not kept
            if len(_LEAVES) >= _LEAF_LIMIT:
                _LEAVES.clear()
            _LEAVES[leaf[:2]] = node
        elif leaf[2]:
            self.ignored.update(leaf[2])
        return node

    def _memoised(self, where: Resolved) -> Node:
        """The node of a schema that is not shared, compiled once per compile (by identity, so
        that references can loop back to a schema being compiled). A node handed to a second
        parent is shared (sharing.share): parallel readers of one value then read it once.
        (Compiles recurse through here: one frame per level of nesting counts, see limits.)"""
        key = id(where.schema)
        node = self._memo.get(key)
        if node is _COMPILING:  # a reference back to a schema being compiled: resolved lazily
            self._loops[key] = self._loops.get(key, 0) + 1
            ref = RefNode(lambda: self._finished(key), where.pointer)
            self._refs[id(ref)] = (ref, key)
            return ref
        if node is not None:
            return self._handed_again(node)
        if self._depth >= MAX_DEPTH:
            raise DepthError(
                f"the schema nests deeper than {MAX_DEPTH} levels at {short_pointer(where.pointer)} (subschemas "
                f"within subschemas, chains of $ref included): {MAX_DEPTH} is the most awrs.JsonSchema compiles"
            )
        self._memo[key] = _COMPILING
        self._depth += 1
        try:
            node = self._compile(where)
        except BaseException:
            del self._memo[key]
            raise
        finally:
            self._depth -= 1
        self._memo[key] = node
        if self._loops.get(key, 0) > 1 and self._share_any:
            # Two references back can read one nested value in parallel; one reference and
            # the first parent never read the same value (the reference reads a part of it).
            share(node)
        return node

    def _handed_again(self, node: Node) -> Node:
        """``node``, compiled already, handed to one more parent: shared from now on."""
        looped = self._refs.get(id(node))
        if looped is None:
            if self._share_any:  # (the shared any-value node is read by one parent at a time)
                share(node)
            return node
        ref, key = looped  # the same reference back, handed to another parent
        self._loops[key] += 1
        target = self._finished(key)
        if target is not None and self._share_any:
            share(target)  # (else shared when its compile ends, above)
        return ref

    def _finished(self, key: int) -> Node | None:
        """The node of the schema ``key``, or None while it is still being compiled."""
        node = self._memo.get(key)
        return None if node is _COMPILING else node

    def _leaf_key(self, schema: dict) -> tuple | None:
        """The key under which a leaf schema's node is shared, or None for any other schema.

        A leaf has no subschema, no reference, no identifier and no pattern: only keywords
        with scalar values (``type``, bounds, ``format``, ``const``, an ``enum`` of scalars),
        annotations, and extension keywords. Its node is a function of those values, the draft
        and the options alone, so schemas compiled in one process share it: a compile then
        skips most of the walk for the ``{"type": "string"}`` leaves that real schemas are
        mostly made of."""
        parts = []
        unknown: tuple[str, ...] = ()
        leaf_keywords = self._leaf_keywords
        for k, v in schema.items():
            if k in leaf_keywords:
                t = type(v)
                if t is str or t is int or t is float or t is bool or v is None:
                    if k == "format" and self.options.formats == "assert" and (t is not str or v not in FORMATS):
                        return None  # refused, or recorded as ignored, by the full compile
                    parts.append((k, t, v))
                elif t is list and (k == "enum" or k == "type") and all(type(x) in _SCALARS for x in v):
                    parts.append((k, t, tuple((type(x), x) for x in v)))
                else:
                    return None
            elif k in _LEAF_ANNOTATIONS:
                continue
            elif k in _KNOWN or k in UNENFORCED or k in self._foreign or type(k) is not str:
                return None
            else:
                unknown += (k,)  # an extension keyword: recorded as ignored
        parts.sort(key=itemgetter(0))
        return (self._options_key, tuple(parts), unknown)

    # --- one schema ---------------------------------------------------------------------

    def _compile(self, where: Resolved) -> Node:
        schema, pointer = where.schema, where.pointer
        if schema is True:
            return self._typed({}, where)
        if schema is False:
            return NeverNode()
        if type(schema) is not dict and not isinstance(schema, Mapping):
            raise ConstraintError(f"invalid schema at {pointer}: expected an object or a boolean, got {show(schema)}")
        if "$ref" in schema and self.draft <= 7:
            return self._ref(schema["$ref"], where)  # draft 4-7: siblings of $ref are ignored
        kept = self._check_keywords(schema, pointer)
        if kept is not schema:
            schema, where = kept, Resolved(kept, where.base, pointer)
        # Without type-specific keywords the typed part accepts every value: left out when
        # other parts read the value (a $ref beside annotations would otherwise read every
        # value it checks twice, once for nothing).
        typed = not _TYPED_KEYWORDS.isdisjoint(schema)
        parts: list[Node] = [self._typed(schema, where)] if typed else []
        if "$ref" in schema:
            parts.append(self._ref(schema["$ref"], where))
        for key, cls in (("allOf", AllOfNode), ("anyOf", AnyOfNode), ("oneOf", OneOfNode)):
            if key in schema:
                self._check_list(schema, key, where)
                parts.append(cls([self._child(where, key, i) for i in range(len(schema[key]))]))
        if "not" in schema:
            parts.append(NotNode(self._child(where, "not"), self.any_value))
        if "if" in schema and ("then" in schema or "else" in schema):
            then = self._child(where, "then") if "then" in schema else self.any_value
            otherwise = self._child(where, "else") if "else" in schema else self.any_value
            parts.append(IfNode(self._child(where, "if"), then, otherwise, self.any_value))
        if not parts:
            return self._typed(schema, where)
        return parts[0] if len(parts) == 1 else AllOfNode(parts)

    def _check_keywords(self, schema: Mapping, pointer: str) -> Mapping:
        """Refuse (or, with ``strict=False``, warn about) the keywords awrs does not enforce,
        record unknown ones as ignored, and return the schema without the keywords its draft
        does not have (recorded as ignored too)."""
        known, foreign = self._known, None
        for key in schema:
            if key in known:
                continue
            if key in self._foreign:
                foreign = (foreign or []) + [key]
            elif key in UNENFORCED:
                self._unsupported(key, pointer, "awrs does not enforce this keyword")
            elif type(key) is not str:
                raise ConstraintError(
                    f"invalid schema at {pointer}: a key {key!r} that is not a string (a schema is a JSON object)"
                )
            else:
                self.ignored.add(key)
        fmt = schema.get("format")
        if isinstance(fmt, str) and self.options.formats == "assert" and fmt not in FORMATS:
            if fmt in UNSUPPORTED:
                self._unsupported("format", pointer, f"the {fmt!r} format is not enforced")
            else:
                self.ignored.add(f"format:{fmt}")
        if foreign is None:
            return schema
        self.ignored.update(foreign)
        return {k: v for k, v in schema.items() if k not in foreign}

    def _unsupported(self, keyword: str, pointer: str, detail: str) -> None:
        if self.options.strict:
            raise UnsupportedSchemaError(keyword, pointer, detail)
        self.unenforced.append((keyword, pointer))
        warnings.warn(f"{keyword} at {pointer} is not enforced: {detail}", UnenforcedKeywordWarning, stacklevel=4)

    def _ref(self, ref: Any, where: Resolved) -> Node:
        if not isinstance(ref, str):
            raise ConstraintError(f"invalid $ref at {where.pointer}: expected a string")
        return self.node(self.resources.resolve(ref, where.base))

    def _sub(self, where: Resolved, *path: str) -> Resolved:
        schema = where.schema
        for p in path:
            schema = schema[p]
        return Resolved(schema, self._base_of(schema, where.base), where.pointer + "/" + "/".join(map(str, path)))

    def _base_of(self, schema: Any, base: str) -> str:
        if (type(schema) is dict or isinstance(schema, Mapping)) and not (self.draft <= 7 and "$ref" in schema):
            ident = schema.get("id" if self.draft == 4 else "$id")
            if isinstance(ident, str) and not ident.startswith("#"):
                return join(base, ident)[1]
        return base

    def _check_list(self, schema: Mapping, key: str, where: Resolved) -> None:
        value = schema[key]
        if not isinstance(value, list) or not value:
            raise ConstraintError(f"invalid schema at {where.pointer}/{key}: expected a non-empty array of schemas")

    # --- the type-specific keywords ---------------------------------------------------

    def _typed(self, schema: Mapping, where: Resolved) -> Node:
        types = self._types(schema, where.pointer)
        if "enum" in schema or "const" in schema:
            return self._enum_node(schema, types, where)
        string = self._string(schema, where) if "string" in types else None
        number = self._number(schema, types, where.pointer) if ("number" in types or "integer" in types) else None
        obj = self._object(schema, where) if "object" in types else None
        arr = self._array(schema, where) if "array" in types else None
        return TypedNode(string, number, obj, arr, _LITERALS[("boolean" in types, "null" in types)])

    def _types(self, schema: Mapping, pointer: str) -> frozenset[str]:
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

    def _enum_node(self, schema: Mapping, types: frozenset[str], where: Resolved) -> Node:
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
        constraining = set(rest) & (ENFORCED - {"type", "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"})
        others = self._typed(rest, where) if constraining else None
        typed = [v for v in values if type_of(v) in types]
        try:
            kept = [v for v in typed if others is None or accepts_value(others, v)]
        except Unresolved:  # the other keywords refer back to a schema still being compiled
            return AllOfNode([value_node(typed, self.layout), others])  # checked when reading
        return value_node(kept, self.layout)

    def _string(self, schema: Mapping, where: Resolved) -> StringSpec:
        pointer = where.pointer
        min_len = _count(schema, "minLength", pointer)
        max_len = _count(schema, "maxLength", pointer, None)
        pattern = schema.get("pattern")
        if pattern is not None:
            _check_pattern(pattern, pointer)
        fmt = schema.get("format")
        fmt = fmt if self.options.formats == "assert" and isinstance(fmt, str) and fmt in FORMATS else None
        if fmt is not None:
            limit = format_max_length(fmt)
            if limit is not None:
                max_len = limit if max_len is None else min(max_len, limit)
        cap = self.options.max_string_length
        if cap is not None:
            max_len = cap if max_len is None else min(max_len, cap)
        if pattern is None and fmt is None:
            return StringSpec(min_len=min_len, max_len=max_len)
        return StringSpec(min_len=min_len, max_len=max_len, build=lambda: _string_automata(pattern, fmt))

    def _number(self, schema: Mapping, types: frozenset[str], pointer: str) -> NumberSpec:
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
        plain = integers_only and self.draft == 4
        return NumberSpec(lo=lo, lo_open=lo_open, hi=hi, hi_open=hi_open, step=step, plain=plain)

    def _object(self, schema: Mapping, where: Resolved) -> ObjectSpec:
        pointer = where.pointer
        properties = {}
        for name in _object_of(schema, "properties", pointer):  # a loop: one frame less per level of nesting
            properties[name] = self._child(where, "properties", name)
        patterns = []
        for pat in _object_of(schema, "patternProperties", pointer):
            _check_regex(pat, pat, f"{pointer}/patternProperties")
            patterns.append((_NameSearch(pat), pat, self._child(where, "patternProperties", pat)))
        additional = self._child(where, "additionalProperties") if "additionalProperties" in schema else self.any_value
        names = self._child(where, "propertyNames") if "propertyNames" in schema else None
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            raise ConstraintError(f"invalid required at {pointer}: expected an array of strings")
        dep_required: dict[str, frozenset[str]] = {}
        dep_schemas: dict[str, Node] = {}
        for name, deps in _object_of(schema, "dependentRequired", pointer).items():
            dep_required[name] = _names(deps, f"{pointer}/dependentRequired")
        for name in _object_of(schema, "dependentSchemas", pointer):
            dep_schemas[name] = self._child(where, "dependentSchemas", name)
        for name, dep in _object_of(schema, "dependencies", pointer).items():
            if isinstance(dep, list):
                dep_required[name] = _names(dep, f"{pointer}/dependencies")
            else:
                dep_schemas[name] = self._child(where, "dependencies", name)
        return ObjectSpec(
            self.layout,
            properties,
            patterns,
            additional,
            names=names,
            required=frozenset(required),
            min_props=_count(schema, "minProperties", pointer),
            max_props=_count(schema, "maxProperties", pointer, None),
            dependent_required=dep_required,
            dependent_schemas=dep_schemas,
            fixed_order=self.options.fixed_order,
        )

    def _array(self, schema: Mapping, where: Resolved) -> ArraySpec:
        pointer = where.pointer
        items = schema.get("items")
        prefix: list[Node] = []
        rest: Node = self.any_value
        if "prefixItems" in schema and self.draft >= 2020:
            self._check_list(schema, "prefixItems", where)
            prefix = [self._child(where, "prefixItems", i) for i in range(len(schema["prefixItems"]))]
            if items is not None:
                rest = self._child(where, "items")
        elif isinstance(items, list):  # draft 4-2019 tuple form
            prefix = [self._child(where, "items", i) for i in range(len(items))]  # type: ignore[arg-type]
            if "additionalItems" in schema:
                rest = self._child(where, "additionalItems")
        elif items is not None:
            rest = self._child(where, "items")
        contains = self._child(where, "contains") if "contains" in schema else None
        return ArraySpec(
            self.layout,
            prefix,
            rest,
            min_items=_count(schema, "minItems", pointer),
            max_items=_count(schema, "maxItems", pointer, None),
            unique=bool(schema.get("uniqueItems", False)),
            contains=contains,
            min_contains=_count(schema, "minContains", pointer, 1) if self.draft >= 2019 else 1,
            max_contains=_count(schema, "maxContains", pointer, None) if self.draft >= 2019 else None,
        )


# --- helpers ---------------------------------------------------------------------------------

#: The "any value" node per (draft, options that shape it). Compiling it is about half of a
#: small schema's compile, and most schemas need it (an object without additionalProperties,
#: an array without items, not/if).
_ANY_VALUES: dict[tuple, Node] = {}


def _shared_any_value(draft: Draft, options: Options) -> Node:
    key = (draft, options.strict, options.max_whitespace, options.formats, options.max_string_length, options.fixed_order)
    node = _ANY_VALUES.get(key)
    if node is None:  # two threads may both build it: either result serves
        builder = Compiler(True, draft, replace(options, registry={}), share_any=False)
        node = _ANY_VALUES[key] = builder.any_value
    return node


def _check_pattern(pattern: Any, pointer: str) -> None:
    """A pattern must be a valid regular expression (checked now; its automaton is built later)."""
    if not isinstance(pattern, str):
        raise ConstraintError(f"invalid pattern at {pointer}: expected a string")
    _check_regex(search_pattern(pattern), pattern, f"{pointer}/pattern")


def _check_regex(full: str, pattern: str, pointer: str) -> None:
    """Raise a ConstraintError naming ``pattern`` and where it is unless ``full`` (the pattern
    as awrs matches it) is a valid regular expression."""
    error = _regex_error(full)
    if error is not None:
        raise ConstraintError(f"invalid pattern {pattern!r} at {pointer}: {error}")


@functools.lru_cache(maxsize=1024)
def _regex_error(full: str) -> str | None:
    """Why ``full`` is not a valid regular expression, or None. awrs's own reader answers for
    most patterns; the regex module's compile (several times slower, the one awrs.Regex uses)
    for the rest. Memoised: schemas repeat their patterns (a uuid or a date in many places),
    and reading one costs a compile tens of microseconds."""
    from awrs.constraints.regex import ECMA_262, compile_pattern

    if parses_exactly(full):
        return None
    try:
        compile_pattern(full, ECMA_262)
    except ConstraintError as exc:
        return str(exc)
    return None


def _string_automata(pattern: str | None, fmt: str | None):
    """(dfa, partial patterns, final checks) for a pattern and a format, built on first use."""
    from awrs.constraints.regex import ECMA_262, Regex

    dfa: Any = None
    partial: list[Any] = []
    checks: list[Any] = []
    if pattern is not None:
        rx = Regex(search_pattern(pattern), ECMA_262)
        if rx.dfa is not None:
            dfa = rx.dfa
        else:  # not regular, or a DFA too large to build whole
            partial.append(rx.compiled)
    if fmt is not None:
        if fmt in FINAL_CHECKS:
            checks.append(FINAL_CHECKS[fmt])
        if dfa is None:
            dfa = format_dfa(fmt)
        else:
            try:
                dfa = intersect(dfa, format_dfa(fmt))
            except DFATooLarge:
                checks.append(_full_match(FORMATS[fmt]))
            except ConstraintError:  # the pattern and the format exclude each other
                dfa = ByteDFA.nothing()
    return dfa, partial, checks


def search_pattern(pattern: str) -> str:
    """A JSON Schema ``pattern`` (found anywhere in the string) as a full-match pattern."""
    anchored_start = pattern.startswith("^")
    anchored_end = pattern.endswith("$") and not pattern.endswith("\\$")
    if "|" in pattern and not (anchored_start and anchored_end and _single_branch(pattern)):
        return r"[\s\S]*(?:" + pattern + r")[\s\S]*"
    head = "" if anchored_start else r"[\s\S]*"
    tail = "" if anchored_end else r"[\s\S]*"
    return head + pattern + tail


def _single_branch(pattern: str) -> bool:
    """True when the pattern's alternations are all inside groups."""
    depth, escaped, in_class = 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return False
    return True


class _NameSearch:
    """A ``patternProperties`` pattern searched in property names, compiled by the regex module
    the first time a name is looked up (compiling a schema only checks that it is valid)."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._compiled: Any = None

    def search(self, name: str) -> Any:
        if self._compiled is None:
            from awrs.constraints.regex import ECMA_262, compile_pattern

            self._compiled = compile_pattern(self.pattern, ECMA_262)
        return self._compiled.search(name)


def _full_match(pattern: str):
    """An exact check of a whole string against a pattern (used when two DFAs are too large to
    intersect: the prefix check then follows only one of them)."""
    from awrs.constraints.regex import ECMA_262, compile_pattern

    compiled = compile_pattern(pattern, ECMA_262)
    return lambda text: compiled.fullmatch(text) is not None


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
