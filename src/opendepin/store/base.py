"""The store interface: the report log, the device registry and epoch results (DESIGN.md principle 7).

A report is durable before `append` returns (the caller acknowledges only after). Writes are idempotent
by report id, so a re-sent batch or a re-run after a crash never duplicates anything.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo


@dataclass(frozen=True, slots=True)
class StoredReport:
    """An accepted report with the exact signed bytes, so anyone can re-check its signature."""

    record: ReportRecord
    envelope: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused report, kept with its reason so operators can see why (nothing is silently dropped)."""

    reason: str
    message: str
    received_at: int
    report_id: str | None = None
    device_id: str | None = None
    raw: bytes = b""


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
    def devices(self) -> dict[str, DeviceInfo]: ...

    @abstractmethod
    def onboarding_records(self) -> dict[str, dict[str, Any]]:
        """Device id → the signed onboarding record kept at onboarding (maker and owner signatures)."""

    # the report log
    @abstractmethod
    def append(self, accepted: Sequence[StoredReport], rejected: Sequence[Rejection]) -> None:
        """Store a batch durably in one transaction; accepted reports are idempotent by report id."""

    @abstractmethod
    def last_seqs(self) -> dict[str, int]: ...

    @abstractmethod
    def has_report(self, report_id: str) -> bool: ...

    @abstractmethod
    def reports_between(self, start: int, end: int) -> list[ReportRecord]:
        """Accepted reports with device time in [start, end), ordered by report id."""

    @abstractmethod
    def stored_report(self, report_id: str) -> StoredReport | None: ...

    @abstractmethod
    def stored_reports_between(self, start: int, end: int) -> list[StoredReport]:
        """Accepted reports with device time in [start, end) with their signed bytes, by report id."""

    @abstractmethod
    def rejection_counts(self, start: int, end: int) -> dict[str, int]:
        """Rejections received in [start, end), counted by reason code."""

    @abstractmethod
    def count_reports(self, start: int, end: int) -> int: ...

    # epochs
    @abstractmethod
    def save_epoch(self, epoch: EpochRecord) -> None:
        """Write a closed epoch atomically (manifest is the commit point); idempotent by number."""

    @abstractmethod
    def get_epoch(self, number: int) -> EpochRecord | None: ...

    @abstractmethod
    def epoch_numbers(self) -> list[int]: ...

    @abstractmethod
    def device_epoch(self, number: int, device_id: str) -> dict[str, Any]:
        """Verdicts, notes and rewards of one device in one epoch (for explain)."""

    # challenge entropy
    @abstractmethod
    def record_entropy(self, value: str, ts: int, source: str) -> None:
        """Remember entropy served to devices (idempotent by value)."""

    @abstractmethod
    def entropy_between(self, start: int, end: int) -> dict[str, int]:
        """Entropy values derived at ts in [start, end) → ts."""

    # small key-value state (clock position, chain deployment)
    @abstractmethod
    def get_meta(self, key: str) -> str | None: ...

    @abstractmethod
    def set_meta(self, key: str, value: str) -> None: ...
