"""Proposals from the model's row (``propose_row``): a greedy step checks the most likely
candidate on the row itself, before any candidate array is built, and must choose exactly what
``propose`` chooses over the laid-out candidates, with the same checks."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.vocab import Vocabulary
from awrs.sampler import _layout
from awrs.sampler._layout import CandidateLayout
from awrs.sampler.proposal import (
    PROPOSALS,
    AwrsProposal,
    GreedyProposal,
    LcdProposal,
    MaskProposal,
    ProposalOptions,
    make_proposal,
)
from awrs.sampler.space import CandidateSpace
from awrs.sampler.step import awrs_step, row_step


class TokenSet(Constraint):
    """One step's worth of a constraint: the tokens in ``allowed`` may come next; complete
    (so EOS allowed) when ``complete``. Counts its checks."""

    def __init__(self, allowed: set[bytes], complete: bool):
        self.allowed, self.complete, self.calls = allowed, complete, 0

    def initial(self):
        return 0

    def advance(self, state, data):
        self.calls += 1
        return 1 if data in self.allowed else None

    def is_complete(self, state):
        self.calls += 1
        return self.complete and state == 0


def _case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 40))
    tokens = [f"t{i}".encode() for i in range(n)]
    eos = sorted(set(rng.choice(n, size=int(rng.integers(1, 4)), replace=False).tolist()))
    special = set(rng.choice(n, size=int(rng.integers(0, 3)), replace=False).tolist())
    vocab = Vocabulary.from_tokens(tokens, eos_ids=eos, special_ids=special)
    # Few distinct values, so ties (between tokens, and with the EOS candidate) are common.
    row = rng.choice([-1.0, -2.0, -2.5, -np.log(2.0) - 2.0, -7.0, -np.inf], size=n, p=[0.1, 0.3, 0.2, 0.2, 0.1, 0.1])
    if rng.random() < 0.15:
        row[rng.integers(n)] = np.nan
    allowed = {t for t in tokens if rng.random() < float(rng.choice([0.05, 0.3, 0.8]))}
    return vocab, row, allowed, bool(rng.random() < 0.5)


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("row_dtype, dtype", [(np.float32, np.float32), (np.float32, np.float64), (np.float64, np.float32)])
def test_greedy_on_the_row_chooses_and_checks_as_greedy_over_the_candidates(row_dtype, dtype, compact):
    proposal = GreedyProposal(dtype)
    fast_path_taken = 0
    for seed in range(400):
        vocab, row, allowed, complete = _case(seed)
        row = row.astype(row_dtype)
        results = []
        for from_row in (True, False):
            c = TokenSet(allowed, complete)
            space = CandidateSpace(vocab, c, compact=compact and from_row)
            checker = space.checker(c.initial())
            if from_row:
                step = proposal.propose_row(row, checker, None)
            else:
                step = proposal.propose(space.candidates(row, dtype), checker, None)
            results.append((step.token, step.log_weight, step.n_checks, c.calls))
        assert results[0] == results[1], (seed, results)
        fast_path_taken += results[0][2] == 1 and results[0][0] is not None
    assert fast_path_taken > 50  # the cases exercise both paths


@pytest.mark.parametrize("compact", [False, True])
def test_a_tie_with_the_eos_candidate_is_decided_in_the_candidates_float_type(compact):
    """Three end ids at -1 make an EOS candidate of -1 + ln 3, which float32 rounds down: in
    float32 the token of that value ties with it (and wins, at the lower index); in float64
    EOS is larger."""
    vocab = Vocabulary.from_tokens([b"a", b"e1", b"e2", b"e3"], eos_ids=[1, 2, 3])
    row = np.array([-1.0 + np.log(3.0), -1.0, -1.0, -1.0], dtype=np.float32)
    assert np.float64(row[0]) < -1.0 + np.log(3.0)
    for dtype, token in ((np.float32, 0), (np.float64, 4)):
        c = TokenSet({b"a"}, complete=True)
        space = CandidateSpace(vocab, c, compact=compact)
        assert GreedyProposal(dtype).propose_row(row, space.checker(0), None).token == token


def test_the_candidates_are_built_only_when_the_first_candidate_is_refused(monkeypatch):
    vocab = Vocabulary.from_tokens([b"a", b"b", b"c"], eos_ids=[2])
    built = []
    original = _layout.CandidateLayout.candidates

    def counting(self, lp, dtype=np.float64):
        built.append(1)
        return original(self, lp, dtype)

    monkeypatch.setattr(_layout.CandidateLayout, "candidates", counting)
    row = np.log(np.array([0.6, 0.3, 0.1], dtype=np.float32))
    for allowed, token, checks, copies in (({b"a", b"b"}, 0, 1, 0), ({b"b"}, 1, 2, 1)):
        c = TokenSet(allowed, complete=False)
        space = CandidateSpace(vocab, c)
        step = GreedyProposal().propose_row(row, space.checker(0), None)
        assert (step.token, step.n_checks, len(built)) == (token, checks, copies)
        built.clear()


def test_a_row_of_the_wrong_shape_is_a_clear_error():
    vocab = Vocabulary.from_tokens([b"a", b"b"], eos_ids=[1])
    space = CandidateSpace(vocab, TokenSet({b"a"}, False))
    with pytest.raises(GenerationError, match="expected log-probabilities over the 2 tokens"):
        GreedyProposal().propose_row(np.zeros(3, dtype=np.float32), space.checker(0), None)
    with pytest.raises(GenerationError, match="unknown proposal"):
        make_proposal("beam")


def test_bad_options_are_refused_when_made_not_at_the_first_step():
    with pytest.raises(GenerationError, match="estimator must be one of"):
        ProposalOptions(estimator="bogus")
    with pytest.raises(GenerationError, match="max_rejects must be a positive integer"):
        ProposalOptions(max_rejects=0)
    with pytest.raises(GenerationError, match="estimator must be one of"):
        AwrsProposal("bogus")
    with pytest.raises(GenerationError, match="max_rejects must be a positive integer"):
        LcdProposal(0)


@pytest.mark.parametrize(
    "name, options, proposal, weighted",
    [
        ("awrs", ProposalOptions(), AwrsProposal(), True),
        ("awrs", ProposalOptions(estimator="two-loop", max_rejects=3), AwrsProposal("two-loop", 3), True),
        ("awrs", ProposalOptions(estimator="none"), AwrsProposal("none"), False),
        ("lcd", ProposalOptions(estimator="two-loop", max_rejects=2), LcdProposal(2), False),
        ("awrs", ProposalOptions(greedy=True), GreedyProposal(), False),
        ("lcd", ProposalOptions(greedy=True), GreedyProposal(), False),
        ("greedy", ProposalOptions(), GreedyProposal(), False),
        ("mask", ProposalOptions(), MaskProposal(), True),
        ("mask", ProposalOptions(estimator="none"), MaskProposal(weights=False), False),
        ("mask", ProposalOptions(greedy=True), MaskProposal(greedy=True), False),
    ],
)
def test_each_name_and_options_make_one_proposal(name, options, proposal, weighted):
    """The registry's one choice per name: greedy AWRS and LCD are one greedy walk, masking
    keeps its own argmax; only AWRS with an estimator, and sampled masking, carry weights."""
    assert make_proposal(name, options) == proposal
    assert proposal.weighted is weighted
    assert set(PROPOSALS) == {"awrs", "lcd", "greedy", "mask"}
    assert proposal.dtype is (np.float32 if isinstance(proposal, GreedyProposal) else np.float64)


class ByteSet(TokenSet):
    """TokenSet that also says which bytes it ever produces, so the space prunes by them."""

    def __init__(self, allowed, complete, alphabet: bytes):
        super().__init__(allowed, complete)
        self.alphabet = alphabet

    def allowed_bytes(self):
        out = np.zeros(256, dtype=np.bool_)
        out[list(self.alphabet)] = True
        return out

    def impossible_tokens(self, state, vocab):  # a cheap check: tokens that start with "3"
        return np.array([t[:1] == b"3" for t in vocab.tokens])

    def next_bytes(self, state):
        return self.allowed_bytes()


def _letters_and_digits(seed):
    rng = np.random.default_rng(seed)
    words = [bytes((a, b)) for a in b"abcdefgh" for b in b"abcdefgh"] + [
        bytes((a, b, c)) for a in b"abcdefgh" for b in b"abcdefgh" for c in b"abcdefgh"
    ]
    digits = [str(i).encode() for i in range(40)]
    tokens = words + digits + [b"<eos>"]
    vocab = Vocabulary.from_tokens(tokens, eos_ids=[len(tokens) - 1])
    row = np.log(rng.dirichlet(np.full(len(tokens), 0.3)))
    row[len(words) : -1] += 2.0  # the digits are likely enough for short walks
    allowed = {t for t in digits if t[:1] != b"3" and rng.random() < 0.4}
    return vocab, row, ByteSet(allowed, bool(rng.random() < 0.5), b"0123456789")


def test_a_constraint_that_uses_few_tokens_gets_the_compact_layout():
    vocab, row, c = _letters_and_digits(0)
    space = CandidateSpace(vocab, c)
    assert space.positions is not None and len(space.positions) == 41  # 40 digit tokens and EOS
    assert [vocab.tokens[i] for i in space.positions[:-1]] == [str(i).encode() for i in range(40)]
    np.testing.assert_array_equal(space.compact_candidates(row), space.candidates(row)[space.positions])
    np.testing.assert_array_equal(
        space.compact_candidates(row.astype(np.float32), np.float32),
        space.candidates(row.astype(np.float32), np.float32)[space.positions],
    )
    assert CandidateSpace(vocab, TokenSet(set(), False)).positions is None  # nothing pruned: the full layout
    with pytest.raises(GenerationError, match="full layout"):
        CandidateSpace(vocab, c, compact=False).compact_candidates(row)


@pytest.mark.parametrize("estimator", ["recursive", "two-loop", "none"])
def test_a_compact_step_is_the_full_layouts_walk(estimator):
    """Same seed, same walk: the pruned candidates have no mass in either layout, so the draws
    see the same masses (summed in other blocks: equal up to rounding). The token and the
    checks agree on every seed here, and the weights to 1e-12."""
    proposal = LcdProposal() if estimator == "none" else AwrsProposal(estimator)
    for seed in range(300):
        vocab, row, c = _letters_and_digits(seed)
        steps = []
        for compact in (False, True):
            space = CandidateSpace(vocab, c, compact=compact)
            step = proposal.propose_row(row, space.checker(0), np.random.default_rng(seed))
            steps.append(step)
        full, small = steps
        assert (full.token, full.n_checks) == (small.token, small.n_checks), seed
        assert small.log_weight == pytest.approx(full.log_weight, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("estimator, max_rejects", [("recursive", None), ("recursive", 3), ("two-loop", None), ("none", None)])
def test_a_step_on_the_row_is_the_step_on_the_laid_out_candidates(estimator, max_rejects):
    """row_step reads the model's row without laying the candidates out; the arithmetic is
    the same, so with the same seed the token, the weight and the checks are identical."""
    for seed in range(200):
        vocab, row, allowed, complete = _case(seed)
        c = TokenSet(allowed, complete)
        space = CandidateSpace(vocab, c)
        prune = space.checker(0).pruned()
        # A checker remembers its answers (one step's): each walk gets its own.
        got = row_step(space.full_layout, row, space.checker(0), np.random.default_rng(seed), estimator, max_rejects, prune)
        want = awrs_step(space.candidates(row), space.checker(0), np.random.default_rng(seed), estimator, max_rejects, prune)
        assert got == want, seed


def _view(rows: np.ndarray, view: str) -> Any:
    """``rows`` as the model's array, or as the same values in an array that is not
    C-contiguous: the first columns of a wider one, or one row broadcast to all; or as a list
    of rows (no [N, V] array: no kept passes beside the walks)."""
    if view == "list":
        return list(rows)
    if view == "columns":
        wide = np.zeros((rows.shape[0], rows.shape[1] + 3), dtype=rows.dtype)
        wide[:, : rows.shape[1]] = rows
        return wide[:, : rows.shape[1]]
    if view == "broadcast":
        return np.broadcast_to(rows[0], rows.shape)
    return rows


@pytest.mark.parametrize("view", ["array", "columns", "broadcast", "list"])
@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("proposal", [AwrsProposal(), AwrsProposal("two-loop"), LcdProposal(), AwrsProposal(max_rejects=2)])
@pytest.mark.parametrize("n_rows", [3, 40])  # one by one, and (>= PARALLEL_ROWS) kept distributions in threads
def test_propose_rows_gives_the_steps_of_propose_row_one_by_one(proposal, compact, n_rows, view, monkeypatch):
    """Same tokens, weights and checks, from the same random stream: the batched path only
    makes the kept distributions first, or beside the walks (they draw nothing). The rows are
    the model's array or arrays that are not C-contiguous (the kernel copies those rows)."""
    from awrs.sampler import proposal as module
    from awrs.sampler.proposal import PARALLEL_ROWS

    assert (n_rows >= PARALLEL_ROWS) == (n_rows == 40)
    beside = []

    class Counted(module._KeptAhead):
        def __init__(self, *args):
            beside.append(1)
            super().__init__(*args)

    monkeypatch.setattr(module, "_KeptAhead", Counted)
    for seed in range(40):
        rng = np.random.default_rng(seed)
        vocab, _, allowed, complete = _case(seed)
        rows = rng.normal(-3.0, 2.0, size=(n_rows, len(vocab))).astype(rng.choice([np.float32, np.float64]))
        rows[rng.random(rows.shape) < 0.1] = -np.inf
        rows = _view(rows, view)
        outcomes = []
        for batched in (True, False):
            c = TokenSet(allowed, complete)
            space = CandidateSpace(vocab, c, compact=compact)
            checkers = [space.checker(c.initial()) for _ in range(n_rows)]
            draws = np.random.default_rng(1000 + seed)
            if batched:
                steps = list(proposal.propose_rows(rows, checkers, draws))
            else:
                steps = [proposal.propose_row(row, checker, draws) for row, checker in zip(rows, checkers)]
            outcomes.append(([(s.token, s.log_weight, s.n_checks) for s in steps], c.calls, draws.random()))
        assert outcomes[0] == outcomes[1], seed
    # The walks in Python on the full layout make the kept distributions beside them, with 2 cores or more.
    assert bool(beside) == (view != "list" and not compact and module._WORKERS > 1 and n_rows >= module.AHEAD_ROWS), beside


def test_an_smc_run_with_many_particles_is_the_same_batched_or_one_by_one(monkeypatch):
    """Through the engine: 40 particles (the batched path) give the result of the one-by-one
    path, particles, weights, checks and all, for a fixed seed."""
    import awrs
    from awrs.sampler import proposal

    rng = np.random.default_rng(0)
    tokens = [bytes([c]) for c in range(97, 123)] + [b"ab", b"@", b".com"]
    lm = awrs.MockLM(tokens, rng.normal(0, 2, (len(tokens) + 1, len(tokens) + 1)))
    constraint = awrs.Regex(r"[a-z]{2,8}@[a-z]{2,8}\.com")
    batched = awrs.generate(lm, "a", constraint, n_particles=40, max_new_tokens=20, seed=3)
    monkeypatch.setattr(proposal, "PARALLEL_ROWS", 10**9)
    one_by_one = awrs.generate(lm, "a", constraint, n_particles=40, max_new_tokens=20, seed=3)
    assert batched.particles == one_by_one.particles and batched.text == one_by_one.text
    assert batched.stats.constraint_checks == one_by_one.stats.constraint_checks


def _ahead_case(n_rows: int = 12, size: int = 0, seed: int = 5):
    """Rows and checkers for the kept distributions made beside the walks: ``_case(seed)``'s
    vocabulary and constraint, or ``size`` tokens of which a few hundred are allowed."""
    if size:
        tokens = [f"t{i}".encode() for i in range(size)]
        vocab = Vocabulary.from_tokens(tokens, eos_ids=[0])
        allowed = set(tokens[1:300])
        complete = True
    else:
        vocab, _, allowed, complete = _case(seed)
    rows = np.random.default_rng(seed).normal(-3.0, 2.0, size=(n_rows, len(vocab)))
    c = TokenSet(allowed, complete)
    space = CandidateSpace(vocab, c)
    return rows, [space.checker(c.initial()) for _ in range(n_rows)]


def _steps(steps) -> list[tuple]:
    return [(s.token, s.log_weight, s.n_checks) for s in steps]


def _alone(n_rows: int, seed: int, size: int = 0, case: int = 5) -> list[tuple]:
    """The steps of ``_ahead_case(n_rows, size, case)`` one by one, drawing from ``seed``."""
    rows, checkers = _ahead_case(n_rows, size, case)
    draws = np.random.default_rng(seed)
    return _steps(AwrsProposal().propose_row(row, checker, draws) for row, checker in zip(rows, checkers))


def _watch_ahead(monkeypatch) -> list:
    """The :class:`_KeptAhead` objects made from now on, kept for the test to read."""
    from awrs.sampler import proposal as module

    made = []

    class Watched(module._KeptAhead):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(module, "_KeptAhead", Watched)
    return made


def _walks_wait(monkeypatch):
    """Walks that make no kept distribution: they wait for the thread's (and make a row only
    once it has ended short of it, as _layout._ensure_kept does). Walks in Python: the kernel
    walks make their rows inside the kernel."""
    from awrs.sampler import proposal as module

    _python_walks(monkeypatch)

    def wait(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl):
        while not _layout._is_done(done, d):  # each check releases the GIL (a kernel without it)
            if _layout._is_done(ctl[d % len(ctl)], _layout.ENDED):
                if not _layout._is_done(done, d):
                    _layout._kept_row(rows, d, which, eos, prunes, prune_of, copy, out, sums, meta, done, row)
                return

    monkeypatch.setattr(module, "_ensure_kept", wait)


def _python_walks(monkeypatch):
    """The walks in Python, row by row (the kernel walks, awrs/sampler/_kernel_walks.py, make
    the rows they need inside the kernel: tests/sampler/test_kernel_walks.py)."""
    from awrs.sampler import _kernel_walks

    monkeypatch.setattr(_kernel_walks, "supports", lambda *a: None)


def _needs_two_cores():
    from awrs.sampler import proposal as module

    if module._WORKERS < 2:
        pytest.skip("the kept distributions are made beside the walks with 2 cores or more")


@pytest.mark.parametrize("helpers", [1, 3])
@pytest.mark.parametrize("walks", ["python", "kernel"])
@pytest.mark.parametrize("size", [0, 20_000])
def test_the_kept_distributions_made_on_both_sides_are_each_made_once(monkeypatch, size, walks, helpers):
    """The walks make rows until the threads beside them begin (then each row they need that
    no thread has claimed, and rows from the last down while they wait for one a thread is
    making), each thread makes its rows (every h-th) in their order; on a large vocabulary
    (rows of ~20 µs), again and again: each row is made exactly once, and the steps are those
    of the rows one by one. (Both sides make rows over these runs, with the walks in Python;
    the tests below take each path of the claims alone.) The kernel walks too, which make the
    rows they need inside the kernel. Three threads beside the walks, on however many cores
    (the pool's threads: a thread that waits for one makes its rows late, or the walks make them)."""
    _needs_two_cores()
    from awrs.sampler import proposal as module

    monkeypatch.setattr(module, "KEPT_HELPERS", helpers)
    if walks == "python":
        _python_walks(monkeypatch)
    made = _watch_ahead(monkeypatch)
    sides = np.zeros(2, dtype=int)
    for seed in range(12):
        rows, checkers = _ahead_case(24, size, seed)
        got = _steps(AwrsProposal().propose_rows(rows, checkers, np.random.default_rng(seed)))
        assert got == _alone(24, seed, size, seed), seed
        assert made[-1].done.tolist() == [1] * 24, (seed, made[-1].done)
        assert made[-1].ctl.shape == (helpers, 4)
        claims = made[-1].claims
        sides += [int((claims[_layout.WALKS] & ~claims[_layout.THREAD]).sum()), int(claims[_layout.THREAD].sum())]
    if size and walks == "python":
        assert sides.min() > 0, sides


def _kept_args(n: int = 10, size: int = 600):
    """The arguments of _layout._ensure_kept after ``d`` (rows of ``size`` tokens, ``n`` of them)."""
    rows = np.random.default_rng(0).normal(-3.0, 2.0, size=(n, size)).astype(np.float32)
    blocks = -(-(size + 1) // 256)
    return (
        rows, np.arange(n), np.array([0]), np.zeros((1, size + 1), dtype=bool), np.zeros(n, dtype=np.int64), False,
        np.zeros((n, size + 1), dtype=rows.dtype), np.zeros((n, blocks)), np.zeros((n, 4)), np.zeros(n, dtype=np.uint8),
        np.zeros(0, dtype=np.float32), np.zeros((2, n), dtype=np.uint8), np.array([[0, 0, 0, n - 1]]),
    )  # fmt: skip


def test_a_walk_waiting_for_a_row_the_thread_is_making_makes_rows_from_the_last_down():
    """While the thread beside the walks holds row 3 (made by nobody here), the walk that
    needs it makes the rows after it from the last down, then row 3 itself once the thread has
    ended short of it; rows before it are left alone, and each row is made once."""
    rows, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl = _kept_args()
    claims[_layout.THREAD, 3] = 1

    def end_soon():
        time.sleep(0.2)
        ctl[0, _layout.ENDED] = 1

    ender = threading.Thread(target=end_soon)
    ender.start()
    _layout._ensure_kept(rows, 3, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl)
    ender.join()
    assert done.tolist() == [0, 0, 0] + [1] * 7
    assert claims[_layout.WALKS].tolist() == [0, 0, 0] + [1] * 7 and ctl[0, _layout.TAIL] == 3
    for d in range(3, 10):  # what the rows hold is their kept distribution
        kept = CandidateLayout(rows.shape[1], eos).kept(rows[d], np.zeros(rows.shape[1] + 1, dtype=bool))
        assert np.array_equal(out[d], kept[0]) and meta[d, 3] == kept[3]


def test_a_row_both_sides_claim_is_the_walks():
    """Dekker's protocol row by row: a side that finds the other's claim does not make the row,
    and the thread withdraws its claim so that the walk waiting for it makes it."""
    claims = np.zeros((2, 3), dtype=np.uint8)
    assert _layout._claim(claims, _layout.WALKS, 0)
    assert not _layout._claim(claims, _layout.THREAD, 0) and claims[:, 0].tolist() == [1, 0]
    assert _layout._claim(claims, _layout.THREAD, 1)
    assert not _layout._claim(claims, _layout.WALKS, 1) and claims[:, 1].tolist() == [1, 1]
    rows, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl = _kept_args(3)
    claims[_layout.THREAD, 2] = 1
    ctl[0, _layout.TAIL] = 0  # nothing to make from the back while it waits

    def withdraw_soon():  # as the thread does when it finds the walk's claim after its own
        time.sleep(0.2)
        claims[_layout.THREAD, 2] = 0

    withdrawer = threading.Thread(target=withdraw_soon)
    withdrawer.start()
    _layout._ensure_kept(rows, 2, which, eos, prunes, prune_of, copy, out, sums, meta, done, row, claims, ctl)
    withdrawer.join()
    assert done.tolist() == [0, 0, 1] and ctl[0, _layout.ENDED] == 0  # made by the walk, the thread not ended


@pytest.mark.parametrize("side", ["walks", "thread"])
def test_either_side_alone_makes_every_kept_distribution(monkeypatch, side):
    """A thread that never begins (the pool busy elsewhere): the walks make every row. Walks
    that never make rows: they wait for the thread's."""
    _needs_two_cores()
    _python_walks(monkeypatch)
    from awrs.sampler import proposal as module

    made = _watch_ahead(monkeypatch)
    if side == "walks":
        in_order = module._kept_in_order

        def late(*args):  # begins once the walks are over (closing says stop)
            ctl, me = args[-2:]
            for _ in range(10_000):
                if ctl[me, _layout.STOP]:
                    break
                time.sleep(0.001)
            in_order(*args)

        monkeypatch.setattr(module, "_kept_in_order", late)
    else:
        _walks_wait(monkeypatch)
    rows, checkers = _ahead_case(12)
    assert _steps(AwrsProposal().propose_rows(rows, checkers, np.random.default_rng(3))) == _alone(12, 3)
    ahead = made[-1]
    assert ahead.done.tolist() == [1] * 12
    mine, theirs = ahead.claims[_layout.WALKS].tolist(), ahead.claims[_layout.THREAD].tolist()
    if side == "walks":
        assert mine == [1] * 12 and theirs == [0] * 12  # every row made by the walks; the thread stopped at once
    else:
        assert mine == [0] * 12 and theirs == [1] * 12


def test_a_step_left_early_waits_for_the_kept_distributions_made_beside_it(monkeypatch):
    """A caller that stops taking steps (an on_token callback that raised) closes the walks:
    the thread making the kept distributions is told to stop and waited for before anything
    else runs (its buffers are this thread's, reused by the next step), and the next step is
    what it would have been."""
    _needs_two_cores()
    from awrs.sampler import proposal as module

    calls = []
    kernel = module._kept_in_order

    def watched(*args):
        calls.append(args[-2][args[-1]])  # the thread's control slots (_layout.STOP, ENDED, BEGUN)
        kernel(*args)
        calls.append("returned")

    monkeypatch.setattr(module, "_kept_in_order", watched)
    _walks_wait(monkeypatch)
    rows, checkers = _ahead_case()
    steps = AwrsProposal().propose_rows(rows, checkers, np.random.default_rng(0))
    next(steps)
    steps.close()
    assert calls[-1] == "returned" and calls[0][_layout.STOP] == 1 and calls[0][_layout.ENDED] == 1
    rows, checkers = _ahead_case()
    got = _steps(AwrsProposal().propose_rows(rows, checkers, np.random.default_rng(1)))
    assert got == _alone(12, 1)


def test_an_error_making_the_kept_distributions_beside_the_walks_reaches_the_caller(monkeypatch):
    from awrs.sampler import proposal as module

    if module._WORKERS < 2:
        pytest.skip("the kept distributions are made beside the walks with 2 cores or more")

    def broken(*args):
        raise MemoryError("no room for the kept weights")

    monkeypatch.setattr(module, "_kept_in_order", broken)
    _walks_wait(monkeypatch)
    rows, checkers = _ahead_case()
    with pytest.raises(MemoryError, match="no room"):
        list(AwrsProposal().propose_rows(rows, checkers, np.random.default_rng(0)))


def test_a_step_an_error_leaves_midway_stops_the_kept_passes_beside_it(monkeypatch):
    """An on_token callback that raises mid-step: the engine closes the step's walks at once (the
    traceback the caller holds keeps them alive), so the thread making kept distributions
    beside them is stopped before anything else runs on this thread's buffers; the error
    raised is the callback's."""
    import awrs
    from awrs.sampler import proposal as module

    _needs_two_cores()
    opened, closed = [], []

    class Watched(module._KeptAhead):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            opened.append(self)

        def close(self, raising=True):
            super().close(raising)
            closed.append(self)

    monkeypatch.setattr(module, "_KeptAhead", Watched)
    rng = np.random.default_rng(0)
    tokens = [bytes([c]) for c in range(97, 123)] + [b"ab", b"@", b".com"]
    lm = awrs.MockLM(tokens, rng.normal(0, 2, (len(tokens) + 1, len(tokens) + 1)))

    def on_token(i, token):
        if opened and i == 30:
            raise RuntimeError("the callback's own error")

    with pytest.raises(RuntimeError, match="the callback's own error") as info:
        awrs.generate(lm, "a", awrs.Predicate(lambda t: len(t) < 9), n_particles=40, max_new_tokens=20, seed=3, on_token=on_token)
    assert info.value is not None and opened and closed == opened


class Unhashable(TokenSet):
    """TokenSet with list states: nothing is shared between checkers unless they are twins."""

    def initial(self):
        return [0]

    def advance(self, state, data):
        return None if super().advance(state, data) is None else [1]

    def is_complete(self, state):
        return super().is_complete(state[0])


@pytest.mark.parametrize("compact", [False, True])
@pytest.mark.parametrize("proposal", [AwrsProposal(), AwrsProposal("two-loop"), LcdProposal()])
@pytest.mark.parametrize("n_rows", [7, 40])
def test_twins_share_their_kept_distribution_and_answers_and_step_as_alone(proposal, compact, n_rows, monkeypatch):
    """Rows said to be twins (the same row, the same state) give the steps they give when
    nobody says so (tokens, weights, checks, the random stream); their kept distribution is
    made once per family and the constraint is asked once per family and candidate."""
    from awrs.sampler import proposal as module

    made = []  # a 1 per kept distribution made, one at a time or beside the walks (each row once)
    keep = module.keep_on_row
    monkeypatch.setattr(module, "keep_on_row", lambda *a: made.append(1) or keep(*a))

    class Counted(module._KeptAhead):
        def __init__(self, rows, which, *rest):
            made.extend([1] * len(which))
            super().__init__(rows, which, *rest)

    monkeypatch.setattr(module, "_KeptAhead", Counted)
    for seed in range(30):
        rng = np.random.default_rng(seed)
        vocab, _, allowed, complete = _case(seed)
        twins = [0]
        for i in range(1, n_rows):  # each row a twin of an earlier first, or a first itself
            twins.append(i if rng.random() < 0.3 else twins[int(rng.integers(i))])
        rows = rng.normal(-3.0, 2.0, size=(n_rows, len(vocab))).astype(rng.choice([np.float32, np.float64]))
        rows[rng.random(rows.shape) < 0.1] = -np.inf
        rows = rows[twins]  # a twin's row is its first's
        outcomes = []
        for said in (True, False):
            c = Unhashable(allowed, complete)
            space = CandidateSpace(vocab, c, compact=compact)
            checkers = []
            for i, j in enumerate(twins):
                checkers.append(space.checker(c.initial(), checkers[j] if said and j != i else None))
            draws = np.random.default_rng(1000 + seed)
            made.clear()
            steps = list(proposal.propose_rows(rows, checkers, draws, twins if said else None))
            assert len(made) == (len(set(twins)) if said else n_rows)
            asked = [set(ch._seen) for ch in checkers]
            outcomes.append(([(s.token, s.log_weight, s.n_checks) for s in steps], draws.random(), c.calls, asked))
        (steps_said, after_said, calls_said, asked), (steps_alone, after_alone, calls_alone, _) = outcomes
        assert steps_said == steps_alone and after_said == after_alone, seed
        # The constraint was asked once per family and candidate, each walk counting its own checks.
        assert calls_alone == sum(len(a) for a in asked) == sum(s[2] for s in steps_alone)
        families = {j: set() for j in twins}
        for i, j in enumerate(twins):
            families[j] |= asked[i]
        assert calls_said == sum(len(f) for f in families.values()), seed


def test_checkers_from_equal_states_share_what_the_constraint_said_and_count_their_own_checks():
    vocab, _, allowed, complete = _case(3)
    c = TokenSet(allowed, complete)
    space = CandidateSpace(vocab, c)
    first, second = space.checker(0), space.checker(0)
    answers = [first(i) for i in range(len(vocab) + 1)]
    asked = c.calls
    assert [second(i) for i in range(len(vocab) + 1)] == answers
    assert c.calls == asked  # answered from what the first learned
    assert first.calls == second.calls == len(vocab) + 1  # each counts the checks its walk made
    other = space.checker(1)  # another state learns for itself
    other(0)
    assert c.calls == asked + 1


def test_a_space_forgets_the_states_it_knows_when_it_holds_too_many(monkeypatch):
    from awrs.sampler import space as module

    monkeypatch.setattr(module, "KNOWN_STATES", 4)
    vocab, _, allowed, complete = _case(3)
    c = TokenSet(allowed, complete)
    space = CandidateSpace(vocab, c)
    for state in range(10):
        space.checker(state)(0)
        assert len(space._known) <= 4
    calls = c.calls
    space.checker(9)(0)  # still known
    assert c.calls == calls
    space.checker(0)(0)  # forgotten: asked again
    assert c.calls == calls + 1


def test_twins_through_the_engine_change_nothing(monkeypatch):
    """An SMC run whose particles share their families' work (the default) is the run where
    each particle works alone: particles, weights and checks, for fixed seeds."""
    import awrs
    from awrs.sampler import proposal as module

    rng = np.random.default_rng(0)
    tokens = [bytes([c]) for c in range(97, 123)] + [b"ab", b"@", b".com"]
    lm = awrs.MockLM(tokens, rng.normal(0, 2, (len(tokens) + 1, len(tokens) + 1)))
    constraint = awrs.Regex(r"[a-z]{2,8}@[a-z]{2,8}\.com")
    together = [awrs.generate(lm, "a", constraint, n_particles=40, max_new_tokens=20, seed=s) for s in range(3)]
    walk_rows = module._walk_rows
    said = []
    monkeypatch.setattr(module, "_walk_rows", lambda *a: said.append(len(set(a[5]))) or walk_rows(*a[:5]))
    alone = [awrs.generate(lm, "a", constraint, n_particles=40, max_new_tokens=20, seed=s) for s in range(3)]
    assert min(said) < 40  # there were twins
    for a, b in zip(together, alone):
        assert a.particles == b.particles and a.text == b.text
        assert a.stats.constraint_checks == b.stats.constraint_checks


def test_the_kept_buffers_are_kept_per_float_type():
    """Steps on float32 and float64 rows in turn reuse one pair of buffers per type: neither
    grows when the other is asked for (each flip had doubled the one buffer)."""
    from awrs.sampler import proposal as module

    seen: dict[type, set[int]] = {np.float32: set(), np.float64: set()}
    for dtype in [np.float32, np.float64] * 5:
        weights, sums = module._buffers(4, 1237, dtype)
        assert weights.dtype == dtype and weights.shape[1] == 1237 and sums.shape[0] == weights.shape[0]
        seen[dtype].add(id(weights))
    assert [len(ids) for ids in seen.values()] == [1, 1]
