"""Stop strings end the text where they first appear, across token boundaries, and the
weights stay exact: checked against an enumeration of every token sequence of a mock LM that
applies the stop rule to the raw bytes, independently of awrs.constraints.stop."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints.stop import StopAt, Stopped, first_stop, held_back
from awrs.lm.mock import MockLM
from awrs.testing import check_constraint


def stop_start(data: bytes, stops) -> int | None:
    """Where the output ends, by definition: of the stop strings in ``data``, the first to end
    (each string's first occurrence ends first), and of those ending there the first to start."""
    hits = [(data.find(s) + len(s), data.find(s)) for s in stops if s in data]
    if not hits:
        return None
    end = min(e for e, _ in hits)
    return min(start for e, start in hits if e == end)


def _valid(inner, output: bytes, boundaries: list[int]) -> bool:
    """``inner`` accepts the output, and no text follows a token boundary where it was final."""
    if not inner.accepts(output):
        return False
    for p in boundaries:
        state = inner.walk(output[:p]) if p < len(output) else None
        if state is not None and inner.is_final(state):
            return False
    return True


def stop_masses(lm, prompt, inner, stops, budget) -> dict[bytes, float]:
    """P(the model's output is ``y`` and valid), for every ``y``: over every token sequence of at
    most ``budget`` tokens that ends with EOS (forced at the budget, with p(EOS), as generation
    does), or with the token at which a stop string first appears (output: the bytes before
    it; no EOS factor)."""
    eos = lm.eos_id
    out: dict[bytes, float] = defaultdict(float)

    def rec(tokens, data, logp, boundaries):
        logits = np.asarray(lm.next_logits(tuple(prompt + tokens)), dtype=np.float64)
        lp = logits - np.logaddexp.reduce(logits)
        if _valid(inner, data, boundaries):
            out[data] += math.exp(logp + lp[eos])
        if len(tokens) == budget:
            return
        for tok, piece in enumerate(lm.vocab.tokens):
            if tok == eos:
                continue
            new = data + piece
            start = stop_start(new, stops)
            if start is not None:
                if _valid(inner, new[:start], [*boundaries, len(data)]):
                    out[new[:start]] += math.exp(logp + lp[tok])
                continue
            rec([*tokens, tok], new, logp + lp[tok], [*boundaries, len(data)])

    rec([], b"", 0.0, [])
    return dict(out)


# Tokens: the stop "ab." can arrive whole, split in two or three, or inside "b.x"; "\n" too.
TOKENS = [b"a", b"b", b".", b"c", b"ab", b"b.x", b"\n", b"c\nc"]
STOPS = ["ab.", "\n"]
INNER = awrs.Regex("[ac]*")  # "b" and "." are text nowhere: only inside a stop string
BUDGET = 4


def markov_lm(seed: int) -> MockLM:
    return MockLM(TOKENS, np.random.default_rng(seed).normal(0, 1.2, size=(len(TOKENS) + 1,) * 2))


def hello_lm() -> MockLM:
    """Tokens "hello", " wor", "ld", ".", " wo"; " wor" is usually followed by "ld", "ld" by
    "."; EOS is very unlikely."""
    table = np.zeros((6, 6))
    table[:, 5] = -30.0
    table[1, 2] = table[2, 3] = 3.0
    return MockLM([b"hello", b" wor", b"ld", b".", b" wo"], table)


def test_a_multi_token_stop_string_ends_the_text():
    lm = hello_lm()
    for seed in range(10):
        r = awrs.generate(lm, "hello", None, method="lcd", stop=["world."], max_new_tokens=60, seed=seed)
        assert r.stop_reason == "stop" and "world." not in r.text and r.valid
        assert lm.vocab.decode(r.particles[0].token_ids).decode() == r.text + "world."


@pytest.mark.parametrize("method", ["awrs", "mask"])
def test_weights_are_unbiased_for_each_output(method):
    """2,000 runs: for every output y of mass at least 1e-3 (the others pooled in one bin,
    about 0.2% of the mass) the mean of weight x [output == y] is the exact mass of y within 4
    standard errors, and so is the mean weight, the total valid mass. Every output drawn is a
    possible one."""
    lm = markov_lm(5)
    exact = stop_masses(lm, [0], INNER, [s.encode() for s in STOPS], BUDGET)
    assert len(exact) > 20 and exact[b"c"] > 0.05  # the construction is not trivial
    runs = [awrs.generate(lm, "a", INNER, method=method, stop=STOPS, max_new_tokens=BUDGET, seed=s) for s in range(2000)]
    weights = np.array([r.weight for r in runs])
    outputs = [r.text.encode() if r.valid else None for r in runs]
    assert all(y in exact for y in outputs if y is not None)
    common = [y for y, mass in exact.items() if mass >= 1e-3]
    bins = [({y}, exact[y]) for y in common] + [(set(exact) - set(common), sum(m for y, m in exact.items() if y not in common))]
    bins.append((set(exact), sum(exact.values())))
    for ys, mass in bins:
        w = weights * np.array([y in ys for y in outputs])
        assert abs(w.mean() - mass) < 4 * w.std() / math.sqrt(len(w)), (sorted(ys)[:3], w.mean(), mass)


def test_smc_follows_the_exact_distribution_of_outputs():
    """400 SMC runs with 32 particles against the exact outputs' distribution: the chi-square
    test must not reject at the 0.1% level (rare outputs pooled)."""
    from tests.exact import chi_square_against

    lm = markov_lm(5)
    exact = stop_masses(lm, [0], INNER, [s.encode() for s in STOPS], BUDGET)
    total = sum(exact.values())
    target = {y: m / total for y, m in exact.items()}
    draws = [
        awrs.generate(lm, "a", INNER, n_particles=32, stop=STOPS, max_new_tokens=BUDGET, seed=s).text.encode() for s in range(400)
    ]
    assert chi_square_against(draws, target) > 1e-3


# The grammar of tests/smc/test_final.py: final after ";" (only ignored whitespace may follow).
FINAL_TOKENS = [b"s", b"a", b";", b" ", b"\n", b" ;", b";\n"]
GRAMMAR = 'start: "a"+ ";"?\n%ignore /[ \\n]+/\n'


def test_after_a_final_state_only_end_of_sequence_or_a_stop_string_may_follow():
    """With stop "\\n": after "a;" (final) the text ends with EOS or a token starting the stop
    ("\\n"), never with more whitespace; the weights stay unbiased (2,000 AWRS runs)."""
    lm = MockLM(FINAL_TOKENS, np.random.default_rng(2).normal(0, 1, size=(8, 8)))
    c = awrs.Grammar(GRAMMAR)
    exact = stop_masses(lm, [0], c, [b"\n"], 5)
    runs = [awrs.generate(lm, "s", c, method="awrs", stop=["\n"], max_new_tokens=5, seed=s) for s in range(2000)]
    for r in runs:
        p = r.particles[0]
        if ";" in p.text:
            assert p.text.endswith(";") and p.valid
    w = np.array([r.weight for r in runs])
    total = sum(exact.values())
    assert abs(w.mean() - total) < 4 * w.std() / math.sqrt(len(w)), (w.mean(), total)


def test_mask_agrees_with_advance_and_the_fast_paths_are_sound():
    """From every state reached by up to 3 tokens: the wrapper's mask is exactly the tokens
    advance accepts; tokens it calls impossible are refused; bytes next_bytes refuses start
    no accepted token. The contract kit passes on texts that end at a stop string."""
    lm = markov_lm(0)
    vocab = lm.vocab
    c = StopAt(INNER, [s.encode() for s in STOPS])
    never = c.never_tokens(vocab)
    assert never is not None and never.any()  # "c" and "b.x" hold bytes "[ac]*" never produces first
    frontier = [c.initial()]
    for _ in range(3):
        grown = []
        for state in frontier:
            accepted = np.array(
                [i not in vocab.special_ids and c.advance(state, t) is not None for i, t in enumerate(vocab.tokens)]
            )
            assert c.mask(state, vocab).tolist() == accepted.tolist(), state
            assert not (never & accepted).any(), state
            impossible = c.impossible_tokens(state, vocab)
            if impossible is not None:
                assert not (impossible & accepted).any(), state
            allowed = c.next_bytes(state)
            if allowed is not None:
                assert all(allowed[t[0]] for i, t in enumerate(vocab.tokens) if accepted[i]), state
            grown += [c.advance(state, vocab.tokens[i]) for i in np.flatnonzero(accepted)]
        frontier = [s for s in grown if type(s) is not Stopped]
    check_constraint(c, valid=["ca", "ab.", "cab.", "cc\n", "c\n"], invalid=["b", "cb.", "aab"], vocab=vocab)
    assert c.accepts("cab.junk") and c.accepts("c\nb")  # what follows a stop string is not text


STOP_ALPHABET = st.binary(min_size=1, max_size=3).map(lambda b: bytes(x % 3 + 97 for x in b))  # over "abc"


@settings(max_examples=300, deadline=2000)
@given(
    stops=st.lists(STOP_ALPHABET, min_size=1, max_size=3),
    data=st.binary(max_size=12).map(lambda b: bytes(x % 4 + 97 for x in b)),
    cuts=st.lists(st.integers(0, 12), max_size=4),
)
def test_the_wrapper_stops_where_the_definition_says(stops, data, cuts):
    """Any bytes, cut into tokens anywhere: the wrapper stops where ``stop_start`` says and
    cuts off exactly the rest; ``first_stop`` agrees; ``held_back`` is the longest suffix that
    is a proper prefix of a stop string."""
    c = StopAt(awrs.Unconstrained(), stops)
    state, consumed = c.initial(), 0
    for end in [*sorted({min(k, len(data)) for k in cuts}), len(data)]:
        if end <= consumed:
            continue
        state = c.advance(state, data[consumed:end])
        consumed = end
        if type(state) is Stopped:
            break
    expected = stop_start(data, stops)
    assert first_stop(data, stops) == expected
    if expected is None:
        assert type(state) is not Stopped
        suffixes = [n for n in range(len(data) + 1) if any(len(s) > n and data.endswith(s[:n]) for s in stops)]
        assert held_back(data, stops) == max(suffixes)
    else:
        assert type(state) is Stopped and consumed - state.cut == expected


def test_a_stream_holds_back_what_could_be_a_stop_string():
    lm = hello_lm()
    for seed in range(20):
        s = awrs.stream(lm, "hello", None, method="lcd", stop=["world."], max_new_tokens=30, seed=seed)
        pieces = list(s)
        assert "".join(pieces) == s.result.text and "world." not in "".join(pieces)
