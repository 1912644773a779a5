"""GET /v1/epochs, /v1/epochs/{n} (the manifest) and /v1/epochs/{n}/proof/{address}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response
from fastapi.concurrency import run_in_threadpool

from opendepin.api.deps import MAX_INT64, get_node
from opendepin.identity.wallets import normalize_address
from opendepin.node import Node
from opendepin.rewards.proofs import ProofError

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
EPOCH_PAGE = 1_000
EpochNumber = Annotated[int, Path(ge=0, le=MAX_INT64, description="a closed epoch's number")]


@router.get("")
async def list_epochs(
    node: Annotated[Node, Depends(get_node)],
    response: Response,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT64, description="only epochs after this number (X-Next-After)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=EPOCH_PAGE, description="epochs per page")] = EPOCH_PAGE,
) -> list[dict[str, Any]]:
    """Closed epochs in order, numbered from 0, a page at a time: number, window, Merkle root, emitted and
    paid (token amounts as decimal strings), rewarded devices, leaves and reports. When more follow, the
    `X-Next-After` header holds the number to pass as `after` for the next page."""
    manifests = await run_in_threadpool(node.store.epoch_manifests, after, limit + 1)
    if len(manifests) > limit:
        manifests = manifests[:limit]
        response.headers["X-Next-After"] = str(manifests[-1]["number"])
    return [{key: manifest.get(key) for key in SUMMARY_KEYS} for manifest in manifests]


@router.get("/{number}")
async def get_epoch(number: EpochNumber, node: Annotated[Node, Depends(get_node)]) -> dict[str, Any]:
    record = node.store.get_epoch(number)
    if record is None:
        raise HTTPException(404, {"reason": "epoch.not_closed", "message": f"epoch {number} is not closed"})
    return dict(record.manifest)


@router.get("/{number}/proof/{address}")
async def get_proof(
    number: EpochNumber,
    address: Annotated[str, Path(max_length=64, description="an owner's 0x EVM address")],
    node: Annotated[Node, Depends(get_node)],
) -> dict[str, Any]:
    try:
        normalize_address(address)
    except ValueError:
        raise HTTPException(
            422, {"reason": "address.invalid", "message": f"{address!r} is not an EVM address"}
        ) from None
    try:
        return await run_in_threadpool(node.proof, number, address)
    except ProofError as error:
        raise HTTPException(404, {"reason": error.reason, "message": str(error)}) from None


@router.get(
    "/{number}/bundle",
    response_class=Response,
    responses={200: {"content": {"application/cbor": {}}, "description": "the epoch bundle (CBOR)"}},
)
async def get_bundle(number: EpochNumber, node: Annotated[Node, Depends(get_node)]) -> Response:
    """The self-contained bundle of a closed epoch (docs/epoch-bundle.md): recompute it with
    `depin epoch verify --bundle FILE`. Its SHA-256 is in the `X-Bundle-SHA256` header."""
    from opendepin.rewards.bundle import bundle_sha256

    try:
        data = await run_in_threadpool(node.export_epoch, number)
    except KeyError:
        raise HTTPException(
            404, {"reason": "epoch.not_closed", "message": f"epoch {number} is not closed"}
        ) from None
    return Response(
        data,
        media_type="application/cbor",
        headers={
            "X-Bundle-SHA256": bundle_sha256(data),
            "Content-Disposition": f'attachment; filename="epoch-{number}.bundle"',
        },
    )
