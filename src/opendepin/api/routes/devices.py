"""POST /v1/devices (onboarding), GET /v1/devices (a page of them), GET /v1/devices/{id} and its explain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from opendepin.api.deps import MAX_INT64, get_node
from opendepin.explain import explain_device
from opendepin.identity.attestation import Attestation, LocationAssertion, OnboardingError
from opendepin.identity.wallets import normalize_address
from opendepin.node import Node, OnboardRequest
from opendepin.sectors.base import DeviceInfo

router = APIRouter(prefix="/v1/devices", tags=["devices"])
HEX = r"^(0x)?[0-9a-fA-F]+$"
DeviceId = Annotated[str, Path(max_length=200, description="a device id, e.g. ed25519:<hex key>")]


AttributesIn = dict[str, StrictStr | StrictBool | StrictInt | StrictFloat]


class LocationIn(BaseModel):
    """The owner's signed location assertion, with the attributes only the owner can state."""

    cell: str = Field(max_length=32)
    nonce: int = Field(ge=0, lt=2**63)
    signature: str = Field(pattern=HEX, max_length=200)
    attributes: AttributesIn = Field(default_factory=dict, max_length=32)


class OnboardIn(BaseModel):
    device_id: str = Field(max_length=100)
    owner: str = Field(max_length=64)
    maker: str = Field(max_length=64)
    maker_signature: str = Field(pattern=HEX, max_length=200)
    attributes: AttributesIn = Field(
        default_factory=dict, max_length=32, description="facts the maker vouches for (signed)"
    )
    location: LocationIn | None = None


class DeviceOut(BaseModel):
    device_id: str
    key_type: str
    owner: str
    maker: str
    location: str | None
    onboarded_at: int
    attributes: dict[str, Any]

    @classmethod
    def of(cls, device: DeviceInfo) -> DeviceOut:
        return cls(
            device_id=device.device_id,
            key_type=device.key_type,
            owner=device.owner,
            maker=device.maker,
            location=device.location,
            onboarded_at=device.onboarded_at,
            attributes=dict(device.attributes),
        )


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


@router.post("", status_code=201)
async def onboard(body: OnboardIn, node: Annotated[Node, Depends(get_node)]) -> DeviceOut:
    try:
        attestation = Attestation(
            body.device_id, body.owner, body.maker, _hex(body.maker_signature), body.attributes
        )
        location = None
        if body.location is not None:
            location = LocationAssertion(
                body.device_id,
                body.location.cell,
                body.location.nonce,
                _hex(body.location.signature),
                body.location.attributes,
            )
        device = await run_in_threadpool(node.onboard, OnboardRequest(attestation, location))
    except OnboardingError as error:
        forbidden = any(word in error.reason for word in ("unknown_maker", "signature", "attestation"))
        status = 409 if error.reason == "onboarding.already_registered" else 403 if forbidden else 400
        raise HTTPException(status, {"reason": error.reason, "message": str(error)}) from None
    except ValueError as error:
        raise HTTPException(400, {"reason": "onboarding.malformed", "message": str(error)}) from None
    return DeviceOut.of(device)


class DevicesPage(BaseModel):
    devices: list[DeviceOut]
    next_after: str | None = Field(
        description="pass as `after` for the next page; null on the last page",
    )


@router.get("")
async def list_devices(
    node: Annotated[Node, Depends(get_node)],
    owner: Annotated[
        str | None, Query(max_length=64, description="only this owner's devices (0x address, any case)")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=200, description="start after this device id (the previous page's last)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1_000, description="devices per page")] = 100,
) -> DevicesPage:
    """The onboarded devices in device-id order, a page at a time (`after` = the last id of a page)."""
    if owner is not None:
        try:
            owner = normalize_address(owner)
        except ValueError:
            raise HTTPException(
                422, {"reason": "address.invalid", "message": f"{owner[:80]!r} is not an EVM address"}
            ) from None
    page = await run_in_threadpool(node.store.devices_page, after, limit, owner)
    return DevicesPage(
        devices=[DeviceOut.of(device) for device in page],
        next_after=page[-1].device_id if len(page) == limit else None,
    )


@router.get("/{device_id}")
async def get_device(device_id: DeviceId, node: Annotated[Node, Depends(get_node)]) -> DeviceOut:
    device = node.store.get_device(device_id)
    if device is None:
        raise HTTPException(404, {"reason": "device.unknown", "message": f"no device {device_id[:100]}"})
    return DeviceOut.of(device)


@router.get("/{device_id}/explain")
async def explain(
    device_id: DeviceId,
    node: Annotated[Node, Depends(get_node)],
    epoch: Annotated[int, Query(ge=0, le=MAX_INT64)],
) -> dict[str, Any]:
    try:
        return await run_in_threadpool(explain_device, node.store, device_id, epoch)
    except LookupError as error:
        raise HTTPException(404, {"reason": "not_found", "message": str(error)}) from None
