"""The sampler's engine against its reference (awrs/sampler/reference.py, docs/algorithm.md §2-3).

For random log-probabilities, allowed sets, prunings and seeds, the engine's step and the
reference's step, each given a generator seeded alike, must return the same token and check
count, log weights equal up to rounding, and leave their generators in the same state (the
same number of uniforms taken). Restarts (§3.4) and narrowing (§3.5) are made frequent by
setting their thresholds low in both.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awrs.sampler import _kernels, awrs_step, greedy_step, mask_step, reference
from awrs.sampler import order as order_module
from awrs.sampler import step as step_module
from awrs.sampler import walk as walk_module
from tests.exact import float32_weight_rel

#: Hypothesis budget per test: each example is a few steps on at most a few hundred candidates
#: (milliseconds), so every test here stays within a few seconds.
EXAMPLES = 150
DEADLINE_MS = 2000


def log_weight_tolerance(lp: np.ndarray) -> float:
    """How far the two log weights may differ on the candidates ``lp``. The engine's
    exponentials are within 2 ulps of ``math.exp`` and it sums the weights in another order
    (blocks, with reassociation), so totals agree to about ``n`` ulps; the unvisited mass
    ``left`` is a difference that can cancel down to ``RESTART_SHARE`` = 2**-20 of the total
    before a restart, which magnifies the relative error by up to 2**20. In log space the
    relative error is the absolute one. float32 candidates are weighed in float32 by the
    engine, in float64 here: each weight within (|lp - top| + 1) * 2**-23 of the other
    (docs/sampler.md, "Weights in the row's precision"), on top."""
    float64 = 2.0**20 * (len(lp) + 4) * 2.0**-52
    return float64 + (float32_weight_rel(lp) if lp.dtype == np.float32 else 0.0)


@st.composite
def walks(draw, max_size: int = 40):
    """(logprobs, allowed, prune, seed): the values from a seeded NumPy generator, the shape of
    the problem (size, spread, shares allowed and pruned, holes at -inf) from Hypothesis."""
    n = draw(st.integers(1, max_size))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    spread = draw(st.sampled_from([0.5, 3.0, 30.0, 400.0]))  # 400 nats: weights underflow (§3.4)
    lp = r.normal(0.0, spread, n) - draw(st.sampled_from([0.0, 5.0]))  # unnormalised either way
    if draw(st.booleans()):
        lp = np.round(lp)  # ties: greedy steps take the lower position first
    lp[r.random(n) < draw(st.sampled_from([0.0, 0.2]))] = -np.inf
    lp[r.random(n) < draw(st.sampled_from([0.0, 0.0, 0.1]))] = np.nan  # never kept, like -inf (§2.3)
    if draw(st.booleans()):  # one dominant candidate: a restart when it is refused
        lp[int(r.integers(n))] += 40.0
    allowed = r.random(n) < draw(st.sampled_from([0.0, 0.05, 0.3, 0.9]))  # 0: every candidate refused
    prune = (r.random(n) < 0.2) & ~allowed if draw(st.booleans()) else None
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return lp.astype(dtype), allowed, prune, draw(st.integers(0, 2**32 - 1))


def assert_same_step(fast, ref, fast_rng, ref_rng, lp: np.ndarray) -> None:
    assert fast.token == ref.token
    assert fast.n_checks == ref.n_checks
    if ref.token is None:
        assert fast.log_weight == ref.log_weight == -math.inf
    else:
        assert fast.log_weight == pytest.approx(ref.log_weight, rel=0, abs=log_weight_tolerance(lp))
    assert fast_rng.bit_generator.state == ref_rng.bit_generator.state  # the same uniforms taken


def both_steps(lp, allowed, prune, seed, estimator, max_rejects, narrow=None):
    runs = []
    for step in (awrs_step, reference.awrs_step):
        rng = np.random.default_rng(seed)
        asked = []

        def narrowing(asked=asked):
            asked.append(True)
            return None if narrow is None else narrow()

        kwargs = {} if narrow is None else {"narrow": narrowing}
        runs.append((step(lp, lambda i: bool(allowed[i]), rng, estimator, max_rejects, prune, **kwargs), rng, len(asked)))
    return runs


ESTIMATORS = st.sampled_from(["recursive", "two-loop", "none"])
CAPS = st.sampled_from([None, None, 1, 2, 3, 5])


@settings(max_examples=EXAMPLES, deadline=DEADLINE_MS)
@given(walks(), ESTIMATORS, CAPS)
def test_walks_match_the_reference(walk, estimator, max_rejects):
    lp, allowed, prune, seed = walk
    (fast, fast_rng, _), (ref, ref_rng, _) = both_steps(lp, allowed, prune, seed, estimator, max_rejects)
    assert_same_step(fast, ref, fast_rng, ref_rng, lp)


@pytest.mark.parametrize("estimator", ["recursive", "two-loop", "none"])
@pytest.mark.parametrize("max_rejects", [1, 2, 3, 6])
def test_capped_walks_match_the_reference_on_fixed_seeds(estimator, max_rejects):
    """A sweep of small problems with few allowed candidates, so that caps are often reached
    (in loop 1 of the two-loop estimator too, §3.3)."""
    for seed in range(150):
        r = np.random.default_rng(seed)
        n = int(r.integers(2, 12))
        lp, allowed = r.normal(0.0, 2.0, n), r.random(n) < 0.3
        (fast, fast_rng, _), (ref, ref_rng, _) = both_steps(lp, allowed, None, seed, estimator, max_rejects)
        assert_same_step(fast, ref, fast_rng, ref_rng, lp)


@settings(max_examples=EXAMPLES, deadline=DEADLINE_MS)
@given(walks(), ESTIMATORS, CAPS)
def test_restarting_walks_match_the_reference(walk, estimator, max_rejects):
    """With RESTART_SHARE at 1/2 most walks restart once or more (§3.4)."""
    lp, allowed, prune, seed = walk
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(walk_module, "RESTART_SHARE", 0.5)
        mp.setattr(reference, "RESTART_SHARE", 0.5)
        (fast, fast_rng, _), (ref, ref_rng, _) = both_steps(lp, allowed, prune, seed, estimator, max_rejects)
    assert_same_step(fast, ref, fast_rng, ref_rng, lp)


@settings(max_examples=EXAMPLES, deadline=DEADLINE_MS)
@given(walks(), st.sampled_from(["recursive", "none"]), CAPS, st.integers(1, 4), st.booleans(), st.integers(0, 2**32 - 1))
def test_narrowed_walks_match_the_reference(walk, estimator, max_rejects, after, restarts, seed):
    """Narrowing after 1-4 rejections (§3.5), restarting often or not: ``narrow`` refuses a
    random share of the refused candidates (it must be sound) or says nothing."""
    lp, allowed, prune, walk_seed = walk
    refused = (np.random.default_rng(seed).random(len(lp)) < 0.5) & ~allowed
    answer = None if seed % 5 == 0 else refused
    with pytest.MonkeyPatch.context() as mp:
        for module in (walk_module, reference):
            mp.setattr(module, "NARROW_AFTER", after)
            if restarts:
                mp.setattr(module, "RESTART_SHARE", 0.5)
        (fast, fast_rng, fast_asked), (ref, ref_rng, ref_asked) = both_steps(
            lp, allowed, prune, walk_seed, estimator, max_rejects, lambda: answer
        )
    assert_same_step(fast, ref, fast_rng, ref_rng, lp)
    assert fast_asked == ref_asked <= 1


@settings(max_examples=20, deadline=DEADLINE_MS)
@given(walks(max_size=700), ESTIMATORS)
def test_long_walks_over_several_blocks_match_the_reference(walk, estimator):
    """Past 256 candidates the engine keeps its mass in several blocks (§2.2)."""
    lp, allowed, prune, seed = walk
    (fast, fast_rng, _), (ref, ref_rng, _) = both_steps(lp, allowed, prune, seed, estimator, None)
    assert_same_step(fast, ref, fast_rng, ref_rng, lp)


@pytest.mark.parametrize("estimator", ["recursive", "two-loop", "none"])
@pytest.mark.parametrize("log_mass", [-40.0, -720.0, -750.0, -5000.0])
def test_a_tiny_allowed_mass_is_found_by_both(estimator, log_mass):
    """The only allowed candidate far below the rest (§3.4): both walks restart to reach it."""
    lp = np.array([0.0, -1.0, log_mass, -2.0, log_mass - 1.0])
    allowed = np.array([False, False, True, False, False])
    for seed in range(5):
        (fast, fast_rng, _), (ref, ref_rng, _) = both_steps(lp, allowed, None, seed, estimator, None)
        assert ref.token == 2
        assert_same_step(fast, ref, fast_rng, ref_rng, lp)


@settings(max_examples=EXAMPLES, deadline=DEADLINE_MS)
@given(walks(max_size=60), st.booleans(), st.integers(0, 2**32 - 1))
def test_greedy_steps_match_the_reference(walk, narrowing, seed):
    lp, allowed, prune, _ = walk
    refused = (np.random.default_rng(seed).random(len(lp)) < 0.5) & ~allowed
    kwargs = {"narrow": lambda: refused} if narrowing else {}
    fast = greedy_step(lp, lambda i: bool(allowed[i]), prune, **kwargs)
    ref = reference.greedy_step(lp, lambda i: bool(allowed[i]), prune, **kwargs)
    assert (fast.token, fast.log_weight, fast.n_checks) == (ref.token, ref.log_weight, ref.n_checks)


@settings(max_examples=EXAMPLES, deadline=DEADLINE_MS)
@given(walks(), st.booleans())
def test_mask_steps_match_the_reference(walk, sampled):
    lp, allowed, _, seed = walk
    fast_rng, ref_rng = (np.random.default_rng(seed), np.random.default_rng(seed)) if sampled else (None, None)
    fast = mask_step(lp, allowed, fast_rng)
    ref = reference.mask_step(lp, allowed, ref_rng)
    assert (fast.token, fast.n_checks) == (ref.token, ref.n_checks)
    assert fast.log_weight == pytest.approx(ref.log_weight, rel=0, abs=log_weight_tolerance(lp))
    if sampled:
        assert fast_rng.bit_generator.state == ref_rng.bit_generator.state


def test_the_reference_uses_the_engines_constants():
    assert reference.RESTART_SHARE == walk_module.RESTART_SHARE
    assert reference.NARROW_AFTER == walk_module.NARROW_AFTER
    assert reference.GREEDY_CHECKS_BEFORE_NARROW == step_module._GREEDY_FAST_CHECKS
    assert reference.MAX_BATCH == order_module.MAX_AHEAD
    assert reference.LOWEST == _kernels.LOWEST
