"""Build the detectors' arrays from one epoch, and apply their link judgement back to verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter

import numpy as np

from opendepin.arrays import int64_or_zero, unique_sorted
from opendepin.sectors.base import SectorInput, Verdict
from opendepin.sectors.wireless.poc.corroboration import is_anchor
from opendepin.sectors.wireless.poc.evidence import (
    BeaconTable,
    DeviceTable,
    FloatArray,
    IntArray,
    LinkTable,
    ValidLinks,
)
from opendepin.sectors.wireless.poc.geo import (
    compute_reference_latitude_e7,
    get_cell_center_e7,
    project_to_plane,
)
from opendepin.sectors.wireless.poc.matching import BeaconEntry
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rules_beacon import is_full_hotspot
from opendepin.sectors.wireless.poc.rules_witness import get_gain_dbi
from opendepin.sectors.wireless.poc.trust import LinkJudgement


@dataclass(frozen=True, slots=True)
class EpochTables:
    """The arrays plus the beacon entry and witness report behind each link row (`row`)."""

    devices: DeviceTable
    links: LinkTable
    beacons: BeaconTable
    report_ids: list[str]
    """Per link row: its witness report's id."""
    beacon_entries: list[BeaconEntry]
    beacon_of_row: IntArray
    """Per link row: its beacon's position in `beacon_entries`."""

    def row(self, row: int) -> tuple[BeaconEntry, str]:
        """The beacon entry and the witness report id behind link row `row`."""
        return self.beacon_entries[int(self.beacon_of_row[row])], self.report_ids[row]


def build_device_table(data: SectorInput, params: PocParams) -> DeviceTable:
    """Located devices sorted by id; eligible = full hotspot that sent a beacon or witness this epoch."""
    ids = sorted(d for d, info in data.devices.items() if info.location is not None)
    reporting = set(map(attrgetter("device_id"), data.reports))
    owners = {owner: i for i, owner in enumerate(sorted({data.devices[d].owner for d in ids}))}
    centers = np.array(
        [get_cell_center_e7(data.devices[d].location or "") for d in ids], dtype=np.int64
    ).reshape(-1, 2)
    return DeviceTable(
        ids=ids,
        owner=np.array([owners[data.devices[d].owner] for d in ids], dtype=np.int64),
        xy=project_to_plane(centers[:, 0], centers[:, 1], compute_reference_latitude_e7(centers[:, 0])),
        gain_dbi=np.array([get_gain_dbi(data.devices[d], params) for d in ids], dtype=np.float64),
        eligible=np.array(
            [d in reporting and is_full_hotspot(data.devices[d], params) for d in ids], dtype=bool
        ),
        anchor=np.array(
            [
                is_anchor(data.devices[d].attributes, data.devices[d].maker, params.trust.verifier_makers)
                for d in ids
            ],
            dtype=bool,
        ),
        cells=[data.devices[d].location or "" for d in ids],
        onboarded_at=np.array([data.devices[d].onboarded_at for d in ids], dtype=np.int64),
    )


def valid_links_of(beacons: Mapping[tuple[str, str], BeaconEntry]) -> ValidLinks:
    """The beacons' witness lists as link rows (beacon after beacon, each list in its order)."""
    entries = list(beacons.values())
    rows = [w for b in entries for w in b.witnesses]
    per_beacon = np.fromiter(map(len, map(attrgetter("witnesses"), entries)), np.int64, len(entries))
    beacon = np.repeat(np.arange(len(entries), dtype=np.int64), per_beacon)
    count = len(rows)
    return ValidLinks(
        beacon=beacon,
        report_id=list(map(attrgetter("report_id"), rows)),
        device_id=list(map(attrgetter("device_id"), rows)),
        rssi_dbm=np.fromiter(map(attrgetter("rssi_dbm"), rows), np.float64, count),
        distance_m=np.fromiter(map(attrgetter("distance_m"), rows), np.float64, count),
        lag_ms=_lags([b.payload.tx_ms for b in entries], beacon, list(map(attrgetter("rx_ms"), rows))),
    )


def build_tables(
    data: SectorInput,
    beacons: Mapping[tuple[str, str], BeaconEntry],
    params: PocParams,
    valid: ValidLinks | None = None,
) -> EpochTables:
    """Devices, rule-valid links and valid beacons of the epoch as arrays: beacons in key order, each one's
    links in its witness list's order. The links are `valid` (rows of the beacons' witness lists, possibly
    gathered before the lists are), or read from the lists themselves."""
    if valid is None:
        valid = valid_links_of(beacons)
    devices = build_device_table(data, params)
    index = {d: i for i, d in enumerate(devices.ids)}
    keys = list(beacons)
    by_key = sorted(range(len(keys)), key=keys.__getitem__)
    ordered = [beacons[keys[k]] for k in by_key]
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.array(by_key, dtype=np.int64)] = np.arange(len(keys), dtype=np.int64)
    beacon_of_row = rank[valid.beacon]
    order = np.argsort(beacon_of_row, kind="stable")
    beacon_of_row = beacon_of_row[order]
    order_list = order.tolist()
    beaconer_of = np.array([index[b.report.device_id] for b in ordered], dtype=np.int64)
    power_of = np.array([b.payload.tx_power_dbm for b in ordered], dtype=np.float64)
    count = valid.size
    if (
        valid.located == devices.ids
        and valid.witness is not None
        and valid.reporter is not None
        and valid.reporter_beacon is not None
    ):  # the rows carry device indexes in this very order: no lookup by id
        witness = valid.witness[order]
        reporting = valid.reporter >= 0
        pairs = unique_sorted(
            rank[valid.reporter_beacon[reporting]] * devices.size + valid.reporter[reporting]
        )
    else:
        witness = np.fromiter(
            map(index.__getitem__, map(valid.device_id.__getitem__, order_list)), np.int64, count
        )
        pairs = _reported_pairs(ordered, index, devices.size)
    links = LinkTable(
        beacon=np.zeros(count, dtype=np.int64),
        beaconer=beaconer_of[beacon_of_row],
        witness=witness,
        rssi_dbm=valid.rssi_dbm[order],
        tx_power_dbm=power_of[beacon_of_row],
        distance_m=valid.distance_m[order],
        lag_ms=valid.lag_ms[order],
    )
    close = [(b, w) for b in ordered for w in b.close if w.device_id in index]
    table = BeaconTable(
        beaconer=beaconer_of,
        tx_power_dbm=power_of,
        reported_pairs=pairs,
        close_beaconer=np.array([index[b.report.device_id] for b, _ in close], dtype=np.int64),
        close_witness=np.array([index[w.device_id] for _, w in close], dtype=np.int64),
        close_rssi_dbm=np.array([w.rssi_dbm for _, w in close], dtype=np.float64),
        close_tx_power_dbm=np.array([b.payload.tx_power_dbm for b, _ in close], dtype=np.float64),
    )
    report_ids = list(map(valid.report_id.__getitem__, order_list))
    return EpochTables(devices, links, table, report_ids, ordered, beacon_of_row)


def _reported_pairs(ordered: list[BeaconEntry], index: Mapping[str, int], n_devices: int) -> IntArray:
    """Beacon position × number of devices + witness index, for every located device that reported a
    witness of the beacon (distinct, ascending)."""
    reporters = [w for b in ordered for w in b.reported_by]
    per_beacon = np.fromiter(map(len, map(attrgetter("reported_by"), ordered)), np.int64, len(ordered))
    witness = np.fromiter(map(index.get, reporters, repeat(-1)), np.int64, len(reporters))
    beacon = np.repeat(np.arange(len(ordered), dtype=np.int64), per_beacon)
    located = witness >= 0
    return unique_sorted(beacon[located] * n_devices + witness[located])


def _lags(tx: list[int], beacon_of_row: IntArray, rx: list[int]) -> FloatArray:
    """Per link row: receive time − its beacon's transmit time (ms); exact integers while both fit int64
    (an epoch's honest times do), Python's integers otherwise, then as floats."""
    tx_array, tx_big = int64_or_zero(tx)
    rx_array, rx_big = int64_or_zero(rx)
    if not (tx_big.any() or rx_big.any()):
        return (rx_array - tx_array[beacon_of_row]).astype(np.float64)
    beacon = beacon_of_row.tolist()
    return np.array([r - tx[b] for r, b in zip(rx, beacon, strict=True)], dtype=np.float64)


def apply_link_judgement(
    tables: EpochTables, judged: LinkJudgement, verdicts: dict[str, Verdict], params: PocParams
) -> None:
    """Relayed, implausible and too-close-by-RSSI links get their own verdict and leave their beacon's
    witness list (the detectors still read them)."""
    dropped: set[str] = set()
    touched: dict[int, BeaconEntry] = {}
    relayed, implausible = judged.relayed.tolist(), judged.implausible.tolist()
    close = judged.too_close if judged.too_close is not None else np.zeros_like(judged.relayed)
    limit = judged.too_close_rssi_dbm
    for row in np.flatnonzero(judged.relayed | judged.implausible | close).tolist():
        beacon, report_id = tables.row(row)
        base = {
            "beaconer": beacon.report.device_id,
            "distance_m": float(tables.links.distance_m[row]),
            "rssi_dbm": float(tables.links.rssi_dbm[row]),
        }
        if relayed[row]:
            verdicts[report_id] = Verdict(
                report_id,
                "witness.relayed",
                {
                    **base,
                    "lag_ms": int(tables.links.lag_ms[row]),
                    "max_direct_lag_ms": params.trust.max_direct_lag_ms,
                },
            )
        elif implausible[row]:
            verdicts[report_id] = Verdict(
                report_id,
                "witness.implausible_link",
                {
                    **base,
                    "expected_rssi_dbm": round(float(judged.expected_rssi_dbm[row]), 2),
                    "hear_probability": float(f"{judged.hear_probability[row]:.3g}"),
                    "min_probability": params.trust.implausible_probability,
                },
            )
        elif limit is not None:
            verdicts[report_id] = Verdict(
                report_id,
                "witness.too_close_by_rssi",
                {
                    **base,
                    "max_rssi_dbm": round(float(limit[row]), 2),
                    "too_close_m": params.trust.too_close_m,
                },
            )
        dropped.add(report_id)
        touched[id(beacon)] = beacon
    for beacon in touched.values():
        beacon.witnesses = [w for w in beacon.witnesses if w.report_id not in dropped]
