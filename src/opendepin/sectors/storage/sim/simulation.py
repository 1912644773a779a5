"""What storage providers do in the generic fleet of `depin up` (the sector's `SectorSimulation`).

In the first hour it is asked about them, a simulated client (its key derived from the fleet's seed) codes
segments k of n with zfec and places them on the providers up in that hour, one piece per network prefix,
about `PIECES_PER_PROVIDER` pieces each; every provider registers its pieces (`storage.put`, client-signed).
Every hour each provider reads the node's audit challenge and answers what it owes (`storage.proof`: the
leaf and its Merkle path, the stripe when its segment is stripe-audited), or pings when it owes nothing.

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
from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import AUDIT, Piece, due_for
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import PING, PROOF, PUT, put_message
from opendepin.sectors.storage.sim.world import SimPiece, build_segment, make_piece

DELETER = "storage-deleter"
ROTTER = "storage-rotter"
PIECES_PER_PROVIDER = 3
PIECE_BYTES = 4_096


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
        self.client: Wallet | None = None
        self.puts_sent: set[str] = set()

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {DELETER: "storage.missing", ROTTER: "storage.corrupt", "lazy": "storage.offline"}

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return {}, {"capacity_bytes": 10**12, "network_prefix": prefix_for(device.index)}

    def place(self, devices: Sequence[SimDevice], hour_ts: int) -> None:
        """Code and place the client's segments on the providers up now (once)."""
        seed = devices[0].seed
        rng = random.Random(f"{seed}:storage:place")
        self.client = Wallet(hashlib.sha256(f"opendepin storage client {seed}".encode()).digest())
        self.placed_at = hour_ts
        providers = sorted(devices, key=lambda d: d.index)
        if len(providers) < self.params.n:
            return
        for _ in range(max(1, PIECES_PER_PROVIDER * len(providers) // self.params.n)):
            segment, datas = build_segment(rng, self.params, PIECE_BYTES)
            for index, device in enumerate(rng.sample(providers, self.params.n)):
                piece = make_piece(segment, index, datas[index], self.params, self.client.address)
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
            self.place(devices, hour_ts)
        audits = list(services.challenges(AUDIT))
        reports: list[SimReport] = []
        for device in devices:
            reports.extend(self.puts(device, hour_ts))
            if audits and self.placed_at is not None and hour_ts > self.placed_at:
                reports.extend(self.answers(device, audits[0].challenge_id, hour_ts))
            elif audits:
                reports.append(
                    SimReport(device.index, PING, hour_ts + 30, {"challenge": audits[0].challenge_id})
                )
        return reports

    def puts(self, device: SimDevice, hour_ts: int) -> list[SimReport]:
        """The device's registrations, once (client-signed)."""
        if device.device_id in self.puts_sent or self.client is None:
            return []
        self.puts_sent.add(device.device_id)
        out = []
        for piece in sorted(
            self.pieces.get(device.device_id, {}).values(), key=lambda p: (p.segment, p.index)
        ):
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
                "client": self.client.address,
                "client_sig": self.client.sign_text(text),
            }
            out.append(SimReport(device.index, PUT, hour_ts + 10, payload))
        return out

    def answers(self, device: SimDevice, audit_id: str, hour_ts: int) -> list[SimReport]:
        """Proofs for what the device owes in this period (one spare reservoir slot)."""
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
            p.audit_slots + 1,
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
