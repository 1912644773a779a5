"""`probe`: a small sector defined by the tests and installed through an entry point, using every hook of
the plug-in interface: attributes, a route, a challenge, late uploads within its policy, per-device state,
emission and usage pools.

Devices measure something and upload `probe.reading`s, possibly days late (store and forward: they count in
the epoch in which they arrive, any `seq` order); every hour the network pings half the devices
(`probe.ping`, derived from chain entropy) and a pinged device answers with a `probe.pong` citing the ping's
nonce within the hour. A device earns `capacity` units for each answered ping and one more if it sent a
reading; users pay for readings with data credits (usage category `probe_usage`).

Its simulation (for the generic fleet of `depin up`): every device uploads, each hour, a reading sampled
two hours earlier (store and forward) and answers the pings the node issued to it; `probe-overflow`
devices read values above `max_value` (`probe.out_of_range`).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from opendepin.sectors.base import (
    OK,
    AttributeModels,
    Challenge,
    ChallengeKind,
    ChallengeSeed,
    Contribution,
    DeviceInfo,
    DeviceNote,
    IngestPolicy,
    SectorInput,
    SectorOutcome,
    SectorPlugin,
    SectorServices,
    SectorSimulation,
    SimDevice,
    SimReport,
    SimServices,
    Verdict,
)

READING = "probe.reading"
PONG = "probe.pong"
PING = "probe.ping"
LATE_UPLOADS = IngestPolicy(max_past_seconds=3 * 86_400, assign_by="receive_time", seq="unique")


class ProbeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    category: str = "probe_coverage"
    usage_category: str = "probe_usage"
    ping_period_s: Annotated[int, Field(ge=60)] = 3_600
    answer_within_s: Annotated[int, Field(ge=1)] = 3_600
    max_value: int = 1_000


class Reading(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    value: int
    sampled_at: int


class Pong(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ping: Annotated[str, Field(min_length=64, max_length=64)]
    nonce: Annotated[str, Field(min_length=32, max_length=32)]


class ProbeMaker(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    capacity: Annotated[int, Field(ge=1, le=100)]


class ProbeOwner(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    site: Annotated[str, Field(max_length=64)] | None = None


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


def derive_pings(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """Half the devices, chosen by the seed: a ping each, with a nonce only the seed gives."""
    pings = []
    for device_id in sorted(devices):
        draw = _digest("probe.ping", seed.entropy, seed.period_start, device_id)
        if draw[0] < 128:
            nonce = {"nonce": draw[-16:].hex()}
            pings.append(Challenge(PING, draw.hex(), seed.period_start, seed, device_id, nonce))
    return pings


OVERFLOW = "probe-overflow"
LATE_BY_S = 2 * 3_600


class ProbeSimulation(SectorSimulation):
    """Readings uploaded two hours late, pongs to this hour's pings; `probe-overflow` reads out of range."""

    def __init__(self, params: ProbeParams) -> None:
        self.params = params

    @property
    def behaviours(self) -> Mapping[str, str]:
        return {OVERFLOW: "probe.out_of_range", "lazy": "fewer answered pings: paid less"}

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return {"capacity": 1 + device.index % 5}, {"site": f"roof {device.index}"}

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        pings = {p.device: p for p in services.challenges(PING)}
        reports = []
        for device in devices:
            rng = random.Random(f"{device.seed}:probe:{device.index}:{hour_ts}")
            sampled = hour_ts - LATE_BY_S + rng.randrange(0, 3_000)
            value = rng.randrange(0, self.params.max_value + 1)
            if device.behaviour == OVERFLOW:
                value += self.params.max_value + 1
            reports.append(SimReport(device.index, READING, sampled, {"value": value, "sampled_at": sampled}))
            ping = pings.get(device.device_id)
            if ping is not None:
                pong = {"ping": ping.challenge_id, "nonce": str(ping.payload["nonce"])}
                reports.append(SimReport(device.index, PONG, hour_ts + 3_000 + rng.randrange(0, 500), pong))
        return reports

    def session(self, device: SimDevice, credits: int) -> tuple[int, str]:
        return max(1, credits // 1_000), "readings"


class ProbeSector(SectorPlugin):
    name: ClassVar[str] = "probe"
    params_model: ClassVar[type[BaseModel]] = ProbeParams

    @property
    def probe(self) -> ProbeParams:
        assert isinstance(self.params, ProbeParams)
        return self.params

    def report_kinds(self) -> Mapping[str, type[BaseModel]]:
        return {READING: Reading, PONG: Pong}

    def ingest_policy(self, kind: str) -> IngestPolicy:
        return LATE_UPLOADS if kind == READING else super().ingest_policy(kind)

    def categories(self) -> Sequence[str]:
        return (self.probe.category,)

    def usage_category(self) -> str | None:
        return self.probe.usage_category

    def attributes(self) -> AttributeModels:
        return AttributeModels(maker=ProbeMaker, owner=ProbeOwner)

    def challenge_kinds(self) -> Sequence[ChallengeKind]:
        params = self.probe
        return (ChallengeKind(PING, params.ping_period_s, derive_pings, params.answer_within_s, True),)

    def simulation(self) -> SectorSimulation:
        return ProbeSimulation(self.probe)

    def routes(self, services: SectorServices) -> APIRouter:
        router = APIRouter(tags=["probe"])

        @router.get("/ping/{device_id}")
        async def ping(device_id: str) -> dict[str, Any]:
            """The current ping addressed to a device, if the network pinged it this period."""
            if services.device(device_id) is None:
                raise HTTPException(404, {"reason": "device.unknown", "message": "not onboarded"})
            pings = await run_in_threadpool(services.current_challenge, PING)
            mine = [p for p in pings if p.device == device_id]
            if not mine:
                raise HTTPException(404, {"reason": "probe.not_pinged", "message": "no ping this period"})
            return {"ping": mine[0].challenge_id, "nonce": mine[0].payload["nonce"], "at": mine[0].issued_at}

        return router

    def evaluate(self, data: SectorInput) -> SectorOutcome:
        pings = {c.challenge_id: c for c in data.challenges if c.kind == PING}
        verdicts: list[Verdict] = []
        answered: dict[str, int] = defaultdict(int)
        readings: dict[str, int] = defaultdict(int)
        for report in sorted(data.reports, key=lambda r: r.report_id):
            if report.kind == READING:
                value = int(report.payload["value"])
                if 0 <= value <= self.probe.max_value:
                    readings[report.device_id] += 1
                    verdicts.append(Verdict(report.report_id, OK, {"value": value}))
                else:
                    evidence = {"value": value, "max": self.probe.max_value}
                    verdicts.append(Verdict(report.report_id, "probe.out_of_range", evidence))
                continue
            ping = pings.get(str(report.payload["ping"]))
            mine = ping is not None and ping.device == report.device_id
            if ping is None or not mine or ping.payload["nonce"] != report.payload["nonce"]:
                evidence = {"ping": report.payload["ping"]}
                verdicts.append(Verdict(report.report_id, "probe.unknown_ping", evidence))
            elif not 0 <= report.received_at - ping.issued_at <= self.probe.answer_within_s:
                late = report.received_at - ping.issued_at
                verdicts.append(Verdict(report.report_id, "probe.late_pong", {"seconds": late}))
            else:
                answered[report.device_id] += 1
                verdicts.append(Verdict(report.report_id, OK, {"ping": ping.challenge_id}))
        contributions: list[Contribution] = []
        notes: list[DeviceNote] = []
        device_state: dict[str, Mapping[str, Any] | None] = {}
        for device_id in sorted(set(answered) | set(readings)):
            capacity = int(data.devices[device_id].attributes.get("capacity", 0))
            units = capacity * answered[device_id] + (1 if readings[device_id] else 0)
            prior = data.prior_device_state.get(device_id, {})
            device_state[device_id] = {
                "readings": int(prior.get("readings", 0)) + readings[device_id],
                "pongs": int(prior.get("pongs", 0)) + answered[device_id],
            }
            breakdown = {
                "capacity": capacity,
                "answered_pings": answered[device_id],
                "readings": readings[device_id],
            }
            contributions.append(Contribution(device_id, self.probe.category, units, breakdown))
        pinged = {p.device for p in pings.values() if p.device and data.window.contains(p.issued_at)}
        missed = pinged - set(answered)
        for device_id in sorted(d for d in missed if d in data.devices):
            notes.append(DeviceNote(device_id, "probe.missed_pings", {}))
        return SectorOutcome(verdicts, contributions, notes, {}, device_state)
