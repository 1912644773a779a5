"""POST /v1/usage: usage receipts signed by the payers, each answered with its own status and reason code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from opendepin.api.deps import get_limiter, get_node
from opendepin.api.ratelimit import RateLimiter
from opendepin.api.routes.reports import CBOR, read_signed_batch
from opendepin.node import Node
from opendepin.services.usage import MAX_RECEIPTS_PER_BATCH

router = APIRouter(prefix="/v1", tags=["usage"])
USAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            CBOR: {
                "schema": {"type": "string", "format": "binary"},
                "description": "a CBOR array of signed receipts, each the CBOR array [receipt, signature] "
                "or [receipt, signature, device signature]",
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["receipts"],
                    "properties": {
                        "receipts": {"type": "array", "items": {"type": "string", "format": "byte"}}
                    },
                },
            },
        },
    }
}


class ReceiptStatus(BaseModel):
    index: int
    status: str
    """`accepted` or a reason code such as `usage.insufficient_credits`."""
    message: str
    receipt_id: str | None = None


class UsageResponse(BaseModel):
    accepted: int
    rejected: int
    results: list[ReceiptStatus]


@router.post(
    "/usage",
    openapi_extra=USAGE_BODY,
    responses={400: {}, 413: {}, 415: {}, 429: {"description": "rate limited; see Retry-After"}},
)
async def post_usage(
    request: Request,
    node: Annotated[Node, Depends(get_node)],
    limiter: Annotated[RateLimiter, Depends(get_limiter)],
) -> UsageResponse:
    """Receipts a payer (a router, a tenant) signed for service a device gave it (docs/architecture.md,
    "Users pay, providers earn"); a JSON body holds them as base64 strings under `receipts`."""
    source, wires = await read_signed_batch(request, limiter, MAX_RECEIPTS_PER_BATCH, "receipts")
    results = await run_in_threadpool(node.record_usage, wires)
    statuses = [
        ReceiptStatus(index=i, status=r.reason, message=r.message, receipt_id=r.receipt_id)
        for i, r in enumerate(results)
    ]
    accepted = sum(1 for r in results if r.accepted)
    limiter.charge(source, len(results) - accepted)
    return UsageResponse(accepted=accepted, rejected=len(results) - accepted, results=statuses)
