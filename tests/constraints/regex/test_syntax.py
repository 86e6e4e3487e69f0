"""awrs's reading of regex syntax: exact automata for regular patterns, sound envelopes for the rest.

The oracle is the ``regex`` module. Exactness of the DFA engine is tested in test_regex.py
(hypothesis strings against ``re``/``regex``); here: the envelope of every non-regular pattern of
the AWRS paper's set accepts every full match the regex module finds (so pruning by it is
sound), the approximations are named, and syntax the reader does not model is refused.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from awrs.constraints.regex import Regex
from awrs.constraints.regex.automaton import read
from awrs.constraints.regex.syntax import parses_exactly
from awrs.constraints.regex.tree import UnsupportedSyntax
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary
from tests.constraints.regex.test_pattern_set import load_patterns


def envelope_accepts(c: Regex, text: str, *, prefix: bool = False) -> bool:
    state = 0
    rows = c.envelope.rows
    for b in text.encode():
        state = rows[state][b]
        if state < 0:
            return False
    return prefix or bool(c.envelope.final[state])


def _flags(pattern: str) -> int:
    """awrs.Regex's default semantics: version 0, Unicode classes."""
    return regex.VERSION0


#: Characters the random walks try: the pattern's own characters plus a spread of others.
_EXTRA = [*list("abcxyzABXZ0129 -_.,:;()[]{}<>/\\@#+*=!?'\""), "é", "α", "Ω", "世", "😀", "\u2451", "\t", "\xa0"]


def random_matches(pattern: str, rng: random.Random, n: int = 4, max_len: int = 14, flags: int | None = None) -> list[str]:
    """Full matches found by random walks guided by the regex module's partial matching only
    (independent of awrs's reading), each step choosing a random character that keeps a match
    possible."""
    compiled = regex.compile(pattern, flags=_flags(pattern) if flags is None else flags)
    alphabet = sorted(set(pattern) | set(_EXTRA))
    found: list[str] = []
    for _ in range(3 * n):
        text = ""
        for _ in range(max_len):
            if compiled.fullmatch(text) and rng.random() < 0.4:
                break
            choices = alphabet[:]
            rng.shuffle(choices)
            nxt = next((text + ch for ch in choices if compiled.fullmatch(text + ch, partial=True)), None)
            if nxt is None:
                break
            text = nxt
        if compiled.fullmatch(text):
            found.append(text)
            if len(found) == n:
                break
    return found


def test_every_envelope_accepts_every_match_the_regex_module_finds():
    rng = random.Random(0)
    checked = patterns = 0
    for p in load_patterns():
        c = Regex(p)
        if c.engine != "partial":
            continue
        assert c.envelope is not None, (p, c.reason)  # every pattern of the set gets one today
        patterns += 1
        for text in random_matches(p, rng):
            assert envelope_accepts(c, text), (p, text)
            assert c.accepts(text), (p, text)
            checked += 1
    assert patterns >= 280 and checked >= 600, (patterns, checked)  # 285 today: the other 117 are regular


@pytest.mark.parametrize(
    "pattern, inside, outside, why",
    [
        (r"(a|b)\1", ["aa", "ab"], ["ac", "a"], "a back-reference"),
        (r"^([a-z]|\((?R)\))$", ["a", "(a)", "(zz)"], ["ab", "(a"], "recursion"),
        (r"(?<=^.{0,10})abc(?=.{0,10}$)", ["abc"], ["abc(", "xabc"], "a look-around"),
        (r"^\((?R)*\)$", ["()", "(())", "(()"], ["(a)", ")("], "recursion"),
        (r"(?>a+|b+)c", ["aac", "bc"], ["abc"], "an atomic group"),
        (r"x++y", ["xxy"], ["y"], "a possessive quantifier"),
        (r"(a)?(?(1)b|c)", ["ab", "c", "b", "ac"], ["a", "bb"], "a conditional group"),
        (r"(?(DEFINE)(?<d>\d))^(?&d){2}$", ["12"], ["1", "a2"], "a subroutine call"),
        (r"\bcat\b", ["cat"], ["cats"], "an anchor or word boundary inside the pattern"),
        (r"(?|(a)|(b))\1", ["aa", "bb", "ab"], ["a", "ac"], "a back-reference"),
    ],
)
def test_envelopes_are_supersets_that_still_refuse(pattern, inside, outside, why):
    reading = read(pattern, unicode=True)
    assert not reading.exact and why in reading.approximations
    c = Regex(pattern)
    assert c.engine == "partial"
    for text in inside:
        assert envelope_accepts(c, text), text
    for text in outside:
        assert not envelope_accepts(c, text), text


def test_the_envelope_removes_a_dead_end_of_partial_matching():
    """The regex module reports "abc(" as a partial match of abc(?=.{0,10}$) (its look-ahead
    reaches the end of the text); no completion exists, and the envelope knows it."""
    p = r"(?<=^.{0,10})abc(?=.{0,10}$)"
    assert regex.fullmatch(p, "abc(", partial=True) is not None
    c = Regex(p)
    assert not c.accepts_prefix("abc(") and c.accepts("abc")


@pytest.mark.parametrize(
    "pattern",
    [
        r"\x41\101\0[\0-\x1f]?",
        "(?x) a b  # a comment\n c",
        r"[]a]+[^]]",
        r"a{,3}b{2}",
        r"(?i)[^a-c]x",
        r"[\W\d]",
        r"\.\*\\",
        r"(?P<y>\d{2})-(?<m>\d)",
        r"(?:a|)+b",
        r"[-a][a-]",
        r"\u00e9|\U0001F600",
        r"(?s:.)\n.",
        r"(?i:ab)c",
        # once approximated, now exact: properties, POSIX classes, flags mid-pattern or turned off, long repeats
        r"\p{Lu}\d",
        r"[[:alpha:]]z",
        r"a(?i)b",
        r"(?:a(?i)b|c)d",
        r"(?i)a(?-i:b)",
        r"(?i-s:a.)",
        r"(?:\S+\s+){0,299}x",
        r"[a-\d]",
        r"[\p{Ll}&&z]",
        r"(?i)[^\W\d]",
    ],
)
@pytest.mark.parametrize("ascii", [False, True])
def test_regular_syntax_is_read_exactly(pattern, ascii):
    if ascii and "\\p" in pattern:
        pytest.skip("in ASCII mode awrs keeps \\p Unicode, the regex module's ASCII flag does not (tested apart)")
    reading = read(pattern, unicode=not ascii)
    assert reading.exact, reading.approximations
    c = Regex(pattern, re.ASCII if ascii else 0)
    assert c.engine == "dfa"
    compiled = regex.compile(pattern, flags=(regex.ASCII if ascii else 0) | regex.VERSION0)
    rng = random.Random(1)
    alphabet = sorted(set(pattern) | set(_EXTRA) | {"\n", "\x00", "\x01", "A", "\x1f"})
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        assert c.accepts(text) == (compiled.fullmatch(text) is not None), text
    for text in random_matches(pattern, rng, n=20, flags=(regex.ASCII if ascii else 0) | regex.VERSION0):
        assert c.accepts(text), text


@pytest.mark.parametrize("pattern", [r"a{e<=1}b", r"ab\Kc", r"(?f)ab", r"(?r)ab"])
def test_syntax_the_reader_does_not_model_is_refused(pattern):
    with pytest.raises(UnsupportedSyntax):
        read(pattern)
    c = Regex(pattern)  # still usable: partial matching without an envelope
    assert c.engine == "partial" and c.envelope is None and "does not model" in c.reason


@pytest.mark.parametrize("pattern", [r"(?V1)[\w--\d]", r"(?L)ab"])
def test_clashing_inline_flags_are_a_constraint_error(pattern):
    with pytest.raises(ConstraintError, match="inline flags such as"):
        Regex(pattern)


def test_impossible_tokens_are_exactly_what_the_envelope_refuses():
    vocab = Vocabulary.from_tokens([b"a", b"b", b"ab", b"ba", b"c", b"(", b"aa", "é".encode(), b"\xc3", b"<eos>"], eos_ids=[9])
    c = Regex(r"(a|b)\1")
    state = c.initial()
    refused = c.impossible_tokens(state, vocab)
    assert not refused.flags.writeable
    assert refused.tolist() == [False, False, False, False, True, True, False, True, True, True]
    for i, token in enumerate(vocab.tokens[:9]):
        if refused[i]:
            assert c.advance(state, token) is None  # sound: nothing refused is allowed
    after_a = c.advance(state, b"a")
    assert np.flatnonzero(~c.impossible_tokens(after_a, vocab)[:9]).tolist() == [0, 1]
    assert c.advance(after_a, b"b") is None  # the envelope keeps "ab"; the back-reference refuses it
    assert Regex(r"\d+").impossible_tokens(0, vocab) is None  # DFA patterns are walked, not pruned


TOY = Vocabulary.from_tokens(
    [b"1", b"12", b"-", b"-a", b"ab", b"a", b"b", b"z", "\U0001f600".encode(), "é".encode(), b"\xc3", b"x", b"<eos>"],
    eos_ids=[12],
)


def test_contract_kit_checks_impossible_tokens():
    from awrs.testing import ContractViolation, check_constraint

    c = Regex(r"(\d{2})-[a-z]+\1?|😀é")
    check_constraint(c, valid=["12-ab", "😀é", "00-z00"], invalid=["1-ab", "12-"], vocab=TOY)

    class Unsound(Regex):
        def impossible_tokens(self, state, vocab):
            return np.ones(len(vocab), dtype=bool)

    with pytest.raises(ContractViolation, match="impossible"):
        check_constraint(Unsound(r"(\d{2})-\1"), valid=["12-12"], vocab=TOY)


# --- random patterns against the regex module ------------------------------------------------

_ATOMS = st.sampled_from(["a", "b", "-", r"\.", ".", "[a-c]", "[^a]", r"\d", r"\w", r"[\d.]", "é", r"\x62", "[]a]"])


def _patterns(regular: bool):
    def extend(inner):
        quantified = st.tuples(
            inner.map(lambda p: f"(?:{p})"), st.sampled_from(["*", "+", "?", "{2}", "{1,2}", "{,2}", "*?", "+?"])
        ).map("".join)
        grouped = inner.map(lambda p: f"({p})") | inner.map(lambda p: f"(?:{p})")
        concat = st.lists(inner, min_size=2, max_size=3).map("".join)
        alternation = st.lists(inner, min_size=2, max_size=3).map("|".join).map(lambda p: f"(?:{p})")
        options = quantified | grouped | concat | alternation
        if not regular:
            options = options | st.sampled_from([r"(\w)\1", r"(?=a)\w", r"(?!b).", r"(?>a+)", "a++", r"\b"]).flatmap(
                lambda odd: inner.map(lambda p, odd=odd: p + odd)
            )
        return options

    return st.recursive(_ATOMS, extend, max_leaves=6)


_TEXTS = st.lists(st.sampled_from(list("abc-.1é\n")), max_size=7).map("".join)


@settings(max_examples=300, deadline=None)
@given(pattern=_patterns(regular=True), texts=st.lists(_TEXTS, min_size=5, max_size=5), ascii=st.booleans())
def test_random_regular_patterns_match_like_the_regex_module(pattern, texts, ascii):
    c = Regex(pattern, re.ASCII if ascii else 0)
    assert c.engine == "dfa", c.reason
    flags = (regex.ASCII if ascii else 0) | regex.VERSION0
    compiled = regex.compile(pattern, flags=flags)
    # The regex module's partial matching is wrong with lazy quantifiers (it takes "a" as a
    # prefix of a match of "[^a]*?b", and "xa" of "x*?b"); laziness does not change the strings
    # fullmatch accepts, so the prefix oracle is the same pattern made greedy (the generated
    # patterns have "*?" and "+?" only as lazy quantifiers).
    greedy = regex.compile(pattern.replace("*?", "*").replace("+?", "+"), flags=flags)
    for text in texts:
        assert c.accepts(text) == (compiled.fullmatch(text) is not None), (pattern, text)
        assert c.accepts_prefix(text) == (greedy.fullmatch(text, partial=True) is not None), (pattern, text)


@settings(max_examples=300, deadline=None)
@given(pattern=_patterns(regular=False), texts=st.lists(_TEXTS, min_size=5, max_size=5), ascii=st.booleans())
def test_random_envelopes_keep_every_match(pattern, texts, ascii):
    try:
        compiled = regex.compile(pattern, flags=(regex.ASCII if ascii else 0) | regex.VERSION0)
    except regex.error:  # e.g. a back-reference to a group still open
        assume(False)
    c = Regex(pattern, re.ASCII if ascii else 0)
    for text in texts:
        if compiled.fullmatch(text):
            assert c.accepts(text), (pattern, text)
            if c.envelope is not None:
                assert envelope_accepts(c, text), (pattern, text)


def test_a_pattern_read_exactly_is_one_the_regex_module_compiles():
    """awrs skips the regex module for patterns it reads exactly (and JSON Schema compiles
    for patterns it parses without approximations), so its reader must refuse everything the
    module refuses: 30,000 random strings of regex syntax (fixed seed)."""
    rng = random.Random(0)
    alphabet = [
        *list("ab-.^$|*+?{}()[]\\,0123:=!<>PRdwsDbBxuU"),
        "{2}",
        "{1,3}",
        "{,2}",
        "(?:",
        "(?P<n>",
        "(?i)",
        "(?s:",
        "[^",
        "\\x4",
        "\\x41",
        "\\u00e9",
        "\\0",
        "\\12",
        "\\101",
        "(?#c)",
        "é",
    ]
    exact = parsed = 0
    for _ in range(30_000):
        pattern = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        if parses_exactly(pattern):  # what JSON Schema compiles trust to skip the module
            parsed += 1
            regex.compile(pattern, flags=regex.VERSION0 | regex.ASCII)  # raises on a reader bug
        try:
            reading = read(pattern)
        except (UnsupportedSyntax, RecursionError, IndexError, ValueError):
            continue
        if reading.exact:
            exact += 1
            regex.compile(pattern, flags=regex.VERSION0 | regex.ASCII)  # raises on a reader bug
    assert exact > 3_000 and parsed >= exact


@pytest.mark.parametrize("pattern", [r"{2}a", r"a(?#c)*", r"a{d}", r"a{2}{3}", r"a**", "[z-a]", r"a{3,2}", r"1{0d<d"])
def test_invalid_patterns_are_not_read_as_exact(pattern):
    with pytest.raises(UnsupportedSyntax):
        read(pattern)
