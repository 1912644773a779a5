"""POST /v1/reports: a batch of signed reports, each answered with its own status and reason code."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

import cbor2
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from opendepin.api.deps import get_node, read_body_limited
from opendepin.node import Node

router = APIRouter(prefix="/v1", tags=["reports"])
CBOR = "application/cbor"


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


def _parse_batch(body: bytes, content_type: str, max_batch: int) -> list[bytes]:
    """CBOR array of byte strings (application/cbor) or JSON {"reports": [base64, …]}."""
    if content_type.startswith(CBOR):
        try:
            items = cbor2.loads(body)
        except Exception:
            raise HTTPException(400, "body is not CBOR; send a CBOR array of signed reports") from None
    elif content_type.startswith("application/json"):
        try:
            doc = json.loads(body)
            items = [base64.b64decode(x, validate=True) for x in doc["reports"]]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise HTTPException(400, 'JSON body must be {"reports": ["<base64 signed report>", …]}') from None
    else:
        raise HTTPException(415, f"send {CBOR} (array of signed reports) or application/json")
    if not isinstance(items, list) or not all(isinstance(x, bytes) for x in items):
        raise HTTPException(400, "the batch must be an array of byte strings, one signed report each")
    if len(items) > max_batch:
        raise HTTPException(413, f"batch of {len(items)} reports exceeds the limit of {max_batch}")
    return items


@router.post("/reports")
async def post_reports(request: Request, node: Annotated[Node, Depends(get_node)]) -> BatchResponse:
    params = node.config.ingest
    body = await read_body_limited(request, params.max_batch * (params.max_report_bytes + 8) + 1024)
    wires = _parse_batch(body, request.headers.get("content-type", ""), params.max_batch)
    results = await run_in_threadpool(node.ingest, wires)
    statuses = [
        ReportStatus(index=i, status=r.reason, message=r.message, report_id=r.report_id)
        for i, r in enumerate(results)
    ]
    accepted = sum(1 for r in results if r.accepted)
    return BatchResponse(accepted=accepted, rejected=len(results) - accepted, results=statuses)
