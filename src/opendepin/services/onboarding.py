"""Onboarding: the maker's attestation, the owner's location assertion, and the sectors' attributes
(docs/onboarding.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from opendepin.clock import Clock
from opendepin.config import NetworkConfig
from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    OnboardingError,
    check_attestation,
    check_location,
    merge_attributes,
    onboarding_record,
)
from opendepin.identity.keys import parse_device_id
from opendepin.identity.wallets import normalize_address
from opendepin.sectors.base import DeviceInfo, SectorPlugin
from opendepin.services.devices import DeviceRegistry
from opendepin.store.base import Store

SECTOR_ATTRIBUTE = "sector"
"""A maker attribute naming the sector a device serves (needed only when a network has several)."""


@dataclass(frozen=True, slots=True)
class OnboardRequest:
    attestation: Attestation
    location: LocationAssertion | None


def _field_error(who: str, key: str, error: ValidationError) -> OnboardingError:
    message = error.errors()[0]["msg"] if error.errors() else str(error)
    return OnboardingError("onboarding.bad_attributes", f"{who} attribute {key!r}: {message}")


def check_side(
    who: str, values: Mapping[str, Any], models: Mapping[str, type[BaseModel] | None], required: bool
) -> None:
    """Each attribute must be declared by one of the sectors' models (for this side) and valid for it in
    strict mode; with `required`, the single sector's required fields must be present too."""
    for key, value in values.items():
        fields = [model.model_fields[key] for model in models.values() if model and key in model.model_fields]
        if not fields:
            declared = sorted({k for m in models.values() if m for k in m.model_fields})
            raise OnboardingError(
                "onboarding.bad_attributes",
                f"{who} attribute {key!r} is not one any sector of this network reads (the {who} states: "
                f"{declared or 'nothing'})",
            )
        try:
            TypeAdapter(Annotated[fields[0].annotation, fields[0]]).validate_python(value, strict=True)
        except ValidationError as error:
            raise _field_error(who, key, error) from None
    if required:
        for model in models.values():
            if model is None:
                continue
            missing = [k for k, f in model.model_fields.items() if f.is_required() and k not in values]
            if missing:
                raise OnboardingError(
                    "onboarding.bad_attributes", f"the {who} must state attributes {sorted(missing)}"
                )


def check_sector_attributes(
    sectors: Mapping[str, SectorPlugin], maker: Mapping[str, Any], owner: Mapping[str, Any]
) -> None:
    """Attributes are checked against the models of the device's sector (its maker's `sector` attribute, or
    the network's only sector), or, when the sector is not named, against every enabled sector's."""
    named = maker.get(SECTOR_ATTRIBUTE)
    if named is not None and named not in sectors:
        raise OnboardingError(
            "onboarding.bad_attributes", f"sector {named!r} is not one of this network's: {sorted(sectors)}"
        )
    chosen = [named] if named is not None else list(sectors) if len(sectors) == 1 else sorted(sectors)
    known = len(chosen) == 1
    specs = {name: sectors[name].attributes() for name in chosen}
    maker_fields = {k: v for k, v in maker.items() if k != SECTOR_ATTRIBUTE}
    check_side("maker", maker_fields, {n: s.maker for n, s in specs.items()}, known)
    check_side("owner", owner, {n: s.owner for n, s in specs.items()}, known)


class OnboardingService:
    """Registers devices: signatures, sector attributes, the store, the shared registry."""

    def __init__(
        self,
        config: NetworkConfig,
        sectors: Mapping[str, SectorPlugin],
        store: Store,
        clock: Clock,
        registry: DeviceRegistry,
    ) -> None:
        self.config = config
        self.sectors = sectors
        self.store = store
        self.clock = clock
        self.registry = registry

    def onboard(self, request: OnboardRequest) -> DeviceInfo:
        """Check the maker's attestation, the owner's location assertion and the attributes, then register
        the device (a second identical request returns the stored device)."""
        attestation = request.attestation
        maker = check_attestation(self.config.name, attestation, self.store.makers())
        key = parse_device_id(attestation.device_id)
        location = None
        owner_attributes: Mapping[str, Any] = {}
        if request.location is not None:
            if request.location.device_id != attestation.device_id:
                raise OnboardingError("location.device_mismatch", "location assertion names another device")
            location = check_location(self.config.name, request.location, attestation.owner)
            owner_attributes = request.location.attributes
        check_sector_attributes(self.sectors, attestation.attributes, owner_attributes)
        device = DeviceInfo(
            device_id=key.device_id,
            owner=normalize_address(attestation.owner),
            maker=maker,
            key_type=key.key_type,
            location=location,
            onboarded_at=self.clock.now(),
            attributes=merge_attributes(attestation.attributes, owner_attributes),
        )
        if not self.store.add_device(device, onboarding_record(attestation, request.location, maker)):
            existing = self.registry.get(device.device_id) or self.store.get_device(device.device_id)
            if existing is None:  # pragma: no cover - the store said it holds the device
                raise RuntimeError(f"device {device.device_id} is stored but cannot be read")
            differs = [
                name
                for name in ("owner", "maker", "key_type", "location", "attributes")
                if getattr(existing, name) != getattr(device, name)
            ]
            if differs:
                raise OnboardingError(
                    "onboarding.already_registered",
                    f"device {device.device_id} is already registered with another {', '.join(differs)} "
                    f"(owner {existing.owner}, cell {existing.location}); a device is onboarded once, and "
                    "this request was not applied",
                )
            return existing
        self.registry.add(device)
        return device
