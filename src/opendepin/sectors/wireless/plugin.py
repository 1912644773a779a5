"""The wireless sector plug-in: mobile-style heartbeats and speed tests (HIP-74 family)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

from opendepin.reports.columns import ReportColumns
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import (
    OK,
    UNIT_SCALE,
    AttributeModels,
    ChallengeKind,
    Contribution,
    DeviceInfo,
    DeviceNote,
    SectorInput,
    SectorOutcome,
    SectorPlugin,
    SectorServices,
    SectorSimulation,
    Verdict,
)
from opendepin.sectors.wireless.attributes import WirelessMakerAttributes, WirelessOwnerAttributes
from opendepin.sectors.wireless.heartbeat import (
    SPEED_FIELDS,
    SpeedValues,
    compute_distance_m,
    compute_location_trust,
    compute_mean_trust,
    compute_rank_multiplier,
    compute_required_heartbeats,
    decimal_fraction,
    speedtest_rule,
    truncate_to_hour,
)
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.poc import POC_REPORT_KINDS, evaluate_poc
from opendepin.sectors.wireless.poc.entropy import entropy_challenge_kind
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST, HeartbeatPayload, SpeedtestPayload


def _heartbeat_verdicts(
    device: DeviceInfo, heartbeats: Sequence[ReportRecord], params: WirelessParams
) -> tuple[list[Verdict], list[Fraction], int]:
    """Verdict per heartbeat; trust of each located heartbeat; number of valid hours."""
    verdicts: list[Verdict] = []
    trusts: list[Fraction] = []
    hours: set[int] = set()
    for report in sorted(heartbeats, key=lambda r: (r.ts, r.seq)):
        hour = truncate_to_hour(report.ts)
        if device.location is None:
            verdicts.append(
                Verdict(
                    report.report_id,
                    "heartbeat.location_not_asserted",
                    {"hint": "assert a location when onboarding the device"},
                )
            )
            continue
        distance = compute_distance_m(
            device.location, float(report.payload["lat"]), float(report.payload["lon"])
        )
        trust = compute_location_trust(distance, params)
        trusts.append(trust)
        evidence = {"distance_m": round(distance, 1), "location_trust": str(trust), "hour": hour}
        if trust == 0:
            verdicts.append(
                Verdict(
                    report.report_id,
                    "heartbeat.location_too_far",
                    {**evidence, "limit_m": params.trust_partial_radius_m},
                )
            )
        elif hour in hours:
            verdicts.append(Verdict(report.report_id, "heartbeat.duplicate_hour", evidence))
        else:
            hours.add(hour)
            verdicts.append(Verdict(report.report_id, OK, evidence))
    return verdicts, trusts, len(hours)


@dataclass(frozen=True, slots=True)
class _Eligible:
    """What a radio with enough valid heartbeats brings to its share."""

    trust: Fraction
    speed: Fraction
    speed_evidence: Mapping[str, Any]
    valid_hours: int


def _rank_in_cells(devices: Mapping[str, DeviceInfo], active: set[str]) -> dict[str, int]:
    """Rank of each active radio among active radios asserted in the same cell (earliest onboarded first)."""
    by_cell: dict[str, list[DeviceInfo]] = defaultdict(list)
    for device_id in active:
        device = devices[device_id]
        if device.location is not None:
            by_cell[device.location].append(device)
    ranks: dict[str, int] = {}
    for members in by_cell.values():
        for rank, device in enumerate(sorted(members, key=lambda d: (d.onboarded_at, d.device_id))):
            ranks[device.device_id] = rank
    return ranks


class WirelessSector(SectorPlugin):
    """Coverage shares = base points × rank × speed-test multiplier × location trust (wireless-poc.md)."""

    name: ClassVar[str] = "wireless"
    params_model: ClassVar[type[BaseModel]] = WirelessParams

    @property
    def wireless(self) -> WirelessParams:
        assert isinstance(self.params, WirelessParams)
        return self.params

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        kinds: dict[str, type[BaseModel]] = {HEARTBEAT: HeartbeatPayload, SPEEDTEST: SpeedtestPayload}
        if self.wireless.poc is not None:
            kinds.update(POC_REPORT_KINDS)
        return kinds

    def categories(self) -> Sequence[str]:
        poc = self.wireless.poc
        extra = (poc.beacon_category, poc.witness_category) if poc is not None else ()
        return (self.wireless.category, *extra)

    def usage_category(self) -> str | None:
        """Data sessions carried by a hotspot, paid for by routers with data credits (HIP-10)."""
        return self.wireless.usage_category or None

    def attributes(self) -> AttributeModels:
        return AttributeModels(maker=WirelessMakerAttributes, owner=WirelessOwnerAttributes)

    def challenge_kinds(self) -> Sequence[ChallengeKind]:
        poc = self.wireless.poc
        return (entropy_challenge_kind(poc),) if poc is not None else ()

    def routes(self, services: SectorServices) -> APIRouter | None:
        from opendepin.sectors.wireless.routes import build_router

        return build_router(services, self.wireless.poc)

    def simulation(self) -> SectorSimulation:
        """Simulated hotspots for `depin up` (`sim/simulation.py`; imported only when asked for)."""
        from opendepin.sectors.wireless.sim.simulation import WirelessSimulation

        return WirelessSimulation(self.wireless)

    @classmethod
    def simulate_app(cls) -> typer.Typer:
        """`depin simulate wireless`: proof-of-coverage adversary scenarios (`sim/cli.py`)."""
        from opendepin.sectors.wireless.sim.cli import build_app

        return build_app()

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        """Heartbeats/speed tests (mobile-style coverage) and, when configured, beacons/witnesses (PoC)."""
        reports = list(data.reports)  # one pass: the node's report columns decode each payload as they go
        mobile = self._evaluate_mobile(
            replace(data, reports=[r for r in reports if r.kind in (HEARTBEAT, SPEEDTEST)])
        )
        poc_params = self.wireless.poc
        if poc_params is None:
            return mobile
        poc = evaluate_poc(
            replace(
                data,
                reports=[r for r in reports if r.kind in POC_REPORT_KINDS],
                prior_state=data.prior_state.get("poc", {}),
            ),
            poc_params,
        )
        return SectorOutcome(
            verdicts=[*mobile.verdicts, *poc.verdicts],
            contributions=[*mobile.contributions, *poc.contributions],
            notes=[*mobile.notes, *poc.notes],
            state={"poc": dict(poc.state)},
        )

    def evaluate_columns(self, data: SectorInput) -> SectorOutcome | None:
        """The heartbeat and speed-test rules over columns (`columnar.py`), when proof of coverage is off:
        the same outcome as `evaluate` (tests/sectors/wireless/test_columnar.py)."""
        if self.wireless.poc is not None or not isinstance(data.reports, ReportColumns):
            return None
        from opendepin.sectors.wireless.columnar import judge_heartbeat_columns

        judged = judge_heartbeat_columns(data.reports, data.devices, self.wireless)
        return _mobile_outcome(data, self.wireless, judged.verdicts, judged.radios)

    def _evaluate_mobile(self, data: SectorInput) -> SectorOutcome:
        params = self.wireless
        by_device: dict[str, dict[str, list[ReportRecord]]] = defaultdict(lambda: defaultdict(list))
        for report in data.reports:
            by_device[report.device_id][report.kind].append(report)
        verdicts: list[Verdict] = []
        devices: list[tuple[str, int, Callable[[], Fraction], list[SpeedValues]]] = []
        for device_id in sorted(by_device):
            kinds = by_device[device_id]
            device = data.devices[device_id]
            hb_verdicts, trusts, valid_hours = _heartbeat_verdicts(device, kinds[HEARTBEAT], params)
            verdicts.extend(hb_verdicts)
            tests = sorted(kinds[SPEEDTEST], key=lambda r: (r.ts, r.seq))
            verdicts.extend(Verdict(t.report_id, OK, {}) for t in tests)
            values = [speed_values(t) for t in tests]
            devices.append((device_id, valid_hours, partial(compute_mean_trust, trusts), values))
        return _mobile_outcome(data, params, verdicts, devices)


def speed_values(test: ReportRecord) -> SpeedValues:
    """What the speed multiplier reads of a speed test: `float(payload[field])` of each `SPEED_FIELDS`."""
    return (
        float(test.payload[SPEED_FIELDS[0]]),
        float(test.payload[SPEED_FIELDS[1]]),
        float(test.payload[SPEED_FIELDS[2]]),
    )


def _mobile_outcome(
    data: SectorInput,
    params: WirelessParams,
    verdicts: Sequence[Verdict],
    devices: Iterable[tuple[str, int, Callable[[], Fraction], Sequence[SpeedValues]]],
) -> SectorOutcome:
    """Shares of the radios from what their heartbeats gave: per device (in id order) its valid hours, its
    mean location trust (computed only for a radio with enough hours) and its speed tests by time."""
    required = compute_required_heartbeats(params, data.window.end - data.window.start)
    speed_rule = speedtest_rule(params)
    notes: list[DeviceNote] = []
    eligible: dict[str, _Eligible] = {}
    for device_id, valid_hours, mean_trust, tests in devices:
        if valid_hours < required:
            notes.append(
                DeviceNote(
                    device_id,
                    "wireless.insufficient_heartbeats",
                    {"valid_hours": valid_hours, "required": required},
                )
            )
            continue
        speed, speed_evidence = speed_rule(tests)
        if speed == 0:
            notes.append(DeviceNote(device_id, "wireless.speedtest_insufficient", speed_evidence))
        eligible[device_id] = _Eligible(mean_trust(), speed, speed_evidence, valid_hours)
    ranks = _rank_in_cells(data.devices, set(eligible))
    contributions: list[Contribution] = []
    base = decimal_fraction(params.base_points)
    shares: dict[tuple[int, Fraction, Fraction], tuple[Fraction, Fraction, int, dict[str, str]]] = {}
    for device_id, facts in sorted(eligible.items()):
        key = (ranks.get(device_id, 0), facts.speed, facts.trust)
        if key not in shares:  # radios with the same rank, speed and trust share the arithmetic
            rank = compute_rank_multiplier(key[0], params)
            share = base * rank * facts.speed * facts.trust
            text = {
                "rank": str(rank),
                "speed": str(facts.speed),
                "trust": str(facts.trust),
                "share": str(share),
            }
            shares[key] = (rank, share, int(share * UNIT_SCALE), text)  # units toward zero
        rank, share, units, text = shares[key]
        if rank == 0:
            notes.append(
                DeviceNote(
                    device_id,
                    "wireless.hex_rank_exceeded",
                    {"rank": ranks.get(device_id, 0) + 1, "paid_ranks": len(params.rank_multipliers)},
                )
            )
        breakdown = {
            "formula": "base_points × rank × speedtest × location_trust",
            "base_points": str(base),
            "rank": ranks.get(device_id, 0) + 1,
            "rank_multiplier": text["rank"],
            "speedtest_multiplier": text["speed"],
            "speedtest": dict(facts.speed_evidence),
            "location_trust": text["trust"],
            "valid_hours": facts.valid_hours,
            "required_hours": required,
            "share": text["share"],
        }
        contributions.append(Contribution(device_id, params.category, units, breakdown))
    return SectorOutcome(verdicts=verdicts, contributions=contributions, notes=notes)
