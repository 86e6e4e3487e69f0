"""The AWRS step against exact enumeration of every walk (docs/algorithm.md §3).

Each estimator's randomness is the visiting order. The tests replace the Gumbel order by
every possible walk prefix, weight each by its exact without-replacement probability, and
check proper weighting ``E[w 1{token = x}] = p(x) c(x)`` to 1e-12.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from awrs.errors import GenerationError
from awrs.sampler import awrs_step, greedy_step, mask_step
from awrs.sampler import walk as walk_module
from awrs.sampler.order import GreedyOrder, RandomOrder
from tests.exact import chi_square_pvalue

TOL = 1e-12


def walk_prefixes(q, allowed, candidates, extra):
    """Every without-replacement walk over ``candidates`` until the first allowed one plus
    ``extra`` further positions, with its exact probability."""

    def rec(prefix, prob, remaining, after_accept):
        rest = [c for c in candidates if c not in prefix and q[c] > 0]
        if not rest or (after_accept is not None and after_accept >= extra):
            yield prefix, prob
            return
        for c in rest:
            p = prob * q[c] / remaining
            nxt = after_accept + 1 if after_accept is not None else (0 if allowed[c] else None)
            yield from rec([*prefix, c], p, remaining - q[c], nxt)

    yield from rec([], 1.0, sum(q[c] for c in candidates), None)


class ScriptedOrder:
    """An order that visits a scripted prefix of positions first, then the rest."""

    def __init__(self, positions, q, exclude):
        first = [p for p in positions if q[p] > 0 and p not in exclude]
        rest = [p for p in range(len(q)) if p not in positions and p not in exclude and q[p] > 0]
        self._visits = first + rest
        self._size = len(self._visits)

    def __len__(self):
        return self._size

    def position(self, i):
        return self._visits[i]


class ScriptedOrders:
    """Replaces the random order: the k-th order made visits the k-th scripted prefix (of
    candidate ids, which are the positions in ``q``) first. An order made for a walk that
    restarts over what it has not visited goes on with the same script (the positions it
    visited have no mass left)."""

    def __init__(self, prefixes):
        self.prefixes = list(prefixes)
        self.calls = 0

    def __call__(self, q, rng, exclude=None, blocks=None, ahead=1, restart=False):
        if not restart:
            self.calls += 1
        prefix = self.prefixes[self.calls - 1]
        return ScriptedOrder(prefix, q, set(exclude or ()))


def expected_weight_by_token(monkeypatch, logp, allowed, estimator, max_rejects, prune=None):
    """Sum over all walks of P(walk) * w(walk) per returned token, by enumeration."""
    n = len(logp)
    p = np.exp(logp)
    kept = [i for i in range(n) if np.isfinite(logp[i]) and not (prune is not None and prune[i])]
    p_kept = sum(p[i] for i in kept)
    q = {i: p[i] / p_kept for i in kept}
    out = np.zeros(n)
    for prefix0, prob0 in walk_prefixes(q, allowed, kept, extra=1):
        accepted = next((c for c in prefix0 if allowed[c]), None)
        rejected0 = prefix0[: prefix0.index(accepted)] if accepted is not None else prefix0
        if estimator == "two-loop" and accepted is not None:
            rest = [c for c in kept if c not in rejected0]
            second = list(walk_prefixes(q, allowed, rest, extra=0))
        else:
            second = [([], 1.0)]
        for prefix1, prob1 in second:
            monkeypatch.setattr(walk_module, "_random_order", ScriptedOrders([prefix0, prefix1]))
            step = awrs_step(logp, allowed.__getitem__, np.random.default_rng(0), estimator, max_rejects, prune)
            if step.token is not None:
                assert allowed[step.token], "a rejected candidate was returned"
                out[step.token] += prob0 * prob1 * math.exp(step.log_weight)
    return out


def random_cases(count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(2, 7))
        logp = np.log(rng.dirichlet(np.ones(n) * 0.7))
        allowed = rng.random(n) < 0.5
        yield logp, allowed


@pytest.mark.parametrize("estimator", ["recursive", "two-loop"])
@pytest.mark.parametrize("max_rejects", [None, 1, 2, 3])
def test_estimators_are_properly_weighted_by_enumeration(monkeypatch, estimator, max_rejects):
    seed = {"recursive": 100, "two-loop": 200}[estimator] + (max_rejects or 0)
    for logp, allowed in random_cases(40, seed=seed):
        got = expected_weight_by_token(monkeypatch, logp, allowed, estimator, max_rejects)
        want = np.exp(logp) * allowed
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.parametrize("estimator", ["recursive", "two-loop"])
def test_pruned_candidates_and_unnormalised_mass_stay_exact(monkeypatch, estimator):
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(3, 7))
        p = rng.dirichlet(np.ones(n))
        p[0] = 0.0  # zero mass: never visited
        logp = np.log(p * 0.8, where=p > 0, out=np.full(n, -np.inf))  # 20% of the mass is missing
        prune = rng.random(n) < 0.3
        allowed = (rng.random(n) < 0.6) & ~prune
        got = expected_weight_by_token(monkeypatch, logp, allowed, estimator, None, prune)
        want = np.where(np.isfinite(logp), np.exp(logp), 0.0) * allowed
        np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


def test_paper_worked_example(monkeypatch):
    """Two tokens of mass 1/2, only the first allowed: outcomes (1/4, w=1), (1/4, 1/2), (1/2, 1/4)."""
    logp = np.log([0.5, 0.5])
    allowed = np.array([True, False])
    outcomes = []
    for first, second in ([0], [0]), ([0], [1, 0]), ([1, 0], [0]):
        monkeypatch.setattr(walk_module, "_random_order", ScriptedOrders([first, second]))
        step = awrs_step(logp, allowed.__getitem__, np.random.default_rng(0), "two-loop")
        outcomes.append((step.token, math.exp(step.log_weight)))
    assert outcomes == [(0, 1.0), (0, 0.5), (0, 0.25)]
    assert 0.25 * 1 + 0.25 * 0.5 + 0.5 * 0.25 == 0.5


def test_unweighted_mode_returns_only_allowed_tokens_and_weight_one():
    rng = np.random.default_rng(3)
    logp = np.log(rng.dirichlet(np.ones(50)))
    allowed = rng.random(50) < 0.2
    for _ in range(500):
        step = awrs_step(logp, allowed.__getitem__, rng, "none")
        assert allowed[step.token] and step.log_weight == 0.0


def test_everything_rejected_gives_weight_zero_and_no_token():
    rng = np.random.default_rng(0)
    logp = np.log([0.2, 0.3, 0.5])
    for estimator in ("recursive", "two-loop", "none"):
        step = awrs_step(logp, lambda i: False, rng, estimator)
        assert step.token is None and step.log_weight == -math.inf and step.n_checks == 3


def test_max_rejects_caps_the_work():
    rng = np.random.default_rng(0)
    logp = np.log(np.full(1000, 1e-3))
    step = awrs_step(logp, lambda i: i == 999, rng, "recursive", max_rejects=5)
    assert step.n_checks <= 5


def test_recursive_costs_rejections_plus_two_checks():
    rng = np.random.default_rng(0)
    logp = np.log(np.full(10, 0.1))
    allowed = np.ones(10, dtype=bool)
    step = awrs_step(logp, allowed.__getitem__, rng)
    assert step.n_checks == 2 and step.log_weight == pytest.approx(0.0)  # everything allowed: w = 1


@pytest.mark.parametrize("estimator", ["recursive", "two-loop", "none"])
def test_sampled_tokens_follow_the_masked_distribution(estimator):
    """Chi-square at level 1e-3 with a fixed seed: frequencies of 20,000 AWRS draws against the
    exhaustive masked distribution p(x)c(x)/Z."""
    rng = np.random.default_rng(11)
    logp = np.log(rng.dirichlet(np.ones(12)))
    allowed = rng.random(12) < 0.5
    allowed[3] = True
    draws = [awrs_step(logp, allowed.__getitem__, rng, estimator).token for _ in range(20000)]
    counts = np.bincount(draws, minlength=12).astype(float)
    target = np.exp(logp) * allowed
    target /= target.sum()
    assert counts[~allowed].sum() == 0
    assert chi_square_pvalue(counts, target) > 1e-3


@pytest.mark.parametrize("exclude", [(), (1,)])
def test_random_order_is_sampling_without_replacement(exclude):
    """The first two visited positions follow q(a) q(b) / (1 - q(a)) over the positions not
    excluded (chi-square, level 1e-3, 20,000 orders)."""
    rng = np.random.default_rng(5)
    q = np.array([0.4, 0.3, 0.2, 0.1, 0.0])
    counts = np.zeros((5, 5))
    for _ in range(20000):
        order = RandomOrder(q, rng, exclude)
        assert len(order) == 4 - len(exclude)
        counts[order.position(0), order.position(1)] += 1
    left = [i for i in range(4) if i not in exclude]
    qq = q / q[left].sum()
    pairs = list(itertools.permutations(left, 2))
    probs = np.array([qq[a] * qq[b] / (1 - qq[a]) for a, b in pairs])
    assert counts.sum() == sum(counts[a, b] for a, b in pairs)  # never zero mass, never excluded
    assert chi_square_pvalue(np.array([counts[a, b] for a, b in pairs]), probs) > 1e-3


def test_orders_visit_every_positive_position_once():
    rng = np.random.default_rng(0)
    q = np.full(100, 0.01)
    q[::7] = 0.0
    for order in (RandomOrder(q, rng), GreedyOrder(np.log(q, where=q > 0, out=np.full(100, -np.inf)))):
        seen = [order.position(i) for i in range(len(order))]
        assert sorted(seen) == [i for i in range(100) if q[i] > 0]
        with pytest.raises(IndexError):
            order.position(len(order))


def test_greedy_and_mask_steps():
    logp = np.log([0.1, 0.5, 0.4])
    allowed = np.array([True, False, True])
    g = greedy_step(logp, allowed.__getitem__)
    assert g.token == 2 and g.n_checks == 2
    m = mask_step(logp, allowed, None)
    assert m.token == 2 and math.exp(m.log_weight) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    draws = [mask_step(logp, allowed, rng).token for _ in range(4000)]
    assert abs(np.mean(np.array(draws) == 0) - 0.2) < 0.03  # binomial sd 0.0063: a 4.7-sd band


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(30))
def test_greedy_step_is_the_argmax_of_the_masked_distribution(seed, dtype):
    # Deep walks (past the argmax fast path), ties, pruning, -inf and dead ends; float32
    # log-probabilities (what the engine passes to greedy steps) stay float32 in the fast path.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 200))
    logp = np.round(rng.normal(size=n), 1).astype(dtype)  # rounding makes ties
    logp[rng.random(n) < 0.1] = -np.inf
    allowed = rng.random(n) < rng.choice([0.02, 0.3, 0.9])
    prune = rng.random(n) < 0.2
    g = greedy_step(logp, allowed.__getitem__, prune)
    visible = np.where(prune | ~np.isfinite(logp), -np.inf, logp)
    masked = np.where(allowed, visible, -np.inf)
    if not np.isfinite(masked.max()):
        assert g.token is None and g.n_checks == int(np.isfinite(visible).sum())
    else:
        best = int(np.argmax(masked))  # first of the ties
        assert g.token == best
        ahead = (visible > masked[best]) | ((visible == masked[best]) & (np.arange(n) < best))
        assert g.n_checks == int(ahead.sum()) + 1


def test_greedy_step_never_chooses_a_nan_candidate_past_its_fast_checks():
    # NaN log-probabilities are never kept (docs/algorithm.md §2.3). Past the argmax fast
    # path (16 refusals) the walk went on in GreedyOrder, whose np.argmax returns NaN
    # positions first: with NaN at 5 and 5 allowed, it chose 5.
    logp = -np.arange(40, dtype=np.float64)
    logp[5] = np.nan
    allowed = np.zeros(40, dtype=np.bool_)
    allowed[[5, 19]] = True
    g = greedy_step(logp, allowed.__getitem__)
    assert g.token == 19
    assert g.n_checks == 19  # 0..19 but the NaN at 5


def test_bad_shapes_are_clear_errors():
    logp = np.log([0.5, 0.5])
    with pytest.raises(GenerationError, match="prune must be a 1-D bool array over the 2 candidates"):
        awrs_step(logp, lambda i: True, np.random.default_rng(0), prune=np.zeros(3, dtype=bool))
    with pytest.raises(GenerationError, match="prune must be"):
        greedy_step(logp, lambda i: True, prune=np.zeros(1, dtype=bool))
    with pytest.raises(GenerationError, match="logprobs must be 1-D"):
        mask_step(np.zeros((2, 2)), np.ones(2, dtype=bool), None)


# --- narrowing: after NARROW_AFTER rejections the walk drops what narrow() refuses ---------


def walks_until(q, allowed, candidates, extra, stop_after):
    """Like walk_prefixes, but a walk that has rejected ``stop_after`` candidates without an
    acceptance stops there (flagged True: the step narrows at that point)."""

    def rec(prefix, prob, remaining, after_accept):
        rest = [c for c in candidates if c not in prefix and q[c] > 0]
        if after_accept is None and len(prefix) == stop_after and rest:
            yield prefix, prob, True
            return
        if not rest or (after_accept is not None and after_accept >= extra):
            yield prefix, prob, False
            return
        for c in rest:
            nxt = after_accept + 1 if after_accept is not None else (0 if allowed[c] else None)
            yield from rec([*prefix, c], prob * q[c] / remaining, remaining - q[c], nxt)

    yield from rec([], 1.0, sum(q[c] for c in candidates), None)


def narrowed_outcomes(monkeypatch, logp, allowed, refused, estimator, max_rejects, after):
    """(probability, token, weight) of every walk of a narrowing step, by enumeration."""
    monkeypatch.setattr(walk_module, "NARROW_AFTER", after)
    n = len(logp)
    q = {i: float(np.exp(logp[i])) for i in range(n)}
    out = []
    for prefix0, prob0, narrows in walks_until(q, allowed, list(range(n)), 1, after):
        if narrows:
            rest = [c for c in range(n) if c not in prefix0 and not refused[c]]
            second = [(p, pr) for p, pr, _ in walks_until(q, allowed, rest, 1, 10**9)] if rest else [([], 1.0)]
        else:
            second = [([], 1.0)]
        for prefix1, prob1 in second:
            monkeypatch.setattr(walk_module, "_random_order", ScriptedOrders([prefix0, prefix1]))
            step = awrs_step(
                logp, allowed.__getitem__, np.random.default_rng(0), estimator, max_rejects, narrow=lambda: refused.copy()
            )
            out.append((prob0 * prob1, step.token, math.exp(step.log_weight) if step.token is not None else 0.0))
    return out


def narrowing_cases(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        n = int(rng.integers(3, 7))
        logp = np.log(rng.dirichlet(np.ones(n) * 0.7))
        allowed = rng.random(n) < 0.4
        refused = ~allowed & (rng.random(n) < rng.choice([0.0, 0.5, 1.0]))  # sound: only rejected ones
        yield logp, allowed, refused


@pytest.mark.parametrize("after", [1, 2])
@pytest.mark.parametrize("max_rejects", [None, 2, 3])
def test_narrowing_keeps_the_recursive_estimator_properly_weighted(monkeypatch, after, max_rejects):
    for logp, allowed, refused in narrowing_cases(30, seed=300 + 10 * after + (max_rejects or 0)):
        got = np.zeros(len(logp))
        for prob, token, w in narrowed_outcomes(monkeypatch, logp, allowed, refused, "recursive", max_rejects, after):
            assert prob > 0
            if token is not None:
                assert allowed[token] and not refused[token]
                got[token] += prob * w
        np.testing.assert_allclose(got, np.exp(logp) * allowed, atol=TOL, rtol=0)


@pytest.mark.parametrize("after", [1, 2])
def test_narrowing_keeps_plain_lcd_exact(monkeypatch, after):
    for logp, allowed, refused in narrowing_cases(30, seed=400 + after):
        got = np.zeros(len(logp))
        for prob, token, _ in narrowed_outcomes(monkeypatch, logp, allowed, refused, "none", None, after):
            if token is not None:
                got[token] += prob
        want = np.exp(logp) * allowed
        if want.sum() > 0:
            np.testing.assert_allclose(got, want / want.sum(), atol=TOL, rtol=0)
        else:
            assert got.sum() == 0


def test_narrowing_is_asked_once_and_only_after_enough_rejections(monkeypatch):
    monkeypatch.setattr(walk_module, "NARROW_AFTER", 3)
    logp = np.log(np.full(10, 0.1))
    allowed = np.zeros(10, dtype=bool)
    allowed[9] = True
    calls = []

    def narrow():
        calls.append(1)
        return ~allowed

    checks = []
    step = awrs_step(logp, lambda i: checks.append(i) or bool(allowed[i]), np.random.default_rng(1), narrow=narrow)
    assert step.token == 9
    # Either 9 came within the first three visits (no narrowing) or right after them.
    assert (len(calls), len(checks)) in ((0, 1), (0, 2), (0, 3), (1, 4))


@pytest.mark.parametrize("seed", range(20))
def test_greedy_step_narrowed_is_still_the_masked_argmax_with_fewer_checks(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    logp = np.round(rng.normal(size=n), 1)
    allowed = rng.random(n) < 0.05
    refused = ~allowed & (rng.random(n) < 0.8)
    plain = greedy_step(logp, allowed.__getitem__)
    narrowed = greedy_step(logp, allowed.__getitem__, narrow=lambda: refused)
    assert narrowed.token == plain.token
    assert narrowed.n_checks <= plain.n_checks


# --- small masses: the walk restarts over what it has not visited --------------------------


@pytest.mark.parametrize("estimator", ["recursive", "two-loop"])
@pytest.mark.parametrize("max_rejects", [None, 2])
def test_restarted_walks_stay_properly_weighted_by_enumeration(monkeypatch, estimator, max_rejects):
    """With RESTART_SHARE at 1/2 most walks restart over the unvisited candidates one or more
    times; the enumeration over every walk still gives E[w 1{token = x}] = p(x) c(x)."""
    monkeypatch.setattr(walk_module, "RESTART_SHARE", 0.5)
    seed = {"recursive": 500, "two-loop": 600}[estimator] + (max_rejects or 0)
    for logp, allowed in random_cases(40, seed=seed):
        got = expected_weight_by_token(monkeypatch, logp, allowed, estimator, max_rejects)
        np.testing.assert_allclose(got, np.exp(logp) * allowed, atol=TOL, rtol=0)


@pytest.mark.parametrize("after", [1, 2])
def test_restarted_walks_with_narrowing_stay_exact(monkeypatch, after):
    monkeypatch.setattr(walk_module, "RESTART_SHARE", 0.5)
    for logp, allowed, refused in narrowing_cases(30, seed=700 + after):
        for estimator in ("recursive", "none"):
            got = np.zeros(len(logp))
            for prob, token, w in narrowed_outcomes(monkeypatch, logp, allowed, refused, estimator, None, after):
                if token is not None:
                    assert allowed[token] and not refused[token]
                    got[token] += prob * (w if estimator == "recursive" else 1.0)
            want = np.exp(logp) * allowed
            if estimator == "none" and want.sum() > 0:
                want = want / want.sum()
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0)


@pytest.mark.parametrize("estimator", ["recursive", "two-loop", "none"])
@pytest.mark.parametrize("log_mass", [math.log(1e-17), math.log(1e-100), math.log(1e-300), -750.0, -5000.0])
def test_any_positive_allowed_mass_is_found(estimator, log_mass):
    """The only allowed candidate holds ``exp(log_mass)`` of the mass, down to 1e-300 and below
    what float64 can hold relative to the most likely candidate (exp(-750)): the walk finds it
    (it used to end in a dead end once the rejected mass rounded to 1), and the recursive
    estimator's weight is its mass exactly (every walk gives it)."""
    logp = np.array([0.0, -0.5, log_mass, -np.inf])
    allowed = np.array([False, False, True, False])
    for seed in range(20):
        step = awrs_step(logp, allowed.__getitem__, np.random.default_rng(seed), estimator)
        assert step.token == 2
        if estimator == "recursive":
            assert step.log_weight == pytest.approx(log_mass, rel=1e-12)
        elif estimator == "two-loop":
            assert math.isfinite(step.log_weight) and step.log_weight <= log_mass + 1e-9
    greedy = greedy_step(logp, allowed.__getitem__)
    assert greedy.token == 2
