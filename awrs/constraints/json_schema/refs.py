"""Schema resources and ``$ref`` resolution: ``$id``/``id`` base URIs, ``$anchor`` and plain-name
fragments, JSON pointers, ``$defs``/``definitions``, and remote documents from a registry.

Only keywords that hold subschemas are searched for identifiers, so an ``$id`` inside an
``enum`` or ``const`` value is data, not an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote, urldefrag, urljoin

from awrs.constraints.json_schema.limits import MAX_DEPTH, DepthError, short_pointer
from awrs.errors import ConstraintError

__all__ = ["DEFAULT_BASE", "DRAFTS", "Draft", "Resolved", "Resources", "detect_draft", "join", "subschemas"]

#: The base URI of a root schema that has no ``$id`` (a reserved, never-fetched domain).
DEFAULT_BASE = "https://awrs.invalid/root.json"

_DRAFTS = {
    "json-schema.org/draft-04/schema": 4,
    "json-schema.org/draft-06/schema": 6,
    "json-schema.org/draft-07/schema": 7,
    "json-schema.org/draft/2019-09/schema": 2019,
    "json-schema.org/draft/2020-12/schema": 2020,
}
Draft = int
#: The drafts awrs reads.
DRAFTS = (4, 6, 7, 2019, 2020)

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_VALUES = (
    "not",
    "if",
    "then",
    "else",
    "additionalProperties",
    "additionalItems",
    "contains",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
)


#: An absolute http(s) URI that urllib's parse and unparse give back unchanged: an authority,
#: a path and a fragment, without parameters, a query, or characters urllib treats specially.
_PLAIN_ABSOLUTE = re.compile(r"https?://[^/?#;\[\]\s]+(?:/[^?#;\s]*)?(?:#[^#\s]*)?")


def join(base: str, ref: str) -> tuple[str, str, str]:
    """``(uri, document, fragment)``: ``urljoin(base, ref)`` and its ``urldefrag`` split, for
    a base without a fragment. The two usual cases — an absolute ``$id`` and a ``$ref`` to a
    fragment of the same document — skip urllib, which costs a compile several microseconds
    per call."""
    plain_base = "#" not in base and _PLAIN_ABSOLUTE.fullmatch(base)
    if plain_base and ref[:1] == "#":
        return base + ref, base, ref[1:]
    if plain_base and _PLAIN_ABSOLUTE.fullmatch(ref):
        doc, _, fragment = ref.partition("#")
        return ref, doc, fragment
    try:
        uri = urljoin(base, ref)
        doc, fragment = urldefrag(uri)
    except ValueError as exc:  # urllib refuses some URIs, e.g. an unclosed IPv6 host
        raise ConstraintError(f"invalid URI {ref!r} (in $id or $ref): {exc}") from None
    return uri, doc, fragment


def detect_draft(schema: Any, default: Draft = 2020) -> Draft:
    """The draft a schema's ``$schema`` names (the default when absent or unknown)."""
    if type(schema) is dict or isinstance(schema, Mapping):
        uri = schema.get("$schema")
        if isinstance(uri, str):
            for key, draft in _DRAFTS.items():
                if key in uri:
                    return draft
    return default


def subschemas(schema: Mapping) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(keyword path, subschema) for every place a subschema can sit."""
    for key in _SCHEMA_MAPS:
        value = schema.get(key)
        if isinstance(value, Mapping):
            yield from (((key, name), sub) for name, sub in value.items())
    for key in _SCHEMA_LISTS:
        value = schema.get(key)
        if isinstance(value, list):
            yield from (((key, str(i)), sub) for i, sub in enumerate(value))
    for key in _SCHEMA_VALUES:
        if key in schema:
            yield (key,), schema[key]
    yield from _items_and_dependencies(schema)


def _items_and_dependencies(schema: Mapping) -> Iterator[tuple[tuple[str, ...], Any]]:
    """The subschemas of ``items`` (one schema or a list) and of ``dependencies`` (the values
    that are not lists of names)."""
    items = schema.get("items")
    if isinstance(items, list):
        yield from ((("items", str(i)), sub) for i, sub in enumerate(items))
    elif items is not None:
        yield ("items",), items
    deps = schema.get("dependencies")
    if isinstance(deps, Mapping):
        yield from ((("dependencies", name), sub) for name, sub in deps.items() if not isinstance(sub, list))


class Resolved(NamedTuple):
    """A subschema with its base URI. (A named tuple: a compile makes one per subschema, and
    a frozen dataclass costs several times as much to make.)"""

    schema: Any
    base: str  # the base URI in force inside the schema
    pointer: str  # a JSON pointer, for error messages


class Resources:
    """Every schema resource reachable from a root and a registry of remote documents."""

    def __init__(self, root: Any, draft: Draft, registry: Mapping[str, Any] | None = None):
        self.draft = draft
        self._registry = dict(registry or {})
        self._docs: dict[str, Resolved] = {}  # URI without fragment -> resource root
        self._anchors: dict[str, Resolved] = {}  # URI with plain-name fragment -> schema
        self._root_schema = root
        self._indexed = False  # the identifiers are indexed on the first $ref (most schemas have none)
        base = self._identified(root, DEFAULT_BASE)[0] if type(root) is dict or isinstance(root, Mapping) else DEFAULT_BASE
        self.root = Resolved(root, base, "#")

    def _id_of(self, schema: Mapping) -> str | None:
        if self.draft <= 7 and "$ref" in schema:
            return None  # in draft 4-7, $ref makes every sibling keyword ignored, $id included
        key = "id" if self.draft == 4 else "$id"
        value = schema.get(key)
        return value if isinstance(value, str) else None

    def _identified(self, schema: Mapping, base: str) -> tuple[str, str | None]:
        """The base URI in force inside ``schema`` (bases carry no fragment), and the anchor
        URI its ``$id`` declares instead (draft 6/7 ``"$id": "#name"``), if it does."""
        ident = self._id_of(schema)
        if ident is None:
            return base, None
        uri, doc, fragment = join(base, ident)
        if fragment and not fragment.startswith("/"):
            return base, (f"{urldefrag(base)[0]}#{fragment}" if not doc else uri)
        return doc or base, None  # "#/..." alone changes nothing

    def _index(self, schema: Any, base: str, pointer: str, depth: int = 0) -> Resolved:
        if depth > MAX_DEPTH:
            raise DepthError(
                f"the schema nests deeper than {MAX_DEPTH} levels of subschemas at {short_pointer(pointer)}: {MAX_DEPTH} is the most awrs.JsonSchema compiles"
            )
        here = Resolved(schema, base, pointer)
        if not isinstance(schema, Mapping):
            self._docs.setdefault(urldefrag(base)[0], here)
            return here
        inner, anchor = self._identified(schema, base)
        if anchor is not None:
            self._anchors[anchor] = here
        elif inner != base:  # a new resource
            base = inner
            here = Resolved(schema, base, pointer)
            self._docs[base] = here
        if pointer == "#":
            self._docs.setdefault(urldefrag(base)[0], here)
        for key in ("$anchor", "$dynamicAnchor"):  # a $dynamicAnchor is also a plain anchor for $ref
            anchor = schema.get(key)
            if isinstance(anchor, str) and self.draft >= 2019:
                self._anchors.setdefault(f"{urldefrag(base)[0]}#{anchor}", here)
        for path, sub in subschemas(schema):
            self._index(sub, base, pointer + "/" + "/".join(_escape(p) for p in path), depth + 1)
        return Resolved(schema, base, pointer)

    def resolve(self, ref: str, base: str) -> Resolved:
        """The schema a ``$ref`` points to, with its base URI."""
        if not self._indexed:
            self._indexed = True
            self._index(self._root_schema, DEFAULT_BASE, "#")
        _, doc, fragment = join(base, ref)
        doc = doc or urldefrag(base)[0]
        if doc not in self._docs:
            self._load_remote(doc, ref)
        if fragment and not fragment.startswith("/"):
            found = self._anchors.get(f"{doc}#{fragment}")
            if found is None:
                raise ConstraintError(f"$ref {ref!r}: no schema has the anchor {fragment!r} in {doc}")
            return found
        target = self._docs[doc]
        return self._walk_pointer(target, fragment, ref)

    def _load_remote(self, doc: str, ref: str) -> None:
        schema = self._registry.get(doc)
        if schema is None:
            schema = self._registry.get(doc.rstrip("#"))
        if schema is None:
            raise ConstraintError(
                f"cannot resolve $ref {ref!r}: {doc!r} is not part of this schema; awrs never "
                "downloads schemas — pass it in JsonSchema(..., registry={uri: schema})"
            )
        self._docs[doc] = self._index(schema, doc, "#")

    def _walk_pointer(self, target: Resolved, fragment: str, ref: str) -> Resolved:
        node, base, pointer = target.schema, target.base, target.pointer
        if not fragment:
            return target
        for raw in fragment.split("/")[1:]:
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, list):
                try:
                    node = node[int(part)]
                except (ValueError, IndexError):
                    raise ConstraintError(f"$ref {ref!r}: no item {part!r} in the array at {pointer}") from None
            elif isinstance(node, Mapping) and part in node:
                node = node[part]
                if isinstance(node, Mapping):
                    ident = self._id_of(node)
                    if ident is not None and not ident.startswith("#"):
                        base = join(base, ident)[1]
            else:
                raise ConstraintError(f"$ref {ref!r}: nothing at {pointer}/{raw}")
            pointer = f"{pointer}/{raw}"
        return Resolved(node, base, pointer)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")
