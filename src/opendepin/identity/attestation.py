"""Onboarding attestations: a maker binds device key → owner wallet (DESIGN.md "Device identity").

The maker signs, with its EVM key (EIP-191 personal message), the text of `attestation_message`. The same
signature can be checked on chain by the device registry (ecrecover), so one attestation serves both the
node and the chain. The owner separately signs the location assertion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import h3

from opendepin.identity.keys import DeviceKeyError, parse_device_id
from opendepin.identity.wallets import WalletError, normalize_address, recover_text_signer

ASSERTION_RESOLUTION = 12


@dataclass(frozen=True, slots=True)
class Attestation:
    """A maker's statement that `device_id` was built by it and belongs to `owner`."""

    device_id: str
    owner: str
    maker: str
    signature: bytes


@dataclass(frozen=True, slots=True)
class LocationAssertion:
    """The owner's statement that the device stands in H3 cell `location` (resolution 12)."""

    device_id: str
    location: str
    nonce: int
    signature: bytes


class OnboardingError(ValueError):
    """Why an onboarding request was refused; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def attestation_message(network: str, device_id: str, owner: str) -> str:
    return f"opendepin onboarding\nnetwork: {network}\ndevice: {device_id}\nowner: {owner.lower()}"


def location_message(network: str, device_id: str, location: str, nonce: int) -> str:
    return f"opendepin location\nnetwork: {network}\ndevice: {device_id}\ncell: {location}\nnonce: {nonce}"


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
    signer = recover_text_signer(
        attestation_message(network, attestation.device_id, owner), attestation.signature
    )
    if signer != maker:
        raise OnboardingError(
            "onboarding.bad_attestation", f"attestation is not signed by maker {maker} (recovered {signer})"
        )
    return maker


def check_location(network: str, assertion: LocationAssertion, owner: str) -> str:
    """Validate the owner's location assertion; returns the H3 cell."""
    if (
        not h3.is_valid_cell(assertion.location)
        or h3.get_resolution(assertion.location) != ASSERTION_RESOLUTION
    ):
        raise OnboardingError(
            "location.bad_cell", f"location must be an H3 cell at resolution {ASSERTION_RESOLUTION}"
        )
    text = location_message(network, assertion.device_id, assertion.location, assertion.nonce)
    signer = recover_text_signer(text, assertion.signature)
    if signer is None or signer.lower() != owner.lower():
        raise OnboardingError("location.bad_signature", f"location assertion is not signed by owner {owner}")
    return assertion.location
