"""The explorer's reads: the map, a map cell's devices, a device's overview, reward history and reports, an
epoch's settlement and bundle hash, the network's figures per epoch.

Lists are paged: `limit` bounds a page and `next` (null on the last page) is what to pass as `after` (or
`before`) for the next one. Token amounts are decimal strings (`api/exact.py`).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from opendepin.api.deps import MAX_INT64
from opendepin.api.exact import exact_json
from opendepin.explorer.views import (
    DEVICE_PAGE,
    EPOCH_PAGE,
    NETWORK_EPOCHS,
    REWARD_PAGE,
    Explorer,
    Missing,
)

router = APIRouter(prefix="/v1", tags=["explorer"])
DeviceId = Annotated[str, Path(max_length=200, description="a device id, e.g. ed25519:<hex key>")]
EpochNumber = Annotated[int, Path(ge=0, le=MAX_INT64, description="a closed epoch's number")]
EpochQuery = Annotated[
    int | None, Query(ge=0, le=MAX_INT64, description="a closed epoch's number (default: the latest)")
]
GZIP_ABOVE = 4_096
T = TypeVar("T")


def get_explorer(request: Request) -> Explorer:
    explorer: Explorer = request.app.state.explorer
    return explorer


def json_response(request: Request, data: Any) -> Response:
    """`data` as JSON with exact amounts; gzip-compressed when the client accepts it and it is large."""
    body = json.dumps(exact_json(data), separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Vary": "Accept-Encoding"}
    if len(body) > GZIP_ABOVE and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)


async def answer(request: Request, compute: Callable[[], T]) -> Response:
    """Run a view in a worker thread (they read the store) and answer it; a Missing is a 404."""
    try:
        data = await run_in_threadpool(compute)
    except Missing as error:
        status = 422 if error.reason in ("cell.invalid", "sector.unknown") else 404
        raise HTTPException(status, {"reason": error.reason, "message": str(error)}) from None
    return json_response(request, data)


JSON_200: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}}, "description": "the view (amounts as strings)"}
}


@router.get("/map", responses=JSON_200, response_class=Response)
async def get_map(
    request: Request,
    explorer: Annotated[Explorer, Depends(get_explorer)],
    epoch: EpochQuery = None,
    sector: Annotated[str | None, Query(max_length=50, description="one sector (default: all)")] = None,
    resolution: Annotated[
        int | None,
        Query(
            ge=0,
            le=15,
            description="H3 resolution (default: the finest ≤ 9 with at most one cell per 2 devices)",
        ),
    ] = None,
) -> Response:
    """The network map of a closed epoch: H3 cells (each with its outline as `[lat, lng, …]`) holding the
    epoch's devices, with per cell `devices`, `active` (devices with a valid report), `valid_reports`,
    `invalid_reports`, `reward` (paid to the cell's devices), `flagged` (devices with an invalid report, a
    penalty note or an ingest rejection) and `under_covered` (no device in the cell earned: the cells next
    to the network are included, so gaps show). With `sector`, only that sector's reports and categories."""
    return await answer(request, lambda: explorer.map_view(epoch, sector, resolution))


@router.get("/map/cells/{cell}", responses=JSON_200, response_class=Response)
async def get_cell_devices(
    request: Request,
    cell: Annotated[str, Path(max_length=20, description="an H3 cell id (hex), any resolution")],
    explorer: Annotated[Explorer, Depends(get_explorer)],
    epoch: EpochQuery = None,
    after: Annotated[str | None, Query(max_length=200, description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=DEVICE_PAGE, description="devices per page")] = DEVICE_PAGE,
) -> Response:
    """The devices located in a map cell (in the epoch's device snapshot) by id, a page at a time, each
    with its owner, maker, valid and invalid reports, reward, notes and rejections in the epoch."""
    return await answer(request, lambda: explorer.cell_devices(cell, epoch, after, limit))


@router.get("/devices/{device_id}/overview", responses=JSON_200, response_class=Response)
async def get_device_overview(
    request: Request, device_id: DeviceId, explorer: Annotated[Explorer, Depends(get_explorer)]
) -> Response:
    """Who a device is and how it is doing: key, maker, owner, the attributes the maker attested and the
    owner stated with their signatures, onboarding time, its status in the latest closed epoch, and its
    ingest rejections — exact counts of those refused after its signature verified, and the kept samples
    of every refused report that named it (bad signatures included). A device id the node does not know is
    shown only if refused reports named it."""
    return await answer(request, lambda: explorer.device_overview(device_id))


@router.get("/devices/{device_id}/rewards", responses=JSON_200, response_class=Response)
async def get_device_rewards(
    request: Request,
    device_id: DeviceId,
    explorer: Annotated[Explorer, Depends(get_explorer)],
    before: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT64, description="only epochs before this one (the `next` of a page)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="epochs per page")] = REWARD_PAGE,
) -> Response:
    """A device's rewards per epoch, newest first, with what reproduces each amount by hand: per category
    the pool, the device's units, the units of every device, the cap (usage categories), the formula
    `⌊pool × units ÷ total units⌋` (at most the cap), its result and the amount paid, the sector's
    multipliers (`breakdown`), the epoch's notes, verdict counts and ingest rejections."""
    return await answer(request, lambda: explorer.device_rewards(device_id, before, limit))


@router.get("/devices/{device_id}/reports", responses=JSON_200, response_class=Response)
async def get_device_reports(
    request: Request,
    device_id: DeviceId,
    explorer: Annotated[Explorer, Depends(get_explorer)],
    epoch: EpochQuery = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description="the `next` of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="reports per page")] = 100,
) -> Response:
    """A device's accepted reports in a closed epoch, in device time order, each with its verdict (`ok`
    or a reason code) and the evidence behind it."""
    return await answer(request, lambda: explorer.device_reports(device_id, epoch, after, limit))


@router.get("/epochs/{number}/settlement", responses=JSON_200, response_class=Response)
async def get_settlement(
    request: Request, number: EpochNumber, explorer: Annotated[Explorer, Depends(get_explorer)]
) -> Response:
    """An epoch's root as published in its manifest and, when the node is connected to its settlement
    chain, the root the rewards distributor holds for it (`chain_root`, null if not posted) and a status."""
    return await answer(request, lambda: explorer.settlement(number))


@router.get("/epochs/{number}/bundle/sha256", responses=JSON_200, response_class=Response)
async def get_bundle_hash(
    request: Request, number: EpochNumber, explorer: Annotated[Explorer, Depends(get_explorer)]
) -> Response:
    """The SHA-256 of the epoch's bundle (`GET /v1/epochs/{number}/bundle`), computed once per epoch."""
    return await answer(request, lambda: {"epoch": number, "sha256": explorer.bundle_sha256(number)})


@router.get("/network/epochs", responses=JSON_200, response_class=Response)
async def get_epoch_summaries(
    request: Request,
    explorer: Annotated[Explorer, Depends(get_explorer)],
    before: Annotated[
        int | None,
        Query(ge=0, le=MAX_INT64, description="only epochs before this one (the `next` of a page)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1_000, description="epochs per page")] = EPOCH_PAGE,
) -> Response:
    """Closed epochs, newest first, a page at a time: number, window, Merkle root, emitted and paid, rewarded
    devices, leaves and reports of each (`GET /v1/epochs/{number}` has the whole manifest)."""
    return await answer(request, lambda: explorer.epoch_summaries(before, limit))


@router.get("/network", responses=JSON_200, response_class=Response)
async def get_network(
    request: Request,
    explorer: Annotated[Explorer, Depends(get_explorer)],
    limit: Annotated[int, Query(ge=1, le=1_000, description="latest epochs to include")] = NETWORK_EPOCHS,
) -> Response:
    """The network per closed epoch: emitted, paid, burned and supply (tokens), revenue and incentives
    (USD), devices onboarded, joined, active and left, reports accepted, refused and invalid, ingest lag
    (p50, p95, max seconds from device time to receipt); plus live figures (devices, next epoch, clock,
    last report received) and the chain's token supply when the node has a chain. `definitions` says what
    each figure is."""
    return await answer(request, lambda: explorer.network(limit))
