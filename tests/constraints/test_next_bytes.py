"""``Constraint.next_bytes``: the bytes that may come next, which a long AWRS walk uses to
prune every token whose first byte is refused (sampler/step.py, ``narrow``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import awrs
from awrs.constraints.base import Constraint
from awrs.lm.mock import MockLM
from awrs.sampler import walk as walk_module
from awrs.sampler.space import CandidateSpace, TokenChecker

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


class Counted(Constraint):
    """``inner``'s language, counting the texts ``advance`` is asked about."""

    def __init__(self, inner: Constraint, bytewise: bool):
        self.inner, self.bytewise, self.asked = inner, bytewise, []

    def initial(self):
        return self.inner.initial()

    def advance(self, state, data):
        self.asked.append(data)
        return self.inner.advance(state, data)

    def is_complete(self, state):
        return self.inner.is_complete(state)


BYTEWISE = {
    "json": lambda: CONSTRAINTS["json"](),
    "grammar": lambda: awrs.Grammar('start: "(" NUM ")" | "{" NUM "}"\nNUM: /[0-9]+/'),
    "sql": lambda: awrs.SQL({"singer": ["name", "age"]}),
}
BYTEWISE_TEXTS = {"json": TEXTS["json"], "grammar": b"(12", "sql": b"SELECT name FROM singer WHERE age > 3"}


@pytest.mark.parametrize("name", sorted(BYTEWISE))
def test_a_bytewise_constraints_checker_answers_as_advance_asking_less(name):
    """JSON Schema and the grammars read bytes one at a time: their checkers learn which first
    bytes a state refuses (one byte alone, once per state and byte) and refuse the tokens
    that start with one without asking; every answer is still advance's, in any order."""
    assert BYTEWISE[name]().bytewise and not awrs.Predicate(str.isdigit).bytewise
    rng = np.random.default_rng(0)
    alphabet = list(b' "(){},:;0123456789abcdexyzAEFGLMNORSTWnmg')
    tokens = sorted({bytes(rng.choice(alphabet, size=int(rng.integers(1, 5))).tolist()) for _ in range(400)})
    lm = MockLM(tokens, np.zeros(len(tokens) + 1))
    text = BYTEWISE_TEXTS[name]
    for cut in range(0, len(text) + 1, 3):
        counted = Counted(BYTEWISE[name](), bytewise=True)
        state = counted.walk(text[:cut])
        space = CandidateSpace(lm.vocab, counted)
        checker = space.checker(state)
        counted.asked.clear()
        order = rng.permutation(len(tokens))
        got = [checker(int(i)) for i in order]
        assert got == [counted.inner.advance(state, tokens[i]) is not None for i in order]
        # A token is asked about once, and its first byte alone at most once per byte, except
        # the tokens whose first byte is refused: asked about until one is, and then never.
        firsts = {t[0] for t in tokens}
        refused = {b for b in firsts if counted.inner.advance(state, bytes((b,))) is None}
        assert len(counted.asked) <= sum(t[0] not in refused for t in tokens) + len(firsts) + len(refused)
        assert not refused or len(counted.asked) < len(tokens)
        for i in order:
            if checker(int(i)):
                assert counted.inner.advance(state, tokens[i]) == checker.next_state(int(i))


@pytest.mark.parametrize("name", sorted(BYTEWISE))
def test_walks_refuse_known_first_bytes_without_asking_and_take_the_same_steps(name, monkeypatch):
    """A walk refuses a candidate whose first byte its state refuses alone without a call
    (TokenChecker.refusals): the same tokens, weights and counted checks as walks that ask
    about every candidate, with fewer calls of the checker."""
    rng = np.random.default_rng(1)
    alphabet = list(b' "(){},:;0123456789abcdexyzAEFGLMNORSTWnmg')
    tokens = sorted({bytes(rng.choice(alphabet, size=int(rng.integers(1, 4))).tolist()) for _ in range(300)})
    lm = MockLM(tokens, np.concatenate([rng.normal(0, 1, len(tokens)), [-3.0]]))

    def run():
        calls = []
        original = TokenChecker.__call__
        monkeypatch.setattr(TokenChecker, "__call__", lambda self, i: calls.append(i) or original(self, i))
        out = []
        for method in ("awrs", "smc"):
            for seed in range(4):
                r = awrs.generate(lm, "", BYTEWISE[name](), method=method, n_particles=6, max_new_tokens=8, seed=seed)
                out.append([(p.token_ids, p.log_weight) for p in r.particles] + [r.stats.constraint_checks])
        monkeypatch.undo()
        return out, len(calls)

    fast, fast_calls = run()
    monkeypatch.setattr(TokenChecker, "refusals", lambda self: None)
    every, every_calls = run()
    assert fast == every
    assert fast_calls < 0.8 * every_calls


def test_a_constraint_that_is_not_bytewise_is_asked_about_every_token():
    """A predicate may take "ab" and refuse "a": nothing is learnt from first bytes."""
    tokens = [b"a", b"ab", b"ac", b"b"]
    lm = MockLM(tokens, np.zeros(len(tokens) + 1))
    for bytewise in (False, True):
        c = Counted(awrs.Predicate(lambda t: t != "a" and not t.startswith("ac")), bytewise)
        checker = CandidateSpace(lm.vocab, c).checker(c.initial())
        got = [checker(i) for i in (2, 1, 0, 3)]  # "ac" refused first: "a" is tried alone, and refused
        assert got == [False, not bytewise, False, True]


PROBED = [
    (
        {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}, "a": {"type": "integer"}}}},
        '[ {"n": "x\\"y", "a": -12}, {} ]  ',
    ),
    ({"anyOf": [{"type": "number", "minimum": 3}, {"enum": ["a", None, True]}]}, "  4.5e1 "),
    ({"type": "string", "pattern": "^[a-c]+$", "maxLength": 4}, '"abca"'),
    ({}, '{"k": [1, {"z": null}], "q": "\\u00e9"}'),
    ({}, "[" * 128 + "]" * 128),  # the deepest document MAX_DEPTH allows: one more "[" is refused
]


@pytest.mark.parametrize(
    "case, whitespace",
    # the deepest document has no whitespace to take out: compact only (5 s)
    [(k, w) for k in range(len(PROBED)) for w in ("flexible", "compact") if len(PROBED[k][1]) < 200 or w == "compact"],
)
def test_json_schemas_next_bytes_is_the_256_one_byte_advances(case, whitespace):
    """JsonSchema.next_bytes writes out what advance does with one byte; it gives what the 256
    advances give at every prefix of valid documents (every phase: before, inside and after
    the value, inside strings and escapes, at the depth limit)."""
    from awrs.constraints.base import probe_next_bytes

    schema, text = PROBED[case]
    if whitespace == "compact":
        text = json.dumps(json.loads(text), separators=(",", ":"))
    c = awrs.JsonSchema(schema, whitespace=whitespace, max_whitespace=2)
    data = text.encode()
    # Every prefix; of the deepest document (a byte there costs ~1 ms per level), two at the limit.
    cuts = range(len(data) + 1) if len(data) < 200 else [128, 129]
    for i in cuts:
        state = c.walk(data[:i])
        assert state is not None
        np.testing.assert_array_equal(c._probe(state), probe_next_bytes(c, state), err_msg=f"after {data[:i]!r}")
