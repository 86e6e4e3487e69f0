"""Composed constraints (awrs/constraints/compose.py) against brute force: on small alphabets,
every string up to length 6 is a viable prefix exactly when some string of at most ``BOUND``
bytes (13 for two letters: every case's viable prefixes of length 6 complete within it) that
starts with it is accepted, and accepted exactly when the parts say so."""

from __future__ import annotations

import itertools
import json

import pytest

import awrs
from awrs.constraints.compose import Free, Intersection, Sequence, Union
from awrs.errors import ConstraintError, EmptyLanguageError

BOUND = 10
SHORT = 6


def _strings(alphabet: str, up_to: int):
    for n in range(up_to + 1):
        for chars in itertools.product(alphabet, repeat=n):
            yield "".join(chars)


def _anbn():
    """a^n b^n (n >= 1): not regular, with an exact prefix function."""

    def prefix(t: str) -> bool:
        a = len(t) - len(t.lstrip("a"))
        rest = t[a:]
        return set(rest) <= {"b"} and len(rest) <= a

    return awrs.Predicate(prefix=prefix, complete=lambda t: prefix(t) and len(t) > 0 and t.count("a") == t.count("b"))


def _backref():
    return awrs.Regex(r"([ab])\1c?")  # back-reference: partial matching, not a DFA


# The parts the truths ask, compiled once.
AB_STAR, BA_STAR, B_PLUS_A, C_STAR_A, A_PLUS_B = (awrs.Regex(p) for p in ("ab*", "ba*", "b+a", "c*a", "a+b"))
ANBN, BACKREF = _anbn(), _backref()
LAST_TWO = awrs.Regex("(a|b)*a(a|b)")
AB_OR_B = awrs.Regex("(ab|b)*a?b?")


def _check_exact(c: awrs.Constraint, truth, alphabet: str) -> None:
    accepted = {s for s in _strings(alphabet, BOUND if len(alphabet) > 2 else 13) if truth(s)}
    viable = {s[:n] for s in accepted for n in range(len(s) + 1)}
    for s in _strings(alphabet, SHORT):
        assert c.accepts(s) == truth(s), s
        assert c.accepts_prefix(s) == (s in viable), s


CASES = {
    "ambiguous concatenation": (
        lambda: awrs.Regex("a*") + awrs.Regex("a*b"),
        lambda s: s.endswith("b") and set(s[:-1]) <= {"a"},
        "ab",
    ),
    "concatenation, every split ambiguous": (
        lambda: awrs.Regex("(a|b)*") + awrs.Regex("b") + awrs.Regex("(a|b)*"),
        lambda s: "b" in s and set(s) <= {"a", "b"},
        "abc",
    ),
    "ambiguous concatenation with a non-regular part": (
        lambda: _anbn() + awrs.Regex("b*"),
        lambda s: (a := len(s) - len(s.lstrip("a"))) >= 1 and set(s[a:]) == {"b"} and len(s) - a >= a,
        "ab",
    ),
    "non-regular part then an overlapping one": (
        lambda: awrs.Sequence([_backref(), awrs.Regex("c*a")]),
        lambda s: any(BACKREF.accepts(s[:i]) and C_STAR_A.accepts(s[i:]) for i in range(len(s) + 1)),
        "abc",
    ),
    "part that accepts the empty text": (
        lambda: awrs.Regex("a?") + awrs.Regex("b?") + awrs.Regex("ab"),
        lambda s: s in {"ab", "aab", "bab", "abab"},
        "ab",
    ),
    "union": (
        lambda: awrs.Regex("ab*") | awrs.Regex("ba*"),
        lambda s: AB_STAR.accepts(s) or BA_STAR.accepts(s),
        "ab",
    ),
    "union with a non-regular part": (
        lambda: _anbn() | awrs.Regex("b+a"),
        lambda s: ANBN.accepts(s) or B_PLUS_A.accepts(s),
        "ab",
    ),
    "intersection of regular parts (one DFA)": (
        lambda: awrs.Regex("(a|b)*a(a|b)") & awrs.Regex("(ab|b)*a?b?"),
        lambda s: LAST_TWO.accepts(s) and AB_OR_B.accepts(s),
        "ab",
    ),
    "intersection that only meets late": (
        lambda: awrs.Regex("a*b") & awrs.Regex("aaab|b"),
        lambda s: s in {"aaab", "b"},
        "ab",
    ),
    "free text to a delimiter": (
        lambda: Free(until="aab"),
        lambda s: s.endswith("aab") and "aab" not in s[:-1] and s.find("aab") == len(s) - 3,
        "abc",
    ),
    "free text, bounded": (
        lambda: Free(until="ba", max_bytes=5),
        lambda s: len(s) <= 5 and s.endswith("ba") and s.find("ba") == len(s) - 2,
        "abc",
    ),
    "free text then a part": (
        lambda: Free(until="c") + awrs.Regex("a+b"),
        lambda s: "c" in s and s.index("c") < len(s) and A_PLUS_B.accepts(s[s.index("c") + 1 :]),
        "abc",
    ),
    "free text bounded, no delimiter": (
        lambda: Free(max_bytes=3) + awrs.Regex("c"),
        lambda s: 1 <= len(s) <= 4 and s.endswith("c"),
        "abc",
    ),
    "think, then answer": (
        lambda: awrs.Think(awrs.Regex("a|ab"), open="<", close=">"),
        lambda s: (
            s.startswith("<")
            and ">" in s
            and s.index(">") > 0
            and s[s.index(">") + 1 :].lstrip() in ("a", "ab")
            and not set(s[s.index(">") + 1 :].rstrip("ab")) - {" "}
        ),
        "<>ab ",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_composed_prefix_checks_are_exact_against_brute_force(name):
    make, truth, alphabet = CASES[name]
    _check_exact(make(), truth, alphabet)


def test_an_intersection_with_a_non_regular_part_accepts_exactly_and_never_refuses_a_viable_prefix():
    """Not one DFA: complete texts are exact, and the prefix check is sound (a superset of
    the viable prefixes: docs/composition.md)."""
    c = _anbn() & awrs.Regex("a*bbb")
    assert not c.exact
    truth = lambda s: s == "aaabbb"
    accepted = {s for s in _strings("ab", BOUND) if truth(s)}
    viable = {s[:n] for s in accepted for n in range(len(s) + 1)}
    for s in _strings("ab", SHORT):
        assert c.accepts(s) == truth(s), s
        if s in viable:
            assert c.accepts_prefix(s), s
    assert c.accepts_prefix("ab") and "ab" not in viable  # the over-approximation, as documented


def test_operators_build_flat_compositions():
    a, b, c = awrs.Regex("a"), awrs.Regex("b"), awrs.Regex("c")
    assert isinstance(a + b, Sequence) and len((a + b + c).parts) == 3
    assert isinstance(a | b, Union) and len((a | b | c).parts) == 3
    x, y, z = awrs.Regex("[ab]"), awrs.Regex("[bc]"), awrs.Regex("b|d")
    assert isinstance(x & y, Intersection) and len((x & y & z).parts) == 3 and (x & y & z).accepts("b")
    assert awrs.Sequence([a, b]).accepts("ab")
    with pytest.raises(TypeError):
        a + "b"  # type: ignore[operator]
    with pytest.raises(ConstraintError, match="takes constraints"):
        awrs.Sequence([a, "b"])  # type: ignore[list-item]


def test_bad_compositions_say_what_is_wrong():
    with pytest.raises(EmptyLanguageError, match="no text in common"):
        awrs.Regex("a+") & awrs.Regex("b+")
    with pytest.raises(EmptyLanguageError, match="raise max_bytes"):
        Free(until="</think>", max_bytes=3)
    with pytest.raises(ConstraintError, match="non-empty str"):
        Free(until="")
    with pytest.raises(ConstraintError, match="non-negative int"):
        Free(max_bytes=-1)


def test_a_sequence_value_leaves_out_free_text_and_splits_at_the_first_delimiter():
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    c = Free(until="</think>") + awrs.JsonSchema(schema)
    text = 'I think x is 3. Not {"x": 4}.</think> {"x": 3}'
    assert c.accepts(text)
    assert c.parse(text) == {"x": 3}
    assert [(k, piece) for k, piece in c.pieces(text)] == [
        (0, b'I think x is 3. Not {"x": 4}.</think>'),
        (1, b' {"x": 3}'),
    ]
    assert not c.accepts('</think> {"x": 3}</think>')  # the delimiter ends the free text
    both = awrs.Regex("a*") + awrs.Regex("a*b")
    assert both.parse("aab") == ["", "aab"]  # of several splits, earlier parts end first
    assert json.dumps((awrs.Regex("[0-9]+") + awrs.Regex(",[0-9]+")).parse("12,3")) == '["12", ",3"]'


def test_composed_states_work_in_generation_with_every_method():
    """A composed constraint through generate: every method's output is accepted."""
    tokens = [b"a", b"b", b"c", b"ab", b"ba", b"</", b"t>", b"{", b"}", b'"x"', b":", b"1", b" "]
    import numpy as np

    rng = np.random.default_rng(0)
    lm = awrs.MockLM(tokens, rng.normal(0, 1, (len(tokens) + 1, len(tokens) + 1)))
    c = Free(until="</t>", max_bytes=12) + awrs.JsonSchema({"type": "object", "properties": {"x": {"type": "integer"}}})
    for method in ("smc", "awrs", "lcd", "mask"):
        result = awrs.generate(lm, "a", c, method=method, n_particles=4, max_new_tokens=40, seed=1)
        assert result.valid and c.accepts(result.text), (method, result.text)
        assert isinstance(result.value, dict)
