"""Proposals: one object per way of proposing a token, chosen once per generation by name.

A :class:`Proposal` turns one row of next-token log-probabilities and a
:class:`~awrs.sampler.space.TokenChecker` (one constraint state) into a
:class:`~awrs.sampler.base.Step` whose token is a candidate id (EOS is ``len(vocab)``). The
four are :class:`AwrsProposal` (the AWRS walk, weighted), :class:`LcdProposal` (the same walk
without weights: exact locally constrained decoding), :class:`GreedyProposal` (the most likely
allowed candidate) and :class:`MaskProposal` (the token-masking baseline: every candidate
checked). :func:`make_proposal` picks one by name from :data:`PROPOSALS`, with the user's
:class:`ProposalOptions`; the generation then calls its :meth:`~Proposal.propose_row` after
every forward pass.
"""

from __future__ import annotations

import math
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from awrs._platform import available_cores
from awrs.errors import GenerationError
from awrs.sampler import _kernel_walks
from awrs.sampler._kernels import BLOCK
from awrs.sampler._layout import BEGUN, ENDED, F32, F64, STOP, TAIL, CandidateLayout, _ensure_kept, _is_done, _kept_in_order
from awrs.sampler.base import Estimator, Step, check_walk
from awrs.sampler.device import as_host, device_steps, use_device
from awrs.sampler.kept import Kept, _make_kept, keep_on_row, rest_on_row
from awrs.sampler.space import TokenChecker
from awrs.sampler.step import awrs_step, greedy_step, mask_step
from awrs.sampler.walk import walk

__all__ = [
    "PROPOSALS",
    "AwrsProposal",
    "GreedyProposal",
    "LcdProposal",
    "MaskProposal",
    "Proposal",
    "ProposalName",
    "ProposalOptions",
    "make_proposal",
]

ProposalName = Literal["awrs", "lcd", "greedy", "mask"]


@dataclass(frozen=True)
class ProposalOptions:
    """How a step walks: its estimator, its cap on rejections, greedy or sampled. Checked
    here, once, rather than on every step."""

    estimator: Estimator = "recursive"
    max_rejects: int | None = None
    greedy: bool = False

    def __post_init__(self) -> None:
        check_walk(self.estimator, self.max_rejects)


class Proposal(ABC):
    """How one token is proposed from a constraint state. Made once per generation; the
    steps call :meth:`propose_row` after every forward pass (docs/sampler.md, "The hot path").

    ``dtype``: the float type of the candidates its steps read when they lay them out (float32
    where they only compare log-probabilities, float64 where masking sums them; the steps on
    the model's row weigh it in its own type: docs/sampler.md, "Weights in the row's
    precision"). ``weighted``: whether
    its steps' log weights are importance weights (else they mean nothing, and the
    generation reports none).
    """

    __slots__ = ()
    dtype: type = np.float64

    @property
    @abstractmethod
    def weighted(self) -> bool: ...

    @abstractmethod
    def propose(self, candidates: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        """The step over the candidates laid out in full (``space.candidates(row, dtype)``)."""

    @abstractmethod
    def propose_row(self, logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        """:meth:`propose` from the model's row of log-probabilities over the vocabulary,
        before the candidates are laid out: the same step (token, weight and checks), made
        with as little work as the proposal allows."""

    def propose_rows(
        self, rows: np.ndarray, checkers: list[TokenChecker], rng: np.random.Generator, twins: Sequence[int] | None = None
    ) -> Iterator[Step]:
        """:meth:`propose_row` for row ``i`` of ``rows`` with ``checkers[i]``, in order, from one
        generator: the same steps as that loop (tokens, weights, checks and the random stream).
        Yields each step before the next is made, so a caller may act on it first (a particle
        takes its token before the next one walks). The AWRS walks make every row's kept
        distribution first, in threads (docs/sampler.md, "Many particles").

        ``twins[i] = j`` (``j <= i``) says that row ``i`` is row ``j``'s twin: the same text, so
        the same distribution and constraint state (``checkers[i]`` made with ``twin=``
        ``checkers[j]``); twins share the work that does not draw (docs/sampler.md, "Twins").
        A caller that says so must mean it: the steps are those of row ``j``'s values.

        ``rows`` may be a torch tensor on the model's device: the AWRS and LCD walks then draw
        their first candidates there (:mod:`awrs.sampler.device`); other proposals copy it."""
        for row, checker in zip(as_host(rows), checkers):
            yield self.propose_row(row, checker, rng)


@dataclass(frozen=True, slots=True)
class AwrsProposal(Proposal):
    """The AWRS walk with ``estimator`` (:func:`~awrs.sampler.step.awrs_step`), on the
    space's layout (the compact one when it has one)."""

    estimator: Estimator = "recursive"
    max_rejects: int | None = None

    def __post_init__(self) -> None:
        check_walk(self.estimator, self.max_rejects)

    @property
    def weighted(self) -> bool:
        return self.estimator != "none"

    def propose(self, candidates: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        prune = checker.pruned()
        return awrs_step(candidates, checker, rng, self.estimator, self.max_rejects, prune, narrow=checker.refused)

    def propose_row(self, logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        return _walk_row(logprobs, checker, rng, self.estimator, self.max_rejects)

    def propose_rows(
        self, rows: np.ndarray, checkers: list[TokenChecker], rng: np.random.Generator, twins: Sequence[int] | None = None
    ) -> Iterator[Step]:
        if use_device(rows) and self.estimator != "two-loop":
            return device_steps(rows, checkers, rng, self.estimator == "recursive", self.max_rejects)
        return _walk_rows(as_host(rows), checkers, rng, self.estimator, self.max_rejects, twins)


@dataclass(frozen=True, slots=True)
class LcdProposal(Proposal):
    """Exact locally constrained decoding: the AWRS walk without weights (estimator "none")."""

    max_rejects: int | None = None

    def __post_init__(self) -> None:
        check_walk("none", self.max_rejects)

    @property
    def weighted(self) -> bool:
        return False

    def propose(self, candidates: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        prune = checker.pruned()
        return awrs_step(candidates, checker, rng, "none", self.max_rejects, prune, narrow=checker.refused)

    def propose_row(self, logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        return _walk_row(logprobs, checker, rng, "none", self.max_rejects)

    def propose_rows(
        self, rows: np.ndarray, checkers: list[TokenChecker], rng: np.random.Generator, twins: Sequence[int] | None = None
    ) -> Iterator[Step]:
        if use_device(rows):
            return device_steps(rows, checkers, rng, False, self.max_rejects)
        return _walk_rows(as_host(rows), checkers, rng, "none", self.max_rejects, twins)


def _walk_row(
    logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator, estimator: Estimator, max_rejects: int | None
) -> Step:
    """:func:`~awrs.sampler.step.row_step` on the space's layout, without its argument checks
    (the proposal checked them when it was made); the token as a candidate id."""
    return next(_walk_rows((logprobs,), [checker], rng, estimator, max_rejects))


#: Rows from which :meth:`Proposal.propose_rows` makes the kept distributions in threads.
PARALLEL_ROWS = 32


def _walk_rows(
    rows: np.ndarray | Sequence[np.ndarray],
    checkers: list[TokenChecker],
    rng: np.random.Generator,
    estimator: Estimator,
    max_rejects: int | None,
    twins: Sequence[int] | None = None,
) -> Iterator[Step]:
    """:func:`_walk_row` for each row in order. The kept distributions (the one pass over each
    row, in a kernel that releases the GIL) are made once per row that is not a twin of an
    earlier one: beside the walks from :data:`AHEAD_ROWS` such rows on (:class:`_KeptAhead`),
    else first, in threads when there are many; they draw nothing, so the walks use the
    generator exactly as one by one. A twin's walk reads its first's kept distribution
    (read-only: each walk's order keeps its own taken marks)."""
    firsts = range(len(checkers)) if twins is None else twins
    laid = [(*checker.in_layout(), checker.space.row(logprobs)) for logprobs, checker in zip(rows, checkers)]
    distinct = [i for i, j in enumerate(firsts) if i == j]
    index = {i: d for d, i in enumerate(distinct)}
    rows_2d = _rows_2d(rows, checkers)
    kernel = _kernel_walks.supports(checkers, estimator, rng) if len(checkers) >= _kernel_walks.KERNEL_ROWS else None
    ahead: _KeptAhead | None = None
    if rows_2d is not None and len(distinct) >= AHEAD_ROWS and _WORKERS > 1 and checkers[0].space.positions is None:
        # The kept distributions made beside the walks. The kernel walks hold no GIL, so the
        # thread begins at once there; the walks in Python make rows ahead until it does.
        ahead = _KeptAhead(rows_2d, distinct, [laid[i][2] for i in distinct], laid[0][1], kernel is None)
    work = [] if ahead is not None else [(laid[i][1], laid[i][3], laid[i][2]) for i in distinct]
    threads = len(distinct) >= PARALLEL_ROWS and _WORKERS > 1
    try:
        if kernel is not None:  # every walk in one kernel call, the kept distributions in one buffer
            made: list[Kept | None] = []
            if ahead is not None:  # the kernel makes each row its walks need, a thread the rest
                weights, sums = ahead.weights, ahead.sums
            else:
                weights, sums, made = _kept_rows(work, threads)

            def alone(p: int) -> Step:
                view, layout, prune, row = laid[p]
                kept = made[index[firsts[p]]] if ahead is None else ahead.get(index[firsts[p]])
                return walk(kept, view, rng, estimator, max_rejects, view.refused, rest_on_row(layout, row, prune))

            family = [index[j] for j in firsts]
            weighted = estimator == "recursive"
            steps = _kernel_walks.kernel_walks(
                kernel,
                weights,
                sums,
                made,
                family,
                checkers,
                rng,
                weighted,
                max_rejects,
                alone,
                rows_2d,
                [x[2] for x in laid],
                ahead,
            )
            for i, step in enumerate(steps):
                yield checkers[i].space.to_full(step)
            return
        kept: dict[int, Kept | None] = {}
        if threads and ahead is None:  # rows the thread beside the walks cannot read, or the compact layout: all first
            kept = dict(zip(distinct, _in_threads(work, *_work_buffers(work))))
        for i, ((view, layout, prune, row), checker) in enumerate(zip(laid, checkers)):
            j = firsts[i]
            if ahead is not None:
                found = ahead.get(index[j])
            else:
                found = kept[j] if j in kept else keep_on_row(layout, row, prune)
                if j == i and twins is not None:
                    kept[i] = found
            step = walk(found, view, rng, estimator, max_rejects, view.refused, rest_on_row(layout, row, prune))
            yield checker.space.to_full(step)
    finally:
        if ahead is not None:
            ahead.close(raising=not isinstance(sys.exc_info()[1], Exception))  # closed or done: raise


def _rows_2d(rows: np.ndarray | Sequence[np.ndarray], checkers: list[TokenChecker]) -> np.ndarray | None:
    """``rows`` when the kernel walks can read row ``p`` as ``rows[p]`` (the model's [N, V]
    float32 or float64 array, as ``CandidateSpace.row`` reads it), else None."""
    if isinstance(rows, np.ndarray) and rows.dtype in (F32, F64) and rows.shape == (len(checkers), checkers[0].space.eos_index):
        return rows
    return None


def _kept_rows(
    work: list[tuple[CandidateLayout, np.ndarray, np.ndarray]], threads: bool
) -> tuple[np.ndarray, np.ndarray, list[Kept | None]]:
    """``keep_on_row`` of each item, every kept distribution's weights and block sums in a row
    of this thread's two buffers (which it returns): in threads when ``threads``."""
    weights, sums = _work_buffers(work)
    made = (
        _in_threads(work, weights, sums) if threads else [keep_on_row(*item, weights[i], sums[i]) for i, item in enumerate(work)]
    )
    for i, found in enumerate(made):  # the compact layout makes its own arrays: copied in (they are short)
        if found is not None and not np.may_share_memory(found.weights, weights[i]):
            weights[i] = found.weights
            sums[i] = found.blocks[0]
            made[i] = found._replace(weights=weights[i], blocks=(sums[i], found.blocks[1]))
    return weights, sums, made


#: Threads for the kept distributions: the cores this process may use, at most 8 (each takes a
#: chunk of rows; more threads than that only add hand-offs at these sizes).
_WORKERS = min(available_cores(), 8)
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _in_threads(
    work: list[tuple[CandidateLayout, np.ndarray, np.ndarray]], weights: np.ndarray, sums: np.ndarray
) -> list[Kept | None]:
    """``keep_on_row`` of each item into row ``i`` of the buffers (the calling thread's:
    :func:`_buffers`), split over ``_WORKERS`` threads."""
    size = -(-len(work) // _WORKERS)
    chunks = [range(k, min(k + size, len(work))) for k in range(0, len(work), size)]

    def chunk(rows: range) -> list[Kept | None]:
        return [keep_on_row(*work[i], weights[i], sums[i]) for i in rows]

    out: list[Kept | None] = []
    for part in _pool().map(chunk, chunks):
        out += part
    return out


def _pool() -> ThreadPoolExecutor:
    """The threads that make kept distributions (``_WORKERS`` of them, made on first use)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_WORKERS, thread_name_prefix="awrs-kept")
    return _POOL


#: Distinct rows from which the kept distributions are made beside the walks
#: (:class:`_KeptAhead`): below, handing work to a thread costs more than it saves (N = 4, 2-4
#: distinct rows: 0.53-0.60 against 0.49-0.55 ms per step with JSON Schema, per seed).
AHEAD_ROWS = 12

#: Threads of the pool that make the kept distributions beside the walks (:class:`_KeptAhead`):
#: every core but the walking thread's (one on two cores). Each takes every h-th row.
KEPT_HELPERS = max(_WORKERS - 1, 1)


class _KeptAhead:
    """The kept distributions of a step's distinct rows (``which``: rows of the model's [N, V]
    array ``rows``, the full layout), made beside the walks: :data:`KEPT_HELPERS` threads of
    the pool make them in the walks' order (thread j rows j, j + h, ...), each in one kernel
    call without the GIL (``_layout._kept_in_order``), while the calling thread walks; a walk
    in Python holds the GIL for its checks, so they run on as many cores. A walk whose row is
    not made yet makes it (``_layout._ensure_kept``), or, when a thread is making it, makes
    rows from the last down while it waits: once the threads have begun, walks slower than
    the passes make none, walks faster share them. The walking side and the thread that owns
    a row claim it by Dekker's protocol and never make it twice. Into the calling thread's
    buffers (:func:`_buffers`); :meth:`close` waits until the threads are done with them (and
    tells them to stop)."""

    def __init__(
        self, rows: np.ndarray, which: list[int], prunes: list[np.ndarray], layout: CandidateLayout, starting: bool = True
    ):
        n = len(which)
        weights, sums = _buffers(n, layout.size, rows.dtype)
        self.weights, self.sums = weights, sums
        self.meta = np.empty((n, 4))
        self.done = np.zeros(n, dtype=np.uint8)
        helpers = max(min(KEPT_HELPERS, n // 2), 1)  # two rows a thread at least
        self.ctl = np.zeros((helpers, 4), dtype=np.int64)  # a row per thread: _layout.STOP, ENDED, BEGUN; TAIL in row 0
        self.ctl[0, TAIL] = n - 1
        self.claims = np.zeros((2, n), dtype=np.uint8)  # _layout.WALKS, THREAD
        index = np.asarray(which, dtype=np.int64)
        _, prune_of, pruned = _kernel_walks._restart_rows(rows, prunes, n, layout.size)
        copy = not rows.flags.c_contiguous
        copies = _copy_rows(rows, copy, helpers + 1)
        self.mine = copies[0]
        self.rows = rows
        self.args: tuple[Any, ...] = (index, layout.eos, pruned, prune_of, copy, weights, sums, self.meta, self.done)
        self.futures = [
            _pool().submit(_in_order, rows, *self.args, copies[j + 1], self.claims, self.ctl, j) for j in range(helpers)
        ]
        # The other thread has not been seen to begin (``starting=False``: the walks run in a
        # kernel without the GIL, so it begins at once).
        self.starting = starting

    def get(self, d: int) -> Kept | None:
        """Row ``d``'s kept distribution: made already, made here if the other thread has not
        claimed it, else once that thread has made it (``_layout._ensure_kept``). Rows are asked
        for in order.

        Until the other thread has begun, this one makes rows ahead instead of walking: a
        thread that must take the GIL to begin does not get it from a thread running Python
        (it waits up to the switch interval, 5 ms, measured 0.2-3.5 ms after the task was
        handed over), and each row made here is 50 µs without the GIL."""
        done, ctl = self.done, self.ctl
        if self.starting and not _is_done(done, d):
            n = len(done)
            k = d
            while k < n and not self._heard_from():
                _ensure_kept(self.rows, k, *self.args, self.mine, self.claims, ctl)
                k += 1
            self.starting = k < n and not self._heard_from()
        _ensure_kept(self.rows, d, *self.args, self.mine, self.claims, ctl)
        at, top, count, total = self.meta[d]
        if at < 0:
            return None
        return _make_kept(self.weights[d], self.sums[d], int(count), float(total), float(top), int(at))

    def _heard_from(self) -> bool:
        """A thread beside the walks has begun, or ended (without beginning: it failed)."""
        return bool(self.ctl[:, [BEGUN, ENDED]].any())

    def close(self, raising: bool = True) -> None:
        """Tell the threads to stop, and wait for them (those that never began are cancelled).
        What one raised is raised here when ``raising`` (not while another error is on its
        way)."""
        self.ctl[:, STOP] = 1
        running = [f for f in self.futures if not f.cancel()]  # not begun (the pool busy elsewhere): nothing to wait for
        futures.wait(running)
        failed = [error for error in (f.exception() for f in running) if error is not None]
        if raising and failed:
            raise failed[0]


def _in_order(*args: Any) -> None:
    """``_layout._kept_in_order(*args)`` on a thread of the pool (the last two: ``ctl`` and
    its row); that row's ENDED set however it ends (a kernel that never began, for its
    arguments' types, makes no row and claims none, so a walk waiting for a row goes on to
    make it)."""
    kernel: Any = _kept_in_order  # numba's dispatcher: its arguments are checked when it runs
    try:
        kernel(*args)
    finally:
        args[-2][args[-1], ENDED] = 1


def _copy_rows(rows: np.ndarray, copy: bool, count: int) -> list[np.ndarray]:
    """``count`` rows of this thread (one per side of :class:`_KeptAhead`: the walks', then each
    thread's) into which the kernels copy the model's rows when ``copy`` (rows that are not
    C-contiguous); empty ones otherwise."""
    if not copy:
        return [np.empty(0, dtype=rows.dtype)] * count
    found = getattr(_LOCAL, "copies", None)
    if found is None or found.shape[0] < count or found.shape[1] != rows.shape[1] or found.dtype != rows.dtype:
        found = _LOCAL.copies = np.empty((count, rows.shape[1]), dtype=rows.dtype)
    return list(found[:count])


_LOCAL = threading.local()


def _buffers(rows: int, size: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """This thread's reused buffers for ``rows`` rows of kept weights of type ``dtype`` (the
    rows', docs/sampler.md "Weights in the row's precision") and their block sums: a step's
    kept distributions live until its walks are done, and a fresh 200-400 KB array per row per
    step would cost a page fault per 4 KB. One pair per float type."""
    found: dict[np.dtype, tuple[np.ndarray, np.ndarray]] | None = getattr(_LOCAL, "buffers", None)
    if found is None:
        found = _LOCAL.buffers = {}
    dtype = np.dtype(dtype)
    pair = found.get(dtype)
    if pair is None or pair[0].shape[0] < rows or pair[0].shape[1] != size:
        had = 0 if pair is None or pair[0].shape[1] != size else pair[0].shape[0]  # same vocabulary: room to spare
        weights = np.empty((max(rows, 2 * had), size), dtype=dtype)
        pair = found[dtype] = weights, np.empty((weights.shape[0], -(-size // BLOCK)))
    return pair


def _work_buffers(work: list[tuple[CandidateLayout, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_buffers` for the kept distributions of ``work`` (layout, row, prune): its rows'
    float type, which is the type a layout's kept weights take."""
    layout, row = work[0][0], work[0][1]
    return _buffers(len(work), layout.size, row.dtype)


@dataclass(frozen=True, slots=True)
class GreedyProposal(Proposal):
    """The most likely allowed candidate (:func:`~awrs.sampler.step.greedy_step`), unweighted.
    Its candidates are float32 unless the model's are float64 (``dtype`` float64 compares
    them as float64 instead)."""

    dtype: type = np.float32

    @property
    def weighted(self) -> bool:
        return False

    def propose(self, candidates: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        return greedy_step(candidates, checker, checker.pruned(), narrow=checker.refused)

    def propose_row(self, logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        """The first check is made on the row itself: the most likely candidate, compared as
        the candidates would be laid out (same float type, ties to the lower index;
        ``CandidateLayout.greedy``). The usual greedy step is that one check; only when it is
        refused are the candidates built, and the walk goes on without it (pruning a refused
        candidate leaves the masked argmax unchanged)."""
        space = checker.space
        row = space.row(logprobs)
        as_cand = np.float64 if row.dtype == np.float64 else self.dtype
        view, layout, prune = checker.in_layout()
        first = layout.greedy(row, prune, as_cand)
        if first < 0:
            return Step(None, -math.inf, 0)
        token = first if space.positions is None else int(space.positions[first])
        if checker(token):
            return Step(token, 0.0, 1)
        skip = prune.copy()
        skip[first] = True
        step = greedy_step(layout.candidates(row, as_cand), view, skip, narrow=view.refused)
        return space.to_full(Step(step.token, step.log_weight, step.n_checks + 1))


@dataclass(frozen=True, slots=True)
class MaskProposal(Proposal):
    """Token masking, the baseline: every candidate checked at once, then a draw from the
    masked distribution (its argmax when ``greedy``), weighted by the exact allowed mass.
    ``weights=False`` reports no weights (estimator "none"); nor does a greedy step."""

    greedy: bool = False
    weights: bool = True

    @property
    def weighted(self) -> bool:
        return self.weights and not self.greedy

    def propose(self, candidates: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        allowed = checker.mask()
        return mask_step(candidates, allowed, None if self.greedy else rng, n_checks=checker.space.mask_checks)

    def propose_row(self, logprobs: np.ndarray, checker: TokenChecker, rng: np.random.Generator) -> Step:
        return self.propose(checker.space.candidates(logprobs, self.dtype), checker, rng)


def _awrs(options: ProposalOptions) -> Proposal:
    return GreedyProposal() if options.greedy else AwrsProposal(options.estimator, options.max_rejects)


def _lcd(options: ProposalOptions) -> Proposal:
    return GreedyProposal() if options.greedy else LcdProposal(options.max_rejects)


def _greedy(options: ProposalOptions) -> Proposal:
    return GreedyProposal()


def _mask(options: ProposalOptions) -> Proposal:
    return MaskProposal(greedy=options.greedy, weights=options.estimator != "none")


#: Proposal name -> the proposal for the user's options. ``greedy=True`` makes the AWRS and
#: LCD walks one greedy walk (the same for both); masking takes its argmax.
PROPOSALS: dict[ProposalName, Callable[[ProposalOptions], Proposal]] = {
    "awrs": _awrs,
    "lcd": _lcd,
    "greedy": _greedy,
    "mask": _mask,
}


def make_proposal(name: ProposalName, options: ProposalOptions | None = None) -> Proposal:
    """The proposal called ``name`` (a key of :data:`PROPOSALS`) with ``options`` (default:
    :class:`ProposalOptions`'s). Raises :class:`~awrs.errors.GenerationError` for an unknown
    name."""
    try:
        make = PROPOSALS[name]
    except KeyError:
        raise GenerationError(f"unknown proposal {name!r}: use one of {sorted(PROPOSALS)}") from None
    return make(ProposalOptions() if options is None else options)
