"""End-to-end generation on the mock LM against exact enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs
from awrs.errors import GenerationError, PromptTooLongError
from awrs.lm.mock import MockLM
from awrs.sampler import space
from awrs.smc import SMCConfig
from tests.exact import chi_square_against, global_distribution, lcd_distribution

TOKENS = [b"a", b"b", b"ab", b"c", b"\n"]


def markov_lm(seed=0, max_length=None):
    rng = np.random.default_rng(seed)
    return MockLM(TOKENS, rng.normal(0, 1.5, size=(6, 6)), max_length=max_length)


CONSTRAINT = awrs.Regex(r"a[ab]*c?")  # "a" then a's and b's, optionally ending in c
#: A back-reference and a look-ahead (no "bb"): partial matching, with an envelope
#: (a(?:a|b)*c?) that prunes tokens at every step; the pruning must stay exact.
NON_REGULAR = awrs.Regex(r"(a)(?:\1|b(?!b))*c?")


@pytest.fixture(params=["auto", "compact"])
def layout(request, monkeypatch):
    """The candidate layout: as CandidateSpace decides (full, for these vocabularies), or
    compact for every constraint (the unpruned tokens and EOS only)."""
    if request.param == "compact":
        monkeypatch.setattr(space, "COMPACT_SHARE", 1.0)
    return request.param


@pytest.mark.parametrize("constraint", [CONSTRAINT, NON_REGULAR], ids=["dfa", "partial"])
@pytest.mark.parametrize("method, compact", [("awrs", False), ("awrs", True), ("lcd", False), ("lcd", True), ("mask", False)])
def test_single_sequence_methods_sample_the_lcd_distribution(method, compact, constraint, monkeypatch):
    """2,000 runs per method against the exact LCD distribution: chi-square at level 1e-3
    (outcomes expected fewer than 5 times pooled). ``compact``: every space takes the compact
    layout (masking always takes the full one)."""
    assert constraint is CONSTRAINT or constraint.envelope is not None
    if compact:
        monkeypatch.setattr(space, "COMPACT_SHARE", 1.0)
    lm = markov_lm()
    exact = lcd_distribution(lm, [0], constraint, max_new_tokens=4)
    texts = []
    for seed in range(2000):
        r = awrs.generate(lm, "a", constraint, method=method, max_new_tokens=4, seed=seed)
        assert r.valid and constraint.accepts(r.text)
        texts.append(r.text.encode())
    assert chi_square_against(texts, exact) > 1e-3


@pytest.mark.parametrize("constraint", [CONSTRAINT, NON_REGULAR], ids=["dfa", "partial"])
def test_awrs_weights_estimate_the_valid_mass(constraint, layout):
    """E[exp(log_ml)] over runs of the single-sequence weighted method is the probability that
    the LM produces a valid string (within 3 standard errors)."""
    lm = markov_lm(1)
    _, total = global_distribution(lm, [0], constraint, max_new_tokens=4)
    for method in ("awrs", "mask"):
        w = np.array([awrs.generate(lm, "a", constraint, method=method, max_new_tokens=4, seed=s).weight for s in range(3000)])
        assert abs(w.mean() - total) < 3 * w.std() / math.sqrt(len(w)) + 1e-12, (method, w.mean(), total)


def test_budget_without_completion_is_flagged_not_returned_as_valid():
    lm = markov_lm()
    c = awrs.Regex(r"(ab){5}")
    r = awrs.generate(lm, "a", c, method="lcd", max_new_tokens=3, seed=0)
    assert not r.valid and r.stop_reason == "max_new_tokens" and r.value is None


@pytest.mark.parametrize("method, greedy", [("lcd", False), ("awrs", True), ("awrs", False), ("mask", False)])
def test_the_forced_budget_step_runs_the_model_only_for_a_weight(method, greedy):
    """At the forced last step only a weighted particle whose text is complete needs the model
    (for p(EOS)); otherwise a run that reaches the budget makes one forward pass fewer."""
    lm = MockLM(TOKENS, np.array([5.0, 0.0, 0.0, 0.0, 0.0, -9.0]))  # "a" likely, EOS unlikely
    weighted = method != "lcd" and not greedy
    for c, complete in ((awrs.Regex("a*"), True), (awrs.Regex("a{9}"), False)):
        lm.forward_rows = 0
        r = awrs.generate(lm, "a", c, method=method, greedy=greedy, max_new_tokens=3, seed=0)
        assert r.text == "aaa" and r.valid == complete and r.stop_reason == "max_new_tokens"
        assert lm.forward_rows == 1 + 2 + (weighted and complete), (c, lm.forward_rows)
        if weighted and complete:  # each step's weight is p("a") + p(EOS), the last one p(EOS)
            logits = np.array([5.0, -9.0])
            p_a, p_eos = np.exp(logits - np.log(np.exp(np.array([5.0, 0, 0, 0, 0, -9.0])).sum()))
            assert r.particles[0].log_weight == pytest.approx(3 * np.log(p_a + p_eos) + np.log(p_eos))


def test_stop_strings_end_generation():
    """A stop string ends the text (tests/smc/test_stop.py checks stop strings in depth); a
    stop token id ends it like EOS."""
    lm = MockLM(TOKENS, np.array([0.0, 0.0, 0.0, 0.0, 5.0, -5.0]))
    r = awrs.generate(lm, "a", None, method="lcd", stop=["\n"], max_new_tokens=20, seed=0)
    assert "\n" not in r.text and r.stop_reason == "stop" and r.particles[0].token_ids[-1] == 4
    r = awrs.generate(lm, "a", None, method="lcd", stop=[4], max_new_tokens=20, seed=0)
    assert "\n" not in r.text and r.stop_reason == "eos" and 4 not in r.particles[0].token_ids


def test_finished_particles_leave_the_batch():
    lm = MockLM(TOKENS, np.array([0.0, 0.0, 0.0, 0.0, 0.0, 3.0]))  # EOS likely
    c = awrs.Regex(r"[ab]*")
    lm.forward_rows = 0
    r = awrs.generate(lm, "a", c, method="smc", n_particles=8, ess_threshold=0.0, max_new_tokens=10, seed=0)
    lengths = [len(p.token_ids) for p in r.particles]
    # one prefill row per particle, then one row per particle per token it still needed
    assert lm.forward_rows == 8 + sum(lengths)


def test_bad_arguments_are_clear_errors():
    lm = markov_lm(max_length=10)
    with pytest.raises(GenerationError, match="method"):
        awrs.generate(lm, "a", CONSTRAINT, method="beam")
    with pytest.raises(PromptTooLongError):
        awrs.generate(lm, "a", CONSTRAINT, max_new_tokens=20)
    with pytest.raises(GenerationError, match="temperature"):
        awrs.generate(lm, "a", CONSTRAINT, temperature=0)
    with pytest.raises(awrs.ArgumentTypeError, match="constraint"):  # a TypeError, and an AwrsError
        awrs.generate(lm, "a", "a[ab]*")
    with pytest.raises(GenerationError, match="proposal must be a Proposal"):  # a name is chosen before
        SMCConfig(proposal="awrs")


def test_greedy_takes_the_most_likely_allowed_token():
    logits = np.array([0.0, 2.0, 1.0, 3.0, 4.0, -1.0])  # "\n" most likely, then "c", "b"
    lm = MockLM(TOKENS, logits)
    r = awrs.generate(lm, "a", awrs.Regex(r"[ab]{3}"), method="awrs", greedy=True, max_new_tokens=5)
    assert r.text == "bbb"
    m = awrs.generate(lm, "a", awrs.Regex(r"[ab]{3}"), method="mask", greedy=True, max_new_tokens=5)
    assert m.text == "bbb"


def test_seeds_make_runs_reproducible():
    lm = markov_lm()
    a = awrs.generate(lm, "a", CONSTRAINT, method="smc", n_particles=4, seed=7, max_new_tokens=4)
    b = awrs.generate(lm, "a", CONSTRAINT, method="smc", n_particles=4, seed=7, max_new_tokens=4)
    assert a.text == b.text and a.posterior == b.posterior and a.log_ml == b.log_ml
