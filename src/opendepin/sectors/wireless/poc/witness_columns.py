"""The witness rules of an epoch over columns: what `matching.process_witnesses` decides, for every witness
of the epoch at once.

`matching.process_witnesses` (with `rules_witness.check_witness_device` and `check_witness`) stays the
reference and the documentation of each rule; this module computes the same verdicts, the same evidence and
the same `BeaconEntry` lists (`reported_by`, `witnesses`, `close`) in the same order, with the checks that
nearly every witness passes done as array operations (tests/sectors/wireless/poc/test_poc_witness_columns.py
compares the two on random epochs, malformed and hostile reports included):

- payloads are checked column by column against `WitnessPayload`'s constraints (`witness_parse.py`); a
  payload that is not plainly valid goes through `WitnessPayload` itself;
- the order inside a beacon's witnesses (receive time, then arrival, then report id), first receive time
  and duplicates are computed for all beacons at once;
- the report-level checks (entropy freshness, lateness, payload, frequency offset, region, distance, RSSI
  plausibility) run on arrays; a witness that fails any of them, or stands too close, is judged again by
  `check_witness` itself, so that every rejection's reason and evidence are the reference's own;
- the evidence of a valid witness is assembled from the arrays, its decimals rounded like Python's `round`
  (`detmath.round_like_python`).

It works in two steps (`judge_witness_columns`, then `WitnessJudgement.record_valid`): every rejection is
decided first, and the valid witnesses' verdicts and entries are made last. In between, the valid
witnesses are already known as link rows (`WitnessJudgement.valid_links`): `evaluate_poc` starts trust
from them (tests/sectors/wireless/poc/test_poc_link_rows.py: the same link table as from the lists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat

import h3
import h3.api.basic_int as h3_int
import numpy as np
import numpy.typing as npt
import polars as pl

from opendepin import background
from opendepin.arrays import int64_or_zero, is_in
from opendepin.detmath import round_like_python
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, DeviceInfo, Verdict
from opendepin.sectors.wireless.poc.evidence import ValidLinks
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
    make_entries,
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
from opendepin.sectors.wireless.poc.witness_parse import WitnessColumns, parse_witness_columns

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
    sent = [b.payload for b in beacons.values()]
    _, late = int64_or_zero([p.tx_ms for p in sent])
    _, high = int64_or_zero([p.frequency_hz for p in sent])
    whole.update((key, []) for key, big in zip(beacons, (late | high).tolist(), strict=True) if big)
    ordered = list(beacons.values())
    position = {key: k for k, key in enumerate(beacons)}
    keys = list(zip(columns.beaconer, columns.entropy, strict=True))
    group = np.array([position.get(key, -1) for key in keys], dtype=np.int64)
    witness = np.array([index.get(device, -1) for device in columns.device_id], dtype=np.int64)
    beaconer = np.array([index.get(b.report.device_id, -2) for b in ordered], dtype=np.int64)
    cites = group >= 0
    held = cites & is_in(group, np.array([position[key] for key in whole if key in position], dtype=np.int64))
    candidate = cites & ~held
    # unknown or not located (no index), or its own beacon: the reference says which
    doubtful = candidate & ((witness < 0) | (witness == beaconer[np.maximum(group, 0)]))
    if params.denylist or params.denied_edges:
        denylist, denied = set(params.denylist), {tuple(edge) for edge in params.denied_edges}
        doubtful |= candidate & np.array(
            [w in denylist or (key[0], w) in denied for w, key in zip(columns.device_id, keys, strict=True)],
            dtype=bool,
        )
    for row in np.flatnonzero(~cites).tolist():
        report_id, key = columns.report_id[row], keys[row]
        reason = "witness.beacon_invalid" if key in cited else "witness.no_beacon"
        verdicts[report_id] = Verdict(report_id, reason, {"beaconer": key[0]})
    for row in np.flatnonzero(held).tolist():
        whole[keys[row]].append((columns.reports[row], columns.payload(row)))
    for row in np.flatnonzero(doubtful).tolist():
        reason, evidence = check_witness_device(columns.device_id[row], keys[row][0], devices, params)
        verdicts[columns.report_id[row]] = Verdict(columns.report_id[row], reason, evidence)
    rows = np.flatnonzero(candidate & ~doubtful)
    _record_reporters(ordered, group[rows], [columns.device_id[r] for r in rows.tolist()])
    return _Matched(rows, ordered, group[rows], witness[rows], whole)


def _record_reporters(beacons: list[BeaconEntry], group: IntArray, devices: list[str]) -> None:
    """Each beacon's `reported_by`: the devices of its rows, in report order (rows given in report order)."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    order_list = order.tolist()
    for value, start, stop in _runs(sorted_group):
        beacons[value].reported_by.extend([devices[k] for k in order_list[start:stop]])


def _runs(values: IntArray) -> list[tuple[int, int, int]]:
    """(value, start, stop) of each run of equal values (none for no values)."""
    if len(values) == 0:
        return []
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]])).tolist()
    stops = [*starts[1:], len(values)]
    return [(int(values[start]), start, stop) for start, stop in zip(starts, stops, strict=True)]


@dataclass(frozen=True, slots=True)
class DeviceColumns:
    """The located devices as arrays (in ascending id order, as the link table numbers them), each figure a
    witness check needs computed once per device: cell centre (quantised, as `geo.get_cell_center` gives
    it), H3 ancestor for grid distances, antenna gain."""

    ids: list[str]
    lat: npt.NDArray[np.float64]
    lng: npt.NDArray[np.float64]
    ancestor: list[int]
    gain_dbi: npt.NDArray[np.float64]

    @staticmethod
    def build(devices: Mapping[str, DeviceInfo], params: PocParams) -> DeviceColumns:
        ids = sorted(d for d, info in devices.items() if info.location is not None)
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


@dataclass(slots=True)
class WitnessJudgement:
    """The witness rules' verdicts so far (every rejection), and what the valid witnesses' verdicts and
    entries are then made of (`record_valid`). Between the two, `valid_links` gives the valid witnesses as
    link rows, so that what reads only those (the link table, trust) may start before the entries exist."""

    verdicts: dict[str, Verdict]
    columns: WitnessColumns
    matched: _Matched
    links: _Links | None
    """The rows checked on arrays (None: no witness reached the report-level checks)."""
    located: list[str] = field(default_factory=list)
    """The located devices' ids in ascending order (`DeviceColumns.ids`)."""
    agreed: dict[int, WitnessEntry] = field(default_factory=dict)
    valid: ValidLinks | None = None
    recorded: bool = False

    def valid_links(self) -> ValidLinks | None:
        """The valid witnesses as link rows, in the order `record_valid` puts them in their beacons' lists;
        None when the arrays do not hold every list (a beacon judged whole by the reference, a link the
        reference found valid): read the lists after `record_valid` then."""
        if self.agreed or any(self.matched.whole.values()):
            return None
        if self.links is None:
            empty = np.zeros(0, dtype=np.float64)
            return ValidLinks(np.zeros(0, dtype=np.int64), [], [], empty, empty, empty)
        return self._rows(self.links)

    def record_valid(self) -> dict[str, Verdict]:
        """The valid witnesses' verdicts and their beacons' witness lists (once); returns every verdict."""
        if not self.recorded and self.links is not None:
            valid = self._rows(self.links)
            _record_valid(self.columns, self.links, self.matched, self.agreed, valid, self.verdicts)
        self.recorded = True
        return self.verdicts

    def _rows(self, links: _Links) -> ValidLinks:
        """The links that pass every array check as rows (gathered once)."""
        if self.valid is None:
            self.valid = _valid_rows(self.columns, links, self.matched, self.located)
        return self.valid


def judge_witness_columns(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    cited: set[tuple[str, str]],
    params: PocParams,
) -> WitnessJudgement:
    """`matching.process_witnesses` over columns, up to the valid witnesses' verdicts and entries (every
    rejection decided, the beacons' `reported_by` and `close` lists complete)."""
    verdicts: dict[str, Verdict] = {}
    columns = parse_witness_columns(reports, verdicts)
    located = DeviceColumns.build(devices, params)
    index = {d: i for i, d in enumerate(located.ids)}
    matched = match_to_beacons(columns, devices, beacons, cited, verdicts, params, index)
    for key, members in matched.whole.items():
        if members:
            verdicts.update(process_witness_group(members, beacons[key], devices, entropies[key[1]], params))
    if not len(matched.rows):
        return WitnessJudgement(verdicts, columns, matched, None, located.ids)
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
    links = _link_arrays(columns, matched, position[unique], first_rx, located, index, entropies, params)
    agreed = _judge_failures(columns, links, matched, first_rx, devices, verdicts, params)
    return WitnessJudgement(verdicts, columns, matched, links, located.ids, agreed)


def process_witness_columns(
    reports: Sequence[ReportRecord],
    devices: Mapping[str, DeviceInfo],
    entropies: Mapping[str, int],
    beacons: Mapping[tuple[str, str], BeaconEntry],
    cited: set[tuple[str, str]],
    params: PocParams,
) -> dict[str, Verdict]:
    """`matching.process_witnesses` over columns: the same verdicts and the same beacon entries."""
    return judge_witness_columns(reports, devices, entropies, beacons, cited, params).record_valid()


@dataclass(frozen=True, slots=True)
class _Links:
    """The first witness of each device per beacon, in each beacon's receive order: every figure the
    report-level checks read, and whether it passes them all (`passes`)."""

    rows: IntArray
    group: IntArray
    witness: IntArray
    """Each link's witness as its position in `DeviceColumns.ids`."""
    entropy_ts: IntArray
    rx: IntArray
    lag: IntArray
    after_first: IntArray
    offset: IntArray
    distance: FloatArray
    fspl: FloatArray
    max_rssi: FloatArray
    rssi: FloatArray
    cells: IntArray
    passes: BoolArray


def _link_arrays(
    columns: WitnessColumns,
    matched: _Matched,
    position: IntArray,
    first_rx: IntArray,
    located: DeviceColumns,
    index: Mapping[str, int],
    entropies: Mapping[str, int],
    params: PocParams,
) -> _Links:
    """`check_witness`'s figures and checks for the rows at `position` (into the matched rows), on arrays."""
    rows, group = matched.rows[position], matched.group[position]
    payloads = [b.payload for b in matched.beacons]
    w = matched.witness[position]
    b = np.array([index[b.report.device_id] for b in matched.beacons], dtype=np.int64)[group]
    row_list, group_list = rows.tolist(), group.tolist()
    entropy_ts = np.array([entropies[p.entropy] for p in payloads], dtype=np.int64)[group]
    age = columns.received_at[rows] - entropy_ts
    rx = columns.rx_ms[rows]
    lag = rx - int64_or_zero([p.tx_ms for p in payloads])[0][group]  # beacons beyond ±2⁶² have no rows
    after_first = rx - first_rx[group]
    offset = columns.frequency_hz[rows] - int64_or_zero([p.frequency_hz for p in payloads])[0][group]
    # the distances are array arithmetic (numpy releases the GIL in its loops): on a thread of their own,
    # while this one compares strings and asks H3 for grid distances one pair at a time
    distances = background.start(
        compute_haversine_m, located.lat[w], located.lng[w], located.lat[b], located.lng[b]
    )
    pairs = list(zip(row_list, group_list, strict=True))
    same_data = np.array([columns.data[r] == payloads[g].data for r, g in pairs], dtype=bool)
    same_region = np.array([columns.region[r] == payloads[g].region for r, g in pairs], dtype=bool)
    cells = compute_grid_distances(located.ancestor, w, b)
    distance = np.asarray(distances.result(), dtype=np.float64)
    fspl = compute_fspl_db(distance, np.array([float(p.frequency_hz) for p in payloads])[group])
    tx_power = np.array([p.tx_power_dbm for p in payloads], dtype=np.float64)[group]
    max_rssi = tx_power + located.gain_dbi[b] - fspl + located.gain_dbi[w]
    rssi = columns.rssi_dbm[rows]
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
    return _Links(
        rows,
        group,
        w,
        entropy_ts,
        rx,
        lag,
        after_first,
        offset,
        distance,
        fspl,
        max_rssi,
        rssi,
        cells,
        passes,
    )


def _judge_failures(
    columns: WitnessColumns,
    links: _Links,
    matched: _Matched,
    first_rx: IntArray,
    devices: Mapping[str, DeviceInfo],
    verdicts: dict[str, Verdict],
    params: PocParams,
) -> dict[int, WitnessEntry]:
    """Every link that fails an array check judged by `check_witness` itself (its reason and evidence are
    the verdict; too-close ones join their beacon's `close`); returns those it finds valid, by link."""
    agreed: dict[int, WitnessEntry] = {}
    row_list, group_list = links.rows.tolist(), links.group.tolist()
    distance, fspl = links.distance.tolist(), links.fspl.tolist()
    for k in np.flatnonzero(~links.passes).tolist():
        report, beacon = columns.reports[row_list[k]], matched.beacons[group_list[k]]
        beaconer = beacon.report.device_id
        context = BeaconContext(devices[beaconer], beacon.payload, int(first_rx[group_list[k]]))
        payload = columns.payload(row_list[k])
        reason, facts = check_witness(
            payload,
            report.received_at,
            int(links.entropy_ts[k]),
            devices[report.device_id],
            context,
            params,
            LinkGeometry(distance[k], fspl[k]),
        )
        verdicts[report.report_id] = Verdict(report.report_id, reason, {"beaconer": beaconer, **facts})
        entry = WitnessEntry.of(report, payload.rssi_dbm, payload.rx_ms, facts.get("distance_m", 0.0))
        if reason == OK:  # cannot happen while the arrays and the reference agree; the reference decides
            agreed[k] = entry
        elif reason in CLOSE_REASONS:
            beacon.close.append(entry)
    return agreed


def _valid_rows(columns: WitnessColumns, links: _Links, matched: _Matched, located: list[str]) -> ValidLinks:
    """The links that pass every array check as link rows, in receive order per beacon, with the device
    indexes of `located` (the witnesses', and every counted reporter's)."""
    good = np.flatnonzero(links.passes)
    rows = links.rows[good].tolist()
    return ValidLinks(
        beacon=links.group[good],
        report_id=list(map(columns.report_id.__getitem__, rows)),
        device_id=list(map(columns.device_id.__getitem__, rows)),
        rssi_dbm=links.rssi[good],
        distance_m=np.array(round_like_python(links.distance[good], 1), dtype=np.float64),
        lag_ms=links.lag[good].astype(np.float64),
        located=located,
        witness=links.witness[good],
        reporter_beacon=matched.group,
        reporter=matched.witness,
    )


def _record_valid(
    columns: WitnessColumns,
    links: _Links,
    matched: _Matched,
    agreed: Mapping[int, WitnessEntry],
    valid: ValidLinks,
    verdicts: dict[str, Verdict],
) -> None:
    """The links that pass every check (`valid`): their verdicts (the reference's evidence, assembled from
    the arrays) and their beacons' witness lists, in receive order (with any `agreed` by the reference among
    them)."""
    good = np.flatnonzero(links.passes)
    group = valid.beacon
    shown = valid.distance_m.tolist()
    beaconers = [b.report.device_id for b in matched.beacons]
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
            [beaconers[g] for g in group.tolist()],
            shown,
            np.minimum(links.cells[good], 10**6).tolist(),
            valid.rssi_dbm.tolist(),
            round_like_python(links.max_rssi[good], 2),
            round_like_python(links.fspl[good], 2),
            links.offset[good].tolist(),
            links.lag[good].tolist(),
            links.after_first[good].tolist(),
            strict=True,
        )
    ]
    report_ids = valid.report_id
    verdicts.update(zip(report_ids, map(Verdict, report_ids, repeat(OK), evidence), strict=True))
    entries = make_entries(
        report_ids,
        valid.device_id,
        columns.received_at[links.rows[good]].tolist(),
        valid.rssi_dbm.tolist(),
        links.rx[good].tolist(),
        shown,
    )
    if agreed:  # rare: merge the reference's valid ones in receive order
        merged = {**dict(zip(good.tolist(), entries, strict=True)), **agreed}
        group_list = links.group.tolist()
        for k in sorted(merged):
            matched.beacons[group_list[k]].witnesses.append(merged[k])
        return
    for value, start, stop in _runs(group):
        matched.beacons[value].witnesses.extend(entries[start:stop])


def compute_grid_distances(ancestor: list[int], left: IntArray, right: IntArray) -> IntArray:
    """`geo.compute_cell_distance` of each pair of devices (positions into `ancestor`, their H3 ancestors
    at the witness-distance resolution): H3's grid distance, `FAR_CELLS` where H3 cannot say."""
    a = list(map(ancestor.__getitem__, left.tolist()))
    b = list(map(ancestor.__getitem__, right.tolist()))
    try:
        found = list(map(h3_int.grid_distance, a, b))
    except h3.H3BaseException:  # some pair is too far apart: one pair at a time then
        found = list(map(_grid_distance, a, b))
    return np.array(found, dtype=np.int64)


def _grid_distance(a: int, b: int) -> int:
    """`geo.compute_cell_distance` of two ancestors already at the witness-distance resolution."""
    try:
        return int(h3_int.grid_distance(a, b))
    except h3.H3BaseException:
        return FAR_CELLS
