"""awrs.Regex against the regex module on random patterns made of what Unicode makes hard:
classes and their negations, ignore-case, ``\\N{..}``, ``\\p{..}``, POSIX classes, ranges
that touch U+FFFF/U+10000, inline flags (scoped, mid-pattern, turned off), in Unicode and in
ASCII mode. The oracle is the regex module (version 0): ``fullmatch`` for full matches,
``fullmatch(partial=True)`` for prefixes (the patterns have no lazy quantifiers, with which
the module's partial matching is wrong). Non-regular patterns (a look-ahead or a word
boundary added) check the partial engine and its envelope the same way.
"""

from __future__ import annotations

import random
import re

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.regex import Regex
from awrs.errors import ConstraintError

#: Characters whose case or class is tricky, and neighbours of the UTF-8 length boundaries.
TRICKY = [
    "a",
    "A",
    "k",
    "K",
    "s",
    "S",
    "i",
    "I",
    "z",
    "_",
    "0",
    "9",
    " ",
    "-",
    "\n",
    "\t",
    "é",
    "É",
    "ß",
    "ẞ",
    "ſ",
    "\u212a",
    "İ",
    "ı",
    "ω",
    "Ω",
    "σ",
    "ς",
    "Σ",
    "ǅ",
    "Ǆ",
    "\u0345",
    "ι",
    "²",
    "٣",
    "\u0301",
    "\u00a0",
    "\u2028",
    "\x1c",
    "µ",
    "Μ",
    "\ud7ff",
    "\ue000",
    "\ufffd",
    "\uffff",
    "\U00010000",
    "\U0001d400",
    "\U0001f600",
    "\U0010ffff",
    "\u07ff",
    "\u0800",
]
NAMES = [
    "LATIN SMALL LETTER A",
    "GREEK CAPITAL LETTER OMEGA",
    "DIGIT ZERO",
    "KELVIN SIGN",
    "MATHEMATICAL BOLD CAPITAL A",
    "LATIN SMALL LETTER SHARP S",
    "LATIN CAPITAL LETTER I WITH DOT ABOVE",
    "LATIN SMALL LETTER LONG S",
    "GREEK SMALL LETTER FINAL SIGMA",
    "REPLACEMENT CHARACTER",
    "LINEAR B SYLLABLE B008 A",
]
PROPERTIES = ["Lu", "Ll", "L", "N", "Nd", "Greek", "Latin", "Cased", "Sc", "Zs", "Alpha", "Lt", "Mn"]
POSIX = ["alpha", "digit", "upper", "lower", "word", "space", "punct", "alnum", "^alpha"]
#: Range ends: ASCII, Latin-1, the 2/3-byte and 3/4-byte boundaries, around the surrogates.
ENDS = [
    "a",
    "z",
    "A",
    "Z",
    "0",
    "9",
    "À",
    "ÿ",
    "\u07ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "\ufffd",
    "\uffff",
    "\U00010000",
    "\U0001f600",
    "\U0010ffff",
]


def _escaped(ch: str) -> str:
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


#: Each tricky character written as itself and as an escape.
LITERALS = [regex.escape(ch) for ch in TRICKY] + [_escaped(ch) for ch in TRICKY]


def _range() -> st.SearchStrategy[str]:
    return st.tuples(st.sampled_from(ENDS), st.sampled_from(ENDS)).map(
        lambda ends: f"{_escaped(min(ends))}-{_escaped(max(ends))}"
    )


def _members(unicode_props: bool) -> st.SearchStrategy[str]:
    options = [
        st.sampled_from(LITERALS),
        _range(),
        st.sampled_from([r"\d", r"\D", r"\w", r"\W", r"\s", r"\S"]),
        st.sampled_from(POSIX).map(lambda name: f"[:{name}:]"),
        st.sampled_from(NAMES).map(lambda name: f"\\N{{{name}}}"),
    ]
    if unicode_props:
        options.append(st.tuples(st.sampled_from("pP"), st.sampled_from(PROPERTIES)).map(lambda t: f"\\{t[0]}{{{t[1]}}}"))
    return st.one_of(options)


def _module_negates(cls: str) -> bool:
    """False where the regex module's ``[^X]`` is not the complement of its ``[X]``: it matches
    every character with ``[^\\w\\W]``, ``[^\\d\\D]``, ``[^\\p{L}\\P{L}]`` (a member and its
    complement); awrs, like ``re``, matches none (test below)."""
    if not cls.startswith("[^"):
        return True
    state = random.getstate()  # the regex module's pattern cache draws from random: leave it as Hypothesis found it
    try:
        positive, negative = (regex.compile(c, flags=regex.VERSION0) for c in ("[" + cls[2:], cls))
    finally:
        random.setstate(state)
    return all((positive.fullmatch(ch) is None) != (negative.fullmatch(ch) is None) for ch in TRICKY)


def _atoms(unicode_props: bool) -> st.SearchStrategy[str]:
    bracket = (
        st.tuples(st.booleans(), st.lists(_members(unicode_props), min_size=1, max_size=3))
        .map(lambda t: "[" + ("^" if t[0] else "") + "".join(t[1]) + "]")
        .filter(_module_negates)
    )
    options = [
        bracket,
        bracket,
        st.sampled_from(LITERALS),
        st.sampled_from([r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", "."]),
        st.sampled_from(NAMES).map(lambda name: f"\\N{{{name}}}"),
    ]
    if unicode_props:
        options.append(st.tuples(st.sampled_from("pP"), st.sampled_from(PROPERTIES)).map(lambda t: f"\\{t[0]}{{{t[1]}}}"))
    return st.one_of(options)


def _patterns(unicode_props: bool) -> st.SearchStrategy[str]:
    def extend(inner):
        flagged = st.tuples(st.sampled_from(["(?i:", "(?s:", "(?-i:", "(?is:", "(?:"]), inner).map(lambda t: f"{t[0]}{t[1]})")
        if unicode_props:  # a scoped ASCII flag: the regex module's own rules (awrs leaves it to the module)
            flagged = flagged | inner.map(lambda p: f"(?a:{p})")
        return st.one_of(
            flagged,
            st.lists(inner, min_size=2, max_size=3).map("".join),
            st.lists(inner, min_size=2, max_size=3).map("|".join).map(lambda p: f"({p})"),
            st.tuples(inner.map(lambda p: f"(?:{p})"), st.sampled_from(["?", "*", "+", "{0,2}"])).map("".join),
            st.tuples(inner, inner).map(lambda t: f"(?:{t[0]}(?i){t[1]})"),  # a flag in force to the group's end
        )

    return st.recursive(_atoms(unicode_props), extend, max_leaves=4)


def _texts(pattern: str) -> st.SearchStrategy[list[str]]:
    chars = TRICKY + [c for c in pattern if not 0xD800 <= ord(c) <= 0xDFFF]
    return st.lists(st.lists(st.sampled_from(chars), max_size=5).map("".join), min_size=4, max_size=4)


def _compare(pattern: str, ascii: bool, texts: list[str]) -> None:
    flags = regex.VERSION0 | (regex.ASCII if ascii else 0)
    try:
        compiled = regex.compile(pattern, flags=flags)
    except (regex.error, ValueError):
        with pytest.raises(ConstraintError):
            Regex(pattern, re.ASCII if ascii else 0)
        return
    try:
        c = Regex(pattern, re.ASCII if ascii else 0)
    except ConstraintError as exc:
        assert "empty" in str(exc), (pattern, exc)
        for text in texts:  # an empty language: nothing matches, not even a prefix beyond ""
            assert compiled.fullmatch(text) is None, (pattern, text)
        return
    for text in texts:
        assert c.accepts(text) == (compiled.fullmatch(text) is not None), (pattern, ascii, text, c.engine)
        for cut in range(len(text) + 1):
            prefix = text[:cut]
            assert c.accepts_prefix(prefix) == (compiled.fullmatch(prefix, partial=True) is not None), (pattern, ascii, prefix)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii=st.booleans())
def test_random_unicode_patterns_match_like_the_regex_module(data, ascii):
    pattern = data.draw(_patterns(unicode_props=not ascii), label="pattern")
    _compare(pattern, ascii, data.draw(_texts(pattern), label="texts"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ascii=st.booleans())
def test_random_non_regular_patterns_match_like_the_regex_module(data, ascii):
    """A look-ahead or a word boundary makes the pattern non-regular: the partial engine and
    its envelope (built from the same classes) must agree with the module."""
    core = data.draw(_patterns(unicode_props=not ascii), label="core")
    odd = data.draw(st.sampled_from([r"(?=\w)", r"(?!\d)", r"\b", r"\B", r"(?<=\w)"]), label="odd")
    pattern = data.draw(st.sampled_from([core + odd, odd + core, f"(?:{core}){odd}(?:{core})"]), label="pattern")
    _compare(pattern, ascii, data.draw(_texts(pattern), label="texts"))


@pytest.mark.parametrize(
    "pattern, text, accepted",
    [
        (r"(?i:[^\W\d])", "_", True),  # once an empty language: ignore-case over a negated class
        (r"(?i:[^\W\d])", "é", True),
        (r"(?i:[^\W\d])", "5", False),
        (r"(1|(?s:(?i:[^\W\d])))", "A", True),
        (r"(?i)[^k]", "\u212a", False),  # the Kelvin sign is a case variant of k
        (r"(?i)[\uffff-\U00010000]", "\U00010000", True),
        (r"(?i)[^\uffff-\U00010000]", "\uffff", False),
        (r"(?i)\p{Lu}", "a", True),  # the regex module's ignore-case properties
        (r"(?i)I", "ı", True),
        (r"(?i)i", "ı", False),  # case variants are not transitive
        (r"[[:alpha:]]", "é", True),
        (r"\N{KELVIN SIGN}", "\u212a", True),
        (r"a(?i)b", "aB", True),
        (r"a(?i)b", "AB", False),
        (r"(?:a(?i)b|c)d", "Cd", True),  # the flag holds to the end of its group
        (r"(?i)a(?-i:b)", "Ab", True),
        (r"(?i)a(?-i:b)", "AB", False),
        (r"[a-\d]", "-", True),
    ],
)
def test_classes_and_flags_the_random_patterns_found(pattern, text, accepted):
    c = Regex(pattern)
    assert c.engine == "dfa", c.reason
    assert c.accepts(text) == accepted == (regex.fullmatch(pattern, text, flags=regex.VERSION0) is not None)


@pytest.mark.parametrize("cls", [r"[^\w\W]", r"[^\d\D]", r"[^\s\S]", r"[^\p{L}\P{L}]", r"[^[:alpha:][:^alpha:]]"])
def test_a_negated_class_of_a_member_and_its_complement_matches_nothing(cls):
    """The regex module matches every character with these (a bug of its set simplification);
    awrs gives them their meaning, nothing, as ``re`` does where it has the syntax."""
    assert regex.fullmatch(cls, "a", flags=regex.VERSION0) is not None  # the module's reading
    if "[:" not in cls and "\\p" not in cls:
        assert re.fullmatch(cls, "a") is None
    c = Regex(cls + "|b")
    assert c.accepts("b") and not c.accepts("a") and not c.accepts_prefix("a")
    with pytest.raises(ConstraintError, match="empty"):
        Regex("x" + cls)
