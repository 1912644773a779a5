"""What storage providers do in the generic fleet of `depin up` (the sector's `SectorSimulation`).

In the first hour it is asked about them, a simulated client (its key derived from the fleet's seed) codes
segments k of n with zfec and places them on the providers up in that hour, one piece per network prefix,
about `PIECES_PER_PROVIDER` pieces each; every provider registers its pieces (`storage.put`, client-signed).
Every hour each provider reads the node's audit challenge and answers what it owes (`storage.proof`: the
leaf and its Merkle path, the stripe when its segment is stripe-audited), or pings when it owes nothing.

Pieces are paid as a real client pays them (docs/storage.md, "Paid pieces"): with
`pieces_paid_by_receipts` (the default) the client is one of the fleet's users. It buys the data credits
on chain, signs one byte-hours receipt per piece for `PAID_HOURS` hours, has the provider countersign it
when the network requires that, and sends it to `/v1/usage`; the provider's put names the receipt, and a
piece is put only once its receipt is accepted (a placement whose credits cannot be bought yet, e.g. before
the first oracle price, waits for a later hour). A fleet without users (no chain) cannot pay: its client is
a key derived from the seed and its puts name no receipt, so such a network refuses them as
`storage.unpaid_piece` unless it turns the rule off.

Sector misbehaviours: `storage-deleter` dropped a fifth of its pieces and says so (`storage.missing`),
`storage-rotter` has a flipped byte in every leaf of a fifth of its pieces (`storage.corrupt`). A paid
session is GB-hours stored (`credits_per_gb_hour`). The fleet sends an hour's reports at its end: the
network must allow answers within the hour (examples/storage.toml does).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import AUDIT, Piece, due_for
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.pricing import STORED_UNIT, storage_credits
from opendepin.sectors.storage.reports import PING, PROOF, PUT, put_message
from opendepin.sectors.storage.sim.world import SimPiece, build_segment, make_piece

DELETER = "storage-deleter"
ROTTER = "storage-rotter"
PIECES_PER_PROVIDER = 3
PIECE_BYTES = 4_096
PAID_HOURS = 30 * 24
"""Hours each piece's receipt pays for: longer than a `depin up` run (a longer-lived client renews)."""


def prefix_for(index: int) -> str:
    """The simulated provider's /24 (one per device: the fleet's providers stand on distinct networks)."""
    return f"100.{64 + index // 256}.{index % 256}.0/24"


class StorageSimulation(SectorSimulation):
    """Providers that store, register and prove pieces a simulated client gave them."""

    def __init__(self, params: StorageParams) -> None:
        self.params = params
        self.pieces: dict[str, dict[str, SimPiece]] = {}
        """device id → its pieces"""
        self.placed_at: int | None = None
        self.client: str | None = None
        """The client's address: a fleet user, or a key derived from the seed when there is none."""
        self.client_wallet: Wallet | None = None
        self.receipts: dict[tuple[str, str], str] = {}
        """(device id, piece key) → the id of the accepted receipt that pays for the piece."""
        self.put_at: dict[str, int] = {}
        """device id → the hour its puts were sent (it answers audits from the next hour on)."""

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {DELETER: "storage.missing", ROTTER: "storage.corrupt", "lazy": "storage.offline"}

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return {}, {"capacity_bytes": 10**12, "network_prefix": prefix_for(device.index)}

    def paying(self, services: SimServices) -> bool:
        """Whether the client pays for its pieces with receipts (module docstring)."""
        return self.params.pieces_paid_by_receipts and bool(services.users())

    def place(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> None:
        """Code and place the client's segments on the providers up now (once)."""
        seed = devices[0].seed
        rng = random.Random(f"{seed}:storage:place")
        if self.paying(services):
            self.client = sorted(services.users())[0]
        else:
            self.client_wallet = Wallet(hashlib.sha256(f"opendepin storage client {seed}".encode()).digest())
            self.client = self.client_wallet.address
        self.placed_at = hour_ts
        providers = sorted(devices, key=lambda d: d.index)
        if len(providers) < self.params.n:
            return
        for _ in range(max(1, PIECES_PER_PROVIDER * len(providers) // self.params.n)):
            segment, datas = build_segment(rng, self.params, PIECE_BYTES)
            for index, device in enumerate(rng.sample(providers, self.params.n)):
                piece = make_piece(segment, index, datas[index], self.params, self.client)
                if device.behaviour == ROTTER and rng.random() < 0.2:
                    data = bytearray(piece.data)
                    data[rng.randrange(len(data))] ^= 0xFF
                    piece.data = bytes(data)
                self.pieces.setdefault(device.device_id, {})[f"{segment}:{index}"] = piece
        for device in providers:
            if device.behaviour == DELETER:
                mine = self.pieces.get(device.device_id, {})
                for key in sorted(mine)[: max(1, len(mine) // 5)]:
                    mine[key] = SimPiece(
                        mine[key].segment, mine[key].index, b"", [], mine[key].root, 0, 0, ""
                    )

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        if not devices:
            return []
        if self.placed_at is None:
            self.place(devices, hour_ts, services)
        paying = self.paying(services)
        if paying:
            self.pay(devices, hour_ts, services)
        audits = list(services.challenges(AUDIT))
        reports: list[SimReport] = []
        for device in devices:
            reports.extend(self.puts(device, hour_ts, services, paying))
            put_at = self.put_at.get(device.device_id)
            if audits and put_at is not None and hour_ts > put_at:
                reports.extend(self.answers(device, audits[0].challenge_id, hour_ts))
            elif audits:
                reports.append(
                    SimReport(device.index, PING, hour_ts + 30, {"challenge": audits[0].challenge_id})
                )
        return reports

    def pay(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> None:
        """The client buys the credits and sends a receipt for each piece of the devices up now that no
        accepted receipt pays yet (countersigned by the provider when the network requires it)."""
        client = self.client
        if client is None:
            return
        quantity = PIECE_BYTES * PAID_HOURS
        price = storage_credits(quantity, self.params.credits_per_gb_hour)
        owed = [
            (device.device_id, key)
            for device in sorted(devices, key=lambda d: d.index)
            if device.device_id not in self.put_at
            for key in sorted(self.pieces.get(device.device_id, {}))
            if (device.device_id, key) not in self.receipts
        ]
        if not owed or services.buy_credits(client, price * len(owed)) < price * len(owed):
            return
        signed = []
        for device_id, key in owed:
            receipt = UsageReceipt(
                "storage", device_id, client, price, quantity, STORED_UNIT, f"piece:{key}", hour_ts + 5
            )
            one = sign_receipt(receipt, lambda text: services.sign_text(client, text))
            signed.append(services.countersign(one) if self.params.receipts_countersigned else one)
        answers = services.send_usage([receipt.to_wire() for receipt in signed])
        for piece, receipt, answer in zip(owed, signed, answers, strict=True):
            if answer.get("status") == "accepted":
                self.receipts[piece] = receipt.receipt_id

    def puts(self, device: SimDevice, hour_ts: int, services: SimServices, paying: bool) -> list[SimReport]:
        """The device's registrations (client-signed), once; when the client pays, once every piece of the
        device has its accepted receipt."""
        mine = self.pieces.get(device.device_id, {})
        if device.device_id in self.put_at or self.client is None:
            return []
        if paying and any((device.device_id, key) not in self.receipts for key in mine):
            return []
        self.put_at[device.device_id] = hour_ts
        out = []
        for key, piece in sorted(mine.items(), key=lambda item: (item[1].segment, item[1].index)):
            size = PIECE_BYTES
            text = put_message(
                piece.segment, piece.index, device.device_id, piece.root, size, self.params.k, self.params.n
            )
            payload = {
                "segment": piece.segment,
                "piece": piece.index,
                "k": self.params.k,
                "n": self.params.n,
                "size": size,
                "root": piece.root,
                "client": self.client,
                "client_sig": self.sign_as_client(text, services),
            }
            if paying:
                payload["receipt"] = self.receipts[(device.device_id, key)]
            out.append(SimReport(device.index, PUT, hour_ts + 10, payload))
        return out

    def sign_as_client(self, text: str, services: SimServices) -> bytes:
        if self.client_wallet is not None:
            return self.client_wallet.sign_text(text)
        assert self.client is not None
        return services.sign_text(self.client, text)

    def answers(self, device: SimDevice, audit_id: str, hour_ts: int) -> list[SimReport]:
        """Proofs for what the device owes in this period. The simulated provider holds exactly the pieces
        the node registered for it (all put at once, none expired), so the reservoir it draws is the node's
        and it answers no spare slot (a real provider answers one, `provider.AUDIT_SLACK`, which the node
        files as `storage.not_due` when it was not asked)."""
        mine = self.pieces.get(device.device_id, {})
        pieces = [
            Piece(
                key,
                p.segment,
                p.index,
                device.device_id,
                PIECE_BYTES,
                p.root,
                self.params.k,
                self.params.n,
                0,
            )
            for key, p in sorted(mine.items())
        ]
        p = self.params
        dues = due_for(
            audit_id,
            device.device_id,
            pieces,
            p.audit_slots,
            p.fraction("stripe_audit_rate"),
            p.leaf_size,
            p.stripe_size,
        )
        if not dues:
            return [SimReport(device.index, PING, hour_ts + 30, {"challenge": audit_id})]
        out = []
        for key, due in dues.items():
            piece = mine[key]
            payload: dict[str, Any] = {"challenge": audit_id, "segment": piece.segment, "piece": piece.index}
            if not piece.data:
                payload["missing"] = True
            else:
                payload.update(
                    leaf=due.leaf,
                    data=piece.data[due.leaf * p.leaf_size : (due.leaf + 1) * p.leaf_size],
                    path=merkle.prove(piece.levels, due.leaf),
                )
                if due.stripe is not None:
                    payload["stripe"] = piece.data[due.stripe[0] : due.stripe[0] + due.stripe[1]]
            out.append(SimReport(device.index, PROOF, hour_ts + 30, payload))
        return out

    def session(self, device: SimDevice, credits: int) -> tuple[int, str]:
        """GB-hours stored for `credits` (`credits_per_gb_hour`), as byte-hours."""
        rate = max(1, self.params.credits_per_gb_hour)
        return credits * 10**9 // rate, "byte_hours"
