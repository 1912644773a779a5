"""The wireless sector's API routes (mounted under /v1/sectors/wireless/)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from opendepin.sectors.base import SectorServices
from opendepin.sectors.wireless.poc.entropy import ENTROPY_CHALLENGE
from opendepin.sectors.wireless.poc.params import PocParams


class EntropyOut(BaseModel):
    """Challenge entropy: beacons and witnesses must cite it before `expires_at`."""

    value: str
    timestamp: int
    expires_at: int


def build_router(services: SectorServices, poc: PocParams | None) -> APIRouter | None:
    """`GET entropy` when the network runs beacon/witness proof of coverage, else no routes."""
    if poc is None:
        return None
    router = APIRouter(tags=["wireless"])
    lifespan = poc.entropy_lifespan_s

    @router.get("/entropy")
    async def entropy() -> EntropyOut:
        """The entropy beacons and witnesses must cite now (a beacon or witness citing it after `expires_at`
        is invalid: `beacon.entropy_expired`, `witness.entropy_expired`)."""
        (challenge,) = await run_in_threadpool(services.current_challenge, ENTROPY_CHALLENGE)
        return EntropyOut(
            value=challenge.challenge_id,
            timestamp=challenge.issued_at,
            expires_at=challenge.issued_at + lifespan,
        )

    return router
