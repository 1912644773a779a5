"""A small storage network for the tests: ten providers on distinct /24s, one client, real zfec pieces."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from opendepin.identity.wallets import Wallet
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.storage import merkle
from opendepin.sectors.storage.audit import AUDIT, Piece, compute_audit_id, due_for
from opendepin.sectors.storage.params import StorageParams
from opendepin.sectors.storage.reports import PROOF, PUT, put_message
from opendepin.sectors.storage.sim.world import SimPiece, build_segment, make_piece

DAY = 86_400
HOUR = 3_600


def device_id(i: int) -> str:
    return "ed25519:" + hashlib.sha256(f"test-provider-{i}".encode()).hexdigest()


@dataclass
class Net:
    params: StorageParams
    devices: dict[str, DeviceInfo]
    client: Wallet
    pieces: dict[str, dict[str, SimPiece]] = field(default_factory=dict)
    """device → piece key → piece"""
    seq: int = 0

    def report(
        self, device: str, kind: str, at: int, payload: dict[str, Any], received: int | None = None
    ) -> ReportRecord:
        self.seq += 1
        rid = hashlib.sha256(f"{device}:{kind}:{at}:{self.seq}".encode()).hexdigest()
        return ReportRecord(rid, kind, device, at, self.seq, payload, at if received is None else received)

    def put_payload(self, device: str, piece: SimPiece) -> dict[str, Any]:
        text = put_message(piece.segment, piece.index, device, piece.root, len(piece.data), piece.k, piece.n)
        return {
            "segment": piece.segment,
            "piece": piece.index,
            "k": piece.k,
            "n": piece.n,
            "size": len(piece.data),
            "root": piece.root,
            "client": self.client.address,
            "client_sig": self.client.sign_text(text),
        }

    def place(self, segments: int, rng: random.Random, size: int = 4_096) -> list[ReportRecord]:
        """`segments` segments, piece i of each on provider i; their put reports at t = 60."""
        order = sorted(self.devices)
        puts = []
        for _ in range(segments):
            segment, datas = build_segment(rng, self.params, size)
            for index, device in enumerate(order[: self.params.n]):
                piece = make_piece(segment, index, datas[index], self.params, self.client.address)
                self.pieces.setdefault(device, {})[f"{segment}:{index}"] = piece
                puts.append(self.report(device, PUT, 60, self.put_payload(device, piece)))
        return puts

    def audit(self, at: int) -> Challenge:
        entropy = hashlib.sha256(f"entropy{at}".encode()).hexdigest()
        return Challenge(AUDIT, compute_audit_id(entropy, at), at, ChallengeSeed(entropy, at))

    def answers(
        self, device: str, audit: Challenge, delay: int = 2, lost: frozenset[str] = frozenset()
    ) -> list[ReportRecord]:
        """What an honest provider sends (pieces in `lost` answered as missing)."""
        mine = self.pieces.get(device, {})
        pieces = [
            Piece(key, p.segment, p.index, device, len(p.data), p.root, p.k, p.n, 0)
            for key, p in sorted(mine.items())
        ]
        p = self.params
        dues = due_for(
            audit.challenge_id,
            device,
            pieces,
            p.audit_slots,
            p.fraction("stripe_audit_rate"),
            p.leaf_size,
            p.stripe_size,
        )
        out = []
        for key, due in dues.items():
            piece = mine[key]
            payload: dict[str, Any] = {
                "challenge": audit.challenge_id,
                "segment": piece.segment,
                "piece": piece.index,
            }
            if key in lost:
                payload["missing"] = True
            else:
                payload["leaf"] = due.leaf
                payload["data"] = piece.data[due.leaf * p.leaf_size : (due.leaf + 1) * p.leaf_size]
                payload["path"] = merkle.prove(piece.levels, due.leaf)
                if due.stripe is not None:
                    payload["stripe"] = piece.data[due.stripe[0] : due.stripe[0] + due.stripe[1]]
            out.append(self.report(device, PROOF, audit.issued_at + delay, payload))
        return out

    def input(
        self, number: int, reports: list[ReportRecord], challenges: list[Challenge], prior: Any = None
    ) -> SectorInput:
        state, device_state = prior if prior else ({}, {})
        return SectorInput(
            window=EpochWindow(number, number * DAY, (number + 1) * DAY),
            devices=self.devices,
            reports=reports,
            prior_state=state,
            challenges=challenges,
            prior_device_state=device_state,
        )


def rules(**changes: Any) -> StorageParams:
    """The storage rules for tests of other rules than paid pieces: puts need no receipt naming them
    (`pieces_paid_by_receipts` is tested in test_paid.py)."""
    return StorageParams(**{"pieces_paid_by_receipts": False, **changes})


def make_net(params: StorageParams | None = None, providers: int = 10, same_prefix: int = 0) -> Net:
    """`providers` providers onboarded a day before genesis; the first `same_prefix` share one /24."""
    devices = {}
    for i in range(providers):
        prefix = "198.18.0.0/24" if i < same_prefix else f"100.64.{i}.0/24"
        d = device_id(i)
        devices[d] = DeviceInfo(
            d,
            "0x" + f"{i + 1:040x}",
            "0x" + "11" * 20,
            "ed25519",
            None,
            -DAY,
            {"capacity_bytes": 10**12, "network_prefix": prefix},
        )
    client = Wallet(hashlib.sha256(b"test-client").digest())
    return Net(params or rules(), dict(sorted(devices.items())), client)
