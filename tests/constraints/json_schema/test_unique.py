"""``uniqueItems`` over item schemas with few values: a prefix is refused as soon as no value
is left for an item that must or may only come next (``[true, false,`` with boolean items),
and an item that can only repeat one is refused as soon as it can (``[true, t``)."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JsonSchema
from awrs.errors import ConstraintError

# (schema, dead prefixes, live prefixes, valid, invalid)
CASES = [
    (
        {"type": "array", "items": {"type": "boolean"}, "maxItems": 3, "uniqueItems": True},
        ["[true,false,", "[true, false ,", "[true,t", "[false,f"],
        ["[true,false", "[true,f", "[true,"],
        ["[true,false]", "[]"],
        ["[true,true]"],
    ),
    (
        {"type": "array", "items": {"type": ["boolean", "null"]}, "uniqueItems": True},
        ["[true,null,false,", "[null,n", "[true,null,t"],
        ["[true,null,f", "[true,null,false"],
        ["[null,true,false]"],
        ["[null,null]"],
    ),
    (
        {"type": "array", "items": {"enum": ["a", "b", 1]}, "uniqueItems": True, "minItems": 3},
        ['["a",1,"a', '[1.0,"a","b",', '["b",1e0,1'],
        ['["a",1,"', '["a",1,"b"', '["b", 1.0'],
        ['["a",1,"b"]', '[1, "b", "a"]'],
        ['["a",1]'],
    ),
    (
        {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 3}, "uniqueItems": True},
        ["[1,2,3,", "[1,2,1", "[3,1,3"],
        ["[1,2,", "[1,2,3", "[1,2,30e-1"],
        ["[1,2,3]", "[1,2,0.3e1]"],
        ["[1,2,1]", "[4]"],
    ),
    (
        {"type": "array", "items": {"type": "number", "multipleOf": 0.5, "minimum": 0, "maximum": 1}, "uniqueItems": True},
        ["[0,0.5,1,", "[0,1,1"],
        ["[0,0.5,1", "[0,1,0."],
        ["[0,0.5,1.0]"],
        ["[0,0.0]"],
    ),
    (
        {"type": "array", "items": {"anyOf": [{"const": "x"}, {"type": "boolean"}]}, "uniqueItems": True},
        ['["x",true,false,', '[true,"x","'],
        ['["x",true,f'],
        ['["x",true,false]'],
        ['["x","x"]'],
    ),
    (
        {"type": "array", "items": {"allOf": [{"enum": [1, 2, 3, "a"]}, {"type": "integer"}]}, "uniqueItems": True},
        ["[1,2,3,", '[1,"'],
        ["[1,2,"],
        ["[3,2,1]"],
        ['["a"]'],
    ),
    (
        {"type": "array", "items": {"const": {"k": [1, 2]}}, "uniqueItems": True},
        ['[{"k":[1,2]},'],
        ['[{"k":[1,2]}'],
        ['[{"k": [1, 2.0]}]'],
        ['[{"k":[1,2]},{"k":[1,2]}]'],
    ),
    # contains counts and a closed tuple: the rest stays exact
    (
        {"type": "array", "items": {"type": "boolean"}, "contains": {"const": True}, "uniqueItems": True},
        ["[false,false", "[false,true,"],
        ["[false,"],
        ["[false,true]", "[true]"],
        ["[false]"],
    ),
    (
        {"type": "array", "prefixItems": [{"type": "boolean"}, {"type": "boolean"}], "items": False, "uniqueItems": True},
        ["[true,t", "[true,false,"],
        ["[true,f"],
        ["[true,false]"],
        ["[false,false]"],
    ),
]


@pytest.mark.parametrize("schema, dead, live, valid, invalid", CASES)
def test_unique_items_over_few_values(schema, dead, live, valid, invalid):
    c = JsonSchema(schema)
    for p in dead:
        assert not c.accepts_prefix(p), p
    for p in live:
        assert c.accepts_prefix(p), p
    for t in valid:
        assert c.accepts(t), t
    for t in invalid:
        assert not c.accepts(t), t


def test_more_unique_items_than_values_is_an_empty_language():
    with pytest.raises(ConstraintError, match="empty"):
        JsonSchema({"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 3})
    assert JsonSchema({"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 2}).accepts("[false,true]")


def test_item_schemas_with_many_values_keep_the_check_at_the_end_of_each_item():
    c = JsonSchema({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 1000}, "uniqueItems": True})
    assert c.accepts_prefix("[5,5") and not c.accepts("[5,5]") and c.accepts("[5,50]")


# --- a property test against every valid array, enumerated --------------------------------------

ITEM_SCHEMAS = [
    {"type": "boolean"},
    {"type": ["boolean", "null"]},
    {"enum": ["a", "b", "c"]},
    {"anyOf": [{"const": "a"}, {"type": "null"}]},
    {"enum": ["a", "ab", True]},
    {"allOf": [{"enum": ["a", "b", None]}, {"type": "string"}]},
]


def _domain_values(item: dict) -> list:
    return [v for v in [True, False, None, "a", "b", "c", "ab"] if _item_ok(item, v)]


def _item_ok(item: dict, v) -> bool:
    import jsonschema

    return jsonschema.Draft202012Validator(item).is_valid(v)


@settings(max_examples=60, deadline=None)
@given(
    item=st.sampled_from(ITEM_SCHEMAS),
    low=st.integers(0, 3),
    high=st.integers(0, 4),
    probe=st.lists(st.sampled_from([True, False, None, "a", "b", "c", "ab", 1]), max_size=5),
)
def test_prefixes_agree_with_the_valid_arrays_enumerated(item, low, high, probe):
    """Compact prefixes of a random array against every valid array, enumerated (item values
    that have one spelling each, so that compact prefixes of the valid arrays are exactly the
    viable compact prefixes)."""
    schema = {"type": "array", "items": item, "uniqueItems": True, "minItems": low, "maxItems": high}
    values = _domain_values(item)
    valid = [
        json.dumps(list(arr), separators=(",", ":")) for n in range(low, high + 1) for arr in itertools.permutations(values, n)
    ]
    try:
        c = JsonSchema(schema)
    except ConstraintError:
        assert not valid
        return
    text = json.dumps(probe, separators=(",", ":"))
    for k in range(1, len(text) + 1):
        prefix = text[:k]
        assert c.accepts_prefix(prefix) == any(v.startswith(prefix) for v in valid), (schema, prefix)
    assert c.accepts(text) == (text in valid)
