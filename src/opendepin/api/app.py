"""The FastAPI application of a node.

Every error answer has one shape, `{"detail": {"reason": <stable code>, "message": <what to do>}}`.
Hostile input is refused at the edge: every body is bounded in size (per route class), all bodies together
by a byte budget, and JSON in depth, before any route runs (`BoundedBodyMiddleware`); integer parameters are
bounded to what the store holds; ingest and every other write are rate limited per source (`RateLimiter`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from opendepin import __version__
from opendepin.api.bounded import BatchLimits, BodyPolicy, BoundedBodyMiddleware, ByteBudget
from opendepin.api.deps import (
    SMALL_BODY_LIMIT,
    USAGE_CBOR_LIMIT,
    USAGE_JSON_LIMIT,
    cbor_batch_limit,
    json_body_limit,
)
from opendepin.api.exact import ExactJSONResponse
from opendepin.api.openapi import node_openapi
from opendepin.api.ratelimit import REFUSED_WRITE_COST, RateLimiter
from opendepin.api.routes import devices, epochs, explorer, health, metrics, reports, usage
from opendepin.config import IngestConfig
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
BODY_BUDGET_BODIES = 3
"""Bodies of the largest size the node holds at once (`ByteBudget`): 3 × 21,865,024 bytes (a JSON report
batch) by default, about 66 MB of bodies — at most ~200 MB with their decoded copies — where 40 concurrent
batches used to reach 2.4 GB. A 2-core node ingests no faster with more batches in memory."""
BODY_WAIT_SECONDS = 5.0
"""How long a request waits for room in the byte budget before it is answered 503 `node.busy`."""
BODY_READ_SECONDS = 60.0
"""How long a request may take to send its whole body (a slow client holds its reservation meanwhile)."""


def body_policy(params: IngestConfig, limiter: RateLimiter | None = None) -> BodyPolicy:
    """The body limits of a node: report batches by `[ingest]` (`max_batch` × `max_report_bytes`, as CBOR
    or base64 JSON), usage batches by the receipt limits, every other body `SMALL_BODY_LIMIT`, all of them
    together `BODY_BUDGET_BODIES` of the largest."""
    batches = {
        "/v1/reports": BatchLimits(cbor_batch_limit(params), json_body_limit(params)),
        "/v1/usage": BatchLimits(USAGE_CBOR_LIMIT, USAGE_JSON_LIMIT),
    }
    largest = max(SMALL_BODY_LIMIT, *(max(b.cbor, b.json) for b in batches.values()))
    return BodyPolicy(
        batches,
        SMALL_BODY_LIMIT,
        ByteBudget(BODY_BUDGET_BODIES * largest),
        BODY_WAIT_SECONDS,
        BODY_READ_SECONDS,
        limiter,
        REFUSED_WRITE_COST,
    )


def _error(status: int, reason: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": {"reason": reason, "message": message[:MAX_MESSAGE_CHARS]}},
        headers=headers,
    )


def detail_message(detail: Mapping[str, object]) -> str:
    """The message of an error a route raised as a dict with a `reason`. Rule: its `message`; else its text
    under `detail` (as some sector routes put it); else its other facts as `key=value` pairs (`ts=…,
    now=…`); else the reason itself — an error never answers an empty message."""
    if detail.get("message"):
        return str(detail["message"])
    if detail.get("detail"):
        return str(detail["detail"])
    facts = ", ".join(f"{key}={value}" for key, value in detail.items() if key != "reason")
    return facts or str(detail["reason"])


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
    app.state.body_policy = body_policy(params, app.state.limiter)
    app.add_middleware(BoundedBodyMiddleware, policy=app.state.body_policy)
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
            reason, message = str(detail["reason"]), detail_message(detail)
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
