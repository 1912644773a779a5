"""Usage receipts: a payer's signed statement that a device served it and how many data credits that cost
(docs/architecture.md, "Users pay, providers earn"; the Helium data-credit model: the router that pays for
a packet is the one that meters it).

A receipt is deterministic CBOR (RFC 8949 §4.2) of `{v, sector, device, payer, credits, quantity, unit, ref,
ts}`; its id is the SHA-256 of those bytes; the payer signs, with its EVM key (EIP-191 personal message),
the text `opendepin usage\\nreceipt: 0x<id>`. On the wire: `[receipt bytes, signature]`. `ref` identifies
the session for the payer (a payer cannot be charged twice for one `ref`). The credits are spent on chain
by the node's settlement from the payer's balance; the epoch pays the device from its sector's usage pool.

Countersignature (optional): the device that served may sign, with its device key (ed25519 or P-256, as its
reports), the bytes `opendepin usage countersignature\\nreceipt: 0x<id>` (`countersign_message`; a domain of
its own, so no report or other message can be replayed as one). On the wire the receipt is then
`[receipt bytes, payer signature, device signature]`. Decoding checks it strictly against the device the
receipt names (`receipt.bad_countersignature`); a sector may require it (`SectorPlugin.usage_countersigned`):
then the payer alone cannot make the network pay, nor the device alone make the payer pay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import cbor2

from opendepin.identity.keys import DeviceKeyError, parse_device_id
from opendepin.identity.wallets import WalletError, normalize_address, recover_text_signer

RECEIPT_VERSION = 1
RECEIPT_KEYS = frozenset({"v", "sector", "device", "payer", "credits", "quantity", "unit", "ref", "ts"})
MAX_RECEIPT_BYTES = 1_024
MAX_CREDITS = 2**63 - 1


class ReceiptError(ValueError):
    """A receipt that cannot be accepted; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class UsageReceipt:
    """What a payer bought from a device: credits spent, the quantity of service, when."""

    sector: str
    device: str
    payer: str
    credits: int
    quantity: int
    unit: str
    ref: str
    ts: int

    def to_map(self) -> dict[str, Any]:
        return {
            "v": RECEIPT_VERSION,
            "sector": self.sector,
            "device": self.device,
            "payer": self.payer,
            "credits": self.credits,
            "quantity": self.quantity,
            "unit": self.unit,
            "ref": self.ref,
            "ts": self.ts,
        }


@dataclass(frozen=True, slots=True)
class SignedReceipt:
    """A receipt as signed: its bytes, the payer's signature and its meaning."""

    receipt_bytes: bytes
    signature: bytes
    receipt: UsageReceipt
    device_signature: bytes = b""
    """The device's countersignature over `countersign_message(receipt_id)` (empty: not countersigned)."""

    @property
    def receipt_id(self) -> str:
        return compute_receipt_id(self.receipt_bytes)

    def to_wire(self) -> bytes:
        parts = [self.receipt_bytes, self.signature]
        if self.device_signature:
            parts.append(self.device_signature)
        return bytes(cbor2.dumps(parts))


def compute_receipt_id(receipt_bytes: bytes) -> str:
    return hashlib.sha256(receipt_bytes).hexdigest()


def receipt_message(receipt_id: str) -> str:
    """The text the payer signs (EIP-191): short enough for a hardware wallet's screen."""
    return f"opendepin usage\nreceipt: 0x{receipt_id}"


def countersign_message(receipt_id: str) -> bytes:
    """The bytes the device signs to confirm it served the receipt `receipt_id` (domain-separated)."""
    return f"opendepin usage countersignature\nreceipt: 0x{receipt_id}".encode()


def verify_countersignature(receipt_id: str, device: str, signature: bytes) -> bool:
    """Did `device` (a device id) countersign the receipt `receipt_id`? Never raises."""
    if not signature:
        return False
    try:
        key = parse_device_id(device)
    except DeviceKeyError:
        return False
    return key.verify(countersign_message(receipt_id), signature)


def countersign(signed: SignedReceipt, key: Any) -> SignedReceipt:
    """`signed` with the countersignature of `key` (a `DeviceKey`), which must be the receipt's device."""
    if key.device_id != signed.receipt.device:
        raise ReceiptError(
            "receipt.foreign_countersignature",
            f"the receipt is for device {signed.receipt.device[:40]}, not {key.device_id[:40]}",
        )
    device_signature = bytes(key.sign(countersign_message(signed.receipt_id)))
    return SignedReceipt(signed.receipt_bytes, signed.signature, signed.receipt, device_signature)


def encode_receipt(receipt: UsageReceipt) -> bytes:
    return bytes(cbor2.dumps(receipt.to_map(), canonical=True))


def sign_receipt(receipt: UsageReceipt, sign_text: Any) -> SignedReceipt:
    """Encode and sign with `sign_text(text) -> signature` (e.g. `Wallet.sign_text`)."""
    data = encode_receipt(receipt)
    return SignedReceipt(data, bytes(sign_text(receipt_message(compute_receipt_id(data)))), receipt)


def _check_map(value: Any) -> UsageReceipt:
    if not isinstance(value, dict) or set(value) != RECEIPT_KEYS:
        raise ReceiptError("receipt.malformed", f"a receipt is a map with keys {sorted(RECEIPT_KEYS)}")
    if type(value["v"]) is not int or value["v"] != RECEIPT_VERSION:
        raise ReceiptError("receipt.unsupported_version", f"receipt version must be {RECEIPT_VERSION}")
    for key in ("sector", "device", "payer", "unit", "ref"):
        text = value[key]
        if not isinstance(text, str) or not 0 < len(text) <= 128 or not text.isprintable():
            # printable: a control character (NUL, which PostgreSQL cannot keep in text) in an identifier
            message = f"receipt {key} must be printable text of 1..128 characters"
            raise ReceiptError("receipt.malformed", message)
    for key in ("credits", "quantity", "ts"):
        if type(value[key]) is not int or not 0 <= value[key] <= MAX_CREDITS:
            raise ReceiptError("receipt.malformed", f"receipt {key} must be a non-negative 63-bit integer")
    if value["credits"] == 0:
        raise ReceiptError("receipt.malformed", "a receipt spends at least one credit")
    try:
        parse_device_id(value["device"])
        payer = normalize_address(value["payer"])
    except (DeviceKeyError, WalletError) as error:
        raise ReceiptError("receipt.malformed", str(error)) from None
    if payer != value["payer"]:
        raise ReceiptError("receipt.malformed", "the payer address must be in checksum form")
    return UsageReceipt(**{k: value[k] for k in RECEIPT_KEYS if k != "v"})


def decode_receipt(wire: bytes) -> SignedReceipt:
    """Decode and check `[receipt bytes, signature]` or `[receipt bytes, signature, device signature]`:
    canonical, well-formed, signed by its payer and, when countersigned, by the device it names.
    Never raises anything but ReceiptError."""
    if len(wire) > MAX_RECEIPT_BYTES:
        raise ReceiptError("receipt.too_large", f"a receipt is at most {MAX_RECEIPT_BYTES} bytes")
    try:
        outer = cbor2.loads(wire)
        if not (
            isinstance(outer, list) and len(outer) in (2, 3) and all(isinstance(x, bytes) for x in outer)
        ):
            raise ReceiptError(
                "receipt.malformed",
                "a signed receipt is [receipt bytes, signature(, device signature)]",
            )
        if cbor2.dumps(outer) != wire:
            raise ReceiptError("receipt.malformed", "trailing or non-canonical bytes around the receipt")
        data, signature = outer[0], outer[1]
        device_signature = outer[2] if len(outer) == 3 else b""
        if len(outer) == 3 and not device_signature:
            raise ReceiptError("receipt.malformed", "an empty countersignature: leave it out instead")
        inner = cbor2.loads(data)
        if cbor2.dumps(inner, canonical=True) != data:
            raise ReceiptError("receipt.not_canonical", "the receipt is not deterministic CBOR")
    except ReceiptError:
        raise
    except Exception as error:  # cbor2 raises many types for hostile bytes
        raise ReceiptError("receipt.malformed", f"not CBOR: {type(error).__name__}") from None
    receipt = _check_map(inner)
    signer = recover_text_signer(receipt_message(compute_receipt_id(data)), signature)
    if signer != receipt.payer:
        raise ReceiptError("receipt.bad_signature", f"the receipt is not signed by its payer {receipt.payer}")
    receipt_id = compute_receipt_id(data)
    if device_signature and not verify_countersignature(receipt_id, receipt.device, device_signature):
        raise ReceiptError(
            "receipt.bad_countersignature", f"the countersignature is not the device {receipt.device[:40]}'s"
        )
    return SignedReceipt(data, signature, receipt, device_signature)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """An accepted usage receipt as the epoch sees it (signature already checked)."""

    receipt_id: str
    sector: str
    device: str
    payer: str
    credits: int
    quantity: int
    unit: str
    ref: str
    ts: int
    received_at: int
    device_signature: bytes = b""
    """The device's countersignature as received (empty: the payer's signature only); a sector that
    requires it re-checks it with `verify_countersignature`."""

    @classmethod
    def of(cls, signed: SignedReceipt, received_at: int) -> UsageRecord:
        r = signed.receipt
        fields = (r.sector, r.device, r.payer, r.credits, r.quantity, r.unit, r.ref, r.ts)
        return cls(signed.receipt_id, *fields, received_at, signed.device_signature)

    @property
    def countersigned(self) -> bool:
        """Does it carry the device's valid countersignature?"""
        return verify_countersignature(self.receipt_id, self.device, self.device_signature)
