"""awrs.JsonSchema on arbitrary input: any schema-shaped value (invalid ones included: wrong
types for keywords, NaN, huge numbers, bad references, cycles) and any text either gives a
result or raises an AwrsError, within a time budget; never another exception type."""

from __future__ import annotations

import contextlib
import json
import time
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JsonSchema
from awrs.errors import AwrsError

#: Seconds one example (a compile and its checks) may take. A normal example takes a few
#: milliseconds; the budget is far above that and far below a hang.
BUDGET_S = 2.0

KEYWORDS = [
    "type",
    "enum",
    "const",
    "properties",
    "patternProperties",
    "additionalProperties",
    "required",
    "items",
    "prefixItems",
    "additionalItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "$ref",
    "$defs",
    "definitions",
    "$id",
    "id",
    "$anchor",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "$schema",
    "unevaluatedProperties",
    "x-vendor",
    "title",
    "default",
]
REFS = [
    "#",
    "",
    "#/$defs/a",
    "#/$defs/b",
    "#/definitions/a",
    "#/properties/a",
    "#/items",
    "#/allOf/0",
    "#/anyOf/1",
    "#a",
    "#/$defs/a/0",
    "#/%25",
    "#/$defs/~2",
    "other.json",
    "http://[::1",
    "urn:x",
    "\x00",
]
PATTERNS = [
    "^a",
    "b$",
    "x|y",
    "[0-9]+",
    "^[a-z]*$",
    "é",
    "(",
    "a{2,1}",
    "\\",
    "(?i)a",
    "\\d{3}",
    "[^\\s\\S]",
    "\ud800",
    "(?<=a)b",
]
FORMATS = ["date", "date-time", "email", "uuid", "ipv4", "hostname", "uri", "regex", "int32", "idn-email", ""]
SCHEMA_URIS = [
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-07/schema#",
    "https://json-schema.org/draft/2020-12/schema",
    "nonsense",
]

numbers = st.one_of(
    st.integers(-3, 12),
    st.integers(),
    st.sampled_from([0.5, -2.25, 1e308, -1e308, 1e-300, 5e-324, float("nan"), float("inf"), -float("inf"), 10**40, 2**64 + 0.5]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(st.sampled_from('ab"\\\n é😀\ud800'), max_size=4))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
    max_leaves=8,
)


def _keyword_value(key: str, schema) -> st.SearchStrategy:
    """A plausible value for ``key`` (mostly well-typed, sometimes not)."""
    maps = st.dictionaries(st.sampled_from(["a", "b", "^a", "(", "é"]), schema, max_size=3)
    lists = st.lists(schema, max_size=3)
    typed = {
        "type": st.one_of(
            st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object", "strnig"]),
            st.lists(st.sampled_from(["string", "integer", "null", "object"]), max_size=3),
        ),
        "enum": st.lists(json_values, max_size=4),
        "const": json_values,
        "properties": maps,
        "patternProperties": maps,
        "$defs": maps,
        "definitions": maps,
        "dependentSchemas": maps,
        "dependencies": st.dictionaries(
            st.sampled_from("abc"), st.one_of(schema, st.lists(st.sampled_from("abc"), max_size=2)), max_size=2
        ),
        "dependentRequired": st.dictionaries(st.sampled_from("abc"), st.lists(st.sampled_from("abc"), max_size=2), max_size=2),
        "required": st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
        "items": st.one_of(schema, lists),
        "prefixItems": lists,
        "allOf": lists,
        "anyOf": lists,
        "oneOf": lists,
        "$ref": st.sampled_from(REFS),
        "pattern": st.sampled_from(PATTERNS),
        "format": st.sampled_from(FORMATS),
        "$schema": st.sampled_from(SCHEMA_URIS),
        "$id": st.sampled_from(["http://x.org/s.json", "#a", "urn:y", "http://[bad"]),
        "id": st.sampled_from(["http://x.org/s.json", "#a"]),
        "$anchor": st.sampled_from(["a", "b"]),
        "uniqueItems": st.booleans(),
    }
    counts = st.one_of(st.integers(0, 4), numbers)
    count_keys = {
        "minContains",
        "maxContains",
        "minItems",
        "maxItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
    }
    number_keys = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    if key in typed:
        good = typed[key]
    else:
        good = counts if key in count_keys else numbers if key in number_keys else st.one_of(schema, json_values)
    return st.one_of(good, good, good, json_values)  # now and then, a value of any type


def _extend(schema) -> st.SearchStrategy:
    return st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=4, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: _keyword_value(k, schema) for k in keys})
    )


schemas = st.recursive(st.one_of(st.booleans(), st.just({}), _extend(st.just({}))), _extend, max_leaves=10)
texts = st.one_of(
    json_values.map(json.dumps),
    json_values.map(lambda v: json.dumps(v, indent=1, ensure_ascii=False)),
    st.text(st.sampled_from('{}[]":,0123456789.-+eE truefalsn\\u"aé\ud83d\ude00'), max_size=24),
    st.binary(max_size=12),
)


def _exercise(schema, text, strict: bool) -> None:
    try:
        c = JsonSchema(schema, strict=strict)
    except AwrsError:
        return
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    for check in (c.accepts, c.accepts_prefix, c.first_violation):
        with contextlib.suppress(AwrsError):
            check(data)
    state = c.initial()
    for i in range(0, len(data), 3):  # in pieces, as tokens come
        state = c.advance(state, data[i : i + 3])
        if state is None:
            break
    if state is not None:
        c.is_complete(state)
        c.is_final(state)
        c.next_bytes(state)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(schema=schemas, text=texts, strict=st.booleans())
def test_any_schema_and_text_give_a_result_or_an_awrs_error(schema, text, strict):
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.suppress(AwrsError):
            _exercise(schema, text, strict)
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"took {elapsed:.2f} s on {schema!r}"


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_any_schema_text_gives_a_schema_or_an_awrs_error(text):
    with contextlib.suppress(AwrsError):
        JsonSchema(text)
