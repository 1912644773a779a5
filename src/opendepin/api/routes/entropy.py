"""GET /v1/entropy: the challenge entropy beacons and witnesses must cite (specs/wireless-poc.md, Roles)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from opendepin.api.deps import get_node
from opendepin.node import EntropyUnavailable, Node

router = APIRouter(prefix="/v1", tags=["entropy"])


class EntropyOut(BaseModel):
    value: str
    timestamp: int
    expires_at: int
    """A beacon or witness citing this entropy after `expires_at` is invalid (`entropy outside lifespan`)."""


@router.get("/entropy")
async def entropy(node: Annotated[Node, Depends(get_node)]) -> EntropyOut:
    try:
        current = await run_in_threadpool(node.current_entropy)
    except EntropyUnavailable as error:
        raise HTTPException(404, {"reason": "entropy.not_served", "message": str(error)}) from None
    return EntropyOut(value=current.value, timestamp=current.timestamp, expires_at=current.expires_at)
