"""Number prefixes against brute force: enumerate literals and check reachability."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awrs.constraints.json_schema.number_lexer import NUMBER_START, feed_number, number_complete, number_value
from awrs.constraints.json_schema.numbers import NumberSpec, prefix_viable


def lex(text: str):
    state = NUMBER_START
    for b in text.encode():
        state = feed_number(state, b)
        if state is None:
            return None
    return state


@pytest.mark.parametrize("text", ["0", "-0", "12", "-3.25", "1e5", "1E+5", "2.5e-3", "0.000", "10"])
def test_valid_literals_lex_and_evaluate(text):
    state = lex(text)
    assert state is not None and number_complete(state)
    assert number_value(state) == Fraction(text)


@pytest.mark.parametrize("text", ["01", "-", "1.", "1e", ".5", "+1", "1.2.3", "--1", "1e+-2", "0x1"])
def test_invalid_literals_are_incomplete_or_rejected(text):
    state = lex(text)
    assert state is None or not number_complete(state)


# Brute force: every literal up to a few characters, to check reachability claims.
ALPHABET = "0123456789.-e+"


def all_literals(max_len):
    for n in range(1, max_len + 1):
        for chars in itertools.product(ALPHABET, repeat=n):
            text = "".join(chars)
            s = lex(text)
            if s is not None and number_complete(s):
                yield text, number_value(s)


LITERALS = list(all_literals(4)) + [
    (t, number_value(lex(t))) for t in ("50e-1", "1.0e2", "-2.50", "2.5e-1", "0.25", "300", "3e2", "-100", "1.25e0")
]

SPECS = [
    NumberSpec(lo=Fraction(5), hi=Fraction(10)),
    NumberSpec(lo=Fraction(5), hi=Fraction(10), lo_open=True, hi_open=True),
    NumberSpec(hi=Fraction(-2)),
    NumberSpec(lo=Fraction(0), step=Fraction(1)),  # non-negative integers
    NumberSpec(lo=Fraction(-1), hi=Fraction(1), step=Fraction(1, 4)),
    NumberSpec(step=Fraction(7)),
    NumberSpec(lo=Fraction(100), hi=Fraction(100)),
    NumberSpec(lo=Fraction(1, 3), hi=Fraction(1, 2), step=Fraction(1, 10)),
    NumberSpec(values=frozenset({Fraction(1), Fraction(-25, 10), Fraction(300)})),
    NumberSpec(lo=Fraction(3), hi=Fraction(2)),  # empty
]


@pytest.mark.parametrize("spec", SPECS)
def test_prefix_viability_is_never_stricter_than_short_witnesses(spec):
    """If some literal of at most 4 characters (or a listed longer one) is in the spec, each of
    its prefixes is viable."""
    for text, value in LITERALS:
        if spec.contains(value):
            for i in range(1, len(text) + 1):
                assert prefix_viable(lex(text[:i]), spec), (spec, text, text[:i])


@pytest.mark.parametrize("spec", SPECS)
@settings(max_examples=40, deadline=None)
@given(prefix=st.text(ALPHABET, min_size=1, max_size=4), tail=st.text("0123456789", min_size=0, max_size=4))
def test_viable_prefixes_have_a_witness(spec, prefix, tail):
    """A viable prefix must have a completion in the spec; search completions up to 9 extra
    characters of a fixed shape (digits, '.', 'e', '-')."""
    state = lex(prefix)
    if state is None or not prefix_viable(state, spec):
        return
    found = any(
        (s := lex(prefix + extra)) is not None and number_complete(s) and spec.contains(number_value(s))
        for extra in _completions(prefix)
    )
    assert found, (spec, prefix)


def _completions(prefix):
    """Candidate endings, short ones first: up to 2 more integer digits, an optional fraction of
    up to 2 digits, and an optional exponent between -4 and 4 (what applies to the prefix)."""
    short = [""] + [str(i) for i in range(10)] + [f"{i:02d}" for i in range(100)]
    has_point, has_exp = "." in prefix, "e" in prefix
    exponents = [""] if has_exp else [""] + [f"e{k}" for k in range(-4, 5)]
    if prefix.endswith("e"):
        short = short + ["-" + d for d in short[1:]] + ["+" + d for d in short[1:11]]
    for tail in short:
        for frac in [""] if (has_point or has_exp) else [""] + ["." + d for d in short[1:]]:
            for exp in exponents:
                yield tail + frac + exp


def test_empty_specs_are_detected():
    assert NumberSpec(lo=Fraction(3), hi=Fraction(2)).empty
    assert NumberSpec(lo=Fraction(1), hi=Fraction(1), lo_open=True).empty
    assert NumberSpec(lo=Fraction(1, 10), hi=Fraction(9, 10), step=Fraction(1)).empty
    assert not NumberSpec(lo=Fraction(1, 10), hi=Fraction(11, 10), step=Fraction(1)).empty


def test_exponents_are_part_of_the_language():
    spec = NumberSpec(hi=Fraction(100))
    assert prefix_viable(lex("101"), spec)  # 101e-1 = 10.1
    integers = NumberSpec(hi=Fraction(100), step=Fraction(1))
    assert not prefix_viable(lex("101"), integers)
    assert prefix_viable(lex("100"), integers)


def test_digits_are_capped():
    assert lex("1" * 40) is not None and lex("1" * 41) is None
    assert lex("1e999") is not None and lex("1e9999") is None
