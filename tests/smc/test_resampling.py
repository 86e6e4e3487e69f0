"""Each resampling scheme gives every particle N * w copies in expectation."""

from __future__ import annotations

import numpy as np
import pytest

from awrs.errors import GenerationError
from awrs.smc.resampling import RESAMPLERS, effective_sample_size, resample

WEIGHTS = np.array([0.5, 0.25, 0.15, 0.07, 0.03])


@pytest.mark.parametrize("scheme", sorted(RESAMPLERS))
def test_expected_counts(scheme):
    """Mean counts over 20,000 draws within 4 standard errors of N * w (N = 8)."""
    rng = np.random.default_rng(0)
    n, runs = 8, 20000
    counts = np.zeros((runs, len(WEIGHTS)))
    for r in range(runs):
        counts[r] = np.bincount(resample(np.log(WEIGHTS), rng, scheme, n=n), minlength=len(WEIGHTS))
    mean, se = counts.mean(axis=0), counts.std(axis=0) / np.sqrt(runs) + 1e-9
    assert np.all(np.abs(mean - n * WEIGHTS) < 4 * se + 1e-3), (scheme, mean, n * WEIGHTS)
    assert np.all(counts.sum(axis=1) == n)


@pytest.mark.parametrize("scheme", ["systematic", "residual", "stratified"])
def test_low_variance_schemes_keep_counts_near_n_w(scheme):
    rng = np.random.default_rng(1)
    for _ in range(500):
        counts = np.bincount(resample(np.log(WEIGHTS), rng, scheme, n=8), minlength=5)
        if scheme == "systematic":  # exactly floor or ceil of N w
            assert np.all((counts >= np.floor(8 * WEIGHTS)) & (counts <= np.ceil(8 * WEIGHTS)))
        if scheme == "residual":
            assert np.all(counts >= np.floor(8 * WEIGHTS))


def test_ess_and_errors():
    assert effective_sample_size(np.log(np.full(4, 0.25))) == pytest.approx(4)
    assert effective_sample_size(np.array([0.0, -np.inf, -np.inf])) == pytest.approx(1)
    assert effective_sample_size(np.array([-np.inf, -np.inf])) == 0.0
    with pytest.raises(GenerationError, match="weight zero"):
        resample(np.array([-np.inf, -np.inf]), np.random.default_rng(0))
    with pytest.raises(GenerationError, match="unknown resampling"):
        resample(np.zeros(2), np.random.default_rng(0), "bogus")
