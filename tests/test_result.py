"""A Result means what it says: no weights where the method has none, and ``valid`` exactly when
the constraint accepts the text, however generation ended (a text complete when the budget
runs out is valid; one that is not is flagged, never passed off as valid)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs
from awrs.lm.mock import MockLM

TOKENS = [b"a", b"b", b"ab", b"c", b"1", b"12"]


def markov_lm(seed: int) -> MockLM:
    return MockLM(TOKENS, np.random.default_rng(seed).normal(0, 1.5, size=(len(TOKENS) + 1,) * 2))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "awrs", "greedy": True},
        {"method": "mask", "greedy": True},
        {"method": "lcd", "greedy": True},
        {"method": "lcd"},
        {"method": "awrs", "estimator": "none"},
    ],
)
def test_methods_without_weights_report_none_rather_than_a_meaningless_number(kwargs):
    r = awrs.generate(markov_lm(0), "a", awrs.Regex("[ab]+c?"), max_new_tokens=5, seed=0, **kwargs)
    assert r.log_ml is None and r.weight is None
    assert all(p.log_weight is None for p in r.particles)
    assert r.posterior == ({r.text: 1.0} if r.valid else {})


@pytest.mark.parametrize("kwargs", [{"method": "awrs"}, {"method": "mask"}, {"method": "smc", "n_particles": 3}])
def test_weighted_methods_report_weights(kwargs):
    r = awrs.generate(markov_lm(0), "a", awrs.Regex("[ab]+c?"), max_new_tokens=5, seed=0, **kwargs)
    assert isinstance(r.log_ml, float) and 0.0 <= r.weight <= 1.0
    assert all(isinstance(p.log_weight, float) for p in r.particles)


CONSTRAINTS = [
    awrs.Regex("[ab]+c"),  # must end with c: often unfinished at the budget
    awrs.Regex("(ab)*1?"),  # complete at many points
    awrs.Choice(["abc", "ab12", "1"]),
    awrs.Grammar('start: "a" start "b" | "c"'),
]


@pytest.mark.parametrize("method", ["smc", "awrs", "lcd", "mask"])
@pytest.mark.parametrize("constraint", CONSTRAINTS, ids=repr)
def test_valid_means_the_constraint_accepts_the_text(constraint, method):
    """40 runs per case with budgets of 1 to 4 tokens (the budget often runs out first): every
    particle is valid exactly when it finished and the constraint accepts its text; an invalid
    result has no value and the structured helpers raise IncompleteOutputError for it; a
    budget-ended particle is valid exactly when its text was complete."""
    budget_ended = 0
    for seed in range(40):
        lm = markov_lm(seed)
        r = awrs.generate(lm, "a", constraint, method=method, max_new_tokens=1 + seed % 4, seed=seed, n_particles=3)
        for p in r.particles:
            assert p.valid == (p.finished and constraint.accepts(p.text)), p
            if p.stop_reason == "max_new_tokens":
                budget_ended += 1
                assert p.valid == constraint.accepts(p.text), p
        assert not r.valid or constraint.accepts(r.text)
        if not r.valid:
            assert r.value is None
            with pytest.raises(awrs.IncompleteOutputError):
                awrs.structured.value_of(r)
    assert budget_ended > 0


def test_a_text_complete_at_the_budget_is_valid_and_says_why_it_ended():
    lm = MockLM([b"a"], np.array([5.0, -20.0]))  # "a" forever: the budget ends every text
    r = awrs.generate(lm, "a", awrs.Regex("a+"), method="awrs", max_new_tokens=3, seed=0)
    assert r.text == "aaa" and r.valid and r.stop_reason == "max_new_tokens" and r.value == "aaa"
    unfinished = awrs.generate(lm, "a", awrs.Regex("a{5}"), method="awrs", max_new_tokens=3, seed=0)
    assert not unfinished.valid and unfinished.value is None and unfinished.stop_reason == "max_new_tokens"
    assert math.isinf(unfinished.log_ml) and unfinished.weight == 0.0
