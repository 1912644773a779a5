"""Shared plumbing of the HTTP API: the node lookup, request sources, bounded body reading, the limits."""

from __future__ import annotations

from fastapi import HTTPException, Request

from opendepin.api.ratelimit import RateLimiter, source_of
from opendepin.config import IngestConfig
from opendepin.node import Node

MAX_INT64 = 2**63 - 1
"""Largest integer the stores hold (SQLite INTEGER, PostgreSQL BIGINT): every integer parameter is bounded
by it, so a larger one is a 422, never an OverflowError."""


def get_node(request: Request) -> Node:
    node: Node = request.app.state.node
    return node


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def request_source(request: Request) -> str:
    """The transport source of a request (`http:<client address>`, IPv6 by /64), for counters and limits."""
    return source_of(request.client.host if request.client is not None else None)


def cbor_batch_limit(params: IngestConfig) -> int:
    """Largest CBOR batch body: `max_batch` reports of `max_report_bytes` plus their CBOR heads."""
    return params.max_batch * (params.max_report_bytes + 8) + 1_024


def json_body_limit(params: IngestConfig) -> int:
    """Largest JSON body: the same batch as base64 strings (4 characters per 3 bytes), quoted, separated."""
    return params.max_batch * (4 * -(-params.max_report_bytes // 3) + 16) + 1_024


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413, {"reason": "request.too_large", "message": f"body exceeds the limit of {limit} bytes"}
    )


async def read_body_limited(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes; a larger body is refused with 413 before it is buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(
                400, {"reason": "request.malformed", "message": "content-length is not a number"}
            )
        if int(declared) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)
