"""``awrs serve``: an OpenAI-compatible server with a playground page (the ``server`` extra).

    pip install 'awrs[server]'
    awrs serve --port 8000                       # the embedded default model on 127.0.0.1:8000

:func:`create_app` builds the ASGI app (Starlette) for any model; :func:`serve` runs it with
uvicorn. docs/serving.md documents the endpoints and fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from awrs._platform import settle_heap
from awrs.errors import AwrsError

__all__ = ["create_app", "serve"]


def _require() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise AwrsError(f"awrs serve needs the server extra ({exc.name} is missing): pip install 'awrs[server]'") from exc


def create_app(lm: Any, *, model_name: str, api_key: str | None = None, max_pending: int = 256, **limits: Any) -> Any:
    """The Starlette app serving ``lm`` as ``model_name`` (see :mod:`awrs.server.app`).
    ``limits``: :class:`~awrs.server.protocol.Limits` fields (max_tokens, max_n,
    max_particles, databases)."""
    _require()
    from awrs.server.app import create_app as make
    from awrs.server.protocol import Limits

    return make(lm, Limits(model_name, **limits), api_key=api_key, max_pending=max_pending)


def serve(
    lm: Any,
    *,
    model_name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    max_pending: int = 256,
    databases: Mapping[str, str] | None = None,
    log_level: str = "info",
    **limits: Any,
) -> None:
    """Serve ``lm`` until interrupted (uvicorn, one process: the model lives in it)."""
    _require()
    import uvicorn

    app = create_app(
        lm, model_name=model_name, api_key=api_key, max_pending=max_pending, databases=dict(databases or {}), **limits
    )
    settle_heap()  # the model and the imports: out of the collector's full passes (a stall mid-step)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
