"""The JSON Schema vocabulary as awrs reads it: which keywords are enforced, which are
annotations, which are recognised but not enforced, and in which drafts each keyword exists.
"""

from __future__ import annotations

import functools

__all__ = [
    "ANNOTATIONS",
    "APPLICATORS",
    "ENFORCED",
    "KNOWN",
    "LEAF_ANNOTATIONS",
    "LEAF_KEYWORDS",
    "TYPED_KEYWORDS",
    "UNENFORCED",
    "vocabulary",
]

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

#: The enforced keywords that apply subschemas (or a reference) to the value itself.
APPLICATORS = frozenset({"$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else"})
#: The keywords of a schema's type-specific part: a schema without any of them accepts every
#: value of every type.
TYPED_KEYWORDS = ENFORCED - APPLICATORS

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
KNOWN = ENFORCED | ANNOTATIONS
#: Keywords with scalar values a leaf schema may hold (see Compiler._leaf_key), and the
#: annotations it may hold whatever their values (identifiers and $defs make a schema more
#: than a leaf: references can reach into it). Not ``pattern``: a shared node would keep the
#: pattern's automaton, built during generation, for as long as the process runs.
LEAF_KEYWORDS = frozenset(
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
LEAF_ANNOTATIONS = ANNOTATIONS - {"$schema", "$id", "id", "$anchor", "$defs", "definitions", "$vocabulary"}


@functools.cache
def vocabulary(draft: int) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The keywords a draft does not have, the known keywords it has, and the leaf keywords
    it has."""
    foreign = frozenset(k for k in set(_SINCE) | set(_UNTIL) if _SINCE.get(k, 0) > draft or _UNTIL.get(k, 9999) < draft)
    return foreign, KNOWN - foreign, LEAF_KEYWORDS - foreign
