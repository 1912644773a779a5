from __future__ import annotations

import pytest

from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    OnboardingError,
    attestation_message,
    check_attestation,
    check_location,
    location_message,
)
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from tests.conftest import CELL, MAKER, OWNER

NETWORK = "net"
MAKERS = {MAKER.address: "maker"}


def _attest(signer: Wallet, maker: Wallet = MAKER) -> Attestation:
    device = DeviceKey.generate().device_id
    return Attestation(
        device,
        OWNER.address,
        maker.address,
        signer.sign_text(attestation_message(NETWORK, device, OWNER.address)),
    )


def test_valid_attestation() -> None:
    assert check_attestation(NETWORK, _attest(MAKER), MAKERS) == MAKER.address


def test_invalid_unknown_maker() -> None:
    other = Wallet.generate()
    with pytest.raises(OnboardingError) as info:
        check_attestation(NETWORK, _attest(other, maker=other), MAKERS)
    assert info.value.reason == "onboarding.unknown_maker"


def test_invalid_attestation_signed_by_someone_else() -> None:
    with pytest.raises(OnboardingError) as info:
        check_attestation(NETWORK, _attest(Wallet.generate()), MAKERS)
    assert info.value.reason == "onboarding.bad_attestation"


def test_invalid_attestation_for_other_network() -> None:
    attestation = _attest(MAKER)
    with pytest.raises(OnboardingError):
        check_attestation("another-network", attestation, MAKERS)


def test_location_assertion() -> None:
    device = DeviceKey.generate().device_id
    good = LocationAssertion(device, CELL, 3, OWNER.sign_text(location_message(NETWORK, device, CELL, 3)))
    assert check_location(NETWORK, good, OWNER.address) == CELL
    forged = LocationAssertion(device, CELL, 3, MAKER.sign_text(location_message(NETWORK, device, CELL, 3)))
    with pytest.raises(OnboardingError, match="not signed by owner"):
        check_location(NETWORK, forged, OWNER.address)
    coarse = LocationAssertion(device, "871f1d489ffffff", 3, good.signature)
    with pytest.raises(OnboardingError) as info:
        check_location(NETWORK, coarse, OWNER.address)
    assert info.value.reason == "location.bad_cell"
