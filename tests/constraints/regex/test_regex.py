"""awrs.Regex against the oracles re.fullmatch, regex.fullmatch and regex partial matching."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.automata import _kernels as kernels
from awrs.automata.dfa import walk_vocabulary
from awrs.constraints.regex import Regex
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary
from awrs.testing import check_constraint

REGULAR = [
    r"\d{4}-\d{2}-\d{2}",
    r"[a-c]+x|é\d",
    r"(ab|cd)*e?",
    r"[^\"\\]*",
    r"-?\d+(\.\d+)?([eE][+-]?\d+)?",
    r"\w+@\w+\.(com|org)",
    r"(?i)hello( world)?",
    r"[α-ω]{1,3}[😀-😂]?",
    r".{0,5}",
    r"(?s).{2}",
    r"\s*[A-Z][a-z]*\s*",
    r"a{2,}b{,2}",
    r"(?:x|xy|xyz)+?z",
    r"^[a-f0-9]{8}$",
    r"(foo|bar)baz\.",
    r"[\u4e00-\u4e0f]+",
    r"[\u0400-\u07ff]",
    r"",
    r"[[:alpha:]]+z",
    r"\p{Lu}\p{Ll}+",
    r"(?i)[^\W\d]+",
]
NON_REGULAR = [
    r"(x)\1[α-γé]",
    r"(a|b)\1",
    r"(?=a)\w+",
    r"(\w)(?!\1)\w",
    r"(?>a+)b",
    r"\bcat\b",
    r"(a)?(?(1)b|c)",
    r"x++y",
    r"\p{Lu}(?=\p{Ll})\w+",
]

ALPHABET = st.sampled_from([*list('abcdexyz019.-+eE@ \t\n"\\é😀αβωHhWlo'), "世", "😁", "Z", "f", "丅"])
texts = st.lists(ALPHABET, max_size=12).map("".join)


def _flags(pattern):
    """awrs's default semantics: the regex module's version 0, Unicode classes."""
    return regex.VERSION0


def oracle_full(pattern, text):
    return regex.fullmatch(pattern, text, flags=_flags(pattern)) is not None


def oracle_prefix(pattern, text):
    return regex.fullmatch(pattern, text, partial=True, flags=_flags(pattern)) is not None


@pytest.fixture(scope="module", params=REGULAR)
def regular(request):
    return Regex(request.param)


def test_regular_patterns_use_the_dfa(regular):
    assert regular.engine == "dfa", regular.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_dfa_agrees_with_re_and_partial_matching(regular, text):
    p = regular.pattern
    assert regular.accepts(text) == oracle_full(p, text)
    if "\\p" not in p and "[:" not in p:  # re has no properties or POSIX classes
        assert regular.accepts(text) == (re.fullmatch(p, text) is not None)
    assert regular.accepts_prefix(text) == oracle_prefix(p, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_prefix_of_a_match_is_accepted(regular, data):
    if "\\p" in regular.pattern or "[:" in regular.pattern:
        pytest.skip("hypothesis draws matches with re, which has no properties or POSIX classes")
    text = data.draw(
        st.from_regex(
            regular.pattern, fullmatch=True, alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"])
        )
    )
    if not oracle_full(regular.pattern, text):  # hypothesis's \w is re's, a little wider in places
        return
    raw = text.encode()
    assert regular.accepts(raw)
    for i in range(len(raw) + 1):
        assert regular.accepts_prefix(raw[:i]), (text, i)


@pytest.mark.parametrize("pattern", NON_REGULAR)
def test_non_regular_patterns_use_partial_matching(pattern):
    c = Regex(pattern)
    assert c.engine == "partial" and c.reason.startswith(("uses", "may use"))


def test_posix_classes_keep_the_regex_module_meaning():
    c = Regex("[[:alpha:]]+")
    assert c.accepts("abc") and not c.accepts("a]")


@pytest.mark.parametrize("pattern", NON_REGULAR)
@settings(max_examples=150, deadline=None)
@given(text=texts)
def test_partial_engine_agrees_with_the_regex_module(pattern, text):
    c = Regex(pattern)
    full = c.accepts(text)
    assert full == oracle_full(pattern, text)
    assert c.accepts_prefix(text) == oracle_prefix(pattern, text)
    allowed = c.allowed_bytes()
    if full and allowed is not None:  # pruning by alphabet must never remove a valid string
        assert all(allowed[b] for b in text.encode())


def test_a_token_ending_inside_a_character_is_checked_exactly():
    c = Regex("[α-γ]+")  # α..γ are CE B1..CE B3 in UTF-8
    for engine in ("dfa", "partial"):
        c = Regex("[α-γ]+", engine=engine)
        assert c.accepts_prefix(b"\xce")
        assert c.accepts(b"\xce\xb1") and not c.accepts_prefix(b"\xce\xb4")
        assert not c.accepts_prefix(b"\xcf")  # no character of the class starts with CF


def test_contract_kit_passes_on_both_engines():
    for engine in ("dfa", "partial"):
        c = Regex(r"\d{2}-[a-z]+|😀é", engine=engine)
        check_constraint(c, valid=["12-ab", "😀é", "00-z"], invalid=["1-ab", "12-", "😀"])


@pytest.mark.parametrize(
    "pattern, fragment",
    [
        ("a(b", "missing )"),
        ("a[", "unterminated character set"),
        ("a{3,2}", "min repeat greater than max repeat"),
        ("*a", "nothing to repeat"),
    ],
)
def test_invalid_patterns_name_the_problem_and_position(pattern, fragment):
    with pytest.raises(ConstraintError, match=re.escape(fragment)) as info:
        Regex(pattern)
    assert "position" in str(info.value)


def test_empty_language_is_refused():
    with pytest.raises(ConstraintError, match="empty"):
        Regex(r"[^\s\S]")
    with pytest.raises(ConstraintError, match="empty"):
        Regex(r"a[^\w\W]+")
    with pytest.raises(ConstraintError, match="cannot be compiled to a DFA"):
        Regex(r"(a)\1", engine="dfa")


def test_numba_and_python_kernels_agree_on_a_toy_vocabulary():
    vocab = Vocabulary.from_tokens([b"1", b"12", b"-", b"2024-", "é".encode(), b"\xce", b"", b"<eos>"], eos_ids=[7])
    c = Regex(r"\d{4}-\d{2}")
    buf, off = vocab.flat
    for state in range(c.dfa.n_states):
        np.testing.assert_array_equal(
            kernels.walk_all(c.dfa.table, state, buf, off), kernels.walk_all_python(c.dfa.table, state, buf, off)
        )
    mask = c.mask(c.initial(), vocab)
    assert mask.tolist() == [True, True, False, True, False, False, False, False]


def test_kernel_wrappers_refuse_wrong_arrays():
    with pytest.raises(TypeError):
        kernels.walk_all(np.zeros((2, 256), dtype=np.int64), 0, np.zeros(1, np.uint8), np.zeros(2, np.int64))


@pytest.mark.model
def test_numba_and_python_masks_agree_on_the_smollm2_vocabulary(smol_tokenizer):
    from awrs.lm.token_bytes import vocabulary_from_tokenizer

    vocab = vocabulary_from_tokenizer(smol_tokenizer)
    buf, off = vocab.flat
    for pattern in (r"\d{4}-\d{2}-\d{2}", r"[^\"]{0,20}\"", r"[a-zA-Z ]+é?"):
        c = Regex(pattern)
        states = {0}
        for text in ("19", "1999-1", " ", "ab"):
            s = c.walk(text)
            if s is not None:
                states.add(s)
        for s in states:
            fast = walk_vocabulary(c.dfa, s, vocab)
            slow = kernels.walk_all_python(c.dfa.table, s, buf, off)
            np.testing.assert_array_equal(fast, slow)
            token_ids = np.flatnonzero(c.mask(s, vocab))
            assert all(c.advance(s, vocab.tokens[t]) is not None for t in token_ids[:200])


def test_end_anchors_inside_lookarounds_do_not_refuse_viable_prefixes():
    """The regex module's partial matching treats the end of a partial text as the end of the
    string inside look-arounds; awrs relaxes those anchors for prefix checks."""
    c = Regex(r"^(?!(False|in|is)$)[a-zA-Z_]\w*$")
    assert c.accepts_prefix("in") and not c.accepts("in") and c.accepts("int")
    from awrs.constraints.regex.partial import relax_end_anchors

    assert relax_end_anchors(r"(?!a$)b(?=c$)[$]$") == r"(?!a(?!))b(?=c)[$]$"


@pytest.mark.parametrize("pattern", [r"(?=\p{Sc})\p{Sc}\d", r"(\w)\1", r"(?!\d)[\u0800-\U0001ffff]+"])
def test_a_token_ending_inside_a_character_is_checked_against_the_characters_it_can_become(pattern):
    """The partial engine tries the characters the bytes can still become that its envelope
    accepts: the answer is the brute-force one (some completion of the character is a viable
    prefix for the regex module)."""
    c = Regex(pattern)
    assert c.engine == "partial" and c.envelope is not None
    compiled = regex.compile(pattern, flags=regex.VERSION0)
    for head in ("", "a", "€"):
        for ch in ("€", "中", "😀", "ω", "\U00020000", "\u0800", "\uffff"):
            raw = ch.encode()
            for cut in range(1 if len(raw) < 4 else 2, len(raw)):  # a lone 4-byte lead: 262,144 to try
                tail = raw[:cut]
                possible = any(
                    compiled.fullmatch(head + ch, partial=True) is not None for ch in _characters_starting(tail, len(raw))
                )
                assert c.accepts_prefix(head.encode() + tail) == possible, (pattern, head, tail)


def _characters_starting(tail: bytes, width: int):
    """Every character of ``width`` UTF-8 bytes whose encoding starts with ``tail``."""
    for rest in itertools.product(range(0x80, 0xC0), repeat=width - len(tail)):
        try:
            yield (tail + bytes(rest)).decode()
        except UnicodeDecodeError:  # overlong or a surrogate
            continue
