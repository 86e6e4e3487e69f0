"""Byte DFAs built over code points (awrs.automata.char_dfa): minimal, live, the language
of the character automaton, within their state budget."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from awrs.automata import minimise
from awrs.automata.char_dfa import utf8_trie
from awrs.automata.dfa import DFATooLarge, build_byte_dfa
from awrs.constraints.regex.automaton import read
from awrs.errors import ConstraintError

#: Wide classes over every UTF-8 length, overlapping ranges, and loops through them.
PATTERNS = [
    r"[\u0100-\U0010ffff]+",
    r"[a-z\u00e0-\u00ff]{2,4}",
    r"[^a]",
    r".{1,5}",
    r"(?s).*x",
    r"[\u0800-\uffff]|[α-ω]+",
    r"(ab|a[\u0400-\u07ff]{2})+c?",
    r"[\U00010000-\U0001ffff][\u0080-\u07ff]*",
    r"x[^\u0800-\uffff]y|x[^\u0000-\u00ff]z",
    r"(?:[\u4e00-\u9fff]|[\u3040-\u309f]){1,3}",
    r"[\ud7ff\ue000]+",
    r"\x00*[\x7f-\x80]",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_byte_dfas_are_minimal_live_and_first_state_initial(pattern):
    built = build_byte_dfa(*read(pattern).automaton)
    table, final = minimise.minimise(*minimise.keep_live(built.table.astype(np.int64), built.final))
    assert np.array_equal(built.table, table) and np.array_equal(built.final, final)
    assert built.rows == built.table.tolist()


@pytest.mark.parametrize("pattern", PATTERNS)
def test_byte_dfas_accept_exactly_the_utf8_of_the_language(pattern):
    import regex

    built = build_byte_dfa(*read(pattern).automaton)
    compiled = regex.compile(pattern, flags=regex.VERSION0 | regex.ASCII)
    rng = random.Random(0)
    alphabet = [
        "a",
        "b",
        "c",
        "x",
        "y",
        "z",
        "é",
        "ÿ",
        "α",
        "ω",
        "Ѐ",
        "߿",
        "ࠀ",
        "中",
        "\uffff",
        "\ue000",
        "\ud7ff",
        "𐀀",
        "😀",
        "\U0010ffff",
        "\x00",
        "\x7f",
        "\x80",
        "\n",
        "ぁ",
    ]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))
        state = 0
        for b in text.encode():
            state = built.rows[state][b] if state >= 0 else -1
        assert (state >= 0 and bool(built.final[state])) == (compiled.fullmatch(text) is not None), (pattern, text)


def test_utf8_tries_share_equal_subtrees_and_keep_levels_disjoint():
    trie = utf8_trie(((0x80, 0x10FFFF),))
    stack = [trie]
    while stack:
        node = stack.pop()
        for (_, hi, _), nxt in itertools.pairwise(node):
            assert hi < nxt[0]
        stack.extend(child for _, _, child in node if child is not None)
    three_byte = [child for lo, hi, child in trie if 0xE1 <= lo <= 0xEC]
    assert three_byte and all(child is three_byte[0] for child in three_byte)


def test_the_state_budget_and_the_empty_language():
    with pytest.raises(DFATooLarge):
        build_byte_dfa(*read(".{1,50}").automaton, max_states=20)
    with pytest.raises(ConstraintError, match="empty"):
        build_byte_dfa(3, 0, [2], [(0, [(97, 97)], 1)])
