"""awrs.JsonSchema: table-driven keyword cases, options and errors."""

from __future__ import annotations

import json
import warnings

import pytest

import awrs
from awrs.constraints.json_schema import JsonSchema, UnenforcedKeywordWarning
from awrs.errors import ConstraintError, UnsupportedSchemaError
from awrs.testing import check_constraint

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "email": {"type": "string", "format": "email"},
        "tags": {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}

# (schema, valid texts, invalid texts, valid prefixes that are not complete, invalid prefixes)
CASES = [
    (
        PERSON,
        [
            '{"name": "Ann", "age": 30}',
            '{"age":7,"name":"Bo","tags":["a","c"]}',
            '{\n  "name": "Al",\n  "age": 1,\n  "email": "al@x.org"\n}',
        ],
        [
            '{"name": "Ann"}',
            '{"name": "Ann", "age": 130}',
            '{"name": "Ann", "age": 3, "x": 1}',
            '{"name":"A","age":1,"tags":["a","a"]}',
            '{"name":"A","age":1,"email":"nope"}',
        ],
        ['{"name": "Ann", "age": 3', '{"na', '{"age": 12, "name": "', '{"name":"A","age":1,"tags":["b"'],
        [
            '{"x',
            '{"name": "Ann", "name"',
            '{"age": 13.5',
            '{"age": -1',
            '{"name": "123456789',
            '{"name":"A","age":1,"tags":["a","b","c",',
        ],
    ),
    (
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1, "multipleOf": 0.25},
        ["0.25", "0.5", "0.75", "25e-2", "0.750"],
        ["0", "1", "0.3", "-0.25", "1.25"],
        ["0.", "0.2", "2", "7"],
        ["1", "-", "0.1"],
    ),
    (
        {"type": "string", "pattern": "^[a-z]+-[0-9]{2}$"},
        ['"ab-12"', '"z-00"'],
        ['"ab-1"', '"AB-12"', '"ab12"'],
        ['"ab-', '"a'],
        ['"A', '"ab-1x'],
    ),
    ({"type": "string", "pattern": "[0-9]{3}"}, ['"x123y"', '"123"'], ['"12"', '"a1b2c3"'], ['"abc', '"12'], []),
    (
        {"enum": [1, "two", None, [3, {"four": 4}], {"five": [5]}]},
        ["1", "1.0", '"two"', "null", '[3, {"four": 4}]', '{"five":[5]}', "10e-1"],
        ["2", '"tw"', "[3]", '{"five": [5, 5]}', "true"],
        ["[3,", '{"fi', '"t'],
        ['"three', "[4", '{"six', "nul "],
    ),
    (
        {"const": {"a": [1, 2]}},
        ['{"a": [1, 2]}', '{ "a":[1,2.0] }'],
        ['{"a": [2, 1]}', '{"a": [1, 2], "b": 0}'],
        ['{"a": [1,'],
        ['{"b"', '{"a": [2'],
    ),
    (
        {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "integer"}]},
        ['"ab"', "12"],
        ['"abc"', "1.5", "true"],
        ['"a'],
        ['"abc', "[", "1.5e-"],
    ),
    ({"oneOf": [{"type": "integer"}, {"multipleOf": 0.5}]}, ["2.5", "25e-1", "{}"], ["3", "1.25", "4"], ["2."], []),
    ({"not": {"type": "string"}}, ["1", "[]", "{}"], ['"x"'], ["[1,"], []),
    (
        {"if": {"properties": {"k": {"const": "n"}}}, "then": {"required": ["v"]}, "else": {"required": ["w"]}, "type": "object"},
        ['{"k": "n", "v": 1}', '{"k": "m", "w": 1}'],
        ['{"k": "n", "w": 1}', '{"k": "m", "v": 1}'],
        ['{"k": "n", '],
        [],
    ),
    (
        {"type": "array", "prefixItems": [{"type": "boolean"}, {"type": "null"}], "items": False},
        ["[true, null]", "[false]", "[]"],
        ["[true, null, 1]", "[null]"],
        ["[true,"],
        ["[true, null,", "[1"],
    ),
    (
        {"type": "array", "contains": {"type": "string"}, "minContains": 2, "maxContains": 3},
        ['["a", 1, "b"]', '["a","b","c"]'],
        ['["a"]', '["a","b","c","d"]'],
        ['["a", 1,'],
        ['["a","b","c","d"'],
    ),
    (
        {"type": "object", "properties": {"a": {"type": "integer"}}, "dependentRequired": {"a": ["b"]}, "maxProperties": 2},
        ['{"a": 1, "b": 2}', '{"c": 3}', "{}"],
        ['{"a": 1}', '{"a": 1, "c": 2}'],
        ['{"a": 1,'],
        ['{"a": 1, "c"', '{"a": 1, "b": 2,'],
    ),
    (
        {"type": "object", "propertyNames": {"pattern": "^[a-z]+$", "maxLength": 3}},
        ['{"abc": 1}', "{}"],
        ['{"abcd": 1}', '{"A": 1}'],
        ['{"ab'],
        ['{"abcd', '{"1'],
    ),
    (
        {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}, "additionalProperties": False},
        ['{"x-a": 1}'],
        ['{"x-a": "s"}', '{"y": 1}'],
        ['{"x-'],
        ['{"y', '{"x-a": "'],
    ),
    (
        {"type": "string", "format": "date-time"},
        ['"2024-02-29T12:00:00Z"', '"1998-12-31T23:59:60Z"'],
        ['"2023-02-29T12:00:00Z"', '"2024-01-01 12:00:00Z"', '"1998-12-31T22:59:60Z"'],
        ['"2024-02-2'],
        ['"2024-13', '"2023-02-29T'],
    ),
    (
        {
            "$defs": {
                "node": {
                    "type": "object",
                    "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}},
                    "additionalProperties": False,
                }
            },
            "$ref": "#/$defs/node",
        },
        ['{"v": 1, "next": {"next": {"v": 3}}}'],
        ['{"next": {"v": "x"}}'],
        ['{"next": {"next": {'],
        ['{"next": {"w"'],
    ),
]


@pytest.mark.parametrize("schema, valid, invalid, prefixes, bad_prefixes", CASES)
def test_keyword_cases(schema, valid, invalid, prefixes, bad_prefixes):
    c = JsonSchema(schema)
    check_constraint(c, valid=valid, invalid=invalid)
    for p in prefixes:
        assert c.accepts_prefix(p) and not c.accepts(p), p
    for p in bad_prefixes:
        assert not c.accepts_prefix(p), p


def test_duplicate_keys_are_refused_as_soon_as_they_are_complete():
    c = JsonSchema({"type": "object"})
    assert c.accepts_prefix('{"a": 1, "a')
    assert not c.accepts_prefix('{"a": 1, "a"')
    assert c.accepts_prefix('{"a": 1, "ab"')


def test_required_keys_fit_under_max_properties():
    c = JsonSchema({"type": "object", "required": ["a", "b"], "maxProperties": 2})
    assert not c.accepts_prefix('{"c')  # the only two slots belong to a and b
    assert c.accepts_prefix('{"a": 1, "b')


def test_draft4_semantics():
    c = JsonSchema(
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer", "maximum": 5, "exclusiveMaximum": True}
    )
    assert c.accepts("4") and not c.accepts("5") and not c.accepts("4.0")
    d = JsonSchema(
        {"$schema": "http://json-schema.org/draft-04/schema#", "items": [{"type": "integer"}], "additionalItems": False}
    )
    assert d.accepts("[1]") and not d.accepts("[1, 2]")


def test_whitespace_modes():
    flexible = JsonSchema({"type": "array"}, max_whitespace=4)
    compact = JsonSchema({"type": "array"}, whitespace="compact")
    assert flexible.accepts("[ 1,\n  2 ]") and not compact.accepts("[ 1]") and compact.accepts("[1,2]")
    assert not flexible.accepts_prefix("[" + " " * 5)  # a run of whitespace is capped


def test_string_cap_and_key_order():
    capped = JsonSchema({"type": "string"}, max_string_length=3)
    assert capped.accepts('"abc"') and not capped.accepts_prefix('"abcd')
    ordered = JsonSchema({"type": "object", "properties": {"a": {}, "b": {}}}, key_order="schema")
    assert ordered.accepts('{"a": 1, "b": 2}') and not ordered.accepts_prefix('{"b": 1, "a"')


def test_pydantic_model_gives_instances():
    pydantic = pytest.importorskip("pydantic")

    class Point(pydantic.BaseModel):
        x: int
        y: float = 0.0

    c = JsonSchema(Point)
    assert c.accepts('{"x": 1, "y": 2.5}') and not c.accepts('{"y": 1}')
    value = c.parse('{"x": 1}')
    assert isinstance(value, Point) and value.x == 1


def test_schema_from_a_json_string():
    assert JsonSchema('{"type": "boolean"}').accepts("true")


def test_unsupported_keyword_names_keyword_and_pointer():
    schema = {"type": "object", "properties": {"a": {"unevaluatedProperties": False}}}
    with pytest.raises(UnsupportedSchemaError) as info:
        JsonSchema(schema)
    assert info.value.keyword == "unevaluatedProperties" and info.value.pointer == "#/properties/a"
    assert "strict=False" in str(info.value)
    with pytest.warns(UnenforcedKeywordWarning):
        c = JsonSchema(schema, strict=False)
    assert c.unenforced == (("unevaluatedProperties", "#/properties/a"),)


def test_unsupported_format_and_vendor_formats():
    with pytest.raises(UnsupportedSchemaError, match="idn-email"):
        JsonSchema({"type": "string", "format": "idn-email"})
    c = JsonSchema({"type": "integer", "format": "int32"})  # not a JSON Schema format: an annotation
    assert "format:int32" in c.ignored_keywords


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"type": "strnig"}, "invalid type"),
        ({"type": "string", "pattern": "a("}, "invalid pattern 'a\\(' at #/pattern"),
        ({"type": "string", "pattern": "(?u)a"}, "invalid pattern .* flags"),  # valid syntax, flags awrs cannot match with
        ({"patternProperties": {"x{2,1}": {}}}, "invalid pattern 'x\\{2,1\\}' at #/patternProperties"),
        ({"minLength": -1}, "minLength"),
        ({"$ref": "#/$defs/missing"}, "nothing at"),
        ({"$ref": "other.json"}, "registry"),
        ({"type": "integer", "minimum": 5, "maximum": 3}, "empty"),
        ({"allOf": [{"type": "string"}, {"type": "number"}]}, "empty"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_schemas_are_constraint_errors(schema, message):
    with pytest.raises(ConstraintError, match=message):
        JsonSchema(schema)


def test_exported_from_the_package():
    assert awrs.JsonSchema is JsonSchema
    warnings.simplefilter("error", UnenforcedKeywordWarning)  # the category can be filtered
    warnings.resetwarnings()


def test_parse_returns_the_json_value():
    assert JsonSchema({"type": "object"}).parse('{"a": [1, 2]}') == {"a": [1, 2]}
    assert json.loads("1") == JsonSchema({"type": "integer"}).parse("1")


def test_an_unfinished_character_is_checked_byte_by_byte():
    """A key or an enum string may not start a character none of its completions has."""
    keys = JsonSchema({"type": "object", "properties": {"aé": {}}, "additionalProperties": False})
    assert keys.accepts_prefix(b'{"a' + "é".encode()[:1])
    assert not keys.accepts_prefix(b'{"a' + b"\xe2")  # no key continues with a 3-byte character
    enum = JsonSchema({"enum": ["é", "x"]})
    assert enum.accepts_prefix(b'"\xc3') and not enum.accepts_prefix(b'"\xe2')


def test_string_spec_emptiness_from_its_automaton_and_bounds():
    from awrs.automata.dfa import ByteDFA
    from awrs.automata.trie import trie_dfa
    from awrs.constraints.json_schema.strings import StringSpec

    assert not StringSpec(eager_dfa=trie_dfa([b"ab", b"c"])).empty  # no bounds: a live DFA accepts something
    assert StringSpec(eager_dfa=trie_dfa([b"ab", b"c"]), min_len=3).empty  # its longest string is 2
    assert StringSpec(eager_dfa=trie_dfa([b"ab", b"c"]), max_len=0).empty
    assert not StringSpec(eager_dfa=trie_dfa([b"ab", b"c"]), min_len=2).empty
    assert StringSpec(eager_dfa=ByteDFA.nothing()).empty  # a pattern and a format that exclude each other
    assert StringSpec(min_len=2, max_len=1).empty


def test_pattern_properties_are_matched_after_a_lazy_compile():
    c = JsonSchema(
        {"type": "object", "patternProperties": {"^n_": {"type": "integer"}}, "additionalProperties": {"type": "string"}}
    )
    assert c.accepts('{"n_a": 1, "b": "x"}')
    assert not c.accepts('{"n_a": "x"}') and not c.accepts('{"b": 1}')


def test_the_any_value_node_is_shared_and_holds_no_schema():
    from awrs.constraints.json_schema import compiler

    a = JsonSchema({"type": "object", "properties": {"n": {"type": "integer"}}})
    b = JsonSchema({"type": "array", "items": {}})
    shared = list(compiler._ANY_VALUES.values())
    assert shared
    assert a.accepts('{"n": 1, "x": [true, {"y": "z"}]}') and not a.accepts('{"n": "1"}')
    assert b.accepts('[1, "a", {"b": null}]') and not b.accepts('{"n": 1}')
    # free-form objects do not remember the names they meet (the node outlives every schema)
    for node in shared:
        obj = getattr(node, "obj", None)
        if obj is not None:
            assert obj._node_cache == {}
    # options that shape values get their own node
    compact = JsonSchema({"type": "array"}, max_whitespace=0)
    assert compact.accepts("[1,2]") and not compact.accepts("[1, 2]")


def test_leaf_schemas_share_one_node_per_keywords_draft_and_options():
    from awrs.constraints.json_schema import compiler

    a = JsonSchema({"type": "object", "properties": {"n": {"type": "integer", "minimum": 2, "title": "N"}}})
    b = JsonSchema({"type": "array", "items": {"minimum": 2, "type": "integer", "x-ext": 1}})
    assert a._root.obj.properties["n"] is b._root.arr.items  # same keywords, any order and annotations
    assert b.ignored_keywords == {"x-ext"}  # an extension keyword is recorded on a shared leaf too
    assert JsonSchema({"type": "array", "items": {"minimum": 2, "type": "integer", "x-ext": 1}}).ignored_keywords == {"x-ext"}
    assert a.accepts('{"n": 2}') and not a.accepts('{"n": 1}') and not b.accepts("[2, 1.5]")
    # values of another type are another key: 1 and true, 1 and 1.0, "1" and 1
    assert JsonSchema({"const": 1}).accepts("1") and not JsonSchema({"const": True}).accepts("1")
    assert not JsonSchema({"const": "1"}).accepts("1")
    JsonSchema({"type": "string", "minLength": 1})
    with pytest.raises(ConstraintError, match="minLength"):
        JsonSchema({"type": "string", "minLength": True})  # not the cached node of minLength 1
    with pytest.raises(ConstraintError, match="minLength"):
        JsonSchema({"type": "string", "minLength": 1.5})
    # the draft and the options are part of the key
    assert JsonSchema({"$schema": "http://json-schema.org/draft-04/schema#", "properties": {"i": {"type": "integer"}}}).accepts(
        '{"i": 1}'
    )
    assert not JsonSchema(
        {"$schema": "http://json-schema.org/draft-04/schema#", "properties": {"i": {"type": "integer"}}}
    ).accepts('{"i": 1.0}')
    assert JsonSchema({"properties": {"i": {"type": "integer"}}}).accepts('{"i": 1.0}')  # 2020-12: 1.0 is an integer
    capped = JsonSchema({"properties": {"s": {"type": "string"}}}, max_string_length=2)
    assert capped.accepts('{"s": "ab"}') and not capped.accepts('{"s": "abc"}')
    assert JsonSchema({"properties": {"s": {"type": "string"}}}).accepts('{"s": "abc"}')
    # a leaf with annotations only accepts every value, like {}
    assert JsonSchema({"properties": {"d": {"description": "anything"}}}).accepts('{"d": [1, {"x": null}]}')
    # patterns are not shared (a shared node would keep its automaton); nor is anything with a subschema
    assert all(("pattern" not in dict((k, v) for k, _, v in key[1])) for key in compiler._LEAVES)
    c = JsonSchema({"properties": {"p": {"type": "string", "pattern": "^a"}, "o": {"type": "object", "properties": {}}}})
    assert c._root.obj.properties["p"] not in compiler._LEAVES.values()
    assert c._root.obj.properties["o"] not in compiler._LEAVES.values()


def test_base_uris_are_joined_as_urllib_joins_them():
    """refs.join skips urllib for plain http(s) URIs; on any other input it is urllib."""
    import random
    from urllib.parse import urldefrag, urljoin

    from awrs.constraints.json_schema.refs import join

    rng = random.Random(0)
    alphabet = "aZ09:/#?;.-_%[]@ +~"
    fixed = [
        "#/definitions/a",
        "#foo",
        "#",
        "http://www.ortolang.fr/schemas/1/office#",
        "https://github.com/B/S/blob/master/P.json",
        "HTTPS://a/b",
        "http://a/b#",
        "http://a/./b/../c",
        "http://a/b;p#f",
        "http://a/b?x#y",
        "http://a",
        "http://a:8080/b#/x",
        "foo.json",
        "/abs",
        "//net/x",
        "urn:uuid:1234",
        "http://a/b#c#d",
        "http://[::1]/x",
        "http://u@h/x",
        "http://a/b c",
    ]
    refs = fixed + [
        rng.choice(["", "http://", "https://", "#", "urn:"]) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
        for _ in range(3000)
    ]
    bases = ["https://awrs.invalid/root.json", "http://x.org/a/b.json", "https://h/p?q=1", "urn:x:y", "http://h/a/../b"]
    bases += [r.partition("#")[0] for r in refs[:300]]
    for base in bases:
        for ref in refs[:400] if base in bases[:5] else fixed:
            try:
                uri = urljoin(base, ref)
                want = (uri, *urldefrag(uri))
            except ValueError:
                with pytest.raises(ConstraintError, match="invalid URI"):
                    join(base, ref)
                continue
            got = join(base, ref)
            assert got[1:] == want[1:] and urldefrag(got[0]) == urldefrag(want[0]), (base, ref)


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"properties": [1]}, "invalid properties at #: expected an object"),
        ({"properties": None}, "invalid properties"),
        ({"patternProperties": 5}, "invalid patternProperties"),
        ({"$schema": "http://json-schema.org/draft-07/schema#", "dependencies": 3}, "invalid dependencies"),
        ({"dependentRequired": {"a": "bc"}}, "expected an array of property names"),
        ({"$id": "http://[::1"}, "invalid URI"),
    ],
)
def test_malformed_keyword_values_are_constraint_errors(schema, message):
    with pytest.raises(ConstraintError, match=message):
        JsonSchema(schema)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(max_string_length=[1]), "max_string_length must be a non-negative integer"),
        (dict(max_string_length=-1), "max_string_length"),
        (dict(max_whitespace="a"), "max_whitespace must be a non-negative integer"),
        (dict(max_whitespace=None), "whitespace='compact'"),
        (dict(strict=[1]), "strict must be True or False"),
        (dict(key_order="sorted"), "key_order must be 'free' or 'schema'"),
    ],
)
def test_bad_options_are_constraint_errors(options, message):
    with pytest.raises(ConstraintError, match=message):
        JsonSchema({"type": "string"}, **options)


def test_a_pattern_is_read_once_per_process():
    from awrs.constraints.json_schema import patterns

    uuid = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    before = patterns._regex_error.cache_info()
    c = JsonSchema({"properties": {"a": {"type": "string", "pattern": uuid}, "b": {"type": "string", "pattern": uuid}}})
    after = patterns._regex_error.cache_info()
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1
    assert c.accepts('{"a": "01234567-89ab-cdef-0123-456789abcdef"}') and not c.accepts('{"b": "0123"}')
    for _ in range(2):  # a remembered error is raised again, with this schema's pointer
        with pytest.raises(ConstraintError, match=r"invalid pattern 'a\(' at #/properties/p/pattern"):
            JsonSchema({"properties": {"p": {"type": "string", "pattern": "a("}}})
