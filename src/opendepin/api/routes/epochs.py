"""GET /v1/epochs, /v1/epochs/{n} (the manifest) and /v1/epochs/{n}/proof/{address}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from opendepin.api.deps import get_node
from opendepin.node import Node
from opendepin.rewards.proofs import ProofError, proof_for

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])
SUMMARY_KEYS = (
    "number",
    "start",
    "end",
    "root",
    "emitted",
    "paid",
    "rewarded_devices",
    "leaf_count",
    "reports",
)


@router.get("")
async def list_epochs(node: Annotated[Node, Depends(get_node)]) -> list[dict[str, Any]]:
    out = []
    for number in node.store.epoch_numbers():
        record = node.store.get_epoch(number)
        assert record is not None
        out.append({key: record.manifest.get(key) for key in SUMMARY_KEYS})
    return out


@router.get("/{number}")
async def get_epoch(number: int, node: Annotated[Node, Depends(get_node)]) -> dict[str, Any]:
    record = node.store.get_epoch(number)
    if record is None:
        raise HTTPException(404, {"reason": "epoch.not_closed", "message": f"epoch {number} is not closed"})
    return dict(record.manifest)


@router.get("/{number}/proof/{address}")
async def get_proof(number: int, address: str, node: Annotated[Node, Depends(get_node)]) -> dict[str, Any]:
    try:
        return proof_for(node.store, number, address)
    except ProofError as error:
        raise HTTPException(404, {"reason": error.reason, "message": str(error)}) from None
