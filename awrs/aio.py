"""Async generation: ``await awrs.agenerate(...)`` and ``async for piece in awrs.astream(...)``.

Both run on the model's shared :class:`~awrs.service.Service` (one background thread per
model), so concurrent calls from one event loop — or from several — join one batch and share
each forward pass (continuous batching); the event loop never blocks on the model.

    results = await asyncio.gather(*(awrs.agenerate(lm, p, c, seed=i) for i, p in enumerate(prompts)))
    async for piece in awrs.astream(lm, prompt, c, method="smc"):
        print(piece, end="")

Cancelling the awaiting task (or leaving the ``async for`` early) cancels the request: its
rows leave the batch at the next step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.generate import GenerateOptions, PromptInput, Request, prepare
from awrs.lm.base import LanguageModel
from awrs.result import Result
from awrs.service import Job, Service, Update, shared

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncStream", "agenerate", "astream"]


async def agenerate(
    lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None = None, **options: Unpack[GenerateOptions]
) -> Result:
    """:func:`awrs.generate` for one prompt, awaited: the same arguments, checks and errors,
    and for a fixed seed the same result as :func:`awrs.generate` gives (the request's rows
    are the same numbers whatever runs beside them). For several prompts, gather several
    calls: they batch together."""
    request = prepare(lm, prompt, constraint, **options)
    if request.batched:
        raise GenerationError("agenerate takes one prompt: gather one call per prompt (they run in one batch)")
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[Update] = loop.create_future()

    def deliver(update: Update) -> None:  # on the service's thread, once: the final update
        loop.call_soon_threadsafe(_settle, ended, update)

    job = shared(request.lm).submit(request, listener=deliver, stream=False)
    try:
        update = await ended
    except asyncio.CancelledError:
        job.cancel()
        raise
    return update.outcome()


def _settle(future: asyncio.Future[Update], update: Update) -> None:
    if not future.done():  # a task cancelled meanwhile has cancelled its future
        future.set_result(update)


class AsyncStream:
    """Committed text pieces of one generation, as :class:`awrs.Stream` yields them, for
    ``async for``; ``result`` once exhausted. ``aclose()`` (or leaving the loop early)
    cancels the request."""

    def __init__(self, service: Service, request: Request) -> None:
        self.result: Result | None = None
        self._loop = asyncio.get_running_loop()
        self._updates: asyncio.Queue[Update] = asyncio.Queue()
        self.job: Job = service.submit(request, listener=self._deliver)
        self._ended = False

    def _deliver(self, update: Update) -> None:  # on the service's thread
        try:
            self._loop.call_soon_threadsafe(self._updates.put_nowait, update)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            self.job.handle.cancel()

    def __aiter__(self) -> AsyncIterator[str]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[str]:
        try:
            while True:
                update = await self._updates.get()
                if update.text:
                    yield update.text
                if update.done:
                    self._ended = True
                    self.result = update.outcome()
                    return
        finally:
            if not self._ended:
                self.job.cancel()

    async def aclose(self) -> None:
        """Cancel the generation and wait until it has ended."""
        self.job.cancel()
        while not self._ended:
            update = await self._updates.get()
            self._ended = update.done


def astream(
    lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None = None, **options: Unpack[GenerateOptions]
) -> AsyncStream:
    """Iterate (``async for``) over the committed text of one constrained generation (see
    :class:`awrs.Stream`); call it inside a running event loop. ``method`` defaults to
    "awrs" here, as for :func:`awrs.stream`."""
    options.setdefault("method", "awrs")
    request = prepare(lm, prompt, constraint, **options)
    if request.batched:
        raise GenerationError("a stream shows one generation: give one prompt, not a list of prompts")
    return AsyncStream(shared(request.lm), request)
