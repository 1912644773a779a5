"""POST /v1/reports: a batch of signed reports, each answered with its own status and reason code."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from opendepin.api.bounded import BodyError, is_cbor_media_type, is_json_media_type, parse_json
from opendepin.api.deps import (
    get_limiter,
    get_node,
    request_source,
)
from opendepin.api.ratelimit import RateLimiter
from opendepin.node import Node
from opendepin.reports.envelope import BatchError, split_batch

router = APIRouter(prefix="/v1", tags=["reports"])
CBOR = "application/cbor"
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            CBOR: {
                "schema": {"type": "string", "format": "binary"},
                "description": "a CBOR array of signed reports, each the CBOR array [envelope, signature]",
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["reports"],
                    "properties": {
                        "reports": {"type": "array", "items": {"type": "string", "format": "byte"}}
                    },
                },
            },
        },
    }
}
"""The body as documented in the OpenAPI document (the route reads it itself, with its own limits)."""


class ReportStatus(BaseModel):
    index: int
    status: str
    """`accepted` or a reason code such as `signature.invalid`."""
    message: str
    report_id: str | None = None


class BatchResponse(BaseModel):
    accepted: int
    rejected: int
    results: list[ReportStatus]


def _bad(status: int, reason: str, message: str) -> HTTPException:
    return HTTPException(status, {"reason": reason, "message": message})


def parse_batch(body: bytes, content_type: str, max_batch: int, key: str = "reports") -> list[bytes]:
    """The signed reports of a batch body. Rule: `application/cbor` (media type matched exactly, any case,
    parameters ignored) is a CBOR array of byte strings (read
    by `split_batch`: no tag is interpreted); `application/json` is `{"reports": [base64, …]}` (parsed with
    bounded depth); at most `max_batch` reports; anything else is a 4xx with a reason code."""
    if is_cbor_media_type(content_type):
        try:
            return split_batch(body, max_batch)
        except BatchError as error:
            status = 413 if error.reason == "batch.too_large" else 400
            raise _bad(status, error.reason, f"{error}; send a CBOR array of signed reports") from None
    if content_type and is_json_media_type(content_type):
        try:
            doc = parse_json(body)
            encoded = doc[key]
            if not isinstance(encoded, list) or not all(isinstance(x, str) for x in encoded):
                raise TypeError(f"{key} must be a list of strings")
            if len(encoded) > max_batch:
                message = f"batch of {len(encoded)} reports exceeds the limit of {max_batch}"
                raise _bad(413, "batch.too_large", message)
            return [base64.b64decode(x, validate=True) for x in encoded]
        except BodyError as error:
            raise _bad(error.status, error.reason, str(error)) from None
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise _bad(
                400, "batch.malformed", f'JSON body must be {{"{key}": ["<base64 signed bytes>", …]}}'
            ) from None
    raise _bad(
        415, "request.unsupported_media_type", f"send {CBOR} (array of signed reports) or application/json"
    )


async def read_signed_batch(
    request: Request, limiter: RateLimiter, max_items: int, key: str
) -> tuple[str, list[bytes]]:
    """(source, signed items) of a batch request. Rule: a refused body costs its source one token. The
    body arrives bounded by its route and format's limit, its source already checked against the rate
    limit, both by `BoundedBodyMiddleware` (api/bounded.py) before any route runs."""
    source = request_source(request)
    content_type = request.headers.get("content-type", "")
    try:
        return source, parse_batch(await request.body(), content_type, max_items, key)
    except HTTPException:
        limiter.charge(source, 1)
        raise


@router.post(
    "/reports",
    openapi_extra=BATCH_BODY,
    responses={400: {}, 413: {}, 415: {}, 429: {"description": "rate limited; see Retry-After"}},
)
async def post_reports(
    request: Request,
    node: Annotated[Node, Depends(get_node)],
    limiter: Annotated[RateLimiter, Depends(get_limiter)],
) -> BatchResponse:
    params = node.config.ingest
    source, wires = await read_signed_batch(request, limiter, params.max_batch, "reports")
    results = await run_in_threadpool(node.ingest, wires, source)
    statuses = [
        ReportStatus(index=i, status=r.reason, message=r.message, report_id=r.report_id)
        for i, r in enumerate(results)
    ]
    accepted = sum(1 for r in results if r.accepted)
    limiter.charge(source, len(results) - accepted)
    return BatchResponse(accepted=accepted, rejected=len(results) - accepted, results=statuses)
