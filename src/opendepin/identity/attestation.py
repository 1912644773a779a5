"""Onboarding attestations: a maker binds device key → owner wallet (docs/onboarding.md).

The maker signs, with its EVM key (EIP-191 personal message), the text of `attestation_message`: network,
device key, owner wallet and the device attributes the maker vouches for (hardware facts such as a radio's
region or a disk's capacity). The owner separately signs the location assertion with the attributes only
the owner can state (antenna gain, elevation). Both texts are specified in docs/onboarding.md so that any
maker or wallet can produce them; attributes are canonical JSON (sorted keys, no spaces), so the signed bytes
are unique.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import h3

from opendepin.identity.keys import DeviceKeyError, parse_device_id
from opendepin.identity.wallets import WalletError, normalize_address, recover_text_signer

ASSERTION_RESOLUTION = 12
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_TEXT = 256

AttributeValue = str | int | float | bool
Attributes = Mapping[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class Attestation:
    """A maker's statement that `device_id` was built by it and belongs to `owner`."""

    device_id: str
    owner: str
    maker: str
    signature: bytes
    attributes: Attributes = field(default_factory=dict)
    """Facts the maker vouches for (signed with the rest)."""


@dataclass(frozen=True, slots=True)
class LocationAssertion:
    """The owner's statement that the device stands in H3 cell `location` (resolution 12)."""

    device_id: str
    location: str
    nonce: int
    signature: bytes
    attributes: Attributes = field(default_factory=dict)
    """Facts the owner states with the location (signed with it), e.g. antenna gain."""


class OnboardingError(ValueError):
    """Why an onboarding request was refused; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def canonical_attributes(attributes: Attributes) -> str:
    """Attributes as signed: JSON with sorted keys and no spaces (ASCII escapes, finite numbers only)."""
    return json.dumps(dict(attributes), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _attributes_line(attributes: Attributes | None) -> str:
    return f"\nattributes: {canonical_attributes(attributes)}" if attributes else ""


def attestation_message(
    network: str, device_id: str, owner: str, attributes: Attributes | None = None
) -> str:
    """The text a maker signs: network, device id, owner (lower-case), and its attributes if any."""
    return (
        f"opendepin onboarding\nnetwork: {network}\ndevice: {device_id}\nowner: {owner.lower()}"
        + _attributes_line(attributes)
    )


def location_message(
    network: str, device_id: str, location: str, nonce: int, attributes: Attributes | None = None
) -> str:
    """The text an owner signs: network, device id, H3 cell, nonce, and owner-stated attributes if any."""
    return (
        f"opendepin location\nnetwork: {network}\ndevice: {device_id}\ncell: {location}\nnonce: {nonce}"
        + _attributes_line(attributes)
    )


def check_attributes(attributes: Any, who: str) -> dict[str, AttributeValue]:
    """Attributes are a flat map of at most 32 short printable keys to printable strings, integers, finite
    floats or booleans."""
    if not isinstance(attributes, Mapping):
        raise OnboardingError("onboarding.bad_attributes", f"{who} attributes must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise OnboardingError("onboarding.bad_attributes", f"{who}: at most {MAX_ATTRIBUTES} attributes")
    checked: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_ATTRIBUTE_KEY:
            raise OnboardingError(
                "onboarding.bad_attributes", f"{who}: attribute names are 1..{MAX_ATTRIBUTE_KEY} chars"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise OnboardingError("onboarding.bad_attributes", f"{who}: attribute {key!r} is not finite")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_TEXT:
            raise OnboardingError("onboarding.bad_attributes", f"{who}: attribute {key!r} is too long")
        if not key.isprintable() or (isinstance(value, str) and not value.isprintable()):
            # NUL, line breaks, direction overrides: shown to people (explorer, `depin devices`) and kept
            # as text by the stores, an attribute is printable text only
            raise OnboardingError(
                "onboarding.bad_attributes",
                f"{who}: attribute {key!r} holds a character that is not printable",
            )
        if not isinstance(value, str | int | float | bool):
            raise OnboardingError(
                "onboarding.bad_attributes",
                f"{who}: attribute {key!r} must be a string, number or boolean",
            )
        checked[key] = value
    return checked


def merge_attributes(maker: Attributes, owner: Attributes) -> dict[str, AttributeValue]:
    """The device's attributes: the maker's and the owner's; a name stated by both is refused."""
    both = sorted(set(maker) & set(owner))
    if both:
        raise OnboardingError(
            "onboarding.bad_attributes", f"attributes {both} are stated by both the maker and the owner"
        )
    return {**maker, **owner}


def check_attestation(network: str, attestation: Attestation, makers: Mapping[str, str]) -> str:
    """Validate an attestation against the accepted makers (address → name); returns the maker address."""
    try:
        parse_device_id(attestation.device_id)
    except DeviceKeyError as error:
        raise OnboardingError("onboarding.bad_device_key", str(error)) from None
    try:
        maker = normalize_address(attestation.maker)
        owner = normalize_address(attestation.owner)
    except WalletError as error:
        raise OnboardingError("onboarding.bad_address", str(error)) from None
    if maker not in makers:
        raise OnboardingError("onboarding.unknown_maker", f"maker {maker} is not accepted by this network")
    attributes = check_attributes(attestation.attributes, "maker")
    signer = recover_text_signer(
        attestation_message(network, attestation.device_id, owner, attributes), attestation.signature
    )
    if signer != maker:
        raise OnboardingError(
            "onboarding.bad_attestation", f"attestation is not signed by maker {maker} (recovered {signer})"
        )
    return maker


CANONICAL_CELL = re.compile(r"[0-9a-f]{15}")
"""An H3 cell as h3 writes it: 15 lower-case hex digits."""


def is_canonical_cell(text: str) -> bool:
    """Rule: a cell is accepted only as h3 writes it (15 lower-case hex digits naming a valid cell). h3 also
    reads `8C1F…`, `08c1f…`, `0x8c1f…`, ` 8c1f…` or `8c1f…\n` as the same cell, but the registry keeps and
    compares the text: radios asserting one cell under different spellings each ranked first in "their"
    cell and were all paid in full (rank rule of the wireless sector)."""
    if not CANONICAL_CELL.fullmatch(text):
        return False
    try:
        return bool(h3.is_valid_cell(text))
    except (ValueError, OverflowError, TypeError):  # pragma: no cover - 15 hex digits always fit in 64 bits
        return False


def check_location(network: str, assertion: LocationAssertion, owner: str) -> str:
    """Validate the owner's location assertion; returns the H3 cell."""
    if (
        not is_canonical_cell(assertion.location)
        or h3.get_resolution(assertion.location) != ASSERTION_RESOLUTION
    ):
        raise OnboardingError(
            "location.bad_cell",
            f"location must be an H3 cell at resolution {ASSERTION_RESOLUTION}, written as h3 writes it "
            "(15 lower-case hex digits)",
        )
    attributes = check_attributes(assertion.attributes, "owner")
    text = location_message(network, assertion.device_id, assertion.location, assertion.nonce, attributes)
    signer = recover_text_signer(text, assertion.signature)
    if signer is None or signer.lower() != owner.lower():
        raise OnboardingError("location.bad_signature", f"location assertion is not signed by owner {owner}")
    return assertion.location


def onboarding_record(
    attestation: Attestation, location: LocationAssertion | None, maker: str
) -> dict[str, Any]:
    """What the registry keeps of an onboarding so that anyone can re-check both signatures later."""
    record: dict[str, Any] = {
        "maker": maker,
        "maker_signature": "0x" + attestation.signature.hex(),
        "maker_attributes": dict(attestation.attributes),
    }
    if location is not None:
        record["location"] = {
            "cell": location.location,
            "nonce": location.nonce,
            "signature": "0x" + location.signature.hex(),
            "attributes": dict(location.attributes),
        }
    return record


def recheck_onboarding(network: str, device_id: str, owner: str, record: Mapping[str, Any]) -> str | None:
    """Re-verify a stored onboarding record; returns why it fails, or None when both signatures hold."""
    try:
        attestation = Attestation(
            device_id,
            owner,
            str(record["maker"]),
            bytes.fromhex(str(record["maker_signature"]).removeprefix("0x")),
            dict(record.get("maker_attributes", {})),
        )
        signer = recover_text_signer(
            attestation_message(network, device_id, owner, attestation.attributes), attestation.signature
        )
        if signer is None or signer.lower() != attestation.maker.lower():
            return f"the maker signature does not recover to {attestation.maker}"
        located = record.get("location")
        if located is not None:
            assertion = LocationAssertion(
                device_id,
                str(located["cell"]),
                int(located["nonce"]),
                bytes.fromhex(str(located["signature"]).removeprefix("0x")),
                dict(located.get("attributes", {})),
            )
            check_location(network, assertion, owner)
    except OnboardingError as error:
        return f"{error.reason}: {error}"
    except (KeyError, TypeError, ValueError) as error:
        return f"malformed onboarding record: {error}"
    return None
