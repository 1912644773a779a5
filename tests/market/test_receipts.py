"""Usage receipts: signed by the payer, canonical, one per (payer, ref), hostile bytes refused."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import (
    ReceiptError,
    UsageReceipt,
    UsageRecord,
    decode_receipt,
    encode_receipt,
    sign_receipt,
)

PAYER = Wallet(bytes.fromhex("44" * 32))
DEVICE = DeviceKey("ed25519", b"\x05" * 32).device_id


def _receipt(**changes: object) -> UsageReceipt:
    fields: dict[str, object] = {
        "sector": "wireless",
        "device": DEVICE,
        "payer": PAYER.address,
        "credits": 1_000,
        "quantity": 24_000,
        "unit": "bytes",
        "ref": "session-1",
        "ts": 1_767_225_700,
    }
    fields.update(changes)
    return UsageReceipt(**fields)  # type: ignore[arg-type]


def test_a_signed_receipt_round_trips() -> None:
    signed = sign_receipt(_receipt(), PAYER.sign_text)
    decoded = decode_receipt(signed.to_wire())
    assert decoded.receipt == _receipt() and decoded.receipt_id == signed.receipt_id
    record = UsageRecord.of(decoded, 42)
    assert (record.credits, record.received_at, record.payer) == (1_000, 42, PAYER.address)


def test_invalid_signature_by_someone_else() -> None:
    other = Wallet(bytes.fromhex("55" * 32))
    signed = sign_receipt(_receipt(), other.sign_text)
    with pytest.raises(ReceiptError) as info:
        decode_receipt(signed.to_wire())
    assert info.value.reason == "receipt.bad_signature"


@pytest.mark.parametrize(
    "changes",
    [
        {"credits": 0},
        {"credits": -1},
        {"credits": True},
        {"ts": "1767225700"},
        {"device": "ed25519:zz"},
        {"payer": PAYER.address.lower()},
        {"ref": ""},
        {"ref": "session\x00-1"},  # PostgreSQL cannot keep NUL in text
        {"unit": "bytes\n"},
        {"sector": "wire\x1bless"},
    ],
)
def test_invalid_fields_are_refused(changes: dict[str, object]) -> None:
    body = {**_receipt().to_map(), **changes}
    data = cbor2.dumps(body, canonical=True)
    wire = cbor2.dumps([data, PAYER.sign_text("x")])
    with pytest.raises(ReceiptError) as info:
        decode_receipt(wire)
    assert info.value.reason == "receipt.malformed"


def test_invalid_non_canonical_or_trailing_bytes() -> None:
    signed = sign_receipt(_receipt(), PAYER.sign_text)
    with pytest.raises(ReceiptError):
        decode_receipt(signed.to_wire() + b"\x00")
    loose = cbor2.dumps(dict(reversed(list(_receipt().to_map().items()))))
    assert loose != encode_receipt(_receipt())
    with pytest.raises(ReceiptError) as info:
        decode_receipt(cbor2.dumps([loose, PAYER.sign_text("x")]))
    assert info.value.reason == "receipt.not_canonical"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_receipt_errors(data: bytes) -> None:
    try:
        decode_receipt(data)
    except ReceiptError as error:
        assert error.reason.startswith("receipt.")
