"""The piece registry the epoch carries (sector state): which provider holds which piece of which segment.

Rules for a `storage.put` (docs/storage.md, "Objects, segments and pieces"): the client signed the piece
(EIP-191 over `reports.put_message`); the piece number is below the segment's n and k, n match the segment's
other pieces; a piece held by another provider is refused (`storage.piece_taken`) unless the segment's own
client signed the new put: a repair moves the piece (evidence `replaces`: the former holder); a segment
holds at most one piece per provider and per network prefix (`storage.prefix_duplicate`: correlated loss,
one disk or one /24 holding several pieces); a disqualified or suspended provider takes no new pieces
(`storage.not_accepting`). A `storage.delete` needs the client's signature for a piece the provider holds.

Expiry (docs/storage.md, "Renewal and expiry"): a put may carry `expires` with the client's signature over
`reports.expiry_message` (a wrong one is `storage.bad_client_signature`, an expiry not after the put
`storage.bad_expiry`); a `storage.renew` moves it later, signed the same way by the segment's client, for a
piece the provider still holds (`storage.unknown_piece` once expired, `storage.renew_not_later` unless
later than the current expiry). At its expiry the piece leaves the registry by itself (`expire`).

Paid pieces (paid.py; docs/storage.md, "Paid pieces"): given a `ReceiptBook`, a put or renewal that passes
every other rule also needs the byte-hours receipt it names (`receipt`), paid by the segment's client to this
provider at the network's price for at least one hour of the piece; the piece is registered or renewed only
until the end of what that receipt covers (`storage.unpaid_piece` otherwise), and the receipt backs no
other piece.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from opendepin.identity.wallets import normalize_address
from opendepin.sectors.base import DeviceInfo
from opendepin.sectors.storage import eip191
from opendepin.sectors.storage.audit import Piece
from opendepin.sectors.storage.paid import UNPAID_PIECE, ReceiptBook, capped_expiry, paid_cover
from opendepin.sectors.storage.reports import delete_message, expiry_message, piece_key, put_message

PREFIX_ATTRIBUTE = "network_prefix"


@lru_cache(maxsize=65_536)
def recover_signer(text: str, signature: bytes) -> str | None:
    """The address that signed `text` (cached: the same put is checked once per process)."""
    return eip191.recover_signer(text, signature)


def prefix_of(device: DeviceInfo | None) -> str | None:
    value = None if device is None else device.attributes.get(PREFIX_ATTRIBUTE)
    return str(value) if value else None


@dataclass
class PieceRegistry:
    """Pieces by key, with each segment's holders."""

    pieces: dict[str, Piece] = field(default_factory=dict)
    clients: dict[str, str] = field(default_factory=dict)
    """segment → the client that stored it (its first put)"""
    by_segment: dict[str, dict[str, Piece]] = field(default_factory=dict)
    by_device: dict[str, dict[str, Piece]] = field(default_factory=dict)
    expiries: list[tuple[int, str]] = field(default_factory=list)
    """(expires, key) heap of pieces that expire (stale entries are skipped when popped)"""

    def add(self, piece: Piece) -> None:
        self.pieces[piece.key] = piece
        self.by_segment.setdefault(piece.segment, {})[piece.key] = piece
        self.by_device.setdefault(piece.device, {})[piece.key] = piece
        if piece.expires:
            heapq.heappush(self.expiries, (piece.expires, piece.key))

    def expire(self, at: int) -> list[Piece]:
        """Remove every piece whose expiry is at or before `at`; the pieces removed, in expiry order."""
        gone = []
        while self.expiries and self.expiries[0][0] <= at:
            expires, key = heapq.heappop(self.expiries)
            piece = self.pieces.get(key)
            if piece is not None and piece.expires == expires:
                self.remove(key)
                gone.append(piece)
        return gone

    def remove(self, key: str) -> Piece | None:
        piece = self.pieces.pop(key, None)
        if piece is not None:
            self.by_segment[piece.segment].pop(key, None)
            self.by_device[piece.device].pop(key, None)
        return piece

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> PieceRegistry:
        registry = cls()
        for key, row in state.get("pieces", {}).items():
            segment, index = key.rsplit(":", 1)
            device, size, root, k, n, put_ts, *rest = row
            expires = int(rest[0]) if rest else 0
            registry.add(Piece(key, segment, int(index), device, size, root, k, n, put_ts, expires))
        registry.clients = dict(state.get("clients", {}))
        return registry

    def to_state(self) -> dict[str, Any]:
        return {
            "pieces": {
                key: [p.device, p.size, p.root, p.k, p.n, p.put_ts, *([p.expires] if p.expires else [])]
                for key, p in sorted(self.pieces.items())
            },
            "clients": dict(sorted((s, c) for s, c in self.clients.items() if self.holders(s))),
        }

    def holders(self, segment: str) -> list[Piece]:
        return list(self.by_segment.get(segment, {}).values())

    def of_device(self, device: str, before: int | None = None) -> list[Piece]:
        return sorted(
            (p for p in self.by_device.get(device, {}).values() if before is None or p.put_ts < before),
            key=lambda p: p.key,
        )

    def check_put(
        self,
        device: str,
        payload: Mapping[str, Any],
        ts: int,
        devices: Mapping[str, DeviceInfo],
        book: ReceiptBook | None = None,
        credits_per_gb_hour: int = 1,
    ) -> tuple[str, dict[str, Any]]:
        """The reason for a put (`ok` registers it) and its evidence; with `book`, only as far as the
        receipt it names pays (paid.py)."""
        segment, index = str(payload["segment"]), int(payload["piece"])
        k, n, size, root = int(payload["k"]), int(payload["n"]), int(payload["size"]), str(payload["root"])
        evidence: dict[str, Any] = {"segment": segment, "piece": index}
        if not (k < n and index < n):
            return "storage.bad_piece", {**evidence, "k": k, "n": n}
        text = put_message(segment, index, device, root, size, k, n)
        signer = recover_signer(text, bytes(payload["client_sig"]))
        client = normalize_address(str(payload["client"]))
        if signer != client:
            return "storage.bad_client_signature", {**evidence, "client": client, "signer": signer}
        expires = int(payload.get("expires", 0))
        if expires:
            if expires <= ts:
                return "storage.bad_expiry", {**evidence, "expires": expires, "ts": ts}
            text = expiry_message(segment, index, device, expires)
            signer = recover_signer(text, bytes(payload.get("expiry_sig", b"")))
            if signer != client:
                return "storage.bad_client_signature", {
                    **evidence,
                    "client": client,
                    "signer": signer,
                    "signed": "expiry",
                }
        key = piece_key(segment, index)
        held = self.pieces.get(key)
        if held is not None:
            if held.device == device and held.root == root:
                return "storage.duplicate_put", evidence
            if self.clients.get(segment) != client:
                return "storage.piece_taken", {**evidence, "holder": held.device}
        others = [p for p in self.holders(segment) if p.key != key]
        if others and (others[0].k, others[0].n, others[0].size) != (k, n, size):
            return "storage.segment_mismatch", {
                **evidence,
                "segment_k_n_size": [others[0].k, others[0].n, others[0].size],
            }
        if self.clients.get(segment, client) != client:
            return "storage.segment_mismatch", {
                **evidence,
                "client": client,
                "segment_client": self.clients[segment],
            }
        prefix = prefix_of(devices.get(device))
        for other in others:
            if other.device == device or (
                prefix is not None and prefix_of(devices.get(other.device)) == prefix
            ):
                return "storage.prefix_duplicate", {
                    **evidence,
                    "network_prefix": prefix,
                    "other_piece": other.index,
                    "other_holder": other.device,
                }
        paid: dict[str, Any] = {}
        if book is not None:
            receipt_id = str(payload.get("receipt", ""))
            receipt = book.get(receipt_id)
            start = ts if receipt is None else min(ts, receipt.ts)
            reason, paid = paid_cover(
                receipt_id,
                receipt,
                device=device,
                client=client,
                size=size,
                start=start,
                credits_per_gb_hour=credits_per_gb_hour,
            )
            if reason == "ok" and paid["paid_until"] <= ts:
                reason, paid = (
                    UNPAID_PIECE,
                    {**paid, "ts": ts, "problem": "the receipt's cover ended before the put"},
                )
            if reason != "ok":
                return reason, {**evidence, **paid}
            book.take(receipt_id)
            signed, expires = expires, capped_expiry(expires, paid["paid_until"])
            if signed != expires:
                paid["signed_expires"] = signed
        if held is not None:
            self.remove(key)
            evidence["replaces"] = held.device
        self.add(Piece(key, segment, index, device, size, root, k, n, ts, expires))
        self.clients.setdefault(segment, client)
        return "ok", {**evidence, "size": size, **({"expires": expires} if expires else {}), **paid}

    def check_renew(
        self,
        device: str,
        payload: Mapping[str, Any],
        book: ReceiptBook | None = None,
        credits_per_gb_hour: int = 1,
    ) -> tuple[str, dict[str, Any]]:
        """A renewal is valid for a piece the device holds (not expired), to a later expiry, signed by the
        segment's client; `ok` moves the piece's expiry (with `book`: at most to the end of what the receipt
        it names pays, counted from the current expiry; paid.py)."""
        segment, index, expires = str(payload["segment"]), int(payload["piece"]), int(payload["expires"])
        key = piece_key(segment, index)
        evidence: dict[str, Any] = {"segment": segment, "piece": index, "expires": expires}
        held = self.pieces.get(key)
        if held is None or held.device != device:
            return "storage.unknown_piece", evidence
        if held.expires == 0 or expires <= held.expires:
            return "storage.renew_not_later", {**evidence, "current": held.expires}
        signer = recover_signer(expiry_message(segment, index, device, expires), bytes(payload["expiry_sig"]))
        if signer is None or signer != self.clients.get(segment):
            return "storage.bad_client_signature", {**evidence, "signer": signer, "signed": "expiry"}
        paid: dict[str, Any] = {}
        if book is not None:
            receipt_id = str(payload.get("receipt", ""))
            reason, paid = paid_cover(
                receipt_id,
                book.get(receipt_id),
                device=device,
                client=self.clients.get(segment),
                size=held.size,
                start=held.expires,
                credits_per_gb_hour=credits_per_gb_hour,
            )
            if reason != "ok":
                return reason, {**evidence, **paid, "current": held.expires}
            book.take(receipt_id)
            expires = capped_expiry(expires, paid["paid_until"])
            evidence["expires"] = expires
            if expires != int(payload["expires"]):
                paid["signed_expires"] = int(payload["expires"])
        self.remove(key)
        self.add(replace(held, expires=expires))
        return "ok", {**evidence, "previous": held.expires, **paid}

    def check_delete(self, device: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """A delete is valid for a piece the device holds, signed by the segment's client."""
        segment, index = str(payload["segment"]), int(payload["piece"])
        key = piece_key(segment, index)
        evidence = {"segment": segment, "piece": index}
        held = self.pieces.get(key)
        if held is None or held.device != device:
            return "storage.unknown_piece", evidence
        signer = recover_signer(delete_message(segment, index, device), bytes(payload["client_sig"]))
        if signer is None or signer != self.clients.get(segment):
            return "storage.bad_client_signature", {**evidence, "signer": signer}
        self.remove(key)
        return "ok", evidence
