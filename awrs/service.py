"""A model's engine stepped by a background thread: what async calls, streams and the server share.

:class:`~awrs.smc.scheduler.Engine` advances one batch a step at a time and is driven by one
thread. A :class:`Service` owns an engine and that thread: :meth:`Service.submit` may be called
from any thread (or event loop) and returns a :class:`Job` at once; the thread admits it at its
next step, steps while any request is running, and sleeps when none is. Requests submitted
while others run join their batch — continuous batching — so concurrent ``await
awrs.agenerate(...)`` calls, streams and server requests on one model share each forward pass.

A job reports to its ``listener`` from the service's thread: an :class:`Update` after every
step that added committed text (and, with ``detail=True``, after every step, with the
particles as they stand), then a final one with the result or the error; with
``stream=False`` only the final one. Committed text is
what no later step can take back (:func:`~awrs.smc.scheduler.agreed_output`): every token of
a single-sequence method as it is drawn, and for SMC the text every live particle agrees on.

:func:`shared` gives one service per model object, so that every async call and stream on a
model batches together.
"""

from __future__ import annotations

import codecs
import itertools
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from awrs.errors import GenerationError
from awrs.generate import Request, finish
from awrs.lm.base import LanguageModel
from awrs.result import Result
from awrs.smc.scheduler import Engine, Handle

__all__ = ["Job", "ParticleView", "QueueFullError", "Service", "Update", "shared"]


class QueueFullError(GenerationError):
    """The service already holds as many requests as it was allowed (``max_pending``): try
    again later (a server answers 503)."""


@dataclass(frozen=True)
class ParticleView:
    """One particle as a step left it: its text so far, log weight (None where the method
    carries none) and whether it has ended."""

    text: str
    log_weight: float | None
    finished: bool
    stop_reason: str | None


@dataclass(frozen=True)
class Update:
    """What a job reports after a step, and once at the end (``done=True``).

    ``text``: the committed text this step added (decoded; a character split across tokens
    arrives whole), so the pieces of a job concatenate to its committed text, and with the
    final update's ``text`` to ``result.text`` (see :class:`Job`). ``particles`` (only with
    ``detail=True``) and ``resampled`` (the particles were resampled this step) show SMC at
    work. The final update carries ``result`` or ``error``.
    """

    job: Job
    step: int
    text: str = ""
    particles: tuple[ParticleView, ...] | None = None
    resampled: bool = False
    done: bool = False
    result: Result | None = None
    error: BaseException | None = None

    def outcome(self) -> Result:
        """The final update's result; the job's error (or that it was cancelled) raised."""
        if self.error is not None:
            raise self.error
        assert self.result is not None, "only the final update has an outcome"
        return self.result


Listener = Callable[[Update], None]


class Job:
    """One request in a :class:`Service`: wait for its :meth:`result`, or :meth:`cancel` it.

    The text a job's updates carry concatenates to ``result.text`` whenever the result is
    valid (and always for a single-sequence method). An SMC run whose particles all fail
    leaves the committed text where it was; its (invalid) result then need not extend it.
    """

    def __init__(self, service: Service, job_id: int, request: Request, listener: Listener | None, stream: bool, detail: bool):
        self.service = service
        self.request = request
        self.id = job_id
        self._listener = listener
        self._stream = stream = listener is not None and (stream or detail)
        self._detail = detail
        self._rng = np.random.default_rng(request.seed)
        self.handle = Handle(job_id, request.submission(self._rng, stream=stream))
        self._done = threading.Event()
        self._result: Result | None = None
        self._error: BaseException | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._sent_bytes = 0
        self._sent_text = ""
        self._steps = 0
        self._resamples = 0

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.status!r})"

    @property
    def status(self) -> str:
        """``queued``, ``running``, ``done``, ``failed`` or ``cancelled``."""
        return self.handle.status

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> None:
        """Take the request out of the batch at the next step (its rows are freed then)."""
        self.handle.cancel()
        self.service._wake()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended (or ``timeout`` seconds); whether it has."""
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Result:
        """The job's :class:`~awrs.result.Result`, blocking until it is there; the request's
        own error if it failed, :class:`~awrs.errors.GenerationError` if it was cancelled."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.id} is still {self.status} after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    # --- called on the service's thread --------------------------------------------------

    def _after_step(self) -> None:
        self._steps += 1
        if self.handle.done:
            self._end()
            return
        if not self._stream:
            return
        committed = self.handle.committed
        text = self._decoder.decode(committed[self._sent_bytes :]) if len(committed) > self._sent_bytes else ""
        self._sent_bytes = len(committed)
        self._sent_text += text
        resampled = self.handle.n_resamples != self._resamples
        self._resamples = self.handle.n_resamples
        if text or self._detail:
            self._emit(Update(self, self._steps, text, self._particles() if self._detail else None, resampled))

    def _end(self, error: BaseException | None = None) -> None:
        if error is None:
            try:
                if self.handle.status == "done":
                    self._result = finish(self.request, self.handle.result(), self._rng)
                else:
                    self.handle.result()  # raises the request's error, or that it was cancelled
            except BaseException as exc:
                error = exc
        self._error = error
        rest = ""
        if self._result is not None and self._result.text.startswith(self._sent_text):
            rest = self._result.text[len(self._sent_text) :]
        final = Update(
            self, self._steps, rest, self._particles() if self._detail else None, done=True, result=self._result, error=error
        )
        self._done.set()
        self._emit(final)

    def _emit(self, update: Update) -> None:
        if self._listener is None:
            return
        try:
            self._listener(update)
        except Exception:  # a listener that fails cancels its own job, never the service
            self.handle.cancel()

    def _particles(self) -> tuple[ParticleView, ...]:
        vocab = self.service.lm.vocab
        weighted = self.request.config.weighted
        return tuple(
            ParticleView(
                (p.output(vocab) if p.finished or p.stop_reason else vocab.decode(p.tokens)).decode("utf-8", errors="replace"),
                float(p.log_weight) if weighted and not math.isnan(p.log_weight) else None,
                p.finished,
                p.stop_reason,
            )
            for p in self.handle.particles
        )


class Service:
    """An :class:`~awrs.smc.scheduler.Engine` on ``lm``, stepped by a background thread.

    ``max_pending``: how many requests it holds at once (queued and running); a submission
    beyond that raises :class:`QueueFullError`. The thread starts with the first submission
    and is a daemon; :meth:`close` cancels what is left and stops it.
    """

    def __init__(self, lm: LanguageModel, *, max_pending: int | None = None):
        if max_pending is not None and max_pending < 1:
            raise GenerationError(f"max_pending must be at least 1 (or None for no limit), got {max_pending}")
        self.lm = lm
        self.max_pending = max_pending
        self._engine = Engine(lm)
        self._lock = threading.Condition()
        self._inbox: list[Job] = []
        self._jobs: list[Job] = []  # admitted to the engine, not yet ended
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False
        #: Forward passes run (steps with at least one request running): the server's /health.
        self.steps = 0

    def __repr__(self) -> str:
        return f"Service({type(self.lm).__name__}, pending={self.pending})"

    @property
    def pending(self) -> int:
        """Requests submitted and not yet ended."""
        with self._lock:
            return len(self._inbox) + len(self._jobs)

    def submit(self, request: Request, *, listener: Listener | None = None, stream: bool = True, detail: bool = False) -> Job:
        """Queue one checked request (:func:`awrs.generate.prepare`, one prompt) and return its
        :class:`Job`. ``listener(update)`` is called on the service's thread after each step
        that commits text (every step with ``detail=True``) and once at the end; with
        ``stream=False``, only at the end (what waits for a whole result: no committed text is
        worked out after every step). It should return quickly (hand the update to a queue)."""
        if len(request.prompt_ids) != 1:
            raise GenerationError(f"a service request has one prompt, got {len(request.prompt_ids)}: submit one per prompt")
        if request.lm is not self.lm:
            raise GenerationError("the request was prepared for another model than this service's")
        with self._lock:
            if self._closed:
                raise GenerationError("the service is closed")
            if self.max_pending is not None and len(self._inbox) + len(self._jobs) >= self.max_pending:
                raise QueueFullError(f"the service already holds {self.max_pending} requests (max_pending): try again shortly")
            job = Job(self, next(self._ids), request, listener, stream, detail)
            self._inbox.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"awrs-service-{id(self):x}", daemon=True)
                self._thread.start()
            self._lock.notify()
        return job

    def close(self, timeout: float | None = 10.0) -> None:
        """Cancel every request left and stop the thread (waiting up to ``timeout`` s)."""
        with self._lock:
            self._closed = True
            for job in self._inbox + self._jobs:
                job.handle.cancel()
            self._lock.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _wake(self) -> None:
        with self._lock:
            self._lock.notify()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._inbox and not self._jobs and not self._closed:
                    self._lock.wait()
                if self._closed and not self._inbox and not self._jobs:
                    return
                arrived, self._inbox = self._inbox, []
            for job in arrived:
                self._engine.enqueue(job.handle)
            with self._lock:
                self._jobs += arrived
            self._step()

    def _step(self) -> None:
        try:
            self._engine.step()
        except BaseException as exc:  # the forward pass itself failed: every request in it fails
            failed = list(self._jobs)
            self._engine = Engine(self.lm)
            with self._lock:
                self._jobs = []
            error = GenerationError(f"the model's forward pass failed: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            for job in failed:
                job._end(error)
            return
        self.steps += 1
        ended = []
        for job in list(self._jobs):
            job._after_step()
            if job.done:
                ended.append(job)
        if ended:
            with self._lock:
                self._jobs = [j for j in self._jobs if not j.done]


_SHARED: dict[int, Service] = {}
_SHARED_LOCK = threading.Lock()


def shared(lm: LanguageModel) -> Service:
    """The one :class:`Service` of ``lm`` that async calls and streams on it share, made on
    first use. It holds the model (and a sleeping thread) until closed: ``shared(lm).close()``
    lets a model go."""
    with _SHARED_LOCK:
        service = _SHARED.get(id(lm))
        if service is None or service._closed or service.lm is not lm:
            service = _SHARED[id(lm)] = Service(lm)
        return service


def one_request(request: Request, index: int = 0) -> Request:
    """The ``index``-th prompt of a checked request as a request of its own."""
    return replace(request, prompt_ids=[request.prompt_ids[index]], batched=False)
