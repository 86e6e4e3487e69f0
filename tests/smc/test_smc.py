"""SMC against the exact global distribution on a toy LM with a dead end LCD walks into."""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs
from awrs.lm.mock import MockLM
from tests.exact import empirical, global_distribution, lcd_distribution, total_variation

# Tokens: "s" (only in prompts), "a", "b", "x"; EOS is id 4.
TOKENS = [b"s", b"a", b"b", b"x"]


def trap_lm() -> MockLM:
    """After the prompt, "a" is 9x likelier than "b"; but after "a" the model almost never says
    "x", while after "b" it usually does. The constraint wants "ax" or "bx", so locally
    constrained decoding takes "a" 90% of the time although "bx" holds ~91% of the global mass."""
    p = np.full((5, 5), 1e-9)
    p[0] = [1e-9, 0.9, 0.1, 1e-9, 1e-9]  # after "s"
    p[1] = [1e-9, 0.49, 0.49, 0.01, 0.01]  # after "a": x is rare
    p[2] = [1e-9, 0.05, 0.04, 0.9, 0.01]  # after "b": x is likely
    p[3] = [1e-9, 0.1, 0.1, 0.1, 0.7]  # after "x": mostly EOS
    p[4] = [0.2] * 5
    return MockLM(TOKENS, np.log(p / p.sum(axis=1, keepdims=True)))


CONSTRAINT = awrs.Choice(["ax", "bx"])
BUDGET = 3


@pytest.fixture(scope="module")
def exact():
    lm = trap_lm()
    g, total = global_distribution(lm, [0], CONSTRAINT, BUDGET)
    return g, total, lcd_distribution(lm, [0], CONSTRAINT, BUDGET)


def smc_draws(n_particles: int, runs: int, seed0: int = 0) -> list[bytes]:
    lm = trap_lm()
    out = []
    for seed in range(seed0, seed0 + runs):
        r = awrs.generate(lm, "s", CONSTRAINT, method="smc", n_particles=n_particles, max_new_tokens=BUDGET, seed=seed)
        out.append(r.text.encode())
    return out


def test_lcd_is_measurably_biased(exact):
    g, _, lcd = exact
    assert g[b"bx"] > 0.85 and lcd[b"ax"] > 0.85  # the construction works as described
    assert total_variation(lcd, g) > 0.7


def test_smc_posterior_approaches_the_global_target_as_n_grows(exact):
    """400 runs per N; one posterior draw per run. Sampling noise of the TV estimate over two
    outcomes is about 0.02 (binomial sd at 400 runs), so the bounds below leave room."""
    g, _, lcd = exact
    tv = {n: total_variation(empirical(smc_draws(n, 400)), g) for n in (1, 4, 16, 64)}
    assert tv[1] > 0.6  # one particle is LCD
    assert tv[4] < tv[1] and tv[16] < tv[4] and tv[64] <= tv[16] + 0.03
    assert tv[64] < 0.06
    assert total_variation(empirical(smc_draws(1, 400)), lcd) < 0.06


def test_log_ml_is_an_unbiased_estimate_of_the_valid_mass(exact):
    """The mean of exp(log_ml) over 2,000 runs matches P(valid) within 3 standard errors."""
    _, total, _ = exact
    lm = trap_lm()
    for n in (1, 8):
        w = np.array(
            [
                awrs.generate(lm, "s", CONSTRAINT, method="smc", n_particles=n, max_new_tokens=BUDGET, seed=s).weight
                for s in range(2000)
            ]
        )
        assert abs(w.mean() - total) < 3 * w.std() / math.sqrt(len(w)) + 1e-12, (n, w.mean(), total)


def test_resampling_happens_and_is_reported():
    lm = trap_lm()
    r = awrs.generate(lm, "s", CONSTRAINT, method="smc", n_particles=32, max_new_tokens=BUDGET, seed=1)
    assert r.stats.n_resamples >= 1 and r.stats.ess_history
    assert set(r.posterior) <= {"ax", "bx"} and abs(sum(r.posterior.values()) - 1) < 1e-9
    assert all(p.valid for p in r.particles if math.isfinite(p.log_weight))


def test_batched_prompts_share_forward_passes():
    lm = trap_lm()
    lm.forward_calls = 0
    results = awrs.generate_batch(lm, ["s", "s"], CONSTRAINT, method="smc", n_particles=4, max_new_tokens=BUDGET, seed=0)
    assert isinstance(results, list) and len(results) == 2
    assert all(r.valid for r in results)
    assert lm.forward_calls <= BUDGET + 1  # one prefill, then one forward per step for both


def test_critic_reweights_finished_particles():
    lm = trap_lm()
    veto_bx = lambda text: -math.inf if text == "bx" else 0.0
    r = awrs.generate(lm, "s", CONSTRAINT, method="smc", n_particles=16, max_new_tokens=BUDGET, seed=0, critic=veto_bx)
    assert r.posterior == {"ax": pytest.approx(1.0)}
    twisted = awrs.generate(
        lm, "s", CONSTRAINT, method="smc", n_particles=16, max_new_tokens=BUDGET, seed=0, critic=veto_bx, twist=True
    )
    assert twisted.text == "ax"


def test_budget_forces_eos_with_the_eos_weight():
    """At the budget a complete particle ends with weight p(EOS) * 1; an incomplete one dies."""
    lm = trap_lm()
    r = awrs.generate(lm, "s", awrs.Choice(["a", "ab"]), method="awrs", max_new_tokens=1, seed=3)
    if r.text == "a":
        assert r.stop_reason in ("eos", "max_new_tokens") and r.valid
    dead = awrs.generate(lm, "s", awrs.Choice(["abx"]), method="awrs", max_new_tokens=1, seed=0)
    assert not dead.valid and dead.stop_reason == "max_new_tokens" and dead.weight == 0.0
