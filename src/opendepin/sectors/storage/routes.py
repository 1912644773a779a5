"""The storage sector's routes under `/v1/sectors/storage/`: the current audit, the audit rules, and the
latest closed epoch's repair list (docs/storage.md, "Repair")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from opendepin.sectors.base import SectorServices
from opendepin.sectors.storage.audit import AUDIT
from opendepin.sectors.storage.params import StorageParams


def repair_listing(state: Mapping[str, Any], client: str | None = None) -> list[dict[str, Any]]:
    """The epoch state's `repair` list (segments whose registered pieces fell to `repair_threshold`), each
    with the pieces the registry still holds (piece number → holder); only the segments `client` stored
    (its first put, `clients` in the state) when given."""
    wanted = None if client is None else client.lower()
    clients = state.get("clients", {})
    listed = {
        str(segment): {"segment": str(segment), "healthy": int(count), "k": int(k), "n": int(n), "pieces": {}}
        for segment, count, k, n in state.get("repair", [])
        if wanted is None or str(clients.get(segment, "")).lower() == wanted
    }
    if listed:
        for key, value in state.get("pieces", {}).items():
            segment, _, index = str(key).rpartition(":")
            if segment in listed:
                listed[segment]["pieces"][index] = value[0]
    return list(listed.values())


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

    @router.get("/repair")
    async def repair(
        client: Annotated[
            str | None, Query(description="only the segments this client address stored")
        ] = None,
    ) -> dict[str, Any]:
        """The segments at or below the repair threshold in the latest closed epoch, with the pieces the
        registry still holds (what a repairer rebuilds from)."""
        state = await run_in_threadpool(services.sector_state, "storage")
        return {"threshold": params.repair_threshold, "segments": repair_listing(state, client)}

    return router
