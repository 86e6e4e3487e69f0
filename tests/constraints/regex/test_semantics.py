"""What awrs.Regex means: Python's ``re`` for the same pattern and flags (Unicode classes by
default, ``re.ASCII`` to opt out), one semantics per pattern, and JSON Schema's ``pattern``
kept in ECMA-262's ASCII classes. Where the ``regex`` module, which awrs matches with, and
``re`` tables differ, awrs follows the ``regex`` module (docs/constraints.md gives the counts)."""

from __future__ import annotations

import re

import pytest
import regex

import awrs
from awrs.constraints.regex import Regex
from awrs.errors import AwrsError, ConstraintError


@pytest.mark.parametrize(
    "pattern, text",
    [
        (r"\w+", "héllo"),
        (r"\d+", "٣٤"),
        (r"\s", "\u2003"),
        (r"(?i)straße", "STRASSE".lower().replace("ss", "ß")),
        (r"(?i)é", "É"),
        (r"\bω\b", "ω"),
        (r"\W", "\u00bf"),
    ],
)
def test_shorthand_classes_and_ignore_case_are_unicode_by_default(pattern, text):
    c = Regex(pattern)
    assert c.engine == "dfa" or r"\b" in pattern
    assert c.accepts(text) and re.fullmatch(pattern, text)


@pytest.mark.parametrize("flags", [re.ASCII, re.A, int(re.ASCII)])
def test_re_ascii_opts_out(flags):
    c = Regex(r"\w+", flags)
    assert c.accepts("hello") and not c.accepts("héllo")
    assert not Regex(r"(?i)é", flags).accepts("É")  # ASCII ignore-case pairs ASCII letters only
    assert not Regex("(?a)\\w+").accepts("é") and not Regex("x(?a)\\w").accepts("xé")  # (?a) anywhere at the top


def test_the_other_re_flags_are_honoured():
    assert Regex("hello", re.I).accepts("HeLLo")
    assert Regex(r"(?i)k", re.I).accepts("\u212a")  # Kelvin sign: a Unicode case variant of k
    assert not Regex(r"k", re.I | re.A).accepts("\u212a")
    assert Regex("a.b", re.S).accepts("a\nb") and not Regex("a.b").accepts("a\nb")
    assert Regex("a b # comment", re.X).accepts("ab")
    assert Regex("^a$\n^b$", re.M).accepts("a\nb") == bool(re.fullmatch("^a$\n^b$", "a\nb", re.M))
    assert Regex("a", re.U).accepts("a")
    assert repr(Regex("a", re.I)) == "Regex('a', flags=re.IGNORECASE, engine='dfa')"


def test_compiled_patterns_bring_their_flags():
    assert Regex(re.compile(r"\w+", re.A)).accepts("abc") and not Regex(re.compile(r"\w+", re.A)).accepts("é")
    assert Regex(re.compile(r"\w+")).accepts("é")
    assert Regex(regex.compile("abc", regex.I)).accepts("ABC")
    assert not Regex(regex.compile(r"\w", regex.A)).accepts("é")  # the regex module's own ASCII value


@pytest.mark.parametrize("flags", [re.L, re.DEBUG, 1 << 20, regex.V1, regex.FULLCASE, re.A | re.U])
def test_flags_awrs_cannot_honour_are_a_constraint_error(flags):
    with pytest.raises(ConstraintError, match="flags"):
        Regex("a", flags)


@pytest.mark.parametrize("flags", ["i", 2.0, None, True])
def test_flags_of_the_wrong_type_are_named(flags):
    with pytest.raises(ConstraintError, match="flags must be an int"):
        Regex("a", flags)


@pytest.mark.parametrize(
    "unicode_feature",
    [r"\N{DIGIT ZERO}?", r"(?:\p{Lu})?", r"[\p{Nd}]?"],
)
def test_one_semantics_per_pattern(unicode_feature):
    """A \\N{..} or \\p{..} used to switch the whole pattern's \\b and (?i) to Unicode."""
    for flags in (0, re.ASCII):
        for core, text in ((r"ω\b", "ω"), (r"(?i)é", "É"), (r"\w", "é")):
            alone = Regex(core, flags)
            with_feature = Regex(core + unicode_feature, flags)
            assert alone.accepts(text) == with_feature.accepts(text) == (not flags), (core, flags)


def test_ascii_mode_keeps_unicode_properties():
    """``\\p{..}`` is Unicode in ASCII mode too (ECMA-262's ``\\p`` is; the regex module's ASCII flag
    would make it ASCII): awrs spells the set out for the module."""
    from awrs.constraints.regex import compile_pattern

    c = Regex(r"\p{Lu}\w", re.ASCII)
    assert c.accepts("Éa") and not c.accepts("Éé")
    assert compile_pattern(r"\p{Lu}\w", re.ASCII).fullmatch("Éa")
    assert Regex(r"[a-\p{Lu}]", re.ASCII).accepts("-")  # a "-" next to a property stays literal
    assert Regex(r"(?i)\p{Lu}", re.ASCII).accepts("a") and not Regex(r"(?i)\p{Lu}", re.ASCII).accepts("é")
    partial = Regex(r"(\p{Lu})\1", re.ASCII)  # the partial engine gets the spelled-out pattern
    assert partial.engine == "partial" and partial.accepts("ÉÉ") and not partial.accepts("Éa")


def test_ascii_mode_posix_classes_are_case_folded_as_ascii():
    """The regex module's ASCII ignore-case matching of POSIX classes differs between one
    character and a repeat (``[[:lower:]]`` takes "T", ``[[:lower:]]+`` does not); awrs gives
    both the ASCII meaning, case-folded: a-z and A-Z."""
    from awrs.constraints.regex import compile_pattern

    for pattern in (r"(?i)[[:lower:]]", r"(?i)[[:lower:]]+"):
        c = Regex(pattern, re.ASCII)
        assert c.accepts("T") and not c.accepts("é")
        assert compile_pattern(pattern, re.ASCII).fullmatch("T")


def test_json_schema_patterns_keep_ecma_262_ascii_classes():
    from awrs.constraints.regex import ECMA_262

    schema = {"type": "string", "pattern": r"^\w+$"}
    c = awrs.JsonSchema(schema)
    assert c.accepts('"hello"') and not c.accepts('"héllo"')
    assert awrs.JsonSchema({"type": "string", "pattern": r"^\p{Letter}+$"}).accepts('"école"')
    names = awrs.JsonSchema(
        {"type": "object", "patternProperties": {r"^\p{Lu}$": {"type": "integer"}}, "additionalProperties": False}
    )
    assert names.accepts('{"É": 1}') and not names.accepts('{"é": 1}')
    assert ECMA_262 == re.ASCII


def test_grammar_terminals_keep_ascii_classes_by_default():
    from awrs.constraints.regex import char_automaton

    default = char_automaton(r"\w+")
    assert default == char_automaton(r"\w+", re.ASCII)
    assert char_automaton(r"\w+", 0) != default


def test_ascii_tables_are_the_regex_module_s():
    from awrs.constraints.regex.classes import ASCII_SHORTHANDS, scan

    for letter, ranges in ASCII_SHORTHANDS.items():
        assert scan("\\" + letter, True, False) == ranges


def test_case_variants_come_only_from_the_characters_scanned_for_them():
    """awrs finds case variants by scanning the characters Unicode marks as cased or changing
    under case mapping; the regex module's own case table must have no others."""
    get_all_cases = getattr(getattr(regex, "_regex", None), "get_all_cases", None)
    if get_all_cases is None:
        pytest.skip("this regex module does not expose its case table")
    from awrs.constraints.regex.classes import _with_case_variants

    candidates = {ord(c) for c in _with_case_variants()}
    flags = regex.VERSION0 | regex.IGNORECASE
    outside = [cp for cp in range(0x110000) if cp not in candidates and len(get_all_cases(flags, cp)) > 1]
    assert outside == []


def test_re_and_the_regex_module_differ_and_awrs_follows_the_module():
    """The counts docs/constraints.md states: code points where re's and the regex module's
    Unicode classes differ (re: str.isalnum/isdigit/isspace and Python's Unicode version)."""
    every = "".join(map(chr, range(0x110000)))
    counts = {}
    for cls in (r"\w", r"\d", r"\s"):
        ours = {m.start() for m in regex.finditer(cls, every, flags=regex.VERSION0)}
        theirs = {m.start() for m in re.finditer(cls, every)}
        counts[cls] = (len(ours - theirs), len(theirs - ours))
    assert counts[r"\w"][0] > 20_000 and counts[r"\w"][1] > 500  # combining marks; numbers like ²
    assert counts[r"\s"] == (0, 4)  # U+001C..U+001F are str.isspace()
    c = Regex(r"\w")
    assert c.accepts("\u0301") and not c.accepts("²")  # the regex module's choice, not re's


def test_awrs_errors_only():
    for bad in ("a(", "[z-a]", "(?P<1>a)", "\\", "a{3,2}"):
        with pytest.raises(AwrsError):
            Regex(bad)
