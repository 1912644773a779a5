"""Countersigned usage receipts (market/receipts.py): `[receipt bytes, payer signature, device signature]`,
the device signing `countersign_message(receipt id)` with its device key; anything but the named device's
signature over that exact message is refused as `receipt.bad_countersignature`."""

from __future__ import annotations

from dataclasses import replace

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import (
    MAX_RECEIPT_BYTES,
    ReceiptError,
    SignedReceipt,
    UsageReceipt,
    UsageRecord,
    countersign,
    countersign_message,
    decode_receipt,
    receipt_message,
    sign_receipt,
    verify_countersignature,
)

PAYER = Wallet(bytes.fromhex("44" * 32))
ED = DeviceKey("ed25519", b"\x05" * 32)
P256 = DeviceKey("p256", b"\x06" * 32)
OTHER = DeviceKey("ed25519", b"\x07" * 32)


def _signed(key: DeviceKey = ED, ref: str = "put:1") -> SignedReceipt:
    receipt = UsageReceipt(
        "storage", key.device_id, PAYER.address, 5, 4_096, "byte_hours", ref, 1_767_225_700
    )
    return sign_receipt(receipt, PAYER.sign_text)


@pytest.mark.parametrize("key", [ED, P256], ids=["ed25519", "p256"])
def test_a_countersigned_receipt_round_trips_with_the_same_id(key: DeviceKey) -> None:
    signed = _signed(key)
    counter = countersign(signed, key)
    wire = counter.to_wire()
    assert len(cbor2.loads(wire)) == 3 and len(wire) <= MAX_RECEIPT_BYTES
    decoded = decode_receipt(wire)
    # the countersignature confirms the receipt; it changes neither its id nor what the payer signed
    assert decoded.receipt_id == signed.receipt_id
    assert decoded.device_signature == counter.device_signature and decoded.signature == counter.signature
    record = UsageRecord.of(decoded, 9)
    assert record.countersigned and record.device_signature == counter.device_signature
    # the payer-only form still decodes, as before, and is not countersigned
    plain = decode_receipt(signed.to_wire())
    assert plain.device_signature == b"" and not UsageRecord.of(plain, 9).countersigned


def test_only_the_named_device_can_countersign() -> None:
    signed = _signed(ED)
    with pytest.raises(ReceiptError) as info:
        countersign(signed, OTHER)
    assert info.value.reason == "receipt.foreign_countersignature"
    # forged by hand: another device's signature over the right message
    forged = cbor2.dumps(
        [signed.receipt_bytes, signed.signature, OTHER.sign(countersign_message(signed.receipt_id))]
    )
    with pytest.raises(ReceiptError) as info:
        decode_receipt(forged)
    assert info.value.reason == "receipt.bad_countersignature"


def test_a_countersignature_is_bound_to_its_receipt_and_its_domain() -> None:
    first, second = _signed(ED, "put:1"), _signed(ED, "put:2")
    moved = countersign(first, ED).device_signature
    bare_id = ED.sign(bytes.fromhex(second.receipt_id))
    payer_text = ED.sign(receipt_message(second.receipt_id).encode())
    for device_signature in (moved, bare_id, payer_text):
        wire = cbor2.dumps([second.receipt_bytes, second.signature, device_signature])
        with pytest.raises(ReceiptError) as info:
            decode_receipt(wire)
        assert info.value.reason == "receipt.bad_countersignature"
    assert countersign_message(first.receipt_id) != receipt_message(first.receipt_id).encode()


@pytest.mark.parametrize(
    "tail",
    [[b""], [b"x", b"y"], ["text"], [1]],
    ids=["empty", "four-elements", "text", "integer"],
)
def test_malformed_countersignatures_are_refused(tail: list[object]) -> None:
    signed = _signed()
    wire = cbor2.dumps([signed.receipt_bytes, signed.signature, *tail])
    with pytest.raises(ReceiptError) as info:
        decode_receipt(wire)
    assert info.value.reason == "receipt.malformed"


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=80))
def test_no_arbitrary_bytes_pass_as_a_countersignature(device_signature: bytes) -> None:
    signed = _signed()
    wire = cbor2.dumps([signed.receipt_bytes, signed.signature, device_signature])
    with pytest.raises(ReceiptError) as info:
        decode_receipt(wire)
    assert info.value.reason == "receipt.bad_countersignature"
    assert not verify_countersignature(signed.receipt_id, ED.device_id, device_signature)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 63), st.integers(1, 255))
def test_a_flipped_bit_anywhere_in_a_countersignature_is_caught(position: int, flip: int) -> None:
    good = countersign(_signed(), ED)
    bad = bytearray(good.device_signature)
    bad[position] ^= flip
    wire = cbor2.dumps([good.receipt_bytes, good.signature, bytes(bad)])
    with pytest.raises(ReceiptError) as info:
        decode_receipt(wire)
    assert info.value.reason == "receipt.bad_countersignature"


def test_a_record_with_a_wrong_signature_is_not_countersigned() -> None:
    """The epoch re-checks: a record whose stored device signature is wrong (or a stand-in device id that
    is no key) reads as not countersigned, never raises."""
    good = countersign(_signed(), ED)
    record = UsageRecord.of(decode_receipt(good.to_wire()), 1)
    assert record.countersigned
    assert not replace(record, device_signature=good.device_signature[::-1]).countersigned
    assert not replace(record, device="ed25519:" + "00" * 31).countersigned
    assert not replace(record, device="not a device id").countersigned
