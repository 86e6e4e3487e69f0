"""SMC against the exact target on real models: the target is computed from the backend's own
next-token distributions, by enumerating every token sequence the constraint allows.

For ``Choice(["yes", "no", "maybe"])`` after a question, every tokenisation of the three
answers (a few dozen paths) is scored with the model, so the global target ``g`` over texts
and the valid mass ``Z`` are exact (up to float32 log-probabilities). SMC's posterior draws must
match ``g`` and the mean of its weights must match ``Z``, within stated sampling tolerances.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs
from tests.conftest import llama_model, require_llama_cpp
from tests.exact import empirical, total_variation

pytestmark = pytest.mark.model

CONSTRAINT = awrs.Choice(["yes", "no", "maybe"])
PROMPT = [{"role": "user", "content": "Is it going to rain tomorrow? Answer yes, no or maybe."}]
BUDGET = 4
RUNS = 150
PARTICLES = 8


def exact_target(lm, prompt_ids):
    """({text: g(text)}, Z): g ∝ p(tokens) p(EOS | tokens) over the token sequences of at most
    BUDGET tokens that the constraint completes (as tests/exact.py does on a mock LM), with EOS
    the sum over every end id, and every text token that keeps the constraint alive tried."""
    vocab = lm.vocab
    ends = vocab.eos_array
    text_ids = np.flatnonzero(vocab.text_mask)
    masses: dict[bytes, float] = {}

    def rec(tokens, state, logp):
        lp = lm.start([prompt_ids + tokens]).logprobs()[0].astype(np.float64)
        if CONSTRAINT.is_complete(state):
            text = vocab.decode(tokens)
            masses[text] = masses.get(text, 0.0) + math.exp(logp + np.logaddexp.reduce(lp[ends]))
        if len(tokens) == BUDGET or CONSTRAINT.is_final(state):
            return
        for tok in text_ids:
            nxt = CONSTRAINT.advance(state, vocab.tokens[tok])
            if nxt is not None:
                rec([*tokens, int(tok)], nxt, logp + lp[tok])

    rec([], CONSTRAINT.initial(), 0.0)
    total = sum(masses.values())
    return {k.decode(): v / total for k, v in masses.items()}, total


@pytest.fixture(scope="module", params=["llama_cpp", pytest.param("transformers", marks=pytest.mark.slow)])
def model(request):
    if request.param == "llama_cpp":
        require_llama_cpp()
        return llama_model()
    return request.getfixturevalue("default_lm")


def test_smc_matches_the_exact_target_of_the_backends_own_distribution(model):
    """RUNS runs of SMC with PARTICLES particles, one posterior draw each. Over three outcomes the
    sampling noise of the TV estimate at 150 runs is about 0.04, so TV < 0.12 leaves room while
    LCD's bias on this prompt would be caught if it exceeded it; the mean of exp(log_ml) must be
    within 4 standard errors of Z."""
    g, total = exact_target(model, model.encode_prompt(PROMPT))
    assert len(g) == 3 and 0 < total <= 1
    draws, weights = [], []
    for seed in range(RUNS):
        r = awrs.generate(model, PROMPT, CONSTRAINT, method="smc", n_particles=PARTICLES, max_new_tokens=BUDGET, seed=seed)
        draws.append(r.text)
        weights.append(math.exp(r.log_ml))
    tv = total_variation(empirical(draws), g)
    assert tv < 0.12, (tv, g, empirical(draws))
    w = np.array(weights)
    assert abs(w.mean() - total) < 4 * w.std() / math.sqrt(len(w)) + 1e-12, (w.mean(), total)
