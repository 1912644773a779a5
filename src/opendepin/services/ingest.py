"""Ingest: gate a batch of signed reports and store it durably before answering (docs/architecture.md).

Each report kind follows its sector's ingest policy (time window, counted by device or receive time, `seq`
ordering). Ingest has its own lock, separate from epoch closing: the gate's `closed_until` already refuses
reports of an epoch being closed, so ingest keeps accepting while an epoch computes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel

from opendepin.clock import Clock
from opendepin.config import NetworkConfig
from opendepin.ingest.device_rate import DeviceBudgets
from opendepin.ingest.gate import (
    GateResult,
    GateState,
    gate_signed,
    possibly_stored,
    refused_undecodable,
    rejection_bucket,
    rejection_source,
    unique_seq_pairs,
)
from opendepin.ingest.signatures import CHUNK, decode_and_check
from opendepin.reports.envelope import EnvelopeError, decode_or_error
from opendepin.sectors.base import IngestPolicy, SectorPlugin
from opendepin.services.devices import DeviceRegistry
from opendepin.store.base import Rejection, Store, StoredReport

MAX_KEPT_MESSAGE_CHARS = 300


def report_kinds(sectors: Mapping[str, SectorPlugin]) -> dict[str, type[BaseModel]]:
    """Every report kind of the network (overlaps were refused when the sectors were loaded)."""
    kinds: dict[str, type[BaseModel]] = {}
    for _, plugin in sorted(sectors.items()):
        kinds.update(plugin.report_kinds())
    return kinds


def ingest_policies(sectors: Mapping[str, SectorPlugin]) -> dict[str, IngestPolicy]:
    """Report kind → the ingest policy of the sector that declares it."""
    return {
        kind: plugin.ingest_policy(kind)
        for _, plugin in sorted(sectors.items())
        for kind in plugin.report_kinds()
    }


class IngestService:
    """Gates and stores report batches."""

    def __init__(
        self,
        config: NetworkConfig,
        sectors: Mapping[str, SectorPlugin],
        store: Store,
        clock: Clock,
        registry: DeviceRegistry,
        closed_until: Callable[[], int],
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.registry = registry
        self.closed_until = closed_until
        self.kinds = report_kinds(sectors)
        self.policies = ingest_policies(sectors)
        self._lock = threading.Lock()
        self._last_seq = store.last_seqs()
        self.budgets = DeviceBudgets(config.ingest)

    def ingest(self, wires: Sequence[bytes], source: str = "local") -> list[GateResult]:
        """Gate a batch and store it durably (one transaction) before returning the per-report results.
        `source` names the transport the bytes came from (e.g. `http:<client address>`); rejections that
        cannot be attributed to an authenticated device are counted against it.

        The batch is decoded and its signatures checked chunk by chunk, the checks on the signature thread
        while the next chunk is decoded (ingest/signatures.py), then it is gated in order, each gated chunk's
        rows inserted into the batch's transaction while the next chunk's signatures are checked."""
        with self._lock:
            now = self.clock.now()
            devices = self.registry.view()
            limit = self.config.ingest.max_report_bytes
            decoded, signatures = decode_and_check(
                wires, lambda wire: decode_or_error(wire, limit), lambda: devices
            )
            # what the replay check can ask the store, asked once for the batch (module rules of gate.py)
            seen_seqs = self.store.used_seqs(unique_seq_pairs(decoded, self.policies))
            seen = self.store.stored_report_ids(
                possibly_stored(decoded, self.policies, self._last_seq, seen_seqs)
            )
            state = GateState(devices, self._last_seq, seen, self.closed_until(), self.policies, seen_seqs)
            results: list[GateResult] = []
            rejected: list[Rejection] = []
            budgets = self.budgets.batch()
            try:
                with self.store.appending(self.config.ingest.rejection_samples) as batch:
                    for start in range(0, len(wires), CHUNK):
                        accepted: list[StoredReport] = []
                        for index in range(start, min(start + CHUNK, len(wires))):
                            wire, item = wires[index], decoded[index]
                            if isinstance(item, EnvelopeError):
                                result = refused_undecodable(item)
                            else:
                                result = self.budgets.charge(
                                    gate_signed(
                                        item, state, now, self.config.ingest, self.kinds, signatures[index]
                                    ),
                                    budgets,
                                    now,
                                )
                            results.append(result)
                            if result.accepted and result.record is not None and result.signed is not None:
                                record = result.record
                                unique = self.policies[record.kind].seq == "unique"
                                accepted.append(
                                    StoredReport(
                                        record, result.signed.envelope_bytes, result.signed.signature, unique
                                    )
                                )
                                seen.add(record.report_id)
                                if unique:
                                    seen_seqs.add((record.device_id, record.seq))
                                else:
                                    self._last_seq[record.device_id] = record.seq
                            else:
                                rejected.append(self.rejection(result, wire, now, source))
                        # the part's rows go in while the signature thread checks the next part
                        batch.add(accepted)
                    batch.reject(rejected)
            except BaseException:
                self._last_seq = self.store.last_seqs()  # nothing was stored: forget the batch's seqs
                raise
            self.budgets.commit(budgets, now)
            return results

    def drain(self) -> None:
        """Wait for the batch in progress, if any (its reports are then stored before this returns)."""
        with self._lock:
            return

    def rejection(self, result: GateResult, wire: bytes, now: int, source: str) -> Rejection:
        """What is kept of a refused report: its counter key (bucket aligned on epoch boundaries, the
        authenticated device or else the transport source) and a truncated sample of its bytes."""
        params = self.config.ingest
        return Rejection(
            result.reason,
            result.message[:MAX_KEPT_MESSAGE_CHARS],
            now,
            result.report_id,
            result.device_id[:MAX_KEPT_MESSAGE_CHARS] if result.device_id is not None else None,
            bytes(wire[: params.rejection_sample_bytes]),
            rejection_source(result, source),
            rejection_bucket(
                now,
                self.config.epochs.genesis_ts,
                self.config.epochs.length_seconds,
                params.rejection_bucket_seconds,
            ),
        )
