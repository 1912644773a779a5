"""The witness rules of an epoch over columns: what `matching.process_witnesses` decides, for every witness
of the epoch at once.

`matching.process_witnesses` (with `rules_witness.check_witness_device` and `check_witness`) stays the
reference and the documentation of each rule; this module computes the same verdicts, the same evidence and
the same `BeaconEntry` lists (`reported_by`, `witnesses`, `close`) in the same order, with the checks that
nearly every witness passes done as array operations (tests/sectors/wireless/poc/test_poc_witness_columns.py
compares the two on random epochs, malformed and hostile reports included):

- payloads are checked column by column against `WitnessPayload`'s constraints (types, hex patterns,
  lengths, ranges); a payload that is not plainly valid (a missing or extra field, a value of another type
  that pydantic would coerce or refuse, a value out of range) goes through `WitnessPayload` itself;
- the order inside a beacon's witnesses (receive time, then arrival, then report id), first receive time
  and duplicates are computed for all beacons at once;
- the report-level checks (entropy freshness, lateness, payload, frequency offset, region, distance, RSSI
  plausibility) run on arrays; a witness that fails any of them, or stands too close, is judged again by
  `check_witness` itself, so that every rejection's reason and evidence are the reference's own;
- the evidence of a valid witness is assembled from the arrays, its decimals rounded like Python's `round`
  (`detmath.round_like_python`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import h3
import h3.api.basic_int as h3_int
import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import ValidationError

from opendepin.detmath import round_like_python
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, DeviceInfo, Verdict
from opendepin.sectors.wireless.poc.geo import (
    FAR_CELLS,
    compute_haversine_m,
    get_ancestor_index,
    get_cell_center,
)
from opendepin.sectors.wireless.poc.matching import (
    CLOSE_REASONS,
    BeaconEntry,
    WitnessEntry,
    process_witness_group,
)
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import WitnessPayload
from opendepin.sectors.wireless.poc.rules_witness import (
    BeaconContext,
    LinkGeometry,
    check_witness,
    check_witness_device,
    compute_fspl_db,
    get_gain_dbi,
)

FIELDS = ("beaconer", "entropy", "data", "region", "frequency_hz", "rssi_dbm", "snr_db", "rx_ms")
_FIELD_SET = frozenset(FIELDS)
_GET_FIELDS = itemgetter(*FIELDS)
_INT_LIMIT = 2**62
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(slots=True)
class WitnessColumns:
    """The epoch's well-formed witnesses, one row each, in report order. `frequency_hz` and `rx_ms` hold
    the values as Python ints and, for arithmetic, as int64 arrays in which the rows that do not fit
    (`oversized`: beyond ±2⁶², which the payload model allows; or an arrival time beyond it) are 0. The
    reports' own fields are read once, here: at 100,000 hotspots every pass over 2.5 M report objects
    costs about half a microsecond each in memory latency."""

    reports: list[ReportRecord]
    report_id: list[str]
    device_id: list[str]
    received_at: IntArray
    beaconer: list[str]
    entropy: list[str]
    data: list[str]
    region: list[str]
    frequency: list[int]
    rssi_dbm: list[float]
    snr_db: list[float]
    rx: list[int]
    frequency_hz: IntArray
    rx_ms: IntArray
    oversized: BoolArray

    def payload(self, row: int) -> WitnessPayload:
        """Row `row` as the payload model (the values were validated: no second validation)."""
        return WitnessPayload.model_construct(
            beaconer=self.beaconer[row],
            entropy=self.entropy[row],
            data=self.data[row],
            region=self.region[row],
            frequency_hz=self.frequency[row],
            rssi_dbm=self.rssi_dbm[row],
            snr_db=self.snr_db[row],
            rx_ms=self.rx[row],
        )


def _typed(values: Sequence[Any], types: frozenset[type]) -> BoolArray | None:
    """Per value: its type is exactly one of `types` (bool is not int here: pydantic would coerce it);
    None when all are (the usual case, decided without a per-value loop)."""
    if set(map(type, values)) <= types:
        return None
    return np.array([type(v) in types for v in values], dtype=bool)


_STR, _INT, _NUMBER = frozenset({str}), frozenset({int}), frozenset({int, float})
_HEX_VALUE = re.compile(r"[0-9a-f]{2,128}")  # `Hex` of reports.py, matched in full (no trailing newline)


def _text_ok(values: list[Any], typed: BoolArray | None, rule: Callable[[str], bool]) -> BoolArray | None:
    """Per value: a str (per `typed`) meeting `rule`; the rule runs once per distinct value (a beacon's
    entropy and payload recur in all its witnesses); None when every value passes."""
    if typed is None:
        failing = {v for v in set(values) if not rule(v)}
        return np.array([v not in failing for v in values], dtype=bool) if failing else None
    flags = typed.tolist()
    failing = {v for v in {v for v, t in zip(values, flags, strict=True) if t} if not rule(v)}
    if not failing:
        return typed
    return np.array([t and v not in failing for v, t in zip(values, flags, strict=True)], dtype=bool)


def _number_ok(
    values: list[Any], typed: BoolArray | None, dtype: type[np.generic], low: float, high: float
) -> BoolArray | None:
    """Per value: a number of the declared type (per `typed`) within [low, high] (NaN is not); None when
    every value passes."""
    present = (
        values if typed is None else [v if t else 0 for v, t in zip(values, typed.tolist(), strict=True)]
    )
    try:
        array = np.array(present, dtype=dtype)
    except OverflowError:  # beyond the machine type: left to pydantic
        limit = _INT_LIMIT if dtype is np.int64 else 1e308
        fits = np.array([-limit < v < limit for v in present], dtype=bool)
        present = [v if f else 0 for v, f in zip(present, fits.tolist(), strict=True)]
        typed = fits if typed is None else typed & fits
        array = np.array(present, dtype=dtype)
    within = (array >= low) & (array <= high)
    if typed is not None:
        within &= typed
    return None if within.all() else within


def _plainly_valid(columns: list[list[Any]]) -> BoolArray:
    """Per row: every field has the type `WitnessPayload` declares and meets its constraint, so that
    validating it would return the values unchanged (ints as floats where the field is a float; ints
    beyond ±2⁶² are left to pydantic)."""
    beaconer, entropy, data, region, frequency, rssi, snr, rx = columns
    masks = [
        _text_ok(beaconer, _typed(beaconer, _STR), lambda v: len(v) >= 1),
        _text_ok(entropy, _typed(entropy, _STR), lambda v: _HEX_VALUE.fullmatch(v) is not None),
        _text_ok(data, _typed(data, _STR), lambda v: _HEX_VALUE.fullmatch(v) is not None),
        _text_ok(region, _typed(region, _STR), lambda v: 1 <= len(v) <= 16),
        _number_ok(frequency, _typed(frequency, _INT), np.int64, 1, _INT_LIMIT),
        _number_ok(rssi, _typed(rssi, _NUMBER), np.float64, -200.0, 50.0),
        _number_ok(snr, _typed(snr, _NUMBER), np.float64, -50.0, 50.0),
        _number_ok(rx, _typed(rx, _INT), np.int64, 0, _INT_LIMIT),
    ]
    ok = np.ones(len(beaconer), dtype=bool)
    for mask in masks:
        if mask is not None:
            ok &= mask
    return ok


def parse_witness_columns(reports: Sequence[ReportRecord], verdicts: dict[str, Verdict]) -> WitnessColumns:
    """The witnesses as columns; a malformed one gets `witness.malformed` (with pydantic's error count, as
    `matching._parse_witnesses` gives it) and no row."""
    meta = [(r.report_id, r.device_id, r.received_at, r.payload) for r in reports]
    report_ids, device_ids, arrivals, payloads = (
        (list(column) for column in zip(*meta, strict=True)) if meta else ([], [], [], [])
    )
    shaped = [type(p) is dict and p.keys() == _FIELD_SET for p in payloads]
    empty = (None,) * len(FIELDS)
    rows = [_GET_FIELDS(p) if s else empty for p, s in zip(payloads, shaped, strict=True)]
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in FIELDS]
    valid = _plainly_valid(columns) & np.array(shaped, dtype=bool)
    keep = valid.copy()
    for row in np.flatnonzero(~valid).tolist():
        try:
            payload = WitnessPayload.model_validate(dict(payloads[row]))
        except ValidationError as error:
            verdicts[report_ids[row]] = Verdict(
                report_ids[row], "witness.malformed", {"errors": error.error_count()}
            )
            continue
        keep[row] = True
        for column, name in zip(columns, FIELDS, strict=True):
            column[row] = getattr(payload, name)
    kept_reports = list(reports)
    if not keep.all():  # (usually every witness is well formed: no copies then)
        chosen = np.flatnonzero(keep).tolist()
        columns = [[column[row] for row in chosen] for column in columns]
        kept_reports = [kept_reports[row] for row in chosen]
        report_ids = [report_ids[row] for row in chosen]
        device_ids = [device_ids[row] for row in chosen]
        arrivals = [arrivals[row] for row in chosen]
    picked = columns
    frequency, frequency_big = _int_array(picked[4])
    rx, rx_big = _int_array(picked[7])
    received, received_big = _int_array(arrivals)
    return WitnessColumns(
        reports=kept_reports,
        report_id=report_ids,
        device_id=device_ids,
        received_at=received,
        beaconer=picked[0],
        entropy=picked[1],
        data=picked[2],
        region=picked[3],
        frequency=picked[4],
        rssi_dbm=[float(v) for v in picked[5]],
        snr_db=[float(v) for v in picked[6]],
        rx=picked[7],
        frequency_hz=frequency,
        rx_ms=rx,
        oversized=frequency_big | rx_big | received_big,
    )


def _int_array(values: list[int]) -> tuple[IntArray, BoolArray]:
    """The ints as an int64 array, those beyond ±2⁶² as 0, and which those were."""
    try:
        array = np.array(values, dtype=np.int64)
    except OverflowError:
        array = np.array([v if -_INT_LIMIT < v < _INT_LIMIT else 0 for v in values], dtype=np.int64)
        big = np.array([not -_INT_LIMIT < v < _INT_LIMIT for v in values], dtype=bool)
        return array, big
    big = (array <= -_INT_LIMIT) | (array >= _INT_LIMIT)
    array[big] = 0
    return array, big


@dataclass(slots=True)
class _Matched:
    """Rows whose cited beacon is valid and whose witness passed the device checks, with that beacon."""

    rows: IntArray
    beacons: list[BeaconEntry]
    group: IntArray
    witness: IntArray
    """Each row's witness as its position in `DeviceColumns.ids`."""
    whole: dict[tuple[str, str], list[tuple[ReportRecord, WitnessPayload]]]
    """Beacons with an oversized witness: all their witnesses, for `matching.process_witness_group`."""


def match_to_beacons(
    columns: WitnessColumns,
    devices: Mapping[str, DeviceInfo],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    cited: set[tuple[str, str]],
    verdicts: dict[str, Verdict],
    params: PocParams,
    index: Mapping[str, int],
) -> _Matched:
    """Each witness to the beacon it cites (`witness.no_beacon` / `witness.beacon_invalid` when none is
    valid), then the device checks (`check_witness_device`); the witnesses that pass are recorded in their
    beacon's `reported_by` in report order. A beacon with an oversized witness, or whose own transmit time
    or frequency is beyond ±2⁶², is left whole to the reference."""
    whole: dict[tuple[str, str], list[tuple[ReportRecord, WitnessPayload]]] = {
        (columns.beaconer[row], columns.entropy[row]): []
        for row in np.flatnonzero(columns.oversized).tolist()
    }
    for key, sent in beacons.items():
        if not (
            -_INT_LIMIT < sent.payload.tx_ms < _INT_LIMIT
            and -_INT_LIMIT < sent.payload.frequency_hz < _INT_LIMIT
        ):
            whole[key] = []
    denylist = set(params.denylist)
    denied = {tuple(edge) for edge in params.denied_edges}
    screened = bool(denylist or denied)
    group_of: dict[int, int] = {}
    ordered: list[BeaconEntry] = []
    rows: list[int] = []
    groups: list[int] = []
    witnesses: list[int] = []
    for row, (report_id, witness, beaconer, entropy) in enumerate(
        zip(columns.report_id, columns.device_id, columns.beaconer, columns.entropy, strict=True)
    ):
        key = (beaconer, entropy)
        beacon = beacons.get(key)
        if beacon is None:
            reason = "witness.beacon_invalid" if key in cited else "witness.no_beacon"
            verdicts[report_id] = Verdict(report_id, reason, {"beaconer": beaconer})
            continue
        if key in whole:
            whole[key].append((columns.reports[row], columns.payload(row)))
            continue
        info = devices.get(witness)
        if (
            info is None
            or info.location is None
            or witness == beaconer
            or (screened and (witness in denylist or (beaconer, witness) in denied))
        ):
            reason, evidence = check_witness_device(witness, beaconer, devices, params)
            verdicts[report_id] = Verdict(report_id, reason, evidence)
            continue
        beacon.reported_by.append(witness)
        group = group_of.get(id(beacon))
        if group is None:
            group = group_of[id(beacon)] = len(ordered)
            ordered.append(beacon)
        rows.append(row)
        groups.append(group)
        witnesses.append(index[witness])
    return _Matched(
        np.array(rows, dtype=np.int64),
        ordered,
        np.array(groups, dtype=np.int64),
        np.array(witnesses, dtype=np.int64),
        whole,
    )


@dataclass(frozen=True, slots=True)
class DeviceColumns:
    """The located devices as arrays, each figure a witness check needs computed once per device: cell
    centre (quantised, as `geo.get_cell_center` gives it), H3 ancestor for grid distances, antenna gain."""

    ids: list[str]
    lat: npt.NDArray[np.float64]
    lng: npt.NDArray[np.float64]
    ancestor: list[int]
    gain_dbi: npt.NDArray[np.float64]

    @staticmethod
    def build(devices: Mapping[str, DeviceInfo], params: PocParams) -> DeviceColumns:
        ids = [d for d, info in devices.items() if info.location is not None]
        cells = [devices[d].location or "" for d in ids]
        centres = np.array([get_cell_center(c) for c in cells], dtype=np.float64).reshape(-1, 2)
        resolution = params.witness_distance_resolution
        return DeviceColumns(
            ids,
            centres[:, 0].copy(),
            centres[:, 1].copy(),
            [get_ancestor_index(c, resolution) for c in cells],
            np.array([get_gain_dbi(devices[d], params) for d in ids], dtype=np.float64),
        )


def _first_per_group(values: IntArray, group: IntArray, groups: int) -> IntArray:
    """Per group, the smallest value (the groups' rows in any order)."""
    smallest = np.full(groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(smallest, group, values)
    return smallest


def process_witness_columns(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    cited: set[tuple[str, str]],
    params: PocParams,
) -> dict[str, Verdict]:
    """`matching.process_witnesses` over columns: the same verdicts and the same beacon entries."""
    verdicts: dict[str, Verdict] = {}
    columns = parse_witness_columns(reports, verdicts)
    located = DeviceColumns.build(devices, params)
    index = {d: i for i, d in enumerate(located.ids)}
    matched = match_to_beacons(columns, devices, beacons, cited, verdicts, params, index)
    for key, members in matched.whole.items():
        if members:
            verdicts.update(process_witness_group(members, beacons[key], devices, entropies[key[1]], params))
    if not len(matched.rows):
        return verdicts
    rows, group = matched.rows, matched.group
    first_rx = _first_per_group(columns.rx_ms[rows], group, len(matched.beacons))
    row_list = rows.tolist()
    order = (
        pl.DataFrame(
            {
                "group": group,
                "rx_ms": columns.rx_ms[rows],
                "received_at": columns.received_at[rows],
                "report_id": [columns.report_id[r] for r in row_list],
                "witness": matched.witness,
            }
        )
        .with_row_index("position")
        .sort(["group", "rx_ms", "received_at", "report_id"])
    )
    unique = order.select(pl.struct("group", "witness").is_first_distinct()).to_series().to_numpy()
    position = order["position"].to_numpy()
    for at in position[~unique].tolist():
        report_id = columns.report_id[row_list[at]]
        beaconer = matched.beacons[int(group[at])].report.device_id
        verdicts[report_id] = Verdict(report_id, "witness.duplicate", {"beaconer": beaconer})
    chosen = position[unique]
    _check_links(columns, matched, chosen, first_rx, located, index, devices, entropies, verdicts, params)
    return verdicts


def _check_links(
    columns: WitnessColumns,
    matched: _Matched,
    position: IntArray,
    first_rx: IntArray,
    located: DeviceColumns,
    index: Mapping[str, int],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    verdicts: dict[str, Verdict],
    params: PocParams,
) -> None:
    """The report-level checks of the first witness of each device per beacon (`position`: into the
    matched rows, in each beacon's receive order), on arrays; failures judged by `check_witness`."""
    rows = matched.rows[position]
    group = matched.group[position]
    beacons = matched.beacons
    payloads = [b.payload for b in beacons]
    beaconer_ids = [b.report.device_id for b in beacons]
    w = matched.witness[position]
    b = np.array([index[d] for d in beaconer_ids], dtype=np.int64)[group]

    row_list = rows.tolist()
    received = columns.received_at[rows]
    entropy_ts = np.array([entropies[p.entropy] for p in payloads], dtype=np.int64)[group]
    age = received - entropy_ts
    rx = columns.rx_ms[rows]
    lag = rx - np.array([p.tx_ms for p in payloads], dtype=np.int64)[group]
    after_first = rx - first_rx[group]
    offset = columns.frequency_hz[rows] - np.array([p.frequency_hz for p in payloads], dtype=np.int64)[group]
    data, region = columns.data, columns.region
    group_list = group.tolist()
    same_data = np.array([data[r] == payloads[g].data for r, g in zip(row_list, group_list, strict=True)])
    same_region = np.array(
        [region[r] == payloads[g].region for r, g in zip(row_list, group_list, strict=True)]
    )
    distance = np.asarray(
        compute_haversine_m(located.lat[w], located.lng[w], located.lat[b], located.lng[b]), dtype=np.float64
    )
    frequency = np.array([float(p.frequency_hz) for p in payloads], dtype=np.float64)[group]
    fspl = compute_fspl_db(distance, frequency)
    tx_power = np.array([p.tx_power_dbm for p in payloads], dtype=np.float64)[group]
    max_rssi = tx_power + located.gain_dbi[b] - fspl + located.gain_dbi[w]
    rssi_list = [columns.rssi_dbm[r] for r in row_list]
    rssi = np.array(rssi_list, dtype=np.float64)
    ancestor = located.ancestor
    cells = np.array(
        [_grid_distance(ancestor[i], ancestor[j]) for i, j in zip(w.tolist(), b.tolist(), strict=True)],
        dtype=np.int64,
    )
    passes = (
        (age >= 0)
        & (age <= params.entropy_lifespan_s)
        & (lag <= params.max_witness_lag_ms)
        & (after_first <= params.max_lag_after_first_ms)
        & same_data
        & (np.abs(offset) <= params.max_frequency_offset_hz)
        & same_region
        & (cells >= params.min_witness_distance_cells)
        & (distance <= params.max_witness_distance_m)
        & (rssi <= max_rssi)
    )
    distance_list, fspl_list = distance.tolist(), fspl.tolist()
    agreed: dict[int, WitnessEntry] = {}
    for k in np.flatnonzero(~passes).tolist():
        report, beacon = columns.reports[row_list[k]], beacons[group_list[k]]
        beaconer = beacon.report.device_id
        context = BeaconContext(devices[beaconer], beacon.payload, int(first_rx[group_list[k]]))
        payload = columns.payload(row_list[k])
        reason, facts = check_witness(
            payload,
            report.received_at,
            int(entropy_ts[k]),
            devices[report.device_id],
            context,
            params,
            LinkGeometry(distance_list[k], fspl_list[k]),
        )
        verdicts[report.report_id] = Verdict(report.report_id, reason, {"beaconer": beaconer, **facts})
        entry = WitnessEntry.of(report, payload.rssi_dbm, payload.rx_ms, facts.get("distance_m", 0.0))
        if reason == OK:  # cannot happen while the arrays and the reference agree; the reference decides
            agreed[k] = entry
        elif reason in CLOSE_REASONS:
            beacon.close.append(entry)
    good = np.flatnonzero(passes)
    shown = round_like_python(distance[good], 1)
    good_group = group[good]
    evidence = [
        {
            "beaconer": by,
            "distance_m": dm,
            "cell_distance": cd,
            "rssi_dbm": rs,
            "max_rssi_dbm": mr,
            "fspl_db": fs,
            "frequency_offset_hz": fo,
            "lag_ms": lg,
            "lag_after_first_ms": la,
        }
        for by, dm, cd, rs, mr, fs, fo, lg, la in zip(
            [beaconer_ids[g] for g in good_group.tolist()],
            shown,
            np.minimum(cells[good], 10**6).tolist(),
            rssi[good].tolist(),
            round_like_python(max_rssi[good], 2),
            round_like_python(fspl[good], 2),
            offset[good].tolist(),
            lag[good].tolist(),
            after_first[good].tolist(),
            strict=True,
        )
    ]
    good_rows = rows[good].tolist()
    report_ids = [columns.report_id[r] for r in good_rows]
    verdicts.update(zip(report_ids, map(Verdict, report_ids, repeat(OK), evidence), strict=True))
    entries = list(
        map(
            WitnessEntry,
            report_ids,
            [columns.device_id[r] for r in good_rows],
            columns.received_at[rows[good]].tolist(),
            rssi[good].tolist(),
            rx[good].tolist(),
            shown,
        )
    )
    if agreed:  # rare: merge the reference's valid ones in receive order
        merged = {**dict(zip(good.tolist(), entries, strict=True)), **agreed}
        for k in sorted(merged):
            beacons[group_list[k]].witnesses.append(merged[k])
        return
    starts = np.flatnonzero(np.concatenate([[True], good_group[1:] != good_group[:-1]])).tolist()
    for start, stop in zip(starts, [*starts[1:], len(entries)], strict=True):
        beacons[int(good_group[start])].witnesses.extend(entries[start:stop])


def _grid_distance(a: int, b: int) -> int:
    """`geo.compute_cell_distance` of two ancestors already at the witness-distance resolution."""
    try:
        return int(h3_int.grid_distance(a, b))
    except h3.H3BaseException:
        return FAR_CELLS
