"""The sector plug-in interface (docs/architecture.md: the core knows nothing sector-specific).

A sector declares its report kinds (payload schemas), and turns one epoch of accepted reports into
verdicts (one per report, with a stable reason code and the numbers behind it) and contributions
(reward units per device and category). Evaluation is a pure function of its inputs: no clock, no
randomness, no I/O. This one shape fits every sector: wireless beacons and witnesses need the
whole epoch to match witnesses to beacons, sensors compare a station with its neighbours, mapping dedups
hexes across drivers, energy compares a meter with witnesses, storage and compute score audit results.

A sector may also bring its simulation (`SectorPlugin.simulation`, `SectorPlugin.simulate_app`): what its
devices send each hour in the generic fleet of `depin up`, and its own headless scenarios for `depin
simulate NAME`. The core never calls them; the fleet and the `simulate` face do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel

from opendepin.reports.model import ReportRecord

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from opendepin.market.receipts import SignedReceipt, UsageRecord

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
    """Carry-over for the next epoch that is not about one device (JSON-serialisable)."""
    device_state: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    """Per-device carry-over that changed this epoch (None forgets a device): reputation, trust evidence,
    seniority. Stored incrementally: a device absent here keeps its previous state."""
    usage_share: Mapping[str, Fraction] = field(default_factory=dict)
    """Per device, the share (0..1) of its usage pay it may receive this epoch (absent: all of it): a sector
    withholds usage pay from devices its rules do not pay (disqualified, suspended, failing audits). The
    device's usage cap is multiplied by it (toward zero); what it holds back flows on like any capped
    amount."""
    usage_credits: Mapping[str, int] | None = None
    """Per device, the credits this sector counts as carried this epoch in place of its receipts' credits
    (None: each receipt counts for its device in the epoch it arrives). A sector that holds what payers
    deposit in escrow (compute leases) releases it here as work is delivered and verified; the usage pool
    pays these credits like any others (pro rata, capped at their value)."""
    unpaid_receipts: Mapping[str, str] = field(default_factory=dict)
    """Receipt id → reason code: this sector's usage receipts its rules refuse to pay (e.g. storage's
    receipts without the device's countersignature). Their credits stay burned (the payer paid) and count
    in no usage pool; the sector says why in a note."""


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """How the ingest gate treats one report kind (docs/architecture.md, "The sector plug-in interface").

    `max_past_seconds` / `max_future_seconds` bound device time around the receive time (None: the
    network's `[ingest]` values). `assign_by = "receive_time"` is for store-and-forward devices that upload
    hours or days late: such a report counts in the epoch open when it arrives (never refused as
    `report.epoch_closed`), and the sector sees its device time. `seq = "unique"` accepts any order of
    `seq` but never the same `seq` twice for a device (late uploads interleave with live reports);
    `"increasing"` requires each `seq` above the device's last.
    """

    max_past_seconds: int | None = None
    max_future_seconds: int | None = None
    assign_by: Literal["device_time", "receive_time"] = "device_time"
    seq: Literal["increasing", "unique"] = "increasing"


DEFAULT_POLICY = IngestPolicy()


@dataclass(frozen=True, slots=True)
class AttributeModels:
    """The device attributes a sector reads: what the maker attests and what the owner states (each a
    pydantic model validated in strict mode at onboarding; unknown names are refused)."""

    maker: type[BaseModel] | None = None
    owner: type[BaseModel] | None = None


@dataclass(frozen=True, slots=True)
class ChallengeSeed:
    """What a challenge is derived from: chain entropy (a block hash) and the period it was taken for."""

    entropy: str
    period_start: int


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge the network issued: beacon entropy, a storage audit, a compute canary, a dispatch test.
    `device` is None for challenges addressed to everyone."""

    kind: str
    challenge_id: str
    issued_at: int
    seed: ChallengeSeed
    device: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


ChallengeDerivation = Callable[[ChallengeSeed, Mapping[str, DeviceInfo]], Sequence[Challenge]]
"""Pure: the challenges of one period from its seed and the device registry."""


@dataclass(frozen=True, slots=True)
class ChallengeKind:
    """A kind of challenge a sector has the network issue.

    A new seed is taken every `period_seconds` (on the first request in the period, or by the scheduler when
    `scheduled`); `derive` turns it into challenges, so anyone can re-derive them from the seed. An epoch
    sees the challenges issued in its window and the `lookback_seconds` before it.
    """

    name: str
    period_seconds: int
    derive: ChallengeDerivation
    lookback_seconds: int = 0
    scheduled: bool = False


class SectorServices(Protocol):
    """What the node lends a sector's routes (never the store itself)."""

    def now(self) -> int:
        """The node's clock (Unix seconds)."""

    def device(self, device_id: str) -> DeviceInfo | None:
        """A registered device."""

    def current_challenge(self, kind: str) -> Sequence[Challenge]:
        """The challenges of `kind` for the current period, issuing them if this is the first request."""

    def sector_state(self, sector: str) -> Mapping[str, Any]:
        """The state `sector` returned for the latest closed epoch (empty before the first)."""

    def sector_reports(self, sector: str, since: int) -> Sequence[ReportRecord]:
        """`sector`'s accepted reports received at or after `since` (a Unix second), by receive time: what
        its routes show between epochs (an order book, results)."""

    def sector_usage(self, sector: str, since: int) -> Sequence[UsageRecord]:
        """`sector`'s accepted usage receipts received at or after `since`, by receive time (escrow deposits
        between epochs)."""

    def sector_challenges(self, sector: str, since: int) -> Sequence[Challenge]:
        """`sector`'s challenges issued from `since` (less its kinds' lookback) to now: with
        `sector_device_state`, what an epoch ending now would be given (a book that is the engine's view)."""

    def sector_device_state(self, sector: str) -> Mapping[str, Mapping[str, Any]]:
        """Per device, the state `sector` stored for it as of the latest closed epoch."""


@dataclass(frozen=True, slots=True)
class SectorInput:
    """One epoch of a sector's accepted reports plus the device registry snapshot."""

    window: EpochWindow
    devices: Mapping[str, DeviceInfo]
    reports: Sequence[ReportRecord]
    prior_state: Mapping[str, Any] = field(default_factory=dict)
    """The `state` this sector returned for the previous epoch (empty for the first epoch)."""
    context: Mapping[str, Any] = field(default_factory=dict)
    """Extra inputs the shell provides; part of the epoch's inputs digest."""
    challenges: Sequence[Challenge] = ()
    """This sector's challenges issued in the window (and its kinds' lookback before it)."""
    prior_device_state: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per device, the state this sector last stored for it (only devices that have one)."""
    usage: Sequence[UsageRecord] = ()
    """This sector's usage receipts accepted in the window (by receive time), for a sector that keeps them
    in escrow (`SectorOutcome.usage_credits`)."""


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A simulated device as the generic fleet hands it to its sector's simulation (plain data).

    `lat`/`lon` is where the device really stands (a point of its asserted H3 `cell`); a sector's own
    misbehaviours may put its radio or sensor elsewhere (a GPS spoofer). `behaviour` is `honest`, a generic
    misbehaviour the fleet applies itself (bad signatures, replays, skewed clocks, malformed bytes; `lazy`
    devices are simply not handed over in the hours they are down), or one of the sector's `behaviours`.
    `seed` is the fleet's: a simulation draws everything from it, the index and the hour, so a fleet is
    reproducible.
    """

    index: int
    device_id: str
    owner: str
    cell: str
    lat: float
    lon: float
    behaviour: str
    seed: int


@dataclass(frozen=True, slots=True)
class SimReport:
    """A report a simulated device sends, unsigned: the fleet assigns its `seq`, signs it with the device's
    key and applies the generic misbehaviours. `device` is the `SimDevice.index`."""

    device: int
    kind: str
    ts: int
    payload: Mapping[str, Any]


class SimServices(Protocol):
    """What a simulated device may ask of the node, as a real one would (the fleet provides it)."""

    def challenges(self, kind: str) -> Sequence[Challenge]:
        """The challenges of `kind` the node issues now."""

    def get(self, route: str) -> Any:
        """GET `route` of the sector's own API (mounted under /v1/sectors/NAME/) from the node: its JSON."""

    def post(self, route: str, body: Mapping[str, Any]) -> Any:
        """POST `body` as JSON to `route` of the sector's own API: its JSON (an error status raises)."""

    def users(self) -> Sequence[str]:
        """Addresses of the fleet's users (who pay for service in data credits); empty when the fleet runs
        without a chain."""

    def sign_text(self, address: str, message: str) -> bytes:
        """An EIP-191 signature of `message` by `address`: one of `users()`, or the owner of one of the
        sector's devices (what a user signs: orders, usage receipts; an owner: its own receipts). Any other
        address raises KeyError."""

    def buy_credits(self, address: str, credits: int) -> int:
        """Have `address` (as `sign_text` allows) buy `credits` data credits with tokens the treasury sells
        it, as the fleet's users do; returns the credits bought (0 without a chain or a fresh price)."""

    def send_usage(self, receipts: Sequence[bytes]) -> Sequence[Mapping[str, Any]]:
        """POST signed usage receipts (wire form) to the node's `/v1/usage`: its answer for each."""

    def countersign(self, receipt: SignedReceipt) -> SignedReceipt:
        """`receipt` countersigned by the device it names with its own key, as a provider accepting the
        payment does (one of the sector's devices; any other raises KeyError)."""


class SectorSimulation(ABC):
    """What a sector's devices do in the generic fleet (`depin up`).

    Rules: `hour` is called once per simulated hour, at the end of it (when the hour's reports are sent),
    with the sector's devices that are up in that hour; it is deterministic given the devices' seed, the
    hour and what `services` answers. The fleet signs what it returns and adds the generic misbehaviours.
    """

    @property
    def behaviours(self) -> Mapping[str, str]:
        """The sector's own misbehaviours → the reason code (or detector) that must catch each. It may also
        restate a generic misbehaviour to name the reason its rules give (`lazy` → the note for missing
        hours)."""
        return {}

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """(maker attributes, owner attributes) the device is onboarded with (`attributes()` models)."""
        return {}, {}

    @abstractmethod
    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        """The unsigned reports `devices` send in the hour starting at `hour_ts`."""

    def session(self, device: SimDevice, credits: int) -> tuple[int, str]:
        """A metered usage session on `device` that costs `credits`: (quantity, unit) for its receipt."""
        return credits, "credits"


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

    def evaluate_columns(self, data: SectorInput) -> SectorOutcome | None:
        """Optional vectorised form of `evaluate`, called when the epoch's reports come as columns
        (`data.reports` is a `opendepin.reports.columns.ReportColumns`): the same outcome as `evaluate` on
        the same input, equal field by field (verdicts may be a `sectors.columns.VerdictColumns`, in the
        order `evaluate` gives them). `evaluate` stays the reference and the documentation of the rules; a
        sector offers this only for rules that are per-report judgements and per-device aggregations, and
        proves the equality with property tests. None: not for this input (the core calls `evaluate`)."""
        return None

    def categories(self) -> Sequence[str]:
        """Reward categories this sector's contributions go to."""
        return ("coverage",)

    def usage_category(self) -> str | None:
        """The device category paid for this sector's metered usage (usage receipts), or None."""
        return None

    def usage_countersigned(self) -> bool:
        """Whether this sector's usage receipts must carry the device's countersignature (`[receipt, payer
        signature, device signature]`): the node then refuses a receipt without one
        (`usage.countersignature_required`), so neither the payer alone nor the device alone makes one."""
        return False

    def ingest_policy(self, kind: str) -> IngestPolicy:
        """How the gate treats reports of `kind` (one of `report_kinds()`)."""
        return DEFAULT_POLICY

    def attributes(self) -> AttributeModels:
        """The device attributes this sector reads, by who states them."""
        return AttributeModels()

    def challenge_kinds(self) -> Sequence[ChallengeKind]:
        """Challenges the network issues for this sector."""
        return ()

    def routes(self, services: SectorServices) -> APIRouter | None:
        """The sector's own API routes, mounted under `/v1/sectors/{name}/`."""
        return None

    def simulation(self) -> SectorSimulation | None:
        """What this sector's devices do in the generic fleet of `depin up` (None: the fleet leaves the
        sector out)."""
        return None

    @classmethod
    def simulate_app(cls) -> typer.Typer | None:
        """The sector's headless scenarios as `depin simulate NAME` (None: no such command). A Typer holding
        one command and no callback is mounted as that command (`depin simulate NAME --option ...`); else
        as a group of its commands (`depin simulate NAME COMMAND`)."""
        return None
