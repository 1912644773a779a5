"""The store interface: the report log, the device registry and epoch results (nothing lost).

A report is durable before `append` returns (the caller acknowledges only after). Writes are idempotent
by report id, so a re-sent batch or a re-run after a crash never duplicates anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from opendepin.market.receipts import UsageRecord
from opendepin.reports.columns import REPORT_SCHEMA
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Challenge, DeviceInfo


@dataclass(frozen=True, slots=True)
class StoredReport:
    """An accepted report with the exact signed bytes, so anyone can re-check its signature."""

    record: ReportRecord
    envelope: bytes
    signature: bytes
    seq_unique: bool = False
    """The kind's `seq` policy is `unique`: remember (device, seq) rather than raise the device's last seq."""


@dataclass(frozen=True, slots=True)
class StoredReceipt:
    """An accepted usage receipt with the payer's signed bytes (and the device's countersignature, if any)."""

    record: UsageRecord
    receipt: bytes
    signature: bytes
    countersignature: bytes = b""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused report. Stored as a count per (bucket, reason, source) plus, for the latest few of each
    reason, this record itself with its first bytes (a bounded sample): refusals never fill the disk."""

    reason: str
    message: str
    received_at: int
    report_id: str | None = None
    device_id: str | None = None
    """The device the report names (unauthenticated unless `source` is that device)."""
    raw: bytes = b""
    source: str = ""
    """Whom the rejection is counted against: `device:<id>` once authenticated, else the transport source."""
    bucket: int | None = None
    """Start of the counter bucket it is counted in (None: its own second, `received_at`)."""


@dataclass(frozen=True, slots=True)
class EpochRecord:
    """A closed epoch as stored: the manifest plus everything needed to explain and re-run it."""

    number: int
    start: int
    end: int
    manifest: Mapping[str, Any]
    inputs: Mapping[str, Any]
    verdicts: Sequence[tuple[str, str, str, Mapping[str, Any]]] = ()
    """(report_id, device_id, reason, evidence)"""
    device_rewards: Sequence[tuple[str, str, int, int, Mapping[str, Any]]] = ()
    """(device_id, category, units, amount, breakdown)"""
    owner_rewards: Sequence[tuple[str, int, int]] = ()
    """(owner, amount this epoch, cumulative)"""
    notes: Sequence[tuple[str, str, Mapping[str, Any]]] = ()
    """(device_id, reason, evidence)"""
    sector_state: Mapping[str, Any] = field(default_factory=dict)
    device_state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """sector → device → the state stored for it this epoch (None: forgotten); unchanged devices absent."""


class BatchWriter:
    """The parts of a batch being appended (`Store.appending`): accepted reports and rejections, in order."""

    def __init__(self) -> None:
        self.accepted: list[StoredReport] = []
        self.rejected: list[Rejection] = []

    def add(self, accepted: Sequence[StoredReport]) -> None:
        """Accepted reports of the batch (the next part, in gate order)."""
        self.accepted.extend(accepted)

    def reject(self, rejected: Sequence[Rejection]) -> None:
        """Rejections of the batch."""
        self.rejected.extend(rejected)


class Store(ABC):
    """Persistence behind the node; SQLite (embedded) and PostgreSQL implement it."""

    @abstractmethod
    def close(self) -> None: ...

    # makers and devices
    @abstractmethod
    def add_maker(self, address: str, name: str) -> None: ...

    @abstractmethod
    def makers(self) -> dict[str, str]: ...

    @abstractmethod
    def add_device(self, device: DeviceInfo, attestation: Mapping[str, Any]) -> bool:
        """Insert; False if the device was already onboarded (idempotent)."""

    @abstractmethod
    def get_device(self, device_id: str) -> DeviceInfo | None: ...

    @abstractmethod
    def get_devices(self, device_ids: Sequence[str]) -> list[DeviceInfo]:
        """Those of `device_ids` that are onboarded (one query for a batch, not one per report)."""

    @abstractmethod
    def devices(self) -> dict[str, DeviceInfo]: ...

    def devices_page(
        self, after: str | None = None, limit: int = 100, owner: str | None = None
    ) -> list[DeviceInfo]:
        """At most `limit` devices by id, those after `after` (a page of the registry; the last id of a page
        is the next page's `after`), only `owner`'s when given."""
        chosen = sorted(
            (d for d in self.devices().values() if owner is None or d.owner.lower() == owner.lower()),
            key=lambda d: d.device_id,
        )
        return [d for d in chosen if after is None or d.device_id > after][:limit]

    def devices_and_records(self) -> tuple[dict[str, DeviceInfo], dict[str, dict[str, Any]]]:
        """`devices()` and `onboarding_records()` together (a store may read both at once)."""
        return self.devices(), self.onboarding_records()

    @abstractmethod
    def onboarding_records(self) -> dict[str, dict[str, Any]]:
        """Device id → the signed onboarding record kept at onboarding (maker and owner signatures)."""

    # the report log
    @abstractmethod
    def append(
        self, accepted: Sequence[StoredReport], rejected: Sequence[Rejection], keep_samples: int = 8
    ) -> None:
        """Store a batch durably in one transaction; accepted reports are idempotent by report id; rejections
        are added to their counters and only the latest `keep_samples` of each reason are kept."""

    @contextmanager
    def appending(self, keep_samples: int = 8) -> Iterator[BatchWriter]:
        """`append` of a batch handed over in parts as it is gated: what `add` and `reject` are given is
        stored durably in one transaction when the block ends (nothing if it raises). A store may write the
        parts as they come (the SQL stores insert each part's rows at once, so that writing overlaps the
        signature checks of the next part); this default collects them and appends them at the end."""
        batch = BatchWriter()
        yield batch
        self.append(batch.accepted, batch.rejected, keep_samples)

    @abstractmethod
    def last_seqs(self) -> dict[str, int]: ...

    @abstractmethod
    def has_report(self, report_id: str) -> bool: ...

    @abstractmethod
    def stored_report_ids(self, report_ids: Sequence[str]) -> set[str]:
        """Those of `report_ids` that are stored (one query for a batch, not one per report)."""

    @abstractmethod
    def used_seqs(self, pairs: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Those (device, seq) pairs a report of a `unique`-seq kind was accepted with (one query for a
        batch)."""

    @abstractmethod
    def stored_reports_received_between(self, start: int, end: int) -> list[StoredReport]:
        """Accepted reports received by the node in [start, end), with their signed bytes, by report id."""

    @abstractmethod
    def reports_between(self, start: int, end: int) -> list[ReportRecord]:
        """Accepted reports with device time in [start, end), ordered by report id."""

    @abstractmethod
    def stored_report(self, report_id: str) -> StoredReport | None: ...

    @abstractmethod
    def stored_reports_between(self, start: int, end: int) -> list[StoredReport]:
        """Accepted reports with device time in [start, end) with their signed bytes, by report id."""

    def logged_report_frame(self, start: int, end: int, by_receive_time: bool = False) -> pl.DataFrame | None:
        """`report_frame` from a bulk copy of the report log kept for closing epochs, or None when the store
        keeps none or it does not hold the whole window (then `report_frame` is read)."""
        return None

    def prune_report_blocks(self, before: int) -> int:
        """Drop the bulk copy of the reports with nothing at or after `before` (by device and receive time:
        no later close reads them), in small steps; returns how many blocks went (none kept: 0)."""
        return 0

    def report_frame(self, start: int, end: int, by_receive_time: bool = False) -> pl.DataFrame:
        """The accepted reports with device time (or, `by_receive_time`, receive time) in [start, end) as
        one frame of `opendepin.reports.columns.REPORT_SCHEMA`, by report id: what an epoch is closed from,
        read in bulk (the SQL stores override this generic form)."""
        stored = (
            self.stored_reports_received_between(start, end)
            if by_receive_time
            else self.stored_reports_between(start, end)
        )
        return pl.DataFrame(
            {
                "report_id": [s.record.report_id for s in stored],
                "kind": [s.record.kind for s in stored],
                "device_id": [s.record.device_id for s in stored],
                "ts": [s.record.ts for s in stored],
                "seq": [s.record.seq for s in stored],
                "received_at": [s.record.received_at for s in stored],
                "envelope": [s.envelope for s in stored],
            },
            schema=REPORT_SCHEMA,
        )

    @abstractmethod
    def rejection_counts(self, start: int, end: int) -> dict[str, int]:
        """Rejections received in [start, end), counted by reason code (exact when start and end are bucket
        boundaries, as every epoch boundary is; otherwise a bucket counts where it starts)."""

    @abstractmethod
    def rejection_sources(self, start: int, end: int) -> dict[str, dict[str, int]]:
        """Rejections of the buckets starting in [start, end): source → reason → count."""

    @abstractmethod
    def rejection_samples(self, reason: str | None = None) -> list[Rejection]:
        """The kept samples of rejected reports (of one reason, or all), oldest first."""

    @abstractmethod
    def count_reports(self, start: int, end: int, by_receive_time: bool = False) -> int:
        """Accepted reports with device time (or, `by_receive_time`, receive time) in [start, end)."""

    # usage receipts
    @abstractmethod
    def append_usage(self, receipts: Sequence[StoredReceipt]) -> list[bool]:
        """Store receipts durably in one transaction; per receipt, False if its id or its (payer, ref) was
        already stored (a payer is never charged twice for one session)."""

    @abstractmethod
    def usage_between(self, start: int, end: int) -> list[StoredReceipt]:
        """Receipts received in [start, end), by receipt id."""

    @abstractmethod
    def credits_spent(self, payer: str) -> int:
        """Credits of all the payer's accepted receipts."""

    @abstractmethod
    def unsettled_credits(self, payer: str) -> int:
        """Credits of the payer's accepted receipts not yet spent on chain."""

    @abstractmethod
    def unsettled_usage_between(self, start: int, end: int) -> dict[str, int]:
        """Payer → credits of receipts received in [start, end) not yet spent on chain."""

    @abstractmethod
    def mark_usage_settled(self, start: int, end: int, payer: str, epoch: int) -> None:
        """Record that the payer's credits for receipts received in [start, end) were spent on chain."""

    # epochs
    @abstractmethod
    def save_epoch(self, epoch: EpochRecord) -> None:
        """Write a closed epoch atomically (manifest is the commit point); idempotent by number."""

    @abstractmethod
    def get_epoch(self, number: int) -> EpochRecord | None:
        """The manifest, inputs, owner rewards and sector state of a closed epoch (not its other rows)."""

    @abstractmethod
    def get_epoch_detail(self, number: int) -> EpochRecord | None:
        """A closed epoch with every stored row: verdicts, device rewards, owner rewards, notes."""

    @abstractmethod
    def epoch_numbers(self) -> list[int]: ...

    def epoch_manifests(self, after: int | None, limit: int) -> list[dict[str, Any]]:
        """The manifests of the closed epochs numbered above `after` (all when None), in order, at most
        `limit` of them (a page of `GET /v1/epochs`)."""
        numbers = [n for n in self.epoch_numbers() if after is None or n > after][:limit]
        records = [self.get_epoch(n) for n in numbers]
        return [dict(r.manifest) for r in records if r is not None]

    def category_units(self, number: int) -> dict[str, int]:
        """Epoch `number`'s units per reward category, summed over its devices (what each device's units
        are divided by when its category's pool is shared)."""
        record = self.get_epoch_detail(number)
        totals: dict[str, int] = {}
        for _device, category, units, _amount, _breakdown in record.device_rewards if record else ():
            totals[category] = totals.get(category, 0) + units
        return totals

    @abstractmethod
    def device_epoch(self, number: int, device_id: str) -> dict[str, Any]:
        """Verdicts, notes and rewards of one device in one epoch (for explain)."""

    # challenges
    @abstractmethod
    def record_challenges(self, challenges: Sequence[Challenge]) -> None:
        """Remember challenges issued (idempotent by kind and id)."""

    @abstractmethod
    def challenges_for_period(self, kind: str, period_start: int) -> list[Challenge]:
        """The challenges of `kind` issued for the period starting at `period_start`."""

    @abstractmethod
    def challenges_between(self, start: int, end: int) -> list[Challenge]:
        """Challenges issued in [start, end), by kind, time and id."""

    # per-device sector state
    @abstractmethod
    def prior_device_state(self, number: int) -> dict[str, dict[str, Any]]:
        """sector → device → the latest state stored before epoch `number` (forgotten devices absent)."""

    @abstractmethod
    def device_state_changes(self, number: int) -> dict[str, dict[str, Any]]:
        """sector → device → what epoch `number` stored (None where it forgot the device)."""

    # small key-value state (clock position, chain deployment)
    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...
