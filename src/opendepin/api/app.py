"""The FastAPI application of a node.

Every error answer has one shape, `{"detail": {"reason": <stable code>, "message": <what to do>}}`.
Hostile input is refused at the edge: JSON bodies are bounded in size and depth before any route runs
(`BoundedJSONMiddleware`), integer parameters are bounded to what the store holds, and ingest is rate
limited per source (`RateLimiter`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opendepin import __version__
from opendepin.api.bounded import BoundedJSONMiddleware
from opendepin.api.deps import json_body_limit
from opendepin.api.exact import ExactJSONResponse
from opendepin.api.openapi import node_openapi
from opendepin.api.ratelimit import RateLimiter
from opendepin.api.routes import devices, epochs, explorer, health, metrics, reports, usage
from opendepin.explorer.chain import ChainView
from opendepin.explorer.web import mount_explorer
from opendepin.node import Node
from opendepin.store.errors import StoreCorruption

log = logging.getLogger(__name__)
MAX_MESSAGE_CHARS = 1_000
DEFAULT_REASONS = {
    400: "request.malformed",
    404: "not_found",
    405: "request.method_not_allowed",
    413: "request.too_large",
    415: "request.unsupported_media_type",
    422: "request.invalid",
    429: "ingest.rate_limited",
}
"""The reason code of an error raised without one (by the framework: unknown path, wrong method, …)."""


def _error(status: int, reason: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": {"reason": reason, "message": message[:MAX_MESSAGE_CHARS]}},
        headers=headers,
    )


def create_app(node: Node, chain: ChainView | None = None) -> FastAPI:
    """The node's app: the API, the explorer (pages at `/`, reading the chain's roots when `chain` is
    given) and the API documents (`/docs`, `/redoc`, `/openapi.json`) served from vendored assets. Every JSON
    answer has exact integers (`api/exact.py`): token amounts and integers beyond 2^53 - 1 are strings."""
    app = FastAPI(
        title="opendepin node",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        default_response_class=ExactJSONResponse,
    )
    app.state.node = node
    params = node.config.ingest
    app.state.limiter = RateLimiter(
        params.rejections_per_second, params.rejection_burst, params.rate_limited_sources, node.clock.now
    )
    app.add_middleware(BoundedJSONMiddleware, max_bytes=json_body_limit(params))
    for module in (reports, usage, devices, epochs, explorer, health, metrics):
        app.include_router(module.router)
    for name, plugin in sorted(node.sectors.items()):
        router = plugin.routes(node)
        if router is not None:
            app.include_router(router, prefix=f"/v1/sectors/{name}")
    mount_explorer(app, node, chain)
    app.openapi = lambda: node_openapi(app)  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        detail = error.detail
        if isinstance(detail, dict) and "reason" in detail:
            reason, message = str(detail["reason"]), str(detail.get("message", ""))
        else:
            reason, message = DEFAULT_REASONS.get(error.status_code, f"http.{error.status_code}"), str(detail)
        return _error(error.status_code, reason, message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))[:100]}: {e['msg']}" for e in error.errors()[:10]]
        return _error(422, "request.invalid", "; ".join(problems))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=error)
        return _error(500, "internal", "the node failed to answer; the operator has been told")

    @app.exception_handler(StoreCorruption)
    async def _corrupt(_request: Request, error: StoreCorruption) -> JSONResponse:
        log.error("store corruption: %s", error)
        return _error(500, "store.corrupt", "the node's stored data is damaged; the operator has been told")

    return app
