from __future__ import annotations

import pytest

from opendepin.identity.attestation import (
    Attestation,
    LocationAssertion,
    OnboardingError,
    attestation_message,
    check_attestation,
    check_location,
    is_canonical_cell,
    location_message,
    merge_attributes,
    recheck_onboarding,
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


@pytest.mark.parametrize(
    "spelling",
    [
        CELL.upper(),
        "0" + CELL,
        "0x" + CELL,
        "+" + CELL,
        " " + CELL,
        CELL + "\n",
        CELL + "f" * 18,
        "-" + CELL,
        "-1",
    ],
)
def test_a_cell_is_accepted_only_as_h3_writes_it(spelling: str) -> None:
    """Spellings h3 reads as the same cell (or cannot fit in 64 bits) are refused with a reason, even when
    the owner signed them: a registry comparing cells as text would count them as different cells."""
    device = DeviceKey.generate().device_id
    signed = OWNER.sign_text(location_message(NETWORK, device, spelling, 3))
    with pytest.raises(OnboardingError) as info:
        check_location(NETWORK, LocationAssertion(device, spelling, 3, signed), OWNER.address)
    assert info.value.reason == "location.bad_cell"
    assert is_canonical_cell(CELL) and not is_canonical_cell(spelling)


def test_attributes_are_signed_by_the_maker() -> None:
    device = DeviceKey.generate().device_id
    attributes = {"region": "EU868", "mode": "full"}
    text = attestation_message(NETWORK, device, OWNER.address, attributes)
    assert text.endswith('\nattributes: {"mode":"full","region":"EU868"}')
    signed = Attestation(device, OWNER.address, MAKER.address, MAKER.sign_text(text), attributes)
    assert check_attestation(NETWORK, signed, MAKERS) == MAKER.address
    changed = Attestation(device, OWNER.address, MAKER.address, signed.signature, {**attributes, "mode": "x"})
    with pytest.raises(OnboardingError) as info:
        check_attestation(NETWORK, changed, MAKERS)
    assert info.value.reason == "onboarding.bad_attestation"


def test_owner_attributes_are_signed_with_the_location() -> None:
    device = DeviceKey.generate().device_id
    attributes = {"gain_dbi": 5.8}
    signature = OWNER.sign_text(location_message(NETWORK, device, CELL, 2, attributes))
    assert check_location(NETWORK, LocationAssertion(device, CELL, 2, signature, attributes), OWNER.address)
    with pytest.raises(OnboardingError):
        forged = LocationAssertion(device, CELL, 2, signature, {"gain_dbi": 8.0})
        check_location(NETWORK, forged, OWNER.address)


@pytest.mark.parametrize(
    "attributes",
    [
        {"x": float("nan")},
        {"x": [1]},
        {"x": {"y": 1}},
        {"": 1},
        {"x": "y" * 300},
        {f"k{i}": i for i in range(33)},
        {"region": "\x00"},
        {"region": "EU868\n"},
        {"name": "abc\u202edef"},
        {"re\tgion": "EU868"},
    ],
)
def test_malformed_attributes_are_refused(attributes: dict[str, object]) -> None:
    device = DeviceKey.generate().device_id
    attestation = Attestation(device, OWNER.address, MAKER.address, b"\x00" * 65, attributes)  # type: ignore[arg-type]
    with pytest.raises(OnboardingError) as info:
        check_attestation(NETWORK, attestation, MAKERS)
    assert info.value.reason == "onboarding.bad_attributes"


def test_maker_and_owner_cannot_state_the_same_attribute() -> None:
    with pytest.raises(OnboardingError):
        merge_attributes({"gain_dbi": 1.2}, {"gain_dbi": 9.0})
    assert merge_attributes({"mode": "full"}, {"gain_dbi": 9.0}) == {"mode": "full", "gain_dbi": 9.0}


def test_a_stored_onboarding_record_can_be_rechecked() -> None:
    device = DeviceKey.generate().device_id
    record = {
        "maker": MAKER.address,
        "maker_signature": "0x" + MAKER.sign_text(attestation_message(NETWORK, device, OWNER.address)).hex(),
        "maker_attributes": {},
        "location": {
            "cell": CELL,
            "nonce": 1,
            "signature": "0x" + OWNER.sign_text(location_message(NETWORK, device, CELL, 1)).hex(),
            "attributes": {},
        },
    }
    assert recheck_onboarding(NETWORK, device, OWNER.address, record) is None
    moved = {**record, "location": {**record["location"], "cell": "8c1f1d48945d1ff"}}
    assert recheck_onboarding(NETWORK, device, OWNER.address, moved) is not None
    assert recheck_onboarding(NETWORK, device, Wallet.generate().address, record) is not None
