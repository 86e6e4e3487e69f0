"""The JSON checker's byte step against its reference (awrs/constraints/json_schema/reference.py,
docs/algorithm.md §6).

Texts are documents valid under each schema (written compact or indented), mutated (a byte
inserted, replaced or dropped) or not, cut into random tokens. ``JsonSchema.advance`` over the
tokens (its fast runs and nesting scan) must reach, at every token boundary, the state the
reference reaches byte by byte — equal ``DocState``s — with the same completeness and finality;
the vocabulary mask and ``next_bytes`` must match the reference's. On a compile that shares no
node (no memo around any ``feed``) the reference must give the same verdicts.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.json_schema.compiler import Compiler, Options
from awrs.constraints.json_schema.reference import Document, nesting_step
from awrs.constraints.json_schema.refs import detect_draft
from awrs.lm.vocab import Vocabulary

#: (schema, documents valid under it): strings with bounds, patterns, formats and escapes;
#: numbers with bounds and multipleOf; objects with required, additional and pattern
#: properties and dependentSchemas; arrays with uniqueItems and contains; $ref recursion;
#: combinators; const; and any value.
CASES = [
    (
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 8},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}, "uniqueItems": True},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
        [{"name": "Ann", "age": 31, "tags": ["x", "yz"]}, {"name": 'a"\\é', "tags": []}, {"age": 0, "name": ""}],
    ),
    (
        {"anyOf": [{"type": "number", "multipleOf": 0.5}, {"type": "string", "format": "date"}, {"type": "null"}]},
        [2.5, -10, "2024-02-29", None, 1e3],
    ),
    (
        {
            "type": "array",
            "items": {"$ref": "#/$defs/node"},
            "contains": {"type": "integer"},
            "$defs": {"node": {"oneOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#/$defs/node"}}]}},
        },
        [[1], [[2, [3]], 4], [[], 0, [[[-7]]]]],
    ),
    (
        {
            "type": "object",
            "patternProperties": {"^x-": {"type": "boolean"}},
            "additionalProperties": {"enum": ["a", 'b"c', "é", 3]},
            "dependentSchemas": {"a": {"required": ["b"]}},
        },
        [{"x-y": True, "k": "é"}, {"a": 3, "b": 'b"c'}, {}],
    ),
    ({"type": "string", "pattern": "[0-9]{3}-\\w+", "minLength": 5}, ["123-ab", "x999-é_"]),
    ({"const": {"k": [1, 2.5, "xé"], "t": None}}, [{"k": [1, 2.5, "xé"], "t": None}]),
    ({}, [{"a": [1, {"b": None}], "c": "\u2028\\"}, [True, False, -0.5e-3], "s", 12]),
    ({"type": "array", "items": {"type": "integer"}, "maxItems": 2, "minItems": 1}, [[1], [1, -20]]),
]
WHITESPACE = ["flexible", "compact"]
SCHEMAS = {(i, ws): JsonSchema(schema, whitespace=ws) for i, (schema, _) in enumerate(CASES) for ws in WHITESPACE}
UNSHARED = {
    (i, ws): Compiler(
        schema, detect_draft(schema), Options(max_whitespace=32 if ws == "flexible" else 0), share_any=False
    ).compile_root()
    for i, (schema, _) in enumerate(CASES)
    for ws in WHITESPACE
}
INTERESTING_BYTES = b' \n\t{}[]",:\\0123456789.-eEtrufalsnx\x80\xa9\xc3\xff'


@st.composite
def documents(draw):
    """(case key, text, token boundaries)."""
    i = draw(st.integers(0, len(CASES) - 1))
    whitespace = draw(st.sampled_from(WHITESPACE))
    value = draw(st.sampled_from(CASES[i][1]))
    indent = None if whitespace == "compact" else draw(st.sampled_from([None, 1, 2]))
    text = json.dumps(value, indent=indent, ensure_ascii=draw(st.booleans())).encode()
    kind = draw(st.sampled_from(["as is", "insert", "replace", "drop"]))
    if kind != "as is" and text:
        at = draw(st.integers(0, len(text) - 1))
        byte = b"" if kind == "drop" else bytes([draw(st.sampled_from(INTERESTING_BYTES))])
        text = text[:at] + byte + text[at + (kind != "insert") :]
    if whitespace == "flexible" and draw(st.booleans()):
        text = b" " * draw(st.integers(0, 3)) + text + b"\n" * draw(st.integers(0, 2))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(len(text) - 1, 1)), max_size=12))) | {len(text)})
    return (i, whitespace), text, cuts


@settings(max_examples=150, deadline=3000)
@given(documents())
def test_token_runs_reach_the_states_of_the_byte_step(document):
    key, text, cuts = document
    schema = SCHEMAS[key]
    ref = Document.of(schema)
    fast, slow, start = schema.initial(), ref.initial(), 0
    assert fast == slow
    for end in cuts:
        for b in text[start:end]:
            slow = None if slow is None else ref.step(slow, b)
        fast = schema.advance(fast, text[start:end])
        assert fast == slow, (text, end)
        if slow is None:
            break
        assert schema.is_complete(fast) == ref.is_complete(slow)
        assert schema.is_final(fast) == ref.is_final(slow)
        start = end


@settings(max_examples=60, deadline=5000)
@given(documents(), st.lists(st.binary(min_size=1, max_size=3), max_size=12))
def test_masks_and_next_bytes_match_the_reference(document, extra):
    """From the states along a text: the mask over a vocabulary of the text's pieces (and some
    random tokens), and the bytes that may come next."""
    key, text, cuts = document
    schema = SCHEMAS[key]
    ref = Document.of(schema)
    tokens = sorted({text[a:b] for a, b in zip([0, *cuts], cuts) if b > a} | set(extra))
    vocab = Vocabulary.from_tokens([*tokens, b"<eos>"], eos_ids=[len(tokens)])
    state = schema.initial()
    for end in [0, *cuts][:4]:
        state = schema.walk(text[:end])
        if state is None:
            break
        assert schema.mask(state, vocab).tolist() == ref.mask(state, vocab).tolist()
        assert schema.next_bytes(state).tolist() == ref.next_bytes(state).tolist()


@settings(max_examples=100, deadline=3000)
@given(documents())
def test_a_compile_without_shared_nodes_gives_the_same_verdicts(document):
    """Sharing puts memos around the ``feed`` of nodes with several parents (sharing.py); a
    compile with ``share_any=False`` has none, and every prefix must get the same verdict."""
    key, text, _ = document
    shared, unshared = Document.of(SCHEMAS[key]), Document(UNSHARED[key], SCHEMAS[key]._max_ws)
    a, b = shared.initial(), unshared.initial()
    for byte in text:
        a, b = shared.step(a, byte), unshared.step(b, byte)
        assert (a is None) == (b is None)
        if a is None:
            break
        assert shared.is_complete(a) == unshared.is_complete(b)


def test_nesting_ignores_brackets_in_strings_and_stops_past_the_limit():
    nest = 0
    for b in b'[{"a[\\"]": [':
        nest = nesting_step(nest, b)
    assert nest == 3 << 2
    from awrs.constraints.json_schema.limits import MAX_DEPTH

    deep = MAX_DEPTH << 2
    assert nesting_step(deep, ord("[")) is None
    assert nesting_step(deep | 1, ord("[")) == deep | 1  # inside a string
