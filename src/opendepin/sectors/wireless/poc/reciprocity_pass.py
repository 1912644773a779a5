"""HIP-106 reciprocity over an epoch's valid beacons and witnesses: who did both, recently.

`process_reciprocity` is the reference, written beacon by beacon and witness by witness with the rules of
`reciprocity.py`. `process_reciprocity_columns` gives the same result with the per-witness steps (2.5
million witnesses at 100,000 hotspots) on arrays: each device's latest valid witness, then each witness's
check against its device's latest witnessed beacon. Only the rare witness that fails gets a verdict
object, as in the reference. Times that do not fit int64 with room to subtract (the carried state is
JSON, so any value can arrive) send the whole epoch to the reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import chain, compress
from operator import attrgetter
from typing import Any

import numpy as np

from opendepin.arrays import INT64_SAFE, int64_or_zero, unique_sorted
from opendepin.sectors.base import Verdict
from opendepin.sectors.wireless.poc.matching import BeaconEntry
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reciprocity import (
    get_last,
    is_beacon_reciprocal,
    is_witness_reciprocal,
)

LastTimes = dict[str, int]
"""Per device, the latest time of a qualifying event (valid witness, or witnessed beacon)."""


def process_reciprocity(
    beacons: Mapping[tuple[str, str], BeaconEntry],
    verdicts: dict[str, Verdict],
    prior: Mapping[str, Any],
    params: PocParams,
) -> tuple[LastTimes, LastTimes]:
    """HIP-106 on the rule-valid links; returns this epoch's last valid witness / witnessed beacon times.

    A beacon whose beaconer has no valid witness within the window is `beacon.not_reciprocal` and takes
    its witnesses with it (`witness.beacon_not_reciprocal`); a witness whose device has no witnessed beacon
    within the window is `witness.not_reciprocal`. Both drop out of the beacon's witness list."""
    last_w: LastTimes = {}
    last_b: LastTimes = {}
    for beacon in beacons.values():
        if not beacon.witnesses:
            continue
        for witness in beacon.witnesses:
            device, at = witness.device_id, witness.received_at
            seen = last_w.get(device, 0)
            last_w[device] = at if at > seen else seen
        device, at = beacon.report.device_id, beacon.report.received_at
        seen = last_b.get(device, 0)
        last_b[device] = at if at > seen else seen
    window = params.reciprocity_window_s
    prior_w, prior_b = prior.get("last_witness", {}), prior.get("last_beacon", {})
    latest_b = {**prior_b, **last_b}  # get_last for every device at once: this epoch's, else carried
    for beacon in beacons.values():
        beaconer, at = beacon.report.device_id, beacon.report.received_at
        last = get_last(prior_w, last_w, beaconer)
        if not is_beacon_reciprocal(last, at, window):
            _refuse_beacon(beacon, verdicts, last, window)
            continue
        kept = []
        for witness in beacon.witnesses:
            last = latest_b.get(witness.device_id)
            if is_witness_reciprocal(last, witness.received_at, window):
                kept.append(witness)
            else:
                verdicts[witness.report_id] = _not_reciprocal(witness.report_id, last, window)
        if len(kept) < len(beacon.witnesses):
            beacon.witnesses = kept
    return last_w, last_b


def process_reciprocity_columns(
    beacons: Mapping[tuple[str, str], BeaconEntry],
    verdicts: dict[str, Verdict],
    prior: Mapping[str, Any],
    params: PocParams,
) -> tuple[LastTimes, LastTimes]:
    """`process_reciprocity`, the same verdicts, witness lists and times, with the witnesses as arrays."""
    entries = list(beacons.values())
    witnessed = [beacon for beacon in entries if beacon.witnesses]
    flat = list(chain.from_iterable(beacon.witnesses for beacon in witnessed))
    codes: dict[str, int] = {}  # witness devices numbered in first-seen order, as the reference's dict
    w_code = np.fromiter(
        map(codes.setdefault, map(attrgetter("device_id"), flat), range(len(flat))), np.int64, len(flat)
    )
    w_at, w_big = int64_or_zero(list(map(attrgetter("received_at"), flat)))
    window = params.reciprocity_window_s
    prior_w, prior_b = prior.get("last_witness", {}), prior.get("last_beacon", {})
    if w_big.any() or window >= INT64_SAFE:
        return process_reciprocity(beacons, verdicts, prior, params)
    # codes.setdefault numbered each device by its first row: renumber 0..k-1 in that order
    first_rows = np.fromiter(codes.values(), np.int64, len(codes))
    renumber = np.empty(len(flat), dtype=np.int64)
    renumber[first_rows] = np.arange(len(first_rows))
    w_code = renumber[w_code]
    latest = np.zeros(len(codes), dtype=np.int64)  # the reference starts each device at 0
    np.maximum.at(latest, w_code, w_at)
    last_w = dict(zip(codes, latest.tolist(), strict=True))
    last_b: LastTimes = {}
    for beacon in witnessed:
        device, at = beacon.report.device_id, beacon.report.received_at
        seen = last_b.get(device, 0)
        last_b[device] = at if at > seen else seen
    latest_b = {**prior_b, **last_b}
    known = [latest_b.get(device) for device in codes]
    has_b = np.fromiter((t is not None for t in known), bool, len(known))
    b_time, b_big = int64_or_zero([0 if t is None else t for t in known])
    if b_big.any() or not all(type(t) is int for t in compress(known, has_b.tolist())):
        # a carried time beyond int64, or not an integer at all: compared as Python compares it
        return process_reciprocity(beacons, verdicts, prior, params)
    # is_witness_reciprocal for every witness at once: a witnessed beacon at or after (received - window)
    passes = has_b[w_code] & (b_time[w_code] >= w_at - window)
    lengths = np.fromiter(map(len, map(attrgetter("witnesses"), witnessed)), np.int64, len(witnessed))
    reciprocal = []
    for beacon in witnessed:
        beaconer, at = beacon.report.device_id, beacon.report.received_at
        last = get_last(prior_w, last_w, beaconer)
        reciprocal.append(is_beacon_reciprocal(last, at, window))
        if not reciprocal[-1]:
            _refuse_beacon(beacon, verdicts, last, window)
    # witnesses of reciprocal beacons that fail, with the time their own check saw
    fails = ~passes & np.repeat(np.array(reciprocal, dtype=bool), lengths)
    rows = np.flatnonzero(fails).tolist()
    for witness, last_seen in zip(
        map(flat.__getitem__, rows), map(known.__getitem__, w_code[rows].tolist()), strict=True
    ):
        verdicts[witness.report_id] = _not_reciprocal(witness.report_id, last_seen, window)
    starts = np.cumsum(lengths) - lengths
    for index in unique_sorted(np.repeat(np.arange(len(witnessed)), lengths)[rows]).tolist():
        beacon = witnessed[index]
        keep = passes[starts[index] : starts[index] + lengths[index]].tolist()
        beacon.witnesses = list(compress(beacon.witnesses, keep))
    for beacon in entries:
        if beacon.witnesses:
            continue
        beaconer, at = beacon.report.device_id, beacon.report.received_at
        last = get_last(prior_w, last_w, beaconer)
        if not is_beacon_reciprocal(last, at, window):
            _refuse_beacon(beacon, verdicts, last, window)
    return last_w, last_b


def _refuse_beacon(beacon: BeaconEntry, verdicts: dict[str, Verdict], last: int | None, window: int) -> None:
    """HIP-106: the beacon and every witness of it are refused; the beacon keeps no witnesses."""
    report_id, beaconer = beacon.report.report_id, beacon.report.device_id
    verdicts[report_id] = Verdict(
        report_id, "beacon.not_reciprocal", {"last_valid_witness_ts": last, "window_s": window}
    )
    for witness in beacon.witnesses:
        verdicts[witness.report_id] = Verdict(
            witness.report_id, "witness.beacon_not_reciprocal", {"beaconer": beaconer}
        )
    beacon.witnesses = []


def _not_reciprocal(report_id: str, last: int | None, window: int) -> Verdict:
    evidence = {"last_witnessed_beacon_ts": last, "window_s": window}
    return Verdict(report_id, "witness.not_reciprocal", evidence)
