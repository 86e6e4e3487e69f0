"""The candidate layout's kernels (the EOS candidate appended, the compact layout) against
the kernels over laid-out candidates."""

from __future__ import annotations

import numpy as np
import pytest

from awrs.sampler import _kernels, _layout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_with_eos_widens_and_appends_the_end_mass(dtype):
    rng = np.random.default_rng(3)
    lp = np.log(rng.dirichlet(np.ones(40))).astype(dtype)
    eos = np.array([3, 17, 39])
    out = _layout.with_eos(lp, eos)
    assert out.dtype == np.float64 and len(out) == 41
    np.testing.assert_array_equal(out[:40], lp.astype(np.float64))
    assert out[40] == pytest.approx(np.log(np.exp(lp[eos].astype(np.float64)).sum()), rel=1e-15)
    lp[eos] = -np.inf
    assert _layout.with_eos(lp, eos)[40] == -np.inf
    assert _layout.with_eos(lp, np.array([], dtype=np.int64))[40] == -np.inf
    with pytest.raises(TypeError):
        _layout.with_eos(lp, np.array([40]))
    with pytest.raises(TypeError):
        _layout.with_eos(lp.astype(np.float16), eos)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_with_eos_is_with_eos_at_the_positions_and_the_end_mass_alone(dtype):
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(40))).astype(dtype)
    eos = np.array([3, 17, 39])
    ids = np.array([0, 2, 5, 6, 30, 38])
    full = _layout.with_eos(lp, eos, dtype)
    np.testing.assert_array_equal(_layout.gather_with_eos(lp, ids, eos, dtype), np.append(full[ids], full[40]))
    assert _layout.gather_with_eos(lp, np.array([], dtype=np.int64), eos, dtype)[0] == full[40]
    assert _layout.eos_logprob(lp, eos) == _layout.with_eos(lp, eos)[40]
    for bad in (np.array([-1, 2]), np.array([2, 40]), ids.astype(np.int32)):
        with pytest.raises(TypeError, match="increasing positions"):
            _layout.gather_with_eos(lp, bad, eos)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_greedy_at_is_the_masked_argmax_of_the_gathered_candidates(dtype):
    rng = np.random.default_rng(6)
    for _ in range(300):
        n = int(rng.integers(3, 30))
        lp = rng.choice([-1.0, -1.5, -3.0, -np.inf, np.nan], size=n, p=[0.3, 0.3, 0.2, 0.1, 0.1]).astype(dtype)
        eos = np.sort(rng.choice(n, size=int(rng.integers(0, 3)), replace=False)).astype(np.int64)
        ids = np.flatnonzero(rng.random(n) < 0.5).astype(np.int64)
        prune = rng.random(len(ids) + 1) < 0.2
        for as_cand in {dtype, np.float64}:
            want = _kernels.masked_argmax(_layout.gather_with_eos(lp, ids, eos, as_cand), prune)
            assert _layout.greedy_at(lp, ids, eos, prune, as_cand) == want
    with pytest.raises(TypeError, match="never narrows"):
        _layout.greedy_at(np.zeros(3), np.array([0]), np.array([1]), np.zeros(2, dtype=bool), np.float32)
    with pytest.raises(TypeError, match="bool array over the 2 candidates"):
        _layout.greedy_at(np.zeros(3), np.array([0]), np.array([1]), np.zeros(1, dtype=bool))
    with pytest.raises(TypeError, match="increasing positions"):
        _layout.greedy_at(np.zeros(3), np.array([1, 1]), np.array([1]), np.zeros(3, dtype=bool))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_full_layouts_greedy_is_the_masked_argmax_of_the_candidates(dtype):
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(3, 30))
        lp = rng.choice([-1.0, -1.5, -1.0 + np.log(3.0), -np.inf, np.nan], size=n, p=[0.3, 0.3, 0.2, 0.1, 0.1]).astype(dtype)
        eos = np.sort(rng.choice(n, size=int(rng.integers(0, 4)), replace=False)).astype(np.int64)
        prune = rng.random(n + 1) < 0.2
        layout = _layout.CandidateLayout(n, eos)
        for as_cand in {dtype, np.float64}:
            assert layout.greedy(lp, prune, as_cand) == _kernels.masked_argmax(layout.candidates(lp, as_cand), prune)


def test_with_eos_keeps_float32_when_asked_and_never_narrows():
    rng = np.random.default_rng(4)
    lp = np.log(rng.dirichlet(np.ones(40))).astype(np.float32)
    eos = np.array([3, 17])
    out = _layout.with_eos(lp, eos, np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[:40], lp)
    assert out[40] == np.float32(_layout.with_eos(lp, eos)[40])  # the end mass is summed in float64
    with pytest.raises(TypeError, match="never narrows"):
        _layout.with_eos(lp.astype(np.float64), eos, np.float32)


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_layouts_kept_weights_are_those_of_its_candidates(dtype, compact):
    rng = np.random.default_rng(9)
    for _ in range(100):
        n = int(rng.integers(3, 700))
        lp = np.log(rng.dirichlet(np.full(n, 0.2))).astype(dtype)
        lp[rng.random(n) < 0.05] = -np.inf
        lp[rng.random(n) < 0.02] = np.nan  # never kept (NumPy's argmax picks a NaN first)
        eos = np.sort(rng.choice(n, size=int(rng.integers(0, 3)), replace=False)).astype(np.int64)
        if len(eos) == 2 and rng.random() < 0.5:  # the EOS candidate on top, its log-sum-exp not a float32
            lp[eos] = np.float32(rng.uniform(-0.5, 0.0))
        ids = np.flatnonzero(rng.random(n) < 0.3).astype(np.int64) if compact else None
        layout = _layout.CandidateLayout(n, eos, ids)
        prune = rng.random(layout.size) < (0.1 if rng.random() < 0.9 else 1.0)  # sometimes nothing is kept
        # A layout weighs its candidates in the row's precision, a float32 row's EOS candidate
        # rounded to float32 (docs/sampler.md, "Weights in the row's precision").
        as_cand = dtype
        cand = layout.candidates(lp, as_cand)
        at = _kernels.masked_argmax(cand, prune)
        got = layout.kept(lp, prune)
        if at < 0:
            assert got is None
            continue
        q, sums, count, total, top, got_at = got
        assert q.dtype == as_cand and (got_at, top) == (at, float(cand[at]))  # (NumPy would compare in float32)
        want_q, want_sums, want_count, want_total = _kernels.kept_weights(cand, prune, cand[at])
        np.testing.assert_array_equal(q, want_q)
        np.testing.assert_allclose(sums, want_sums, rtol=1e-14, atol=0)  # rounding: see above
        assert count == want_count
        assert total == pytest.approx(want_total, rel=1e-14)


def test_a_layouts_kept_weights_refuse_a_buffer_of_another_float_type():
    """A float32 row's weights are float32: a float64 buffer would widen them (and leave the EOS
    candidate unrounded), so it is refused."""
    lp = np.log(np.full(8, 0.125, dtype=np.float32))
    layout = _layout.CandidateLayout(8, np.array([7]))
    prune = np.zeros(layout.size, dtype=bool)
    with pytest.raises(TypeError, match="row's type"):
        layout.kept(lp, prune, np.empty(layout.size), np.empty(1))
    assert layout.kept(lp, prune, np.empty(layout.size, dtype=np.float32), np.empty(1))[0].dtype == np.float32
