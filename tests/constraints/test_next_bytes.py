"""``Constraint.next_bytes``: the bytes that may come next, which a long AWRS walk uses to
prune every token whose first byte is refused (sampler/step.py, ``narrow``)."""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.constraints.base import Constraint
from awrs.lm.mock import MockLM
from awrs.sampler import walk as walk_module
from awrs.sampler.space import CandidateSpace

CONSTRAINTS = {
    "regex": lambda: awrs.Regex(r"(ab|a[0-9]{2})+c?"),
    "json": lambda: awrs.JsonSchema(
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"enum": ["x", "yz"]}},
            "required": ["a"],
            "additionalProperties": False,
        }
    ),
}
TEXTS = {"regex": b"a12ab", "json": b'{"a": 12, "b": "y'}
PIECES = [b'"', b'"a', b'":', b" 1", b"1", b"12", b",", b', "b', b"}", b"ab", b"a1", b"c", b"x", b"yz", b"\xc3\xa9", b"\n", b"  "]


@pytest.mark.parametrize("name", sorted(CONSTRAINTS))
def test_next_bytes_refuses_exactly_the_bytes_advance_refuses_and_every_token_they_start(name):
    c = CONSTRAINTS[name]()
    text = TEXTS[name]
    for cut in range(len(text) + 1):
        state = c.walk(text[:cut])
        assert state is not None
        allowed = c.next_bytes(state)
        assert allowed.shape == (256,) and allowed.dtype == np.bool_
        for b in range(256):
            assert allowed[b] == (c.advance(state, bytes((b,))) is not None)
        for piece in PIECES:
            if not allowed[piece[0]]:
                assert c.advance(state, piece) is None  # sound for whole tokens


def test_constraints_that_check_whole_texts_do_not_say():
    assert awrs.Predicate(lambda t: len(t) != 1).next_bytes(b"") is None
    assert Constraint.next_bytes(awrs.Predicate(str.isdigit), b"") is None


def test_the_checker_refuses_tokens_by_their_first_byte():
    tokens = [b"a", b"ab", b"ba", b"c", b"", b"\xc3\xa9"]
    lm = MockLM(tokens, np.zeros(len(tokens) + 1))
    np.testing.assert_array_equal(lm.vocab.first_byte, [97, 97, 98, 99, -1, 0xC3, ord("<")])  # the end token is b"<eos>"
    space = CandidateSpace(lm.vocab, awrs.Regex("a[bc]*"))
    refused = space.checker(space.constraint.initial()).refused()
    # From the start only "a" may come: "ba", "c", "é" (and the end id's text, pruned anyway) are
    # refused; the empty token and the EOS candidate never are.
    np.testing.assert_array_equal(refused, [False, False, True, True, False, True, True, False])
    assert CandidateSpace(lm.vocab, awrs.Predicate(lambda t: True)).checker(b"").refused() is None


def test_a_long_walk_narrows_and_stops_checking_refused_tokens(monkeypatch):
    """An LM that puts nearly all its mass on tokens the schema refuses at the first byte:
    without narrowing the walk checks about 60 of them per step; with it, NARROW_AFTER."""
    junk = [f"x{i}".encode() for i in range(60)]
    tokens = [*junk, b'{"a":', b"1", b"}", b"7"]
    logits = np.concatenate([np.full(60, 6.0), np.zeros(4), [-2.0]])
    lm = MockLM(tokens, logits)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False}

    def run(after):
        monkeypatch.setattr(walk_module, "NARROW_AFTER", after)
        return [awrs.generate(lm, "", awrs.JsonSchema(schema), method="awrs", max_new_tokens=6, seed=s) for s in range(5)]

    wide, narrow = run(10**9), run(8)
    for r in wide + narrow:
        assert r.valid or r.stop_reason == "max_new_tokens"
        assert r.text.startswith('{"a":')
    per_token = [sum(r.stats.constraint_checks for r in rs) / sum(r.stats.steps for r in rs) for rs in (wide, narrow)]
    assert per_token[0] > 30 and per_token[1] < 12
