"""A step-scheduled engine: requests join and leave one batch between steps (continuous batching).

:func:`~awrs.smc.engine.run_groups` runs a fixed set of prompts to the end. The
:class:`Engine` owns one model batch instead and advances it a step at a time: a submitted
request (a prompt, its own constraint, method settings and seed) joins the batch at the next
step — its prompt prefilled, its particles' rows appended (:meth:`JoinableBatch.add
<awrs.lm.base.JoinableBatch.add>`) — and leaves it the step it finishes, fails or is
cancelled. One forward pass serves every running request, whatever their constraints.

Each request is stepped exactly as ``run_groups`` steps one prompt (docs/algorithm.md §3-4):
its particles in their order, then its resampling, all from its own random generator. So a
request's output does not depend on what else runs beside it: the same seed gives the same
tokens, weights and checks alone or in a crowd (the model's rows being the same numbers,
which every shipped backend's contract tests check). A request whose constraint, critic or
callback raises fails alone with that error; the engine goes on with the others.
"""

from __future__ import annotations

import codecs
import itertools
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from awrs.constraints.base import Constraint
from awrs.constraints.stop import StopAt, held_back
from awrs.errors import GenerationError
from awrs.lm.base import JoinableBatch, LanguageModel
from awrs.sampler.space import CandidateSpace
from awrs.smc.engine import (
    Critic,
    RunRecord,
    SMCConfig,
    TokenCallback,
    Trajectory,
    _apply_critic,
    _budget_needs_model,
    _Group,
    _record,
    _resample_groups,
    _step_all,
    rows_of,
)

__all__ = ["Engine", "Handle", "Status", "Submission", "agreed_output"]

Status = Literal["queued", "running", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class Submission:
    """What a request asks for: a prompt (token ids), its constraint and settings, and its
    random generator's seed (or a generator)."""

    prompt_ids: Sequence[int]
    constraint: Constraint
    config: SMCConfig = field(default_factory=SMCConfig)
    seed: int | np.random.Generator | None = None
    critic: Critic | None = None
    on_token: TokenCallback | None = None
    #: Keep :attr:`Handle.committed` up to date after every step (it costs a pass over the
    #: particles' texts per step, so only streams ask for it).
    stream: bool = False


class Handle:
    """A submitted request: its status, and when it is done its :class:`RunRecord` (or the
    error it failed with). ``cancel()`` takes it out of the batch at the next step."""

    def __init__(self, request_id: int, submission: Submission):
        self.id = request_id
        self.submission = submission
        self.status: Status = "queued"
        self.record: RunRecord | None = None
        self.error: BaseException | None = None
        self.rng = submission.seed if isinstance(submission.seed, np.random.Generator) else np.random.default_rng(submission.seed)
        #: The output so far that no later step can take back (see :func:`agreed_output`),
        #: growing monotonically; what a stream may send. Kept only for ``stream=True``.
        self.committed = b""
        self._cancelled = False
        self._group: _Group | None = None  # its particles once it runs

    @property
    def particles(self) -> list[Trajectory]:
        """The request's particles as they stand (empty before it starts): read them between
        steps, from the thread that steps the engine."""
        return [] if self._group is None else self._group.particles

    @property
    def n_resamples(self) -> int:
        """How many times the request's particles have been resampled so far."""
        return 0 if self._group is None else self._group.n_resamples

    def __repr__(self) -> str:
        return f"Handle({self.id}, {self.status!r})"

    @property
    def committed_text(self) -> str:
        """:attr:`committed` decoded, up to its last complete UTF-8 character (an incremental
        decoder holds an unfinished one back)."""
        return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(self.committed)

    @property
    def done(self) -> bool:
        """Finished, failed or cancelled."""
        return self.status in ("done", "failed", "cancelled")

    def cancel(self) -> None:
        """Leave the batch at the next step (its rows are freed then); a finished request stays finished."""
        if not self.done:
            self._cancelled = True

    def result(self) -> RunRecord:
        """The record of a finished request; the request's own error if it failed."""
        if self.status == "failed":
            assert self.error is not None
            raise self.error
        if self.status == "cancelled":
            raise GenerationError(f"request {self.id} was cancelled")
        if self.record is None:
            raise GenerationError(f"request {self.id} is {self.status}: step the engine until it is done")
        return self.record


class _Running:
    """A request in the batch: its particles (a _Group), candidate space and clocks."""

    def __init__(self, handle: Handle, lm: LanguageModel):
        s = handle.submission
        if s.config.twist and s.critic is None:
            raise GenerationError("twist=True needs a critic")
        constraint = StopAt(s.constraint, s.config.stop_strings) if s.config.stop_strings else s.constraint
        self.handle = handle
        self.space = CandidateSpace(lm.vocab, constraint, s.config.extra_eos_ids)
        self.group = _Group(constraint, s.config.n_particles)
        handle._group = self.group
        self.t = 0
        self.started = time.perf_counter()
        self.prefill_seconds = 0.0
        self.sampling_seconds = 0.0
        self.forward_passes = 1
        self.detached: list[tuple[int, int]] | None = None  # live particles stepped without the model


class Engine:
    """One model batch, advanced a step at a time for every request in it.

    ``submit`` queues a request and returns its :class:`Handle`; ``step`` admits the queued
    requests, advances every running one by a token and runs one forward pass for all;
    ``run`` steps until nothing is left. Not thread-safe: call it from one thread (a server
    runs it in one worker and submits through a queue).
    """

    def __init__(self, lm: LanguageModel):
        self.lm = lm
        self._batch: Any = None
        self._rows: list[tuple[_Running, int]] = []  # batch row -> (request, particle index)
        self._queue: deque[Handle] = deque()
        self._running: list[_Running] = []
        self._ids = itertools.count()

    def submit(self, submission: Submission) -> Handle:
        """Queue a request: it joins the batch at the next step."""
        handle = Handle(next(self._ids), submission)
        self.enqueue(handle)
        return handle

    def enqueue(self, handle: Handle) -> None:
        """Queue a request through a handle made by the caller (a service that numbers its
        requests itself)."""
        if handle.status != "queued" or handle._group is not None:
            raise GenerationError(f"request {handle.id} was queued before ({handle.status})")
        self._queue.append(handle)

    @property
    def pending(self) -> int:
        """Requests queued or running."""
        return len(self._queue) + len(self._running)

    def run(self) -> None:
        """Step until every request is done."""
        while self.pending:
            self.step()

    def step(self) -> None:
        """Admit queued requests, drop cancelled ones, advance each running request by one
        token (its own proposals and resampling), then one forward pass for all rows left."""
        self._admit()
        self._drop_cancelled()
        if not self._running:
            return
        logprobs = self._logprobs()
        select: list[int] = []
        tokens: list[int] = []
        rows: list[tuple[_Running, int]] = []
        rows_of: dict[int, list[int]] = {}  # id of a request -> its batch rows, in order (one pass)
        for r, (owner, _) in enumerate(self._rows):
            rows_of.setdefault(id(owner), []).append(r)
        for run in list(self._running):
            mine = rows_of.get(id(run), [])
            try:
                moves, live = self._advance(run, mine, logprobs)
            except Exception as exc:  # the request's own constraint, critic or callback raised
                self._finish(run, error=exc)
                continue
            if run.handle.submission.stream:
                self._commit(run)
            if not moves:
                self._finish(run)
                continue
            if run.t == run.handle.submission.config.max_new_tokens and not _budget_needs_model(
                [run.group], live, run.space, run.handle.submission.config
            ):  # the forced last step needs no model row (run_groups skips the same forward)
                run.detached = live
                continue
            for (local, token), (_, j) in zip(moves, live):
                select.append(mine[local])
                tokens.append(token)
                rows.append((run, j))
            run.forward_passes += 1
        self._rows = rows
        self._batch.select(select)
        if select:
            self._batch.extend(tokens)

    # --- internals -------------------------------------------------------------------------

    def _admit(self) -> None:
        """Start every queued request: prefill all their prompts together (one add per particle
        count, so one forward pass for a crowd that arrived at once), then append their rows."""
        arrived: list[_Running] = []
        while self._queue:
            handle = self._queue.popleft()
            if handle._cancelled:
                handle.status = "cancelled"
                continue
            started = time.perf_counter()
            try:
                run = _Running(handle, self.lm)
            except Exception as exc:  # a bad configuration: this request only
                handle.status, handle.error = "failed", exc
                continue
            run.started = started  # the prefill's clock, like run_groups', includes building the candidate space
            arrived.append(run)
        groups: dict[int, list[_Running]] = {}
        for run in arrived:
            groups.setdefault(run.handle.submission.config.n_particles, []).append(run)
        for copies, runs in groups.items():
            error = self._start(runs, copies)
            if error is None:
                continue
            for run in runs:  # one prompt the model refuses: each joins alone, so it fails alone with its own error
                failed = error if len(runs) == 1 else self._start([run], copies)
                if failed is not None:
                    run.handle.status, run.handle.error = "failed", failed

    def _start(self, runs: list[_Running], copies: int) -> Exception | None:
        """Join the runs' prompts to the batch and start them; the model's error if it refused."""
        try:
            self._join([r.handle.submission.prompt_ids for r in runs], copies)
        except Exception as exc:  # a prompt too long for the model, say
            return exc
        now = time.perf_counter()
        for run in runs:
            run.prefill_seconds = now - run.started
            run.handle.status = "running"
            self._running.append(run)
            self._rows += [(run, i) for i in range(copies)]
        return None

    def _join(self, prompts: list[Sequence[int]], copies: int) -> None:
        """Append ``copies`` rows of each prompt to the batch (a new batch when there is none)."""
        prompts = [list(p) for p in prompts]
        if self._batch is None or (self._batch.size == 0 and not isinstance(self._batch, JoinableBatch)):
            self._batch = self.lm.start(prompts, copies=copies)
            return
        if not isinstance(self._batch, JoinableBatch):
            raise GenerationError(
                f"{type(self._batch).__name__} cannot take rows while it runs (it has no add()); "
                "requests on this model run one batch at a time"
            )
        self._batch.add(prompts, copies=copies)

    def _drop_cancelled(self) -> None:
        for run in [r for r in self._running if r.handle._cancelled]:
            self._running.remove(run)
            run.handle.status = "cancelled"
        keep = [r for r, (owner, _) in enumerate(self._rows) if owner in self._running]
        if len(keep) != len(self._rows):
            self._batch.select(keep)
            self._rows = [self._rows[r] for r in keep]

    def _logprobs(self) -> dict[float, np.ndarray]:
        """The batch's log-probabilities at every temperature a running request asks for."""
        temperatures = {run.handle.submission.config.temperature for run in self._running}
        return {t: rows_of(self._batch, t) for t in temperatures}

    def _advance(self, run: _Running, mine: list[int], logprobs: dict[float, np.ndarray]):
        """One step of one request, as run_groups steps one prompt: returns its moves (local
        row, token) and the (0, particle) each surviving row becomes."""
        s = run.handle.submission
        config = s.config
        step_started = time.perf_counter()
        if run.detached is not None:  # its last, forced step, out of the batch
            live, rows = run.detached, None
        else:
            live = [(0, i) for _, i in (self._rows[r] for r in mine)]
            block = logprobs[config.temperature]
            # A request's rows are consecutive (admitted together, kept in order): a view, not a
            # copy of N x 49,153 floats per step.
            contiguous = bool(mine) and mine[-1] - mine[0] == len(mine) - 1
            rows = block[mine[0] : mine[-1] + 1] if contiguous else block[mine]
        forced = run.t == config.max_new_tokens
        moves = _step_all(
            [run.group], live, rows, run.space, config, run.handle.rng, forced, critic=s.critic, on_token=s.on_token
        )
        if config.ess_threshold > 0 and config.n_particles > 1 and not forced:
            moves, live = _resample_groups([run.group], moves, live, config, run.handle.rng)
        else:
            live = [live[row] for row, _ in moves]
        run.t += 1
        run.sampling_seconds += time.perf_counter() - step_started
        return moves, live

    def _commit(self, run: _Running) -> None:
        agreed = agreed_output(run.group.particles, run.space.vocab, run.handle.submission.config.stop_strings)
        if agreed.startswith(run.handle.committed):
            run.handle.committed = agreed

    def _finish(self, run: _Running, error: BaseException | None = None) -> None:
        self._running.remove(run)
        handle, s = run.handle, run.handle.submission
        if error is None and s.critic is not None:
            try:
                _apply_critic(run.group.particles, s.critic, run.space)
            except Exception as exc:
                error = exc
        if error is not None:
            handle.status, handle.error = "failed", error
            return
        seconds = time.perf_counter() - run.started
        handle.record = _record(run.group, run.forward_passes, seconds, run.prefill_seconds, run.sampling_seconds)
        handle.status = "done"


def agreed_output(particles: Sequence[Trajectory], vocab: Any, stop_strings: Sequence[bytes] = ()) -> bytes:
    """The longest output every particle still in the running shares and no later step can
    change: what may be streamed. Particles with weight 0 (dead ends, the budget spent while
    incomplete) are out. Resampling only copies particles that are in, and a particle only
    appends, so the agreed output never shrinks; an unfinished particle's text is held back by
    the longest end of it that could still begin a stop string (a later token completing the
    stop string would cut it from the output; :func:`~awrs.constraints.stop.held_back`)."""
    texts = []
    for p in particles:
        if p.log_weight == -math.inf:
            continue
        if p.finished or p.stop_reason is not None:
            texts.append(p.output(vocab))
        else:
            data = vocab.decode(p.tokens)
            texts.append(data[: len(data) - held_back(data, stop_strings)] if stop_strings else data)
    if not texts:
        return b""
    first = min(texts, key=len)
    n = len(first)
    for t in texts:
        n = min(n, next((i for i, (a, b) in enumerate(zip(first, t)) if a != b), n))
    return first[:n]
