"""SMC's engine against its reference (awrs/smc/reference.py, docs/algorithm.md §4).

Resampling: for random log weights and seeds, the engine and the reference draw the same
ancestors and leave their generators in the same state. The whole loop: on a mock model, for
random configurations (proposal, estimator, particles, threshold, scheme, budget), the engine's
``run_particles`` and the reference's give every particle the same tokens, stop reason and
checks, the same ESS history and resamplings, and log weights equal up to rounding.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import awrs
from awrs.lm.mock import MockLM
from awrs.sampler.proposal import ProposalOptions, make_proposal
from awrs.smc import SMCConfig, effective_sample_size, reference, resample, run_particles
from tests.exact import float32_weight_rel

SCHEMES = ["multinomial", "systematic", "stratified", "residual"]

#: Each sampler step's log weight agrees to about 2**20 * (n + 4) ulps (tests/sampler/
#: test_reference.py); a run adds at most a dozen of them on a six-candidate vocabulary, and
#: the mean of the weights at a resampling adds a few ulps more.
LOG_WEIGHT_TOLERANCE = 1e-7


@st.composite
def log_weights(draw):
    n = draw(st.integers(1, 12))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    lw = r.normal(0.0, draw(st.sampled_from([0.1, 1.0, 10.0])), n)
    if draw(st.booleans()):
        lw = np.round(lw)  # equal weights
    lw[r.random(n) < draw(st.sampled_from([0.0, 0.3]))] = -np.inf
    if not np.isfinite(lw).any():
        lw[0] = 0.0
    return lw


@settings(max_examples=200, deadline=2000)
@given(log_weights(), st.sampled_from(SCHEMES), st.sampled_from([None, 1, 3, 8]), st.integers(0, 2**32 - 1))
def test_resampling_matches_the_reference(lw, scheme, n, seed):
    fast_rng, ref_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    fast = resample(lw, fast_rng, scheme, n)
    ref = reference.resample(lw, ref_rng, scheme, n)
    assert fast.tolist() == ref.tolist()
    assert fast_rng.bit_generator.state == ref_rng.bit_generator.state
    assert effective_sample_size(lw) == pytest.approx(reference.effective_sample_size(lw), rel=1e-12)


def test_the_effective_sample_size_of_no_weight_is_zero():
    assert effective_sample_size(np.array([-np.inf, -np.inf])) == reference.effective_sample_size([-np.inf, -np.inf]) == 0.0


TOKENS = [b"a", b"b", b"ab", b"c", b"ba", b"\n", b"[", b"1", b",", b"]", b"[1"]
CONSTRAINTS = {
    "dfa": awrs.Regex(r"a[ab\n]*c?"),  # "\n" may be text, unless it is made an end id
    # a finished array is final: only EOS may follow (§4.1)
    "json": awrs.JsonSchema({"type": "array", "items": {"type": "integer"}, "maxItems": 2}, whitespace="compact"),
    # a back-reference and a look-ahead: partial matching, whose envelope prunes tokens (§2.3)
    "partial": awrs.Regex(r"(a)(?:\1|b(?!b))*c?"),
    "choice": awrs.Choice(["ab", "aab", "abc", "ba"]),
}


def markov_logits(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, 1.5, size=(len(TOKENS) + 1, len(TOKENS) + 1))


def markov_lm(seed: int) -> MockLM:
    return MockLM(TOKENS, markov_logits(seed))


def float32_tolerance(lm_seed: int, config: SMCConfig) -> float:
    """What the engine's float32 weights (the mock model's rows are float32; docs/sampler.md,
    "Weights in the row's precision") may add to a run's log weights against the reference's
    float64 ones: ``float32_weight_rel`` of the model's rows at the run's temperature, once
    per weighted step (at most ``max_new_tokens`` and a forced end)."""
    rel = max(float32_weight_rel(row / config.temperature) for row in markov_logits(lm_seed))
    return (config.max_new_tokens + 1) * rel


@st.composite
def configs(draw):
    name = draw(st.sampled_from(["awrs", "awrs", "lcd", "greedy", "mask"]))
    options = ProposalOptions(
        estimator=draw(st.sampled_from(["recursive", "two-loop"] + (["none"] if name == "mask" else []))),
        max_rejects=draw(st.sampled_from([None, None, 1, 2])),
        greedy=name != "awrs" and draw(st.booleans()),
    )
    return SMCConfig(
        proposal=make_proposal(name, options),
        n_particles=draw(st.integers(1, 6)),
        ess_threshold=draw(st.sampled_from([0.0, 0.5, 0.9, 1.0])),
        resampling=draw(st.sampled_from(SCHEMES)),
        max_new_tokens=draw(st.integers(0, 6)),
        temperature=draw(st.sampled_from([1.0, 0.5])),
        extra_eos_ids=draw(st.sampled_from([(), (TOKENS.index(b"\n"),)])),
    )


@settings(max_examples=100, deadline=5000)
@given(configs(), st.sampled_from(sorted(CONSTRAINTS)), st.integers(0, 20), st.integers(0, 2**32 - 1))
def test_smc_runs_match_the_reference(config, constraint_name, lm_seed, seed):
    lm, constraint = markov_lm(lm_seed), CONSTRAINTS[constraint_name]
    fast_rng, ref_rng = np.random.default_rng(seed), np.random.default_rng(seed)
    fast = run_particles(lm, [0], constraint, config, fast_rng)
    ref = reference.run_particles(lm, [0], constraint, config, ref_rng)
    assert [(p.tokens, p.stop_reason, p.finished, p.checks) for p in fast.particles] == [
        (p.tokens, p.stop_reason, p.finished, p.checks) for p in ref.particles
    ]
    f32 = float32_tolerance(lm_seed, config)
    for f, r in zip(fast.particles, ref.particles):
        assert_close(f.log_weight, r.log_weight, f32)
    assert_close(fast.log_ml, ref.log_ml, f32)
    assert fast.n_resamples == ref.n_resamples
    assert fast.ess_history == pytest.approx(ref.ess_history, rel=1e-9 + 4 * f32)  # (sum w)^2 / sum w^2
    assert fast.constraint_checks == ref.constraint_checks
    assert fast_rng.bit_generator.state == ref_rng.bit_generator.state


def assert_close(a: float, b: float, more: float = 0.0) -> None:
    if math.isinf(a) or math.isinf(b):
        assert a == b
    else:
        assert a == pytest.approx(b, rel=0, abs=LOG_WEIGHT_TOLERANCE + more)
