"""Per-report rules over one epoch: each beacon checked, each witness matched to its beacon and checked."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import NamedTuple

from pydantic import ValidationError

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, DeviceInfo, Verdict
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BeaconPayload, WitnessPayload
from opendepin.sectors.wireless.poc.rules_beacon import (
    check_beacon,
    check_beacon_device,
    compute_beacon_bucket,
)
from opendepin.sectors.wireless.poc.rules_witness import (
    BeaconContext,
    LinkGeometries,
    check_witness,
    check_witness_device,
    compute_link_geometries,
)


class WitnessEntry(NamedTuple):
    """A witness that passed the per-report rules: its report's id, device and arrival, and the figures the
    later steps read (kept here, not read from the report, so that those steps touch these small objects
    only). A named tuple: made by the million at 100,000 hotspots, at C speed from columns
    (`make_entries`)."""

    report_id: str
    device_id: str
    received_at: int
    rssi_dbm: float
    rx_ms: int
    distance_m: float
    """Between the two asserted cells' centres, as its verdict shows it (0.1 m)."""

    @staticmethod
    def of(report: ReportRecord, rssi_dbm: float, rx_ms: int, distance_m: float) -> WitnessEntry:
        return WitnessEntry(
            report.report_id, report.device_id, report.received_at, rssi_dbm, rx_ms, distance_m
        )


def make_entries(
    report_id: Iterable[str],
    device_id: Iterable[str],
    received_at: Iterable[int],
    rssi_dbm: Iterable[float],
    rx_ms: Iterable[int],
    distance_m: Iterable[float],
) -> list[WitnessEntry]:
    """One `WitnessEntry` per row of the columns (the tuple made directly, no Python call per row)."""
    rows = zip(report_id, device_id, received_at, rssi_dbm, rx_ms, distance_m, strict=True)
    return list(map(tuple.__new__, repeat(WitnessEntry), rows))


@dataclass(slots=True)
class BeaconEntry:
    """A beacon that passed the per-report rules, with its valid witnesses (in receive order)."""

    report: ReportRecord
    payload: BeaconPayload
    witnesses: list[WitnessEntry] = field(default_factory=list)
    reported_by: list[str] = field(default_factory=list)
    close: list[WitnessEntry] = field(default_factory=list)
    """Witnesses that passed every check but `witness.too_close` or `witness.rssi_too_strong`: not paid,
    but their RSSI still says how near the two radios stand (`trust.compute_colocated_cells`)."""


CLOSE_REASONS = frozenset({"witness.too_close", "witness.rssi_too_strong"})


def _order(report: ReportRecord) -> tuple[int, str]:
    return report.received_at, report.report_id


def process_beacons(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    prior_buckets: Mapping[str, int],
    params: PocParams,
) -> tuple[dict[str, Verdict], dict[tuple[str, str], BeaconEntry], set[tuple[str, str]], dict[str, int]]:
    """Beacon checks in Helium's order; the first valid beacon of a schedule bucket wins."""
    verdicts: dict[str, Verdict] = {}
    valid: dict[tuple[str, str], BeaconEntry] = {}
    cited: set[tuple[str, str]] = set()
    buckets = dict(prior_buckets)
    for report in sorted(reports, key=_order):
        try:
            payload = BeaconPayload.model_validate(dict(report.payload))
        except ValidationError as error:
            verdicts[report.report_id] = Verdict(
                report.report_id, "beacon.malformed", {"errors": error.error_count()}
            )
            continue
        cited.add((report.device_id, payload.entropy))
        reason, evidence = check_beacon_device(report.device_id, devices, params)
        if reason == OK:
            bucket = compute_beacon_bucket(report.received_at, params.beacon_interval_s)
            already = buckets.get(report.device_id) == bucket
            reason, evidence = check_beacon(
                payload,
                report.received_at,
                entropies.get(payload.entropy),
                already,
                devices[report.device_id],
                params,
            )
            if reason == OK:
                buckets[report.device_id] = bucket
                valid[(report.device_id, payload.entropy)] = BeaconEntry(report, payload)
        verdicts[report.report_id] = Verdict(report.report_id, reason, evidence)
    return verdicts, valid, cited, buckets


def _parse_witnesses(
    reports: Sequence[ReportRecord], verdicts: dict[str, Verdict]
) -> dict[tuple[str, str], list[tuple[ReportRecord, WitnessPayload]]]:
    groups: dict[tuple[str, str], list[tuple[ReportRecord, WitnessPayload]]] = defaultdict(list)
    for report in reports:
        try:
            payload = WitnessPayload.model_validate(dict(report.payload))
        except ValidationError as error:
            verdicts[report.report_id] = Verdict(
                report.report_id, "witness.malformed", {"errors": error.error_count()}
            )
            continue
        groups[(payload.beaconer, payload.entropy)].append((report, payload))
    return groups


def process_witness_group(
    group: list[tuple[ReportRecord, WitnessPayload]],
    beacon: BeaconEntry,
    devices: Mapping[str, DeviceInfo],
    entropy_ts: int,
    params: PocParams,
    links: LinkGeometries | None = None,
) -> dict[str, Verdict]:
    """Check every witness of one valid beacon; valid ones are appended to `beacon.witnesses`.

    `links` holds the geometry of witness links computed in one batch, by report id (see
    `compute_epoch_links`); a missing one is computed on the spot (the same bits)."""
    verdicts: dict[str, Verdict] = {}
    passed: list[tuple[ReportRecord, WitnessPayload]] = []
    beaconer = beacon.report.device_id
    for report, payload in group:
        reason, evidence = check_witness_device(report.device_id, beaconer, devices, params)
        if reason == OK:
            passed.append((report, payload))
            beacon.reported_by.append(report.device_id)
        else:
            verdicts[report.report_id] = Verdict(report.report_id, reason, evidence)
    if not passed:
        return verdicts
    first_rx = min(payload.rx_ms for _, payload in passed)
    context = BeaconContext(devices[beaconer], beacon.payload, first_rx)
    seen: set[str] = set()
    for report, payload in sorted(passed, key=lambda item: (item[1].rx_ms, *_order(item[0]))):
        if report.device_id in seen:
            verdicts[report.report_id] = Verdict(
                report.report_id, "witness.duplicate", {"beaconer": beaconer}
            )
            continue
        seen.add(report.device_id)
        reason, evidence = check_witness(
            payload,
            report.received_at,
            entropy_ts,
            devices[report.device_id],
            context,
            params,
            links.get(report.report_id) if links is not None else None,
        )
        verdicts[report.report_id] = Verdict(report.report_id, reason, {"beaconer": beaconer, **evidence})
        if reason == OK:
            beacon.witnesses.append(
                WitnessEntry.of(report, payload.rssi_dbm, payload.rx_ms, evidence["distance_m"])
            )
        elif reason in CLOSE_REASONS:
            beacon.close.append(
                WitnessEntry.of(report, payload.rssi_dbm, payload.rx_ms, evidence["distance_m"])
            )
    return verdicts


def compute_epoch_links(
    groups: Mapping[tuple[str, str], list[tuple[ReportRecord, WitnessPayload]]],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    devices: Mapping[str, DeviceInfo],
) -> LinkGeometries:
    """Geometry (distance, free-space loss) of every witness link of the epoch whose two ends are located,
    in one vectorised batch, by report id."""
    keys: list[str] = []
    links: list[tuple[str, str, int]] = []
    for key, group in groups.items():
        beacon = beacons.get(key)
        beaconer = devices.get(key[0])
        if beacon is None or beaconer is None or beaconer.location is None:
            continue
        for report, _ in group:
            witness = devices.get(report.device_id)
            if witness is not None and witness.location is not None:
                keys.append(report.report_id)
                links.append((witness.location, beaconer.location, beacon.payload.frequency_hz))
    return compute_link_geometries(links, keys)


def process_witnesses(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    cited: set[tuple[str, str]],
    params: PocParams,
) -> dict[str, Verdict]:
    """Match witnesses to the beacon they cite (beaconer, entropy) and run the witness checks."""
    verdicts: dict[str, Verdict] = {}
    groups = _parse_witnesses(reports, verdicts)
    links = compute_epoch_links(groups, beacons, devices)
    for key in sorted(groups):
        group = groups[key]
        beacon = beacons.get(key)
        if beacon is None:
            reason = "witness.beacon_invalid" if key in cited else "witness.no_beacon"
            for report, _ in group:
                verdicts[report.report_id] = Verdict(report.report_id, reason, {"beaconer": key[0]})
            continue
        verdicts.update(process_witness_group(group, beacon, devices, entropies[key[1]], params, links))
    return verdicts
