"""Generation where the allowed tokens hold a tiny share of the mass: no method gives up."""

from __future__ import annotations

import math

import numpy as np
import pytest

import awrs


@pytest.mark.parametrize("method", ["awrs", "smc", "lcd", "mask"])
@pytest.mark.parametrize("eos_logit", [-45.0, -700.0, -1000.0])
def test_a_tiny_allowed_mass_is_no_dead_end(method, eos_logit):
    """After "b" only EOS is allowed, and it holds ~exp(eos_logit) of the mass: every method
    ends with "b" (AWRS and SMC used to give up once the rejected mass rounded to 1), and the
    weighted methods estimate log P exactly as masking computes it."""
    lm = awrs.MockLM([b"a", b"b"], [0.0, 0.0, eos_logit])
    result = awrs.generate(lm, "a", awrs.Regex("b"), method=method, seed=0)
    assert result.text == "b" and result.valid
    if method in ("awrs", "smc", "mask"):
        want = math.log(0.5) + eos_logit - np.logaddexp(np.log(2.0), eos_logit)
        assert result.log_ml == pytest.approx(want, rel=1e-6)  # the mock's log-softmax is float32


@pytest.mark.model
def test_a_word_the_model_finds_unlikely_at_low_temperature(default_lm):
    """On the default model, Regex("xzx") at temperature 0.1 leaves the allowed tokens far
    below 2**-53 of the mass at some step; AWRS used to end in a dead end there."""
    for method in ("awrs", "smc"):
        result = awrs.generate(
            default_lm, "Say hello.", awrs.Regex("xzx"), method=method, temperature=0.1, max_new_tokens=8, n_particles=2, seed=0
        )
        assert result.valid and result.text == "xzx"
