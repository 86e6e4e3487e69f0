"""Property tests: awrs.JsonSchema against python-jsonschema as the oracle, and prefix closure
on random JSON values."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JsonSchema
from awrs.errors import ConstraintError

jsonschema = pytest.importorskip("jsonschema")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.sampled_from([0.5, -2.25, 1.0, 3.75, 100.5]),
    st.text(st.sampled_from('abxyz019 -_é😀"\\\n'), max_size=6),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from("abcxyz"), inner, max_size=4)),
    max_leaves=12,
)

leaf_schemas = st.one_of(
    st.just({}),
    st.builds(lambda t: {"type": t}, st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])),
    st.builds(lambda lo, hi: {"type": "integer", "minimum": lo, "maximum": hi}, st.integers(-10, 10), st.integers(-10, 20)),
    st.builds(lambda m: {"multipleOf": m}, st.sampled_from([2, 3, 0.5, 0.25])),
    st.builds(lambda n: {"maxLength": n}, st.integers(0, 4)),
    st.builds(lambda n: {"minLength": n}, st.integers(0, 3)),
    st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a", "b$", "x|y", "[0-9]", "^[a-z]*$", "é"])),
    st.builds(lambda vs: {"enum": vs}, st.lists(scalars, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, scalars),
    st.builds(lambda n: {"maxItems": n}, st.integers(0, 3)),
    st.builds(lambda n: {"minProperties": n}, st.integers(0, 2)),
    st.just({"uniqueItems": True}),
)


def extend(inner):
    return st.one_of(
        st.builds(lambda s: {"items": s}, inner),
        st.builds(lambda s: {"type": "array", "contains": s, "maxContains": 2}, inner),
        st.builds(
            lambda p, req, add: {"type": "object", "properties": p, "required": req, "additionalProperties": add},
            st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
            st.lists(st.sampled_from("abc"), max_size=2, unique=True),
            st.one_of(st.booleans(), inner),
        ),
        st.builds(lambda ss: {"anyOf": ss}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda ss: {"oneOf": ss}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda ss: {"allOf": ss}, st.lists(inner, min_size=1, max_size=2)),
        st.builds(lambda s: {"not": s}, inner),
        st.builds(lambda a, b, c: {"if": a, "then": b, "else": c}, inner, inner, inner),
        st.builds(
            lambda s: {"propertyNames": s}, st.sampled_from([{"maxLength": 1}, {"pattern": "^[ab]"}, {"enum": ["a", "x"]}])
        ),
        st.builds(
            lambda s: {"dependentRequired": s},
            st.dictionaries(st.sampled_from("abc"), st.lists(st.sampled_from("xyz"), max_size=2), max_size=2),
        ),
    )


schemas = st.recursive(leaf_schemas, extend, max_leaves=6)
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("AWRS_HYPOTHESIS_EXAMPLES", 400)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def oracle(schema, value) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


@SETTINGS
@given(schema=schemas, value=values)
def test_agrees_with_python_jsonschema(schema, value):
    try:
        c = JsonSchema(schema)
    except ConstraintError:
        # Refused only when nothing is valid: the oracle must reject this value too.
        assert not oracle(schema, value)
        return
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert c.accepts(text) == oracle(schema, value), (schema, text)


@SETTINGS
@given(schema=schemas, value=values)
def test_every_prefix_of_a_valid_document_is_accepted(schema, value):
    assume(oracle(schema, value))
    c = JsonSchema(schema)
    for text in (json.dumps(value), json.dumps(value, separators=(",", ":"), ensure_ascii=False)):
        assert c.first_violation(text) is None, (schema, text)


@settings(max_examples=200, deadline=None)
@given(value=values)
def test_any_json_value_is_accepted_by_the_empty_schema(value):
    c = JsonSchema({})
    assert c.first_violation(json.dumps(value, indent=2)) is None
