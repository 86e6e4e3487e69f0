"""The lexer automaton (tagged_dfa.build_tagged_dfa): its states against each terminal's own regular
expression, and the memo of expanded automata that lexers share."""

from __future__ import annotations

import random

import numpy as np
import pytest
import regex

from awrs.automata import minimise, tagged_dfa
from awrs.automata.dfa import build_byte_dfa
from awrs.automata.nfa import ByteNFA
from awrs.automata.tagged_dfa import build_tagged_dfa
from awrs.constraints.regex import Regex as awrs_regex
from awrs.constraints.regex import char_automaton
from awrs.constraints.sql import _words_nfa
from awrs.errors import ConstraintError

PATTERNS = [
    "select",
    "[A-Za-z_][A-Za-z0-9_]*",
    "[0-9]+(\\.[0-9]+)?",
    "'[^']*'",
    "é+[a-z]",
    "[^\\x00-\\x7f]{2}",
    "<=|>=|<>|=",
    "\\s+",
]
WORDS = ["Name", "naMe_2", "tablé", "ab", "abc", 'say "hi"']


def _walk(lexer, data: bytes) -> int:
    state = 0
    for b in data:
        state = lexer.rows[state][b]
        if state < 0:
            return state
    return state


def _expected(patterns, words, text: str) -> tuple[int, int]:
    """(accept, live) bitmasks from each terminal's own definition."""
    accept = live = 0
    for k, p in enumerate(patterns):
        if regex.fullmatch(p, text):
            accept |= 1 << k
        if regex.fullmatch(p, text, partial=True):
            live |= 1 << k
    k = len(patterns)
    folded = text.encode().lower()  # bytes.lower() folds ASCII only, as the trie does
    if any(w.encode().lower() == folded for w in words):
        accept |= 1 << k
    if any(w.encode().lower().startswith(folded) for w in words):
        live |= 1 << k
    return accept, live


def _texts(rng: random.Random, n: int) -> list[str]:
    alphabet = [*list("selctSELECTnamNAM_0129.'é<>= abhi\""), "é", "É", "中", "\n"]
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(n)] + [
        "select",
        "SELECT",
        "12.5",
        "'a b'",
        "éé",
        "éz",
        "NAME",
        "TABLÉ",
        "tablé",
        'say "HI"',
    ]


@pytest.mark.parametrize("byte_dfa", [False, True])
def test_lexer_states_match_each_terminal(byte_dfa):
    """Every prefix of 2,000 random texts (and some chosen ones): the lexer state's accept and
    live bitmasks are those of the terminals' own regular expressions (partial matching for
    live) and of the words' trie; a walk falls off exactly when no terminal stays live. Char
    automata, byte DFAs and byte NFAs mixed in one lexer."""
    automata = [char_automaton(p) for p in PATTERNS]
    if byte_dfa:
        automata = [build_byte_dfa(*a) if k % 2 else a for k, a in enumerate(automata)]
    lexer = build_tagged_dfa([*automata, _words_nfa(WORDS)])
    rng = random.Random(7)
    for text in _texts(rng, 2000):
        data = text.encode()
        for end in range(1, len(data) + 1):
            prefix = data[:end]
            try:
                piece = prefix.decode()
            except UnicodeDecodeError:
                continue  # inside a character: only whole characters are compared
            accept, live = _expected(PATTERNS, WORDS, piece)
            state = _walk(lexer, prefix)
            if not live:
                assert state < 0, (text, piece)
                break
            assert state >= 0, (text, piece)
            assert (lexer.accept[state], lexer.live[state]) == (accept, live), (text, piece)


def test_lexers_share_expanded_automata():
    """The same automaton object is expanded once, whichever lexer it goes into; an automaton
    that only looks the same (another object) is expanded on its own and gives the same
    language."""
    a = char_automaton("[a-z]+")
    first = build_tagged_dfa([a, char_automaton("[0-9]+")])
    second = build_tagged_dfa([char_automaton("x"), a])
    assert first._fragments[0] is second._fragments[1]
    copy = tuple(list(x) if isinstance(x, list) else x for x in a)
    third = build_tagged_dfa([copy])
    assert third._fragments[0] is not first._fragments[0]
    for lexer, k in ((first, 0), (second, 1), (third, 0)):
        for text, ok in ((b"abc", True), (b"ab1", False), (b"Z", False)):
            state = _walk(lexer, text)
            assert (state >= 0 and bool(lexer.accept[state] >> k & 1)) == ok, (k, text)


def test_memo_survives_a_reused_id(monkeypatch):
    """The memo is keyed by id() but checks identity: an automaton freed and another one made
    at the same address is not given the first one's expansion."""
    monkeypatch.setattr(tagged_dfa, "_FRAGMENTS", {})
    a = char_automaton("[a-z]+")
    stale = ByteNFA([[(48, 57, 1)], []], 0, frozenset([1]))
    tagged_dfa._FRAGMENTS[id(a)] = (object(), stale)  # another object once had this id
    lexer = build_tagged_dfa([a])
    assert lexer._fragments[0] is not stale
    assert lexer.rows[0][ord("q")] >= 0 and lexer.rows[0][ord("5")] < 0


def test_a_terminal_matching_the_empty_string_is_refused():
    with pytest.raises(ConstraintError, match="terminal #1 matches the empty string"):
        build_tagged_dfa([char_automaton("a"), char_automaton("b*")])


def test_dead_ends_of_an_automaton_are_not_states():
    """A byte NFA node from which nothing is accepted (computed liveness) ends the walk, and a
    state's live mask counts only automata that can still accept."""
    nfa = ByteNFA([[(97, 97, 1), (98, 98, 2)], [], [(99, 99, 2)]], 0, frozenset([1]))
    lexer = build_tagged_dfa([nfa, char_automaton("bc+")])
    assert nfa.live == [True, True, False]
    b = lexer.rows[0][ord("b")]
    assert b >= 0 and lexer.live[b] == 0b10 and lexer.accept[b] == 0
    assert lexer.accept[lexer.rows[0][ord("a")]] == 0b01
    only_nfa = build_tagged_dfa([nfa])
    assert only_nfa.rows[0][ord("b")] < 0 and only_nfa.live[0] == 0b01


def test_byte_dfas_are_minimal_and_live():
    """Byte DFAs are built minimal and live (over code points, then expanded): for every
    pattern of the AWRS pattern set the DFA engine takes, and some with dead ends and empty
    languages, NumPy minimisation leaves the table and accepting states as they are."""
    from tests.constraints.regex.test_pattern_set import load_patterns

    patterns = [p for p in load_patterns() if awrs_regex(p).engine == "dfa"]
    patterns += ["a(?!b)", "(ab|ac)*d", "x{0,3}y?", "[0-9]{2,5}(\\.[0-9]+)?", "(?i:select|from)", "[^a]*a[^a]*"]
    dead_ends = [  # (n, initial, finals, transitions): state 2 (and 3) can reach no final state
        (3, 0, [1], [(0, [(97, 97)], 1), (0, [(98, 98)], 2), (2, [(99, 99)], 2)]),
        (4, 0, [1], [(0, [(97, 98)], 1), (1, [(97, 97)], 2), (2, [(97, 97)], 3), (1, [(98, 98)], 1), (0, [(99, 99)], 3)]),
    ]
    small = 0
    for p in patterns + dead_ends:
        automaton = p if isinstance(p, tuple) else char_automaton(p) if _regular(p) else None
        if automaton is None:
            continue
        built = build_byte_dfa(*automaton)
        reference = minimise.minimise(*minimise.keep_live(built.table.astype(np.int64), built.final))
        small += built.n_states <= 64
        assert np.array_equal(built.table, reference[0]) and np.array_equal(built.final, reference[1]), p
    assert small >= 56  # the pattern set's 56 DFAs all have at most 50 states
    assert build_byte_dfa(*dead_ends[0]).n_states == 2
    with pytest.raises(ConstraintError, match="language is empty"):
        build_byte_dfa(3, 0, [], [(0, [(97, 97)], 1)])


def _regular(p: str) -> bool:
    try:
        char_automaton(p)
        return True
    except ConstraintError:
        return False
