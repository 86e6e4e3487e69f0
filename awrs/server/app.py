"""The ASGI app behind ``awrs serve``: the OpenAI API over one model's :class:`~awrs.service.Service`.

Every request's choices are submitted to the one service, whose thread steps them together
with everything else running (continuous batching); the handlers only read bodies, wait on
the jobs' updates and write JSON or server-sent events. A client that disconnects cancels its
jobs, which leave the batch at the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import json
import time
from collections.abc import AsyncIterator
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from awrs._version import __version__
from awrs.errors import AwrsError
from awrs.lm.base import LanguageModel
from awrs.result import Result
from awrs.server.protocol import (
    ApiError,
    Limits,
    Parsed,
    chunk,
    extras,
    finish_reason,
    new_id,
    particles_detail,
    read,
    response,
    usage_chunk,
)
from awrs.service import Job, QueueFullError, Service, Update

__all__ = ["create_app"]


def create_app(lm: LanguageModel, limits: Limits, *, api_key: str | None = None, max_pending: int = 256) -> Starlette:
    """The app serving ``lm`` under ``limits.model_name``. ``api_key``: require
    ``Authorization: Bearer <api_key>`` on /v1/*. ``max_pending``: choices held at once
    (queued and running); beyond it requests get 503."""
    handlers = _Handlers(lm, limits, api_key, Service(lm, max_pending=max_pending))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        handlers.service.close(timeout=5)

    app = Starlette(
        routes=[
            Route("/", handlers.playground),
            Route("/health", handlers.health),
            Route("/v1/models", handlers.models),
            Route("/v1/chat/completions", handlers.chat, methods=["POST"]),
            Route("/v1/completions", handlers.complete, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = handlers.service
    return app


class _Handlers:
    def __init__(self, lm: LanguageModel, limits: Limits, api_key: str | None, service: Service):
        self.lm = lm
        self.limits = limits
        self.api_key = api_key
        self.service = service
        self.started = int(time.time())

    def authorized(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode())

    async def playground(self, request: Request) -> Response:
        return HTMLResponse(resources.files("awrs.server").joinpath("playground.html").read_text(encoding="utf-8"))

    async def health(self, request: Request) -> Response:
        service = self.service
        return JSONResponse(
            {
                "status": "ok",
                "model": self.limits.model_name,
                "version": __version__,
                "pending": service.pending,
                "steps": service.steps,
                # objects out of the collector's passes (serve() settles the heap) and its full passes so far
                "gc": {"frozen": gc.get_freeze_count(), "full_collections": gc.get_stats()[2]["collections"]},
            }
        )

    async def models(self, request: Request) -> Response:
        if not self.authorized(request):
            return _error(_UNAUTHORIZED)
        model = {"id": self.limits.model_name, "object": "model", "created": self.started, "owned_by": "awrs"}
        return JSONResponse({"object": "list", "data": [model]})

    async def chat(self, request: Request) -> Response:
        return await self.completions(request, "chat")

    async def complete(self, request: Request) -> Response:
        return await self.completions(request, "completion")

    async def completions(self, request: Request, kind: str) -> Response:
        if not self.authorized(request):
            return _error(_UNAUTHORIZED)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(ApiError(400, f"the request body is not JSON: {exc}"))
        try:
            parsed = await run_in_threadpool(read, kind, body, self.lm, self.limits)  # compiling a schema may take a while
        except ApiError as exc:
            return _error(exc)
        updates: asyncio.Queue[Update] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def deliver(update: Update) -> None:  # on the service's thread
            loop.call_soon_threadsafe(updates.put_nowait, update)

        jobs: list[Job] = []
        try:
            jobs.extend(
                self.service.submit(r, listener=deliver, stream=parsed.stream, detail=parsed.detail) for r in parsed.requests
            )
        except QueueFullError as exc:
            for job in jobs:
                job.cancel()
            return _error(ApiError(503, f"the server is busy: {exc}", code="queue_full", kind="server_error"))
        request_id = new_id(kind)
        if parsed.stream:
            events = _events(parsed, request_id, jobs, updates)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return await _whole(request, parsed, request_id, jobs, updates)


_UNAUTHORIZED = ApiError(401, "a valid API key is needed: send Authorization: Bearer <key>", code="invalid_api_key")


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _failure(error: BaseException) -> ApiError:
    """A job's error as an HTTP error: 400 with the awrs message for what the request caused
    (its constraint, its prompt), 500 for anything else."""
    if isinstance(error, AwrsError):
        return ApiError(400, str(error), code=type(error).__name__)
    return ApiError(500, f"generation failed: {type(error).__name__}: {error}", kind="server_error")


async def _whole(request: Request, parsed: Parsed, request_id: str, jobs: list[Job], updates: asyncio.Queue[Update]) -> Response:
    """Wait for every choice (cancelling them all if the client goes), then answer at once."""
    results: dict[int, Result] = {}

    async def collect() -> ApiError | None:
        while len(results) < len(jobs):
            update = await updates.get()
            if not update.done:
                continue
            if update.error is not None:
                return _failure(update.error)
            assert update.result is not None
            results[update.job.id] = update.result
        return None

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    collecting, watching = asyncio.create_task(collect()), asyncio.create_task(disconnected())
    try:
        await asyncio.wait({collecting, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        if not collecting.done():
            collecting.cancel()
        for job in jobs:
            job.cancel()  # a no-op for the finished ones
    if not collecting.done() or collecting.cancelled():
        return Response(status_code=499)  # the client has gone; nobody reads this
    failure = collecting.result()
    if failure is not None:
        return _error(failure)
    return JSONResponse(response(parsed, request_id, [results[job.id] for job in jobs]))


async def _events(parsed: Parsed, request_id: str, jobs: list[Job], updates: asyncio.Queue[Update]) -> AsyncIterator[str]:
    """Server-sent events: a first chunk per choice with the role, a chunk per committed piece
    (and per step with ``awrs_detail``), a last chunk per choice with its finish reason and
    awrs extras, the usage chunk if asked for, then ``[DONE]``. A failed choice sends an
    error event and ends the stream."""
    created = int(time.time())
    index = {job.id: i for i, job in enumerate(jobs)}
    results: list[Result | None] = [None] * len(jobs)
    try:
        for i in range(len(jobs)):
            yield _sse(chunk(parsed, request_id, created, i, "", role=True))
        remaining = len(jobs)
        while remaining:
            update = await updates.get()
            i = index[update.job.id]
            if update.done and update.error is not None:
                yield _sse(_failure(update.error).body())
                break
            detail = particles_detail(update.step, update.resampled, update.particles) if update.particles is not None else None
            if update.done:
                assert update.result is not None
                results[i] = update.result
                remaining -= 1
                yield _sse(
                    chunk(
                        parsed,
                        request_id,
                        created,
                        i,
                        None if parsed.whole else update.text or None,
                        finish=finish_reason(update.result),
                        awrs={**(detail or {}), **extras(update.result)},
                        whole=update.result if parsed.whole else None,
                    )
                )
            elif (update.text and not parsed.whole) or detail:
                yield _sse(chunk(parsed, request_id, created, i, None if parsed.whole else update.text or None, awrs=detail))
        else:
            if parsed.include_usage:
                yield _sse(usage_chunk(parsed, request_id, created, [r for r in results if r is not None]))
        yield "data: [DONE]\n\n"
    finally:
        for job in jobs:
            job.cancel()


def _sse(obj: dict[str, Any]) -> str:
    return f"data: {json.dumps(obj, allow_nan=False)}\n\n"
