"""The sampler's Numba kernels against their NumPy/Python references."""

from __future__ import annotations

import numpy as np
import pytest

from awrs._numba import njit
from awrs.sampler import _kernels
from awrs.sampler.order import RandomOrder
from tests.exact import chi_square_pvalue


def test_exp_shifted_matches_numpy_to_two_ulps():
    rng = np.random.default_rng(0)
    lp = np.concatenate([rng.uniform(-800, 5, 20000), rng.normal(0, 3, 20000), [-np.inf, np.nan, 5.0, -703.0, -703.5]])
    prune = rng.random(len(lp)) < 0.1
    top = 5.0
    got = _kernels.exp_shifted(lp, prune, top)
    want = _kernels.exp_shifted_python(lp, prune, top)
    assert np.array_equal(got == 0, want == 0)
    nz = want > 0
    assert np.max(np.abs(got[nz] - want[nz]) / want[nz]) < 4e-16
    assert got[-3] == 1.0  # exp(0) is exact


def test_float32_exponentials_are_within_their_bound_and_window():
    """A float32 row's weights, in float32: relative error at most (|lp - top| + 1) * 2**-23
    (the difference rounded to float32, then a few ulps), kept down to LOWEST32 nats below
    the top (docs/sampler.md, "Weights in the row's precision")."""
    rng = np.random.default_rng(1)
    top = float(np.float32(-0.3))  # a difference that float32 rounds (not a power of two)
    lp = np.concatenate([rng.uniform(-95, 0, 40000), rng.normal(-3, 2, 40000)])
    lp = np.concatenate([np.minimum(lp, top), [top, -np.inf, np.nan, top - 86.99, top - 87.01]]).astype(np.float32)
    prune = rng.random(len(lp)) < 0.1
    prune[-5:] = False
    got = _kernels.exp_shifted(lp, prune, top)
    assert got.dtype == np.float32
    v = lp.astype(np.float64) - top
    kept = ~prune & (v >= _kernels.LOWEST32)  # NaN compares False: never kept
    assert np.array_equal(got > 0, kept)
    assert kept[-2] and not kept[-1]
    rel = np.abs(got[kept] / np.exp(v[kept]) - 1)
    assert np.all(rel <= (np.abs(v[kept]) + 1) * 2.0**-23)
    assert rel.max() > 2.0**-23  # the bound is near what it bounds (rounded differences far below the top)
    assert got[-5] == 1.0  # exp(0) is exact


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masked_argmax_skips_pruned_and_takes_the_first_tie(dtype):
    lp = np.array([3.0, 1.0, -np.inf, 2.0, 2.0], dtype=dtype)
    assert _kernels.masked_argmax(lp, np.array([True, False, False, False, False])) == 3
    assert _kernels.masked_argmax(lp, np.zeros(5, dtype=bool)) == 0
    assert _kernels.masked_argmax(lp, np.ones(5, dtype=bool)) == -1
    assert _kernels.masked_argmax(np.full(3, -np.inf, dtype=dtype), np.zeros(3, dtype=bool)) == -1
    assert (
        _kernels.masked_argmax(np.array([np.nan, 1.0, np.nan, 1.0], dtype=dtype), np.zeros(4, dtype=bool)) == 1
    )  # NaN is never kept


@pytest.mark.parametrize("seed", range(20))
def test_masked_argmax_matches_a_plain_loop(seed):
    # The vectorised first try (the unmasked argmax) and the kernel's scan, on ties and pruning.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    lp = np.round(rng.normal(size=n), 1)
    lp[rng.random(n) < 0.1] = -np.inf
    prune = rng.random(n) < rng.choice([0.0, 0.01, 0.5, 1.0])
    best, at = -np.inf, -1
    for i in range(n):
        if not prune[i] and lp[i] > best:
            best, at = lp[i], i
    assert _kernels.masked_argmax(lp, prune) == at
    assert _kernels.masked_argmax(lp.astype(np.float32), prune) == at


@njit(cache=False)
def _argmax_compiled(lp):
    return _kernels._argmax(lp)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(6))
def test_compiled_argmax_is_numpys(dtype, seed):
    # The kernels' _argmax (integer keys, vectorised) against np.argmax: ties (the first),
    # -0.0 against 0.0, infinities, rows of -inf, blocks of 256 and their ends; with a NaN,
    # NumPy's answer (the first NaN) or the first largest value that is not a NaN.
    rng = np.random.default_rng(seed)
    for _ in range(300):
        lp = np.round(rng.normal(size=int(rng.choice([1, 7, 255, 256, 257, 1000]))) * 3, int(rng.integers(0, 3))).astype(dtype)
        case = rng.integers(6)
        if case == 1:
            lp[rng.integers(len(lp))] = np.inf
        elif case == 2:
            lp[:] = -np.inf
        elif case == 3:
            lp[:] = -0.0
            lp[rng.integers(len(lp))] = 0.0
        elif case == 4:
            lp[rng.integers(len(lp), size=2)] = [np.nan, -np.nan][int(rng.integers(2))]
        elif case == 5:
            lp[rng.integers(len(lp))] = lp.max()  # one more tie at the top
        for row in (lp, lp[::2] if len(lp) > 1 else lp):  # C-contiguous (the integer keys) and strided (a loop)
            got = _argmax_compiled(row)
            if np.isnan(row).any():
                assert got in (int(np.argmax(row)), int(np.argmax(np.where(np.isnan(row), -np.inf, row))))
            else:
                assert got == int(np.argmax(row)), (row, got)


@pytest.mark.parametrize(("seed", "blocks"), [(0, 3), (1, 3), (2, 33), (3, 33)])
def test_draw_matches_its_python_reference_until_exhausted(seed, blocks):
    # Several blocks and the last one short; with 33 blocks, three groups of 16 (the draw's
    # first scan), the first of them without mass, and a last group of two blocks, the second short.
    rng = np.random.default_rng(seed)
    n = blocks * _kernels.BLOCK + 17
    q = rng.dirichlet(np.full(n, 0.3))
    q[rng.random(n) < 0.2] = 0.0
    if blocks > 16:
        q[: 16 * _kernels.BLOCK] = 0.0
    q[5 if blocks <= 16 else 16 * _kernels.BLOCK + 5] = 0.9  # one heavy position: the rest is drawn from what remains after it
    sums, count = _kernels.block_sums(q)
    assert count == int((q > 0).sum())
    np.testing.assert_allclose(sums, [q[b : b + _kernels.BLOCK].sum() for b in range(0, n, _kernels.BLOCK)], rtol=1e-14)
    taken = np.zeros(n, dtype=bool)
    for e in (1, 2, 700) if blocks <= 16 else (4097, 4098, 4800):
        taken[e] = True
        count -= q[e] > 0
        sums[e // _kernels.BLOCK] = _kernels.block_sum(q, taken, e // _kernels.BLOCK)
    sums_py, taken_py = sums.copy(), taken.copy()
    seen = []
    for _ in range(count):
        u = rng.random()
        pos = _kernels.draw(q, sums, taken, u)
        assert pos == _kernels.draw_python(q, sums_py, taken_py, u)
        seen.append(pos)
    gone = [1, 2, 700] if blocks <= 16 else [4097, 4098, 4800]
    assert sorted(seen) == sorted(np.flatnonzero((q > 0) & ~np.isin(np.arange(n), gone)))
    assert np.all(sums == 0)


def test_drawing_ahead_gives_the_same_order():
    """A RandomOrder draws positions ahead in batches (one kernel call each); the uniforms
    come from the generator in the same sequence, so the order is the one drawn a position at
    a time, whatever the batch sizes; and draw_many is draw once per uniform."""
    rng = np.random.default_rng(11)
    n = 3 * _kernels.BLOCK + 17
    q = rng.random(n) ** 4
    q[rng.random(n) < 0.3] = 0.0
    for seed in range(20):
        orders = [RandomOrder(q, np.random.default_rng(seed), exclude=[5], ahead=ahead) for ahead in (1, 2, 7)]
        visits = [[o.position(i) for i in range(len(o))] for o in orders]
        assert visits[0] == visits[1] == visits[2]
        sums, _ = _kernels.block_sums(q)
        taken = np.zeros(n, dtype=bool)
        us = np.random.default_rng(seed).random(40)
        one = [_kernels.draw(q, sums, taken, u) for u in us]
        sums, _ = _kernels.block_sums(q)
        assert _kernels.draw_many(q, sums, np.zeros(n, dtype=bool), us) == one
    with pytest.raises(IndexError):
        orders[0].position(len(orders[0]))


def test_wrappers_refuse_wrong_arrays():
    with pytest.raises(TypeError, match="float64"):
        _kernels.exp_shifted(np.zeros(3, dtype=np.float16), np.zeros(3, dtype=bool), 0.0)
    with pytest.raises(TypeError, match="float64"):
        _kernels.exp_shifted(np.zeros(6)[::2], np.zeros(3, dtype=bool), 0.0)
    with pytest.raises(TypeError, match="bool"):
        _kernels.block_sum(np.zeros(3), np.zeros(4, dtype=bool), 0)


def test_order_after_a_dominant_candidate_draws_the_rest_exactly():
    """Once a candidate holding all but 1e-12 of the mass is taken, the next visit follows the
    remaining tiny masses (chi-square, level 1e-3, 20,000 orders): nothing is lost to rounding
    against the large total."""
    rng = np.random.default_rng(3)
    n = 2 * _kernels.BLOCK
    rest = np.linspace(1.0, 4.0, n - 1)
    q = np.concatenate([[1.0], rest * (1e-12 / rest.sum())])
    q /= q.sum()
    picks = np.zeros(8)  # the rest grouped in 8 bins of equal count
    for _ in range(20000):
        order = RandomOrder(q, rng, exclude=[0])
        picks[(order.position(0) - 1) * 8 // (n - 1)] += 1
    bins = np.array_split(q[1:], 8)
    target = np.array([b.sum() for b in bins])
    assert chi_square_pvalue(picks, target / target.sum()) > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kept_weights_are_the_exponentials_and_their_block_sums_in_one_pass(dtype):
    rng = np.random.default_rng(8)
    lp = np.concatenate([rng.normal(-12, 4, 3000), [-np.inf, np.nan, -800.0]]).astype(dtype)
    prune = rng.random(len(lp)) < 0.2
    top = float(lp[_kernels.masked_argmax(lp, prune)])
    q, sums, count, total = _kernels.kept_weights(lp, prune, top)
    want = _kernels.exp_shifted(lp, prune, top)  # in the row's precision
    assert q.dtype == want.dtype == dtype
    np.testing.assert_array_equal(q, want)
    want_sums, want_count = _kernels.block_sums(want)
    # LLVM vectorises the block sums (a reassociated reduction), differently in each compiled
    # specialisation: equal up to rounding, not bit for bit.
    np.testing.assert_allclose(sums, want_sums, rtol=1e-14, atol=0)
    assert count == want_count
    assert total == pytest.approx(want.sum(), rel=1e-14)


def test_unvisited_allowed_is_the_weights_less_the_refused_and_the_visited():
    rng = np.random.default_rng(5)
    for _ in range(20):
        q = rng.random(1000) * (rng.random(1000) < 0.7)
        refused = rng.random(1000) < 0.3
        visited = rng.choice(1000, size=int(rng.integers(0, 50)), replace=False).tolist()
        want = np.where(refused, 0.0, q)
        want[visited] = 0.0
        got = _kernels.unvisited_allowed(q, refused, visited)
        assert np.array_equal(got, want) and got is not q
        assert float(got.sum()) == float(want.sum())
