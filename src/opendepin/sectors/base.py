"""The sector plug-in interface (DESIGN.md principle 5: the core knows nothing sector-specific).

A sector declares its report kinds (payload schemas), and turns one epoch of accepted reports into
verdicts (one per report, with a stable reason code and the numbers behind it) and contributions
(reward units per device and category). Evaluation is a pure function of its inputs: no clock, no
randomness, no I/O. This one shape fits every sector of `specs/`: wireless beacons and witnesses need the
whole epoch to match witnesses to beacons, sensors compare a station with its neighbours, mapping dedups
hexes across drivers, energy compares a meter with witnesses, storage and compute score audit results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from opendepin.reports.model import ReportRecord

# Reward units are integers so that allocation is exact and reproducible bit for bit: a sector turns its
# (possibly fractional) score into units by multiplying by UNIT_SCALE and rounding toward zero.
UNIT_SCALE = 10**9

OK = "ok"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What the epoch knows about a device: its key, owner wallet and asserted location (H3 cell)."""

    device_id: str
    owner: str
    maker: str
    key_type: str
    location: str | None
    onboarded_at: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EpochWindow:
    """Epoch `number` covers timestamps in [start, end)."""

    number: int
    start: int
    end: int

    def contains(self, ts: int) -> bool:
        return self.start <= ts < self.end


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision on one report: `reason` is `ok` or a stable code such as `heartbeat.location_too_far`."""

    report_id: str
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason == OK


@dataclass(frozen=True, slots=True)
class Contribution:
    """Reward units a device earned in one category, with the multipliers that produced them."""

    device_id: str
    category: str
    units: int
    breakdown: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeviceNote:
    """A device-level finding that is not about one report (e.g. too few heartbeats, low trust)."""

    device_id: str
    reason: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SectorOutcome:
    """Everything a sector decided for one epoch."""

    verdicts: Sequence[Verdict]
    contributions: Sequence[Contribution]
    notes: Sequence[DeviceNote] = ()
    state: Mapping[str, Any] = field(default_factory=dict)
    """Carry-over for the next epoch (JSON-serialisable: reputation, trust, seniority, recent activity)."""


@dataclass(frozen=True, slots=True)
class SectorInput:
    """One epoch of a sector's accepted reports plus the device registry snapshot."""

    window: EpochWindow
    devices: Mapping[str, DeviceInfo]
    reports: Sequence[ReportRecord]
    prior_state: Mapping[str, Any] = field(default_factory=dict)
    """The `state` this sector returned for the previous epoch (empty for the first epoch)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Extra inputs the shell provides (e.g. chain entropy); part of the epoch's inputs digest."""


class SectorPlugin(ABC):
    """Base class of every sector. Subclasses are stateless; parameters come in validated."""

    name: ClassVar[str]
    params_model: ClassVar[type[BaseModel]]

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> SectorPlugin:
        return cls(cls.params_model.model_validate(dict(table)))

    @abstractmethod
    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        """Report kind name (e.g. `wireless.heartbeat`) → pydantic model of its payload."""

    @abstractmethod
    def evaluate(self, data: SectorInput) -> SectorOutcome:
        """Pure: verdict for every report, contributions per device and category."""

    def categories(self) -> Sequence[str]:
        """Reward categories this sector's contributions go to."""
        return ("coverage",)

    def usage_category(self) -> str | None:
        """The device category paid for this sector's metered usage (usage receipts), or None."""
        return None
