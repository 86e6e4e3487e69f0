"""awrs.JsonSchema on hostile schemas: work shared between the parallel readers of a value
(schema bombs stay polynomial), reference cycles that read nothing (an empty language), and
nesting past the stated depth limit (a ConstraintError, never a RecursionError)."""

from __future__ import annotations

import json
import random
import time

import pytest

from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.json_schema.limits import MAX_DEPTH
from awrs.errors import ConstraintError

#: A bomb's compile and its checks must finish within this many seconds. Sharing makes them
#: take about a millisecond; without it, depth 16 took 2 to 19 seconds and depth 30 would take
#: days (the work doubles with every level). The margin absorbs a slow, shared machine.
BUDGET_S = 1.0


def _timed(fn):
    started = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"took {elapsed:.2f} s"
    return out


def _chain(depth: int, level) -> dict:
    """``$defs`` d0..d<depth>, each level made by ``level(ref_to_the_level_below)``."""
    defs = {"d0": {"type": "integer"}}
    for i in range(1, depth + 1):
        defs[f"d{i}"] = level({"$ref": f"#/$defs/d{i - 1}"})
    return {"$defs": defs, "$ref": f"#/$defs/d{depth}"}


# (combinator level, is "5" valid, is '"x"' valid)
BOMBS = {
    "anyOf": (lambda r: {"anyOf": [r, r]}, True, False),
    "allOf": (lambda r: {"allOf": [r, r]}, True, False),
    "oneOf": (lambda r: {"oneOf": [r, r]}, False, False),  # both branches always agree: never exactly one
    "anyOf-distinct": (lambda r: {"anyOf": [r, {**r, "minimum": 0}]}, True, False),
    "allOf-distinct": (lambda r: {"allOf": [r, {**r, "minimum": 0}]}, True, False),
    "oneOf-distinct": (lambda r: {"oneOf": [r, {"not": r}]}, True, True),  # exactly one, always
    "if-then-else": (lambda r: {"if": r, "then": r, "else": r}, True, False),
    "not-not": (lambda r: {"allOf": [{"not": {"not": r}}, r]}, True, False),
}


@pytest.mark.parametrize("depth", [16, 30])  # 30 levels of not/not/$ref stay within MAX_DEPTH
@pytest.mark.parametrize("name", sorted(BOMBS))
def test_combinator_bombs_are_checked_in_polynomial_time(name, depth):
    level, five, string = BOMBS[name]
    schema = _chain(depth, level)
    assert len(json.dumps(schema)) < 120 * depth  # a small schema
    c = _timed(lambda: JsonSchema(schema))
    assert _timed(lambda: c.accepts("5")) is five
    assert _timed(lambda: c.accepts('"x"')) is string
    assert _timed(lambda: c.accepts("[1, 2, 3]")) is string
    assert _timed(lambda: c.first_violation("55555")) == (None if five else 5)


def _recursive(level) -> dict:
    return {"$defs": {"n": level({"$ref": "#/$defs/n"})}, "$ref": "#/$defs/n"}


# Two readers of every nested value, level after level: the instance's depth is the bomb's.
NESTED_BOMBS = {
    "allOf of two objects": (
        _recursive(lambda r: {"allOf": [{"properties": {"a": r}}, {"properties": {"a": r}}]}),
        '{"a":',
        "{}",
        "}",
    ),
    "dependentSchemas": (
        _recursive(lambda r: {"type": "object", "properties": {"a": r}, "dependentSchemas": {"a": {"properties": {"a": r}}}}),
        '{"a":',
        "{}",
        "}",
    ),
    "items and contains": (_recursive(lambda r: {"type": "array", "items": r, "contains": r, "minContains": 0}), "[", "[]", "]"),
}


@pytest.mark.parametrize("name", sorted(NESTED_BOMBS))
def test_parallel_readers_of_nested_values_share_their_work(name):
    schema, opening, inner, closing = NESTED_BOMBS[name]
    c = JsonSchema(schema)
    depth = 40  # 2**40 readers of the innermost value when read one by one
    text = opening * depth + inner + closing * depth
    assert _timed(lambda: c.accepts(text))
    assert _timed(lambda: c.first_violation(text[:-1] + "x")) == len(text) - 1


# --- reference cycles that read nothing ---------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"$ref": ""},
        {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"},
        {"allOf": [{"$ref": "#"}]},
        {"anyOf": [{"$ref": "#"}, {"type": "integer"}]},
        {"anyOf": [{"type": "integer"}, {"$ref": "#"}]},
        {"oneOf": [{"type": "integer"}, {"$ref": "#"}]},
        {"not": {"$ref": "#"}},
        {"if": {"$ref": "#"}, "then": {"type": "string"}},
        {"type": "object", "dependentSchemas": {"a": {"$ref": "#"}}},
        {"properties": {"a": {"$ref": "#/properties/a"}}},
        {"items": {"anyOf": [{"$ref": "#/items"}]}},
        # the cycle is reached first through a container, then directly
        {
            "$defs": {
                "w": {"anyOf": [{"$ref": "#/$defs/v"}, {"type": "null"}]},
                "v": {"anyOf": [{"properties": {"a": {"$ref": "#/$defs/w"}}}, {"$ref": "#/$defs/w"}]},
            },
            "$ref": "#/$defs/v",
        },
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "definitions": {"a": {"$ref": "#/definitions/a"}},
            "$ref": "#/definitions/a",
        },
    ],
)
def test_reference_cycles_that_read_nothing_are_an_empty_language(schema):
    with pytest.raises(ConstraintError, match=r"refers back to itself without reading any part of the value.*language is empty"):
        JsonSchema(schema)


def test_recursion_through_a_part_of_the_value_still_compiles():
    tree = {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#"}}]}
    c = JsonSchema(tree)
    assert c.accepts("[1, [2, [3]], []]") and not c.accepts('[1, ["x"]]')
    linked = {
        "$defs": {
            "a": {"type": "object", "properties": {"next": {"$ref": "#/$defs/b"}}},
            "b": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]},
        },
        "$ref": "#/$defs/a",
    }
    c = JsonSchema(linked)
    assert c.accepts('{"next": {"next": null}}') and not c.accepts('{"next": 1}')


@pytest.mark.parametrize(
    "schema, valid, invalid",
    [
        # enum values checked against keywords that refer back to the schema being compiled
        (
            {
                "$defs": {"a": {"enum": [{"x": 1}, {"x": {"x": 1}}, 2], "properties": {"x": {"$ref": "#/$defs/a"}}}},
                "$ref": "#/$defs/a",
            },
            ["2"],
            ['{"x": 1}', '{"x": {"x": 1}}', '{"x": 2}', "3"],
        ),
        # propertyNames that refers back, with required keys
        (
            {"type": ["object", "string"], "required": ["a"], "propertyNames": {"$ref": "#"}, "maxLength": 1},
            ['{"a": 1}', '"b"'],
            ['{"bc": 1}', "{}"],
        ),
    ],
)
def test_compile_time_reasoning_over_references_back_to_the_schema(schema, valid, invalid):
    c = JsonSchema(schema)
    for text in valid:
        assert c.accepts(text), text
    for text in invalid:
        assert not c.accepts(text), text


# --- nesting past the stated limit ---------------------------------------------------------------


def _nested(kind: str, depth: int) -> str:
    opening, inner, closing = {"array": ("[", "1", "]"), "object": ('{"a":', "1", "}")}[kind]
    return opening * depth + inner + closing * depth


# (schema, the kind of nesting it allows)
RECURSIVE = {
    "any value, arrays": ({}, "array"),
    "any value, objects": ({}, "object"),
    "recursive array": ({"anyOf": [{"type": "array", "items": {"$ref": "#"}}, {"type": "integer"}]}, "array"),
    "optional recursive object": (
        {
            "$defs": {"N": {"anyOf": [{"type": "object", "properties": {"a": {"$ref": "#/$defs/N"}}}, {"type": "integer"}]}},
            "$ref": "#/$defs/N",
        },
        "object",
    ),
    "unique items": ({"uniqueItems": True, "items": {"$ref": "#"}}, "array"),
}


@pytest.mark.parametrize("name", sorted(RECURSIVE))
def test_documents_nest_up_to_the_stated_limit_and_no_deeper(name):
    schema, kind = RECURSIVE[name]
    c = JsonSchema(schema)
    assert c.accepts(_nested(kind, MAX_DEPTH))
    assert c.first_violation(_nested(kind, MAX_DEPTH)) is None  # byte by byte too
    for depth in (MAX_DEPTH + 1, 400, 1000):  # refused, as a parser's depth limit: generation goes on
        text = _nested(kind, depth)
        assert not c.accepts(text)
        assert not c.accepts_prefix(text[: text.index("1")])  # the openings alone
        assert c.accepts_prefix(text[: _opening(text, MAX_DEPTH)])
        assert c.first_violation(text) == _opening(text, MAX_DEPTH + 1) - 1


def _opening(text: str, k: int) -> int:
    """The length of ``text`` up to and including its k-th "[" or "{"."""
    seen = 0
    for i, ch in enumerate(text):
        if ch in "[{":
            seen += 1
            if seen == k:
                return i + 1
    raise AssertionError(k)


def test_nesting_is_counted_outside_strings_only():
    c = JsonSchema({})
    tricky = '["[[{", "\\"[", "\\\\", {"[": "{{"}]'  # brackets, escaped quotes and backslashes in strings
    text = "[" * (MAX_DEPTH - 2) + tricky + "]" * (MAX_DEPTH - 2)
    assert c.accepts(text) and c.first_violation(text) is None
    state = c.initial()
    for i in range(0, len(text), 3):  # in pieces that cut escapes and strings
        state = c.advance(state, text[i : i + 3].encode())
    assert c.is_complete(state)


def test_an_invalid_prefix_at_the_limit_is_refused_not_raised():
    c = JsonSchema({"type": "array", "items": {"$ref": "#"}})
    assert not c.accepts_prefix("[" * MAX_DEPTH + "1")  # invalid before it would nest deeper
    assert not c.accepts_prefix("[" * (MAX_DEPTH - 1) + "x[")


def _deep_schema(keyword: str, depth: int):
    schema: object = {"type": "integer"}
    for _ in range(depth):
        schema = (
            {"properties": {"a": schema}}
            if keyword == "properties"
            else {keyword: [schema]}
            if keyword == "anyOf"
            else {keyword: schema}
        )
    return schema


@pytest.mark.parametrize("keyword", ["properties", "anyOf", "not", "items", "additionalProperties"])
def test_schemas_nest_up_to_the_stated_limit_and_no_deeper(keyword):
    JsonSchema(_deep_schema(keyword, 60)).accepts("1")
    for depth in (400, 1000):
        with pytest.raises(ConstraintError, match=f"nests deeper than {MAX_DEPTH} levels"):
            JsonSchema(_deep_schema(keyword, depth))


def test_deep_schema_text_const_and_reference_chains_are_refused_with_the_limit():
    with pytest.raises(ConstraintError, match=f"nests deeper than {MAX_DEPTH} levels"):
        JsonSchema('{"not":' * 1000 + "{}" + "}" * 1000)  # JSON text, deeper than json.loads goes
    with pytest.raises(ConstraintError, match=f"nests deeper than {MAX_DEPTH} levels"):
        JsonSchema({"const": json.loads("[" * 400 + "]" * 400)})
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}", "minimum": 0} for i in range(400)}
    defs["d400"] = {"type": "integer"}
    with pytest.raises(ConstraintError, match=f"nests deeper than {MAX_DEPTH} levels"):
        JsonSchema({"$defs": defs, "$ref": "#/$defs/d0"})
    unused = _deep_schema("not", 1000)  # indexed for $ref, never compiled
    with pytest.raises(ConstraintError, match=f"nests deeper than {MAX_DEPTH} levels"):
        JsonSchema({"$defs": {"deep": unused, "x": {"type": "string"}}, "$ref": "#/$defs/x"})
    defs = {f"d{i}": {"$ref": f"#/$defs/d{i + 1}", "minimum": 0} for i in range(60)}
    defs["d60"] = {"type": "integer"}
    assert JsonSchema({"$defs": defs, "$ref": "#/$defs/d0"}).accepts("3")


# --- malformed schemas and options -------------------------------------------------------------


@pytest.mark.parametrize(
    "schema, options, message",
    [
        ({"const": float("nan")}, {}, "invalid const at #: nan is not a JSON value"),
        ({"enum": [1, float("inf")]}, {}, "invalid enum at #: inf is not a JSON value"),
        ({"const": {"a": [float("-inf")]}}, {}, "not a JSON value"),
        ('{"const": NaN}', {}, "not a JSON value"),  # json.loads lets NaN through
        ({"const": {1, 2}}, {}, "a set is not a JSON value"),
        ({"enum": [{1: "a"}]}, {}, "a dict is not a JSON value"),
        (
            {"properties": {1: {}}, "additionalProperties": False},
            {},
            "invalid properties at #: expected an object \\(with string keys\\)",
        ),
        ({"patternProperties": {5: {}}}, {}, "invalid patternProperties"),
        ({1: {}}, {}, "a key 1 that is not a string"),
        (b"\x80{}", {}, "not valid UTF-8"),
        ({"type": "string"}, {"draft": "7"}, "draft must be one of 4, 6, 7, 2019, 2020"),
        ({"type": "string"}, {"draft": 3}, "draft must be one of"),
        ({"$ref": "http://x/y"}, {"registry": 5}, "registry must map URIs"),
        ({"$ref": "http://x/y"}, {"registry": {"http://x/y": 5}}, "invalid schema at #: expected an object or a boolean"),
        ({"$ref": "http://x/y"}, {"registry": {"http://x/y": {"$ref": "http://x/y"}}}, "refers back to itself"),
    ],
)
def test_malformed_schemas_and_options_are_constraint_errors(schema, options, message):
    with pytest.raises(ConstraintError, match=message):
        JsonSchema(schema, **options)


def test_a_pattern_that_matches_no_text_refuses_strings_only():
    c = JsonSchema({"pattern": "[^\\s\\S]"})  # no character is outside \s and \S
    assert c.accepts("5") and not c.accepts('"a"') and not c.accepts_prefix('"')


def _from_a_caller(frames: int, fn):
    """``fn()`` called from ``frames`` nested Python calls (a caller deep in its own stack)."""
    return fn() if frames == 0 else _from_a_caller(frames - 1, fn)


#: limits.MAX_DEPTH promises a caller at least this many of Python's 1,000 frames at the limit
#: (measured: 350 and more); a check that took more frames per level would break it.
CALLER_FRAMES = 300


def test_the_limit_leaves_room_for_a_deep_caller():
    optional = RECURSIVE["optional recursive object"][0]
    c = JsonSchema(optional)
    text = '{"a":' * (MAX_DEPTH - 1) + "{}" + "}" * (MAX_DEPTH - 1)
    assert _from_a_caller(CALLER_FRAMES, lambda: c.accepts(text))
    for keyword in ("properties", "items"):
        _from_a_caller(CALLER_FRAMES, lambda keyword=keyword: JsonSchema(_deep_schema(keyword, MAX_DEPTH - 1)))


def _nesting_by_bytes(nest: int, data: bytes) -> int:
    """The nesting state after ``data`` read one byte at a time (no depth limit)."""
    depth, in_string, escaped = nest >> 2, nest & 1, nest & 2
    for c in data:
        if escaped:
            escaped = 0
        elif in_string:
            escaped = 2 if c == 0x5C else 0
            in_string = 0 if c == 0x22 else 1
        elif c == 0x22:
            in_string = 1
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
    return depth << 2 | in_string | escaped


def test_the_nesting_after_any_piece_of_text_is_read_byte_by_byte():
    """nesting_after on every split of texts full of strings, escapes and brackets (pieces
    with and without structural bytes, starting inside a string or after a backslash) gives
    the state the bytes give one at a time."""
    from awrs.constraints.json_schema.limits import nesting_after

    rng = random.Random(7)
    alphabet = b'ab 1"\\[]{},:'
    for _ in range(300):
        text = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 24)))
        nest = 4 * rng.randrange(0, 5)
        for cut in range(len(text) + 1):
            middle = _nesting_by_bytes(nest, text[:cut])
            if middle >> 2 < 0 or _nesting_by_bytes(middle, text[cut:]) >> 2 < 0:
                continue  # more closed than opened: not a prefix of JSON
            after, over = nesting_after(middle, text[cut:])
            assert over is None and after == _nesting_by_bytes(middle, text[cut:]), (middle, text[cut:])
