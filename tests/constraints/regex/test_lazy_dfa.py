"""The lazily determinised DFA agrees with the DFA built whole: same prefixes, same complete
strings, same next bytes, also when its memo is emptied between steps."""

from __future__ import annotations

import random

import numpy as np
import pytest

from awrs.automata.dfa import build_byte_dfa
from awrs.constraints.regex.automaton import read
from awrs.constraints.regex.lazy_dfa import LazyDFA
from awrs.errors import ConstraintError

PATTERNS = [r"([a-z]+ ?){1,8}", r"(ab|a[0-9]{2})+c?", r"[\u0100-\U0010ffff]{1,3}x", r"(?s).{0,4}é", r"a{3,6}|b*", r"(x|xy|xyz)+z"]
PIECES = [
    b"a",
    b"b",
    b"c",
    b"x",
    b"y",
    b"z",
    b"1",
    b"23",
    b" ",
    b"ab",
    b"\xc3",
    b"\xa9",
    b"\xc3\xa9",
    b"\xf0\x9f",
    b"\x98\x80",
    b"\xff",
]


@pytest.mark.parametrize("max_cached", [1, 3, 20_000])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_lazy_dfa_walks_like_the_whole_one(pattern, max_cached):
    automaton = read(pattern).automaton
    lazy, whole = LazyDFA(*automaton, max_cached=max_cached), build_byte_dfa(*automaton)
    np.testing.assert_array_equal(lazy.allowed_bytes(), (whole.table >= 0).any(axis=0))
    rng = random.Random(0)
    for _ in range(200):
        data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 6)))
        state, s = lazy.initial(), 0
        for i in range(len(data)):
            state = lazy.advance(state, data[i : i + 1])
            s = whole.rows[s][data[i]]
            assert (state is None) == (s < 0), (pattern, data[: i + 1])
            if state is None:
                break
            assert lazy.is_complete(state) == bool(whole.final[s])
            np.testing.assert_array_equal(lazy.next_bytes(state), whole.table[s] >= 0)
    assert lazy.n_cached <= max_cached


def test_an_empty_language_is_refused():
    with pytest.raises(ConstraintError, match="empty"):
        LazyDFA(3, 0, [2], [(0, [(97, 97)], 1)])


def test_states_are_immutable_and_shared():
    lazy = LazyDFA(*read("(ab)+").automaton)
    a = lazy.advance(lazy.initial(), b"a")
    assert isinstance(a, frozenset) and lazy.advance(lazy.initial(), b"a") is a  # one object per state
    assert lazy.advance(a, b"b") is not None and lazy.advance(a, b"a") is None
