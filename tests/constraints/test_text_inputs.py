"""The input side of every constraint (``accepts``, ``accepts_prefix``, ``first_violation``,
``walk``): text that is not str or bytes, or a str with no UTF-8 encoding, is a typed error that
names the argument, never a raw UnicodeEncodeError or TypeError from inside."""

from __future__ import annotations

import pytest

import awrs

CONSTRAINTS = [
    awrs.Regex("a"),
    awrs.Regex(r"(a)\1?"),  # partial matching
    awrs.Choice(["a", "b"]),
    awrs.Predicate(lambda text: text in ("", "a")),
    awrs.JsonSchema({"type": "string"}),
    awrs.Unconstrained(),
]
CHECKS = ["accepts", "accepts_prefix", "first_violation", "walk"]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
def test_a_lone_surrogate_is_an_invalid_text_error(constraint, check):
    with pytest.raises(awrs.InvalidTextError, match=r"text holds the lone surrogate '\\ud800' at index 1"):
        getattr(constraint, check)("a\ud800")


@pytest.mark.parametrize("bad", [None, 42, 1.5, ["a"]])
@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
def test_a_wrong_type_is_a_type_error_naming_the_argument(constraint, check, bad):
    with pytest.raises(awrs.ArgumentTypeError, match=f"text must be a str or bytes, got {type(bad).__name__}") as info:
        getattr(constraint, check)(bad)
    assert isinstance(info.value, TypeError) and isinstance(info.value, awrs.AwrsError)


def test_bytes_like_inputs_are_read_as_bytes():
    c = awrs.Regex("ab")
    assert c.accepts(b"ab") and c.accepts(bytearray(b"ab")) and c.accepts(memoryview(b"ab"))
    assert not c.accepts(b"\xff")  # bytes that are not UTF-8 are checked, and refused, as they are
