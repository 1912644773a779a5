"""The client's repairer (`depin storage repair --watch`): repair as soon as a segment needs it, with no one
running `depin storage repair` by hand.

Rules (docs/storage.md, "Repair"):
- a round runs after each epoch close the node reports (`next_epoch` in `GET /v1/health`), after a round
  that left work undone (a provider or the node down), and at start;
- a round reads the latest closed epoch's repair list for the client's segments
  (`GET /v1/sectors/storage/repair?client=`: segments whose registered pieces fell to `repair_threshold`,
  with the pieces the registry still holds) and probes every holder of every segment of every object in the
  catalog (`/stat`, free);
- a piece is healthy when its holder answers with the recorded root and, for a segment the node listed,
  the registry still holds it for that holder — unless the piece was handed over after the listed epoch
  began (the registry could not know it yet);
- a segment with `repair_threshold` or fewer healthy pieces and at least k is rebuilt
  (`StorageClient.rebuild`: k pieces paid at the repair rate, the others placed on other providers); one
  with fewer than k is reported lost (no rebuild can bring it back);
- every error (a provider, the node, a placement with no provider left) is logged and retried in the next
  round; SIGTERM/SIGINT end the loop between rounds or between segments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from opendepin.sectors.storage.client import ObjectRecord, StorageClient, StorageError
from opendepin.sectors.storage.nodeclient import NodeError

log = logging.getLogger("opendepin.storage.repairer")


@dataclass(frozen=True, slots=True)
class Listed:
    """A segment of the node's repair list: the pieces the registry still holds (number → holder)."""

    segment: str
    pieces: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class Decision:
    """What a round does with one segment: `ok`, `repair` (from `healthy`) or `lost` (fewer than k)."""

    object_id: str
    segment: str
    action: str
    healthy: frozenset[int]
    listed: bool


def listed_of(answer: Mapping[str, Any]) -> dict[str, Listed]:
    """The node's `GET /v1/sectors/storage/repair` answer, by segment."""
    return {
        str(s["segment"]): Listed(str(s["segment"]), {int(i): str(d) for i, d in s.get("pieces", {}).items()})
        for s in answer.get("segments", [])
    }


def decide(
    record: ObjectRecord,
    listed: Mapping[str, Listed],
    probed: Mapping[str, frozenset[int]],
    threshold: int,
    listed_since: int,
) -> list[Decision]:
    """Per segment of `record`: its healthy pieces and what to do. `probed[segment]` is the piece numbers
    whose holder answered with the recorded root; `listed` the node's repair list of the latest closed epoch,
    which began at `listed_since` (a piece handed over from then on is not yet in its registry, so its absence
    there proves nothing). A segment with no probe is taken as probed with no healthy piece."""
    decisions = []
    for seg in record.segments:
        healthy = set(probed.get(seg.segment, frozenset()))
        entry = listed.get(seg.segment)
        if entry is not None:
            for piece in seg.pieces:
                known = piece.placed and piece.placed >= listed_since
                if not known and entry.pieces.get(piece.index) != piece.device_id:
                    healthy.discard(piece.index)
        if len(healthy) > threshold:
            action = "ok"
        elif len(healthy) < record.k:
            action = "lost"
        else:
            action = "repair"
        decisions.append(
            Decision(record.object_id, seg.segment, action, frozenset(healthy), entry is not None)
        )
    return decisions


@dataclass
class RoundResult:
    """What one round saw and did (logged as one line of JSON-able counts)."""

    epoch: int | None = None
    objects: int = 0
    segments: int = 0
    listed: int = 0
    repaired: int = 0
    pieces_placed: int = 0
    lost: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "objects": self.objects,
            "segments": self.segments,
            "listed": self.listed,
            "repaired": self.repaired,
            "pieces_placed": self.pieces_placed,
            "lost": self.lost,
            "errors": len(self.errors),
        }


class Repairer:
    """Rounds of repair over every object in `client`'s catalog; `stop` ends `watch` between steps."""

    def __init__(self, client: StorageClient, stop: threading.Event | None = None) -> None:
        self.client = client
        self.stop = stop or threading.Event()
        self.seen_epoch: int | None = None
        self.pending = True
        """a round is owed: at start, and after a round that left work undone"""

    def _node_view(self, result: RoundResult) -> tuple[dict[str, Listed], int] | None:
        """The repair list of the latest closed epoch and when that epoch began; None if the node is down."""
        node = self.client.node
        try:
            result.epoch = int(node.health()["next_epoch"]) - 1
            if result.epoch < 0:
                return {}, 0
            since = int(node.epoch(result.epoch)["start"])
            answer = node.repair_list(self.client.wallet.address)
        except (httpx.HTTPError, NodeError, ValueError, KeyError) as error:
            result.errors.append(f"node: {type(error).__name__}: {error}")
            return None
        return listed_of(answer), since

    def probe(self, record: ObjectRecord) -> dict[str, frozenset[int]]:
        """Per segment, the piece numbers whose holder answers `/stat` with the recorded root."""
        return {
            seg.segment: frozenset(p.index for p in seg.pieces if self.client.healthy(seg, p))
            for seg in record.segments
        }

    def round(self) -> RoundResult:
        """One round over the catalog (never raises for a provider or the node; see the module rules)."""
        result = RoundResult()
        view = self._node_view(result)
        if view is None:
            log.warning("node unreachable (%s); probing holders only, retrying next round", result.errors[-1])
            listed, since = {}, 0
        else:
            listed, since = view
            result.listed = len(listed)
        try:
            threshold = self.client.params.repair_threshold
        except (httpx.HTTPError, NodeError, ValueError) as error:
            result.errors.append(f"rules: {type(error).__name__}: {error}")
            log.warning("cannot read the storage rules (%s); retrying next round", error)
            self.pending = True
            return result
        self.client.forget_providers()
        for record in self.client.ls():
            if self.stop.is_set():
                break
            result.objects += 1
            result.segments += len(record.segments)
            decisions = decide(record, listed, self.probe(record), threshold, since)
            for decision in decisions:
                if self.stop.is_set():
                    break
                if decision.action == "lost":
                    result.lost += 1
                    log.error(
                        "object %s segment %s: %d healthy pieces, %d needed; it cannot be rebuilt",
                        record.object_id,
                        decision.segment[:16],
                        len(decision.healthy),
                        record.k,
                    )
                elif decision.action == "repair":
                    self._repair(record, decision, result)
        self.pending = bool(result.errors) or self.stop.is_set()
        log.info("round done: %s", result.counts())
        return result

    def _repair(self, record: ObjectRecord, decision: Decision, result: RoundResult) -> None:
        seg = next(s for s in record.segments if s.segment == decision.segment)
        log.info(
            "object %s segment %s: %d healthy of %d (%s); rebuilding",
            record.object_id,
            seg.segment[:16],
            len(decision.healthy),
            record.n,
            "listed by the node" if decision.listed else "probe",
        )
        try:
            placed = self.client.rebuild(record, seg, set(decision.healthy))
        except (StorageError, httpx.HTTPError, NodeError) as error:
            result.errors.append(f"{seg.segment}: {error}")
            log.warning(
                "object %s segment %s: repair failed (%s); retrying next round",
                record.object_id,
                seg.segment[:16],
                error,
            )
            return
        result.repaired += 1
        result.pieces_placed += placed
        log.info("object %s segment %s: %d pieces placed", record.object_id, seg.segment[:16], placed)

    def due(self) -> bool:
        """Is a round owed: pending work, or an epoch closed since the last round (`next_epoch`)?"""
        try:
            closed = int(self.client.node.health()["next_epoch"]) - 1
        except (httpx.HTTPError, NodeError, ValueError, KeyError):
            return self.pending
        if closed != self.seen_epoch:
            return True
        return self.pending

    def watch(
        self, interval: float, once: bool = False, on_round: Callable[[RoundResult], None] | None = None
    ) -> None:
        """Rounds until `stop` is set (`once`: a single round)."""
        while not self.stop.is_set():
            if once or self.due():
                result = self.round()
                if result.epoch is not None:
                    self.seen_epoch = result.epoch
                if on_round is not None:
                    on_round(result)
                if once:
                    return
            self.stop.wait(interval)
