"""A population's log weights: normalised weights and their log mean, against exact arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from awrs.smc.weights import log_mean_exp, normalized_weights


@pytest.mark.parametrize(
    "log_w",
    [[0.0], [0.0, math.log(3.0)], [-1.5, -np.inf, 2.0, 0.25], [1000.0, 999.0, 998.0], [-1000.0, -1001.0]],
)
def test_normalised_weights_and_the_log_mean_are_those_of_the_weights(log_w):
    """exp(1000) overflows float64: the weights are scaled by the largest before they are
    exponentiated, so the answers still hold (to float64 rounding, 1e-12 relative)."""
    top = max(log_w)
    shifted = [Fraction(math.exp(x - top)) if x > -math.inf else Fraction(0) for x in log_w]
    total = sum(shifted)
    w = normalized_weights(np.array(log_w))
    assert w is not None and w.dtype == np.float64 and math.fsum(w) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(w, [float(s / total) for s in shifted], rtol=1e-12)
    assert log_mean_exp(log_w) == pytest.approx(top + math.log(float(total / len(log_w))), rel=1e-12)


@pytest.mark.parametrize("log_w", [[], [-np.inf], [-np.inf, -np.inf], [0.0, np.nan], [np.inf, 0.0]])
def test_without_a_positive_finite_weight_there_is_nothing_to_normalise(log_w):
    assert normalized_weights(np.array(log_w, dtype=np.float64)) is None
    assert log_mean_exp(log_w) == -math.inf
