"""Generation ends at a final state (``Constraint.is_final``): a complete text that only ignored
whitespace could follow takes EOS, with EOS's probability as its weight, instead of padding."""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs
from awrs.lm.mock import MockLM
from tests.exact import chi_square_against, global_distribution

# Tokens: "s" (prompt), "a", ";", " ", "\n", " ;"; EOS is id 6.
TOKENS = [b"s", b"a", b";", b" ", b"\n", b" ;"]
EOS = len(TOKENS)
GRAMMAR = 'start: "a"+ ";"?\n%ignore /[ \\n]+/\n'


def padding_lm() -> MockLM:
    """After ";" the model would rather write whitespace than end: locally constrained
    decoding without final states pads a finished statement up to the token limit."""
    p = np.full((7, 7), 1e-3)
    p[0] = [1e-3, 0.7, 0.05, 0.1, 0.05, 0.05, 0.05]  # after "s"
    p[1] = [1e-3, 0.25, 0.35, 0.1, 0.05, 0.1, 0.15]  # after "a"
    p[2] = [1e-3, 0.05, 0.02, 0.5, 0.35, 0.02, 0.06]  # after ";": whitespace, rarely EOS
    p[3] = [1e-3, 0.1, 0.1, 0.5, 0.1, 0.1, 0.1]  # after " "
    p[4] = [1e-3, 0.1, 0.1, 0.3, 0.3, 0.1, 0.1]  # after "\n"
    p[5] = [1e-3, 0.05, 0.02, 0.5, 0.35, 0.02, 0.06]  # after " ;"
    p[6] = [1 / 7] * 7
    return MockLM(TOKENS, np.log(p / p.sum(axis=1, keepdims=True)))


BUDGET = 5


@pytest.mark.parametrize(
    "method, greedy", [(m, g) for m in ("awrs", "lcd", "mask", "smc") for g in (False, True) if not (g and m == "smc")]
)
def test_a_finished_statement_takes_eos_not_padding(method, greedy):
    lm = padding_lm()
    c = awrs.Grammar(GRAMMAR)
    ended = 0
    for seed in range(40):
        r = awrs.generate(lm, "s", c, method=method, max_new_tokens=BUDGET, seed=seed, greedy=greedy, n_particles=4)
        for p in r.particles:
            if ";" in p.text:  # the text is final at its ";": nothing may follow
                assert p.text.endswith(";") and p.finished and p.valid, (seed, p)
                ended += 1
        if greedy:
            break
    assert ended > 0  # the construction reaches ";"


def test_the_final_state_is_the_only_candidate_then():
    """From a final state the sampler's one check is EOS, and its weight is log p(EOS)."""
    from awrs.sampler.proposal import make_proposal
    from awrs.sampler.space import CandidateSpace

    lm = padding_lm()
    c = awrs.Grammar(GRAMMAR)
    space = CandidateSpace(lm.vocab, c)
    state = c.walk("aa;")
    assert c.is_final(state) and c.accepts("aa; \n")  # trailing whitespace: in the language, never generated
    logprobs = np.log(np.array([1e-3, 0.05, 0.02, 0.5, 0.35, 0.02, 0.06]) / 1.001)
    for method in ("awrs", "lcd", "mask"):
        step = make_proposal(method).propose_row(logprobs, space.checker(state), np.random.default_rng(0))
        assert step.token == space.eos_index
        if method != "lcd":
            assert step.log_weight == pytest.approx(logprobs[EOS])
    assert space.checker(state).mask().tolist() == [False] * len(lm.vocab) + [True]


def test_weights_are_unbiased_for_the_generated_language():
    """The mean of exp(log_ml) over 3,000 AWRS runs matches the exact mass of the language
    generation produces (no whitespace after a final ";") within 3 standard errors, and is
    measurably below the mass with padding allowed — so the weights do count final states."""
    lm = padding_lm()
    c = awrs.Grammar(GRAMMAR)
    _, total = global_distribution(lm, [0], c, BUDGET)
    w = np.array([awrs.generate(lm, "s", c, method="awrs", max_new_tokens=BUDGET, seed=s).weight for s in range(3000)])
    se = w.std() / math.sqrt(len(w))
    assert abs(w.mean() - total) < 3 * se, (w.mean(), total, se)


def test_smc_follows_the_global_distribution_of_the_generated_language():
    """600 SMC runs with 64 particles, one draw each, against the exact enumeration (456
    outcomes, rare ones pooled): the chi-square test must not reject at the 0.1% level. One
    particle (locally constrained decoding) must be rejected, so the test can tell."""
    lm = padding_lm()
    c = awrs.Grammar(GRAMMAR)
    exact, _ = global_distribution(lm, [0], c, BUDGET)
    assert all(t.endswith(b";") for t in exact if b";" in t)  # nothing after a final ";"

    def draws(n):
        return [
            awrs.generate(lm, "s", c, method="smc", n_particles=n, max_new_tokens=BUDGET, seed=s).text.encode()
            for s in range(600)
        ]

    assert chi_square_against(draws(64), exact) > 1e-3
    assert chi_square_against([t for t in draws(1) if t in exact], exact) < 1e-6  # its valid draws
