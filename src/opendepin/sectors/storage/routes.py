"""The storage sector's routes under `/v1/sectors/storage/`: the current audit and the audit rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from opendepin.sectors.base import SectorServices
from opendepin.sectors.storage.audit import AUDIT
from opendepin.sectors.storage.params import StorageParams


def build_router(services: SectorServices, params: StorageParams) -> APIRouter:
    router = APIRouter(tags=["storage"])

    @router.get("/audit")
    async def audit() -> dict[str, Any]:
        """The current period's audit challenge (providers derive what they owe from its id)."""
        (challenge,) = await run_in_threadpool(services.current_challenge, AUDIT)
        return {"challenge": challenge.challenge_id, "issued_at": challenge.issued_at, "now": services.now()}

    @router.get("/rules")
    async def rules() -> dict[str, Any]:
        """The parameters providers and clients need: coding, audit selection, deadlines, prices."""
        return params.model_dump(mode="json")

    return router
