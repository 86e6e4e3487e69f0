"""JSON strings read through their escapes: a prefix that ends inside an escape (``\\u00e``,
``\\ud83d\\u``) or inside a UTF-8 character is kept exactly when some character it can still
become leads to a valid string (length bounds in code points, patterns, enum and const
values, property names)."""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema import JsonSchema

# (schema, dead prefixes, live prefixes): a dead prefix has no valid completion.
CASES = [
    (
        {"type": "string", "maxLength": 5},
        [
            r'"0\u2028/-9\u00e',
            r'"0\u2028/-9\u',
            '"0\\u2028/-9\\',
            b'"0\\u2028/-9' + b"\xc3",
            b'"0\\u2028/-9' + b"\xf0\x9f",
        ],
        [r'"0\u2028/-9"', r'"0\u2028/-\u00e', b'"0\\u2028/-' + b"\xf0\x9f"],
    ),
    (
        {"type": "string", "maxLength": 1},
        [r'"a\ud83d', '"a\\', r'"\ud83d\ude00\\'],
        [r'"\ud83d\ude00"', r'"\ud83d\u', r'"\ud83d'],
    ),
    ({"type": "string", "maxLength": 0}, ['"\\', b'"\xc3', r'"\u'], ['""']),
    (
        {"type": "string", "pattern": "^[a-z]+$"},
        [r'"\u01', r'"\ud8', r'"\u0060', r'"\u00e'],
        [r'"\u00', r'"\u006', '"\\', r'"\u0061"', r'"a\u007'],
    ),
    ({"type": "string", "pattern": "^[a-z]{2}$"}, [r'"ab\u', r'"a\u0061\u'], [r'"a\u0', r'"\u0061b"']),
    (
        {"enum": ["é", "x"]},
        [r'"\u00f', r'"\u006', r'"\ud8', '"\\n', r'"\u00E8'],
        [r'"\u00e', r'"\u00E', r'"\u0078"', r'"\u007', '"\\'],
    ),
    (
        {"const": "😀"},
        [r'"\ud83d\udf', r'"\ud83e', r'"\ud83d\u0', r'"\ud83d\ude01', b'"\xf0\x9f\x98\x81'],
        [r'"\ud83d\ude00"', r'"\ud83d\u', r'"\ud83d\ude0', r'"\ud83', b'"\xf0\x9f\x98'],
    ),
    (
        {"enum": ['a"b', "a\\b", "a\nb"]},
        [r'"a\t', r'"a\u01', r'"a\u003'],
        [r'"a\u0', r'"a\"', r'"a\\', r'"a\n', r'"a\u0022', r'"a\u000', r'"a\u005c'],
    ),
    (
        {"type": "object", "properties": {"é": {}}, "additionalProperties": False},
        [r'{"\u00f', r'{"\u01', r'{"\ud8'],
        [r'{"\u00e', r'{"\u00e9": 1}', r'{"\u00E9'],
    ),
    (
        {"type": "object", "patternProperties": {"^x-[a-z]+$": {}}, "additionalProperties": False},
        [r'{"x-\u01', r'{"\u0079'],
        [r'{"x-\u00', r'{"\u0078-', r'{"x-\u0061": 1}'],
    ),
    ({"type": "object", "propertyNames": {"maxLength": 1}}, [r'{"a\u', '{"a\\'], [r'{"\u0061": 1}', r'{"\u00']),
    (
        {"type": "object", "required": ["ab"], "maxProperties": 1},
        [r'{"a\u0063', r'{"\u0062', r'{"a\u007'],
        [r'{"a\u0062": 0}', r'{"a\u006'],
    ),
    (
        {"type": "string"},
        [r'"\ud800\u0', r'"\udc00', r'"\ud800\ud8', r'"\ud800x'],
        [r'"\ud800\udc00"', r'"\ud800\u', r'"\ud800\udf'],
    ),
    ({"type": "string", "minLength": 2}, [], [r'"\ud83d\ude00a"', r'"\ud83d\ude00']),
]


@pytest.mark.parametrize("schema, dead, live", CASES)
def test_prefixes_inside_escapes_and_characters_are_exact(schema, dead, live):
    c = JsonSchema(schema)
    for p in dead:
        assert not c.accepts_prefix(p), p
    for p in live:
        assert c.accepts_prefix(p), p


def test_a_surrogate_pair_is_one_code_point():
    assert not JsonSchema({"type": "string", "minLength": 2}).accepts(r'"\ud83d\ude00"')
    assert JsonSchema({"type": "string", "maxLength": 1}).accepts(r'"\ud83d\ude00"')
    assert JsonSchema({"type": "string", "maxLength": 1}).accepts('"😀"')


def test_a_string_spec_no_string_satisfies_refuses_the_opening_quote():
    """Pattern automata are built on first use; emptiness found then refuses the quote."""
    for schema in (
        {"type": ["string", "null"], "pattern": "^a{5}$", "maxLength": 3},
        {"type": ["string", "null"], "format": "date", "pattern": "^x"},
        {"type": ["string", "null"], "pattern": "[^\\s\\S]"},
    ):
        c = JsonSchema(schema)
        assert c.accepts("null") and not c.accepts_prefix('"'), schema


# --- a property test against an oracle that decodes the prefix itself --------------------------

ALPHABET = 'aé😀\u2028"\\\n/x'
_SIMPLE = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "/": "\\/"}


def _spell(text: str, rng: random.Random) -> str:
    """A JSON string literal for ``text``, each character written raw, as a simple escape or
    as ``\\u`` escapes (a surrogate pair above U+FFFF), hex digits in either case."""
    out = ['"']
    for ch in text:
        way = rng.randrange(3)
        if way == 0 and ch not in '"\\\n':
            out.append(ch)
        elif way == 1 and ch in _SIMPLE:
            out.append(_SIMPLE[ch])
        else:
            units = (
                [ord(ch)] if ord(ch) < 0x10000 else [0xD800 + ((ord(ch) - 0x10000) >> 10), 0xDC00 + ((ord(ch) - 0x10000) & 0x3FF)]
            )
            for u in units:
                digits = f"{u:04x}"
                out.append("\\u" + "".join(d.upper() if rng.random() < 0.5 else d for d in digits))
    return "".join(out) + '"'


def _spellings(ch: str) -> list[str]:
    """Every escape spelling of ``ch`` (lower-case hex; compared case-insensitively)."""
    cp = ord(ch)
    units = [cp] if cp < 0x10000 else [0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)]
    out = ["".join(f"\\u{u:04x}" for u in units)]
    if ch in _SIMPLE:
        out.append(_SIMPLE[ch])
    return out


def _read(prefix: str) -> tuple[str, str, bool]:
    """(decoded text, an escape begun and not finished, closed) of a string literal's prefix
    (one that some valid literal starts with)."""
    body, i, text = prefix[1:], 0, []
    while i < len(body):
        if body[i] == '"':
            return "".join(text), "", True
        if body[i] != "\\":
            text.append(body[i])
            i += 1
            continue
        for n in (12, 6, 2):  # a surrogate pair, one \u escape, a simple escape
            piece = body[i : i + n]
            if len(piece) < n or (n == 2 and piece[1] == "u"):
                continue
            try:
                decoded = json.loads('"' + piece + '"')
            except json.JSONDecodeError:
                continue
            if len(decoded) == 1 and not 0xD800 <= ord(decoded) <= 0xDFFF:
                text.append(decoded)
                i += n
                break
        else:
            return "".join(text), body[i:], False
    return "".join(text), "", False


def _could_be(escape: str, ch: str) -> bool:
    """The escape begun is the start of a spelling of ``ch``."""
    return any(sp.lower().startswith(escape.lower()) for sp in _spellings(ch))


def _some_character(escape: str) -> bool:
    """Some character has a spelling that starts with the escape begun (by enumeration)."""
    e = escape.lower()
    m = re.fullmatch(r"\\(u([0-9a-f]{0,4}))?", e)
    if m:
        digits = m.group(2) or ""
        free = 4 - len(digits)
        return any(not 0xDC00 <= int(digits + f"{x:0{free}x}" if free else digits, 16) <= 0xDFFF for x in range(16**free))
    m = re.fullmatch(r"\\ud[89ab][0-9a-f]{2}(\\(u([0-9a-f]{0,4}))?)?", e)
    if m:
        digits = m.group(3) or ""
        free = 4 - len(digits)
        return any(0xDC00 <= int(digits + (f"{x:0{free}x}" if free else ""), 16) <= 0xDFFF for x in range(16**free))
    return False


@settings(max_examples=120, deadline=None)
@given(
    values=st.lists(st.text(st.sampled_from(ALPHABET), max_size=4), min_size=1, max_size=3),
    max_len=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_prefixes_agree_with_an_oracle_that_decodes_them(values, max_len, seed):
    """Every prefix of random spellings of the enum's values (and of a value one character
    longer) against the enum, and against a maxLength bound."""
    rng = random.Random(seed)
    enum = JsonSchema({"enum": values})
    bounded = JsonSchema({"type": "string", "maxLength": max_len})
    for value in [*values, rng.choice(values) + rng.choice(ALPHABET)]:
        literal = _spell(value, rng)
        for k in range(1, len(literal) + 1):
            prefix = literal[:k]
            text, escape, closed = _read(prefix)
            if closed:
                want = text in values
            else:
                want = any(
                    v.startswith(text) and (not escape or (len(v) > len(text) and _could_be(escape, v[len(text)])))
                    for v in values
                )
            assert enum.accepts_prefix(prefix) == want, (values, prefix)
            want = len(text) + (1 if escape else 0) <= max_len and (not escape or _some_character(escape))
            assert bounded.accepts_prefix(prefix) == want, (max_len, prefix)


@pytest.mark.parametrize(
    ("schema", "shared", "apart"),
    [
        ({"type": "string"}, ['"a', '"ab', '"abcdefgh', '"\\u00e9\\n'], []),
        ({"type": "string", "minLength": 3}, ['"abc', '"abcd', '"abc\\u00e9'], ['"a', '"ab']),
        ({"type": "string", "pattern": "^[a-z]+$"}, ['"ab', '"abcdef'], []),
        ({"type": "string", "maxLength": 9}, [], ['"a', '"ab', '"abc']),
    ],
)
def test_strings_that_differ_only_in_a_length_no_bound_reads_share_a_state(schema, shared, apart):
    """Without maxLength, a string's state keeps its length up to minLength only
    (StringSpec.kept_length): what a state has been checked against then holds for every
    string past that length; lengths a bound still reads keep their states apart."""
    c = JsonSchema(schema)
    states = [c.advance(c.initial(), p.encode()) for p in shared]
    assert all(s is not None for s in states) and all(s == states[0] for s in states)
    kept = [c.advance(c.initial(), p.encode()) for p in apart]
    assert len(set(kept)) == len(kept) and not set(kept) & set(states)
    # (The language is unchanged: the oracle test above decodes every prefix it checks.)
