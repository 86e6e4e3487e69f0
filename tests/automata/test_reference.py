"""The DFA step against its reference (awrs/automata/reference.py, docs/algorithm.md §5).

For regular patterns and random texts (matches, their prefixes, mutations, stray bytes and
broken UTF-8), every prefix gets the same verdict from the character automaton's subset
simulation, the eager byte DFA (``Regex(...).dfa``) and the lazy DFA: viable or not, complete
or not. States too: the lazy DFA's state is the reference's set of nodes at every character
boundary, and the eager DFA, being minimal, maps each reference state to one DFA state. Over
random vocabularies, the Numba kernel and the constraint's mask agree with walking each token.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.automata import reference
from awrs.automata.dfa import walk_vocabulary
from awrs.constraints.dfa import DFAConstraint
from awrs.constraints.regex import char_automaton
from awrs.constraints.regex.lazy_dfa import LazyDFA
from awrs.lm.vocab import Vocabulary

PATTERNS = [
    r"[a-c]+x?",
    r"(ab|cd)*e",
    r"\d{2,4}-\w+",  # Unicode digits and word characters
    r"é|ü+|日本",
    r"a.{0,3}b",  # any character but a newline, of every UTF-8 length
    r"[\u0080-\u07ff]{1,3}z",
    r"(?i)straße",
    r"[^\x00-\uffff]+",  # four-byte characters only
    r"[\ud7f0-\ue010]+",  # a class around the surrogates
    r"ab|ac[^\s\S]d",  # an empty class: a node no text can leave ("ac" is refused)
    r"(a|b[^\w\W])+c",
]
#: Bytes that exercise UTF-8: ASCII, continuation bytes, every kind of lead byte (E0, ED, F0
#: and F4 restrict their first continuation byte), and bytes that never occur in UTF-8.
ODD_BYTES = b"abcxz-0 \n\x80\x8f\x90\x9f\xa0\xbf\xc2\xc3\xdf\xe0\xe6\xed\xee\xf0\xf4\xf5\xff"


def engines(pattern: str):
    eager = awrs.Regex(pattern).dfa
    assert eager is not None
    automaton = char_automaton(pattern, 0)
    return reference.CharacterAutomaton(*automaton), eager, LazyDFA(*automaton)


ENGINES = {p: engines(p) for p in PATTERNS}


@st.composite
def texts(draw, pattern: str):
    """A match of the pattern, a prefix of it, a mutation of it, or stray bytes."""
    match = draw(st.from_regex(pattern, fullmatch=True)).encode("utf-8")
    kind = draw(st.sampled_from(["match", "insert", "replace", "stray"]))
    if kind == "stray":
        return (
            draw(st.binary(max_size=8)) if draw(st.booleans()) else bytes(draw(st.lists(st.sampled_from(ODD_BYTES), max_size=8)))
        )
    if kind == "match" or not match:
        return match
    i = draw(st.integers(0, len(match) - 1))
    byte = bytes([draw(st.sampled_from(ODD_BYTES))])
    return match[:i] + byte + match[i + (kind == "replace") :]


@settings(max_examples=40, deadline=2000)
@given(st.data())
def test_every_prefix_gets_the_same_verdict_and_states(data):
    pattern = data.draw(st.sampled_from(PATTERNS))
    ref, eager, lazy = ENGINES[pattern]
    dfa = DFAConstraint(eager)
    to_eager: dict[reference.State, int] = {}
    for _ in range(4):
        text = data.draw(texts(pattern))
        r, e, z = ref.start(), dfa.initial(), lazy.initial()
        for i, b in enumerate(text):
            r, e, z = ref.step(r, b), dfa.advance(e, bytes([b])), lazy.advance(z, bytes([b]))
            assert (r is None) == (e is None) == (z is None), (pattern, text[: i + 1])
            if r is None:
                assert reference.walk(eager, 0, text[: i + 1]) == reference.REFUSED
                break
            assert ref.is_complete(r) == dfa.is_complete(e) == lazy.is_complete(z)
            assert to_eager.setdefault(r, e) == e  # one DFA state per reference state
            assert reference.walk(eager, 0, text[: i + 1]) == e
            if not r.pending:
                assert z == r.nodes


@settings(max_examples=40, deadline=2000)
@given(st.data())
def test_vocabulary_walks_match_the_reference(data):
    """The Numba kernel (``walk_vocabulary``), the mask, ``next_bytes`` and ``allowed_bytes``
    against walking the table one byte at a time, from states reached by random texts."""
    pattern = data.draw(st.sampled_from(PATTERNS))
    _, eager, _ = ENGINES[pattern]
    dfa = DFAConstraint(eager)
    pieces = [data.draw(texts(pattern)) for _ in range(6)]
    tokens = {p[i:j] for p in pieces for i in range(len(p)) for j in range(i + 1, min(len(p), i + 4) + 1)}
    vocab = Vocabulary.from_tokens([*sorted(tokens), b"<eos>"], eos_ids=[len(tokens)])
    assert np.asarray(reference.allowed_bytes(eager)).tolist() == dfa.allowed_bytes().tolist()
    for piece in pieces:
        state = reference.walk(eager, 0, piece[: data.draw(st.integers(0, len(piece)))])
        if state == reference.REFUSED:
            continue
        expected = reference.walk_vocabulary(eager, state, vocab.tokens)
        assert walk_vocabulary(eager, state, vocab).tolist() == expected
        text = vocab.text_mask.tolist()
        assert dfa.mask(state, vocab).tolist() == [s != reference.REFUSED and text[t] for t, s in enumerate(expected)]
        assert dfa.next_bytes(state).tolist() == reference.next_bytes(eager, state)


def test_the_reference_reads_surrogates_as_no_text():
    """A transition on D000-E000: only D000-D7FF and E000 have UTF-8 forms (after the lead
    byte ED only 80-9F may follow); one on surrogates alone leads nowhere."""
    around = reference.CharacterAutomaton(2, 0, [1], [(0, [(0xD000, 0xE000)], 1)])
    start = around.start()
    assert around.advance(start, b"\xed") is not None
    assert around.advance(start, b"\xed\x9f") is not None
    assert around.advance(start, b"\xed\xa0") is None  # a surrogate's encoding
    assert around.is_complete(around.advance(start, "\ud7ff".encode()))
    assert around.is_complete(around.advance(start, "\ue000".encode()))
    only = reference.CharacterAutomaton(3, 0, [1], [(0, [(0xD800, 0xDFFF)], 2), (2, [(0x61, 0x61)], 1)])
    assert only.live == [False, True, True]  # 2 reaches 1, but nothing reaches 2
    assert only.advance(only.start(), b"\xed") is None
