"""GET /v1/health: liveness plus what an operator checks first."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from opendepin import __version__
from opendepin.api.deps import get_node
from opendepin.node import Node

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health")
async def health(node: Annotated[Node, Depends(get_node)]) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "network": node.config.name,
        "now": node.clock.now(),
        "next_epoch": node.next_epoch,
        "sectors": sorted(node.sectors),
        "report_kinds": sorted(node.kinds),
    }
