"""The epoch's witness payloads as columns, checked against `WitnessPayload` column by column: what
`matching._parse_witnesses` decides (a malformed witness gets `witness.malformed` with pydantic's error
count), for every witness at once.

A payload that is plainly valid (every field of the declared type and within its constraint, so that the
model would return the values unchanged) is taken as it is: types are checked per column, each distinct
string once (a beacon's entropy and payload recur in all its witnesses), numbers as numpy arrays. Any
other payload (a missing or extra field, a value pydantic would coerce or refuse, a value out of range)
goes through `WitnessPayload` itself. tests/sectors/wireless/poc/test_poc_witness_columns.py checks that
whatever passes as plainly valid, pydantic accepts unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from opendepin.arrays import INT64_SAFE, int64_or_zero
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import Verdict
from opendepin.sectors.wireless.poc.reports import WitnessPayload

FIELDS = ("beaconer", "entropy", "data", "region", "frequency_hz", "rssi_dbm", "snr_db", "rx_ms")
_FIELD_SET = frozenset(FIELDS)
_GET_FIELDS = itemgetter(*FIELDS)
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
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
    rssi_dbm: FloatArray
    snr_db: FloatArray
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
            rssi_dbm=float(self.rssi_dbm[row]),
            snr_db=float(self.snr_db[row]),
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
        limit = INT64_SAFE if dtype is np.int64 else 1e308
        fits = np.array([-limit < v < limit for v in present], dtype=bool)
        present = [v if f else 0 for v, f in zip(present, fits.tolist(), strict=True)]
        typed = fits if typed is None else typed & fits
        array = np.array(present, dtype=dtype)
    within = (array >= low) & (array <= high)
    if typed is not None:
        within &= typed
    return None if within.all() else within


def find_plainly_valid(columns: list[list[Any]]) -> BoolArray:
    """Per row: every field has the type `WitnessPayload` declares and meets its constraint, so that
    validating it would return the values unchanged (ints as floats where the field is a float; ints
    beyond ±2⁶² are left to pydantic)."""
    beaconer, entropy, data, region, frequency, rssi, snr, rx = columns
    masks = [
        _text_ok(beaconer, _typed(beaconer, _STR), lambda v: len(v) >= 1),
        _text_ok(entropy, _typed(entropy, _STR), lambda v: _HEX_VALUE.fullmatch(v) is not None),
        _text_ok(data, _typed(data, _STR), lambda v: _HEX_VALUE.fullmatch(v) is not None),
        _text_ok(region, _typed(region, _STR), lambda v: 1 <= len(v) <= 16),
        _number_ok(frequency, _typed(frequency, _INT), np.int64, 1, INT64_SAFE),
        _number_ok(rssi, _typed(rssi, _NUMBER), np.float64, -200.0, 50.0),
        _number_ok(snr, _typed(snr, _NUMBER), np.float64, -50.0, 50.0),
        _number_ok(rx, _typed(rx, _INT), np.int64, 0, INT64_SAFE),
    ]
    ok = np.ones(len(beaconer), dtype=bool)
    for mask in masks:
        if mask is not None:
            ok &= mask
    return ok


def _field_columns(payloads: list[Any]) -> tuple[BoolArray, list[list[Any]]]:
    """Per payload, whether it is a dict with exactly the payload model's fields; and each field as a
    column (None where the payload is not so shaped). Usually all are: then each column is read at once."""
    if set(map(type, payloads)) <= {dict} and set(map(len, payloads)) <= {len(FIELDS)}:
        try:
            columns = [list(map(itemgetter(name), payloads)) for name in FIELDS]
        except KeyError:  # a dict of the right size with another key: judged row by row below
            pass
        else:
            return np.ones(len(payloads), dtype=bool), columns
    shaped = [type(p) is dict and p.keys() == _FIELD_SET for p in payloads]
    empty = (None,) * len(FIELDS)
    rows = [_GET_FIELDS(p) if s else empty for p, s in zip(payloads, shaped, strict=True)]
    columns = [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in FIELDS]
    return np.array(shaped, dtype=bool), columns


def parse_witness_columns(reports: Sequence[ReportRecord], verdicts: dict[str, Verdict]) -> WitnessColumns:
    """The witnesses as columns; a malformed one gets `witness.malformed` (with pydantic's error count, as
    `matching._parse_witnesses` gives it) and no row."""
    report_ids, device_ids, arrivals, payloads = (
        list(map(attrgetter(name), reports)) for name in ("report_id", "device_id", "received_at", "payload")
    )
    shaped, columns = _field_columns(payloads)
    valid = find_plainly_valid(columns) & shaped
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
    frequency, frequency_big = int64_or_zero(picked[4])
    rx, rx_big = int64_or_zero(picked[7])
    received, received_big = int64_or_zero(arrivals)
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
        rssi_dbm=np.array(picked[5], dtype=np.float64),  # each as float() converts it
        snr_db=np.array(picked[6], dtype=np.float64),
        rx=picked[7],
        frequency_hz=frequency,
        rx_ms=rx,
        oversized=frequency_big | rx_big | received_big,
    )
