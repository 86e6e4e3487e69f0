"""Compile a JSON Schema (draft 4, 6, 7, 2019-09 or 2020-12) into nodes.

Every keyword is either enforced, an annotation (no effect on validity), or refused with
:class:`~awrs.errors.UnsupportedSchemaError` naming it and its JSON pointer (with
``strict=False`` it is reported as an :class:`UnenforcedKeywordWarning` instead). Unknown
keywords outside the JSON Schema vocabulary (:mod:`awrs.constraints.json_schema.vocabulary`)
are extensions and do not affect validity; the compiled schema lists them in ``ignored``.

The :class:`Compiler` walks the schema, memoises a node per subschema (so references can
loop) and shares nodes between compiles; the combinators become
:mod:`~awrs.constraints.json_schema.combinators` nodes and the type-specific keywords are
compiled by :mod:`awrs.constraints.json_schema.type_keywords`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any

from awrs.constraints.json_schema.combinators import AllOfNode, AnyOfNode, IfNode, NotNode, OneOfNode, RefNode
from awrs.constraints.json_schema.formats import FORMATS, UNSUPPORTED
from awrs.constraints.json_schema.limits import MAX_DEPTH, DepthError, check_cycles, short_pointer
from awrs.constraints.json_schema.nodes import Layout, NeverNode, Node
from awrs.constraints.json_schema.refs import Draft, Resolved, Resources, join
from awrs.constraints.json_schema.sharing import share
from awrs.constraints.json_schema.type_keywords import check_list, typed_node
from awrs.constraints.json_schema.values import show
from awrs.constraints.json_schema.vocabulary import KNOWN, LEAF_ANNOTATIONS, TYPED_KEYWORDS, UNENFORCED, vocabulary
from awrs.errors import ConstraintError, UnsupportedSchemaError

__all__ = ["Compiler", "Options", "UnenforcedKeywordWarning"]


class UnenforcedKeywordWarning(UserWarning):
    """A schema keyword is accepted with ``strict=False`` but not enforced."""


_SCALARS = (str, int, float, bool, type(None))
#: Leaf nodes shared by every compile in the process: (options, keywords) -> node.
_LEAVES: dict[tuple, Node] = {}
_LEAF_LIMIT = 1024


#: The memo's mark of a schema whose node is being compiled.
_COMPILING: Any = object()


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
        self._foreign, self._known, self._leaf_keywords = vocabulary(draft)
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

    def child(self, where: Resolved, *path: str | int) -> Node:
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
            elif k in LEAF_ANNOTATIONS:
                continue
            elif k in KNOWN or k in UNENFORCED or k in self._foreign or type(k) is not str:
                return None
            else:
                unknown += (k,)  # an extension keyword: recorded as ignored
        parts.sort(key=itemgetter(0))
        return (self._options_key, tuple(parts), unknown)

    # --- one schema ---------------------------------------------------------------------

    def _compile(self, where: Resolved) -> Node:
        schema, pointer = where.schema, where.pointer
        if schema is True:
            return typed_node(self, {}, where)
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
        typed = not TYPED_KEYWORDS.isdisjoint(schema)
        parts: list[Node] = [typed_node(self, schema, where)] if typed else []
        if "$ref" in schema:
            parts.append(self._ref(schema["$ref"], where))
        for key, cls in (("allOf", AllOfNode), ("anyOf", AnyOfNode), ("oneOf", OneOfNode)):
            if key in schema:
                check_list(schema, key, where.pointer)
                parts.append(cls([self.child(where, key, i) for i in range(len(schema[key]))]))
        if "not" in schema:
            parts.append(NotNode(self.child(where, "not"), self.any_value))
        if "if" in schema and ("then" in schema or "else" in schema):
            then = self.child(where, "then") if "then" in schema else self.any_value
            otherwise = self.child(where, "else") if "else" in schema else self.any_value
            parts.append(IfNode(self.child(where, "if"), then, otherwise, self.any_value))
        if not parts:
            return typed_node(self, schema, where)
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

    def _sub(self, where: Resolved, *path: str | int) -> Resolved:
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
