"""The heartbeat rule over columns: `_heartbeat_verdicts` (plugin.py, the reference) for every radio at once.

It implements, with the same numbers, the rules of heartbeat.py: each heartbeat's distance from its radio's
asserted cell (`compute_distance_m`, the deterministic haversine of `poc/geo.py` on arrays: the same bits
as one at a time), its HIP-119 location trust (`compute_location_trust`: ≤ full radius 1, ≤ partial radius
the partial multiplier, else 0 and `heartbeat.location_too_far`), the hour it counts for
(`truncate_to_hour`), one valid heartbeat per hour (`heartbeat.duplicate_hour` for the others, in (ts, seq)
order per radio), `heartbeat.location_not_asserted` for a radio without a cell; and per radio its valid
hours and the exact mean of its heartbeats' trust (`compute_mean_trust`). The evidence of each verdict is
written as the canonical JSON of the reference's evidence map (`round(distance, 1)` in Python's shortest
form, computed exactly from the double's bits). Speed tests are read as their three floats
(`ReportColumns.float_fields`: `float(payload[key])`, what the reference reads) and the per-radio shares are
computed by the reference code (`_mobile_outcome`). Equality with the reference is
tested on random report sets (tests/sectors/wireless/test_columnar.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache, partial

import numpy as np
import numpy.typing as npt
import polars as pl

from opendepin.reports.columns import ReportColumns
from opendepin.sectors.base import OK, DeviceInfo
from opendepin.sectors.columns import VerdictColumns, evidence_json
from opendepin.sectors.wireless.heartbeat import SECONDS_PER_HOUR, SPEED_FIELDS, SpeedValues, decimal_fraction
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.poc.geo import compute_haversine_many, get_cell_center
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

NOT_ASSERTED = evidence_json({"hint": "assert a location when onboarding the device"})
NOT_LOCATED, LOCATED, EMPTY = 0, 1, 2
"""A verdict row's evidence shape: a radio without a cell, a located heartbeat, a speed test (`{}`)."""
FAST_LIMIT = 2.0**40
"""Below this a double's `round(x, 1)` is written `q.r` (tenths): 0.1 is far above the doubles' spacing."""

RadioFacts = tuple[str, int, Callable[[], Fraction], Sequence[SpeedValues]]
"""(device id, valid hours, its mean location trust, its speed tests' values by (ts, seq))"""


@dataclass(frozen=True)
class HeartbeatColumns:
    """Verdicts of the heartbeats (by radio, ts, seq) then of the speed tests, and the facts per radio."""

    verdicts: VerdictColumns
    radios: list[RadioFacts]


def compute_round1_text(values: npt.NDArray[np.float64]) -> pl.Series:
    """`json.dumps(round(x, 1))` of each value: tenths computed exactly from the double's bits (round half
    to even on the exact binary value, as Python's `round`), written `q.r`; other values (negative,
    non-finite, huge) through Python itself."""
    fast = np.isfinite(values) & (values >= 0) & (values < FAST_LIMIT) & ~np.signbit(values)
    mantissa, exponent = np.frexp(np.where(fast, values, 0.0))
    scaled = np.ldexp(mantissa, 53).astype(np.int64) * 10  # 10·x·2^shift, exact (< 2^57)
    shift = np.minimum(53 - exponent.astype(np.int64), 62)
    whole = scaled >> shift
    rest = scaled & ((np.int64(1) << shift) - 1)
    half = np.int64(1) << (shift - 1)
    tenths = whole + ((rest > half) | ((rest == half) & (whole & 1 == 1))).astype(np.int64)
    text = (
        pl.DataFrame({"k": tenths})
        .select(
            pl.concat_str(
                (pl.col("k") // 10).cast(pl.String), pl.lit("."), (pl.col("k") % 10).cast(pl.String)
            )
        )
        .to_series()
    )
    slow = np.flatnonzero(~fast)
    if slow.size:
        text = text.scatter(slow, [json.dumps(round(float(values[i]), 1)) for i in slow.tolist()])
    return text.alias("distance")


@lru_cache(maxsize=4096)
def _mean_trust(full: int, partial_count: int, located: int, partial_trust: Fraction) -> Fraction:
    """`compute_mean_trust` of `full` heartbeats of trust 1, `partial_count` of the partial trust and the
    rest of `located` of trust 0."""
    if located == 0:
        return Fraction(0)
    return (full + partial_count * partial_trust) / located


def judge_heartbeat_columns(
    reports: ReportColumns, devices: Mapping[str, DeviceInfo], params: WirelessParams
) -> HeartbeatColumns:
    """The verdicts of every heartbeat and speed test, and each radio's facts (module docstring)."""
    frame = reports.frame
    # each radio's rank in id order (4 bytes a report, computed once by the columns: the registry check too)
    index = reports.devices()
    rank, ids = index.codes, index.ids.to_list()
    cells = [devices[d].location for d in ids]
    centres = np.array(
        [get_cell_center(c) if c is not None else (0.0, 0.0) for c in cells], dtype=np.float64
    ).reshape(-1, 2)
    radio_located = np.array([c is not None for c in cells], dtype=np.bool_)
    kind = frame["kind"]
    all_ts, all_seq = frame["ts"].to_numpy(), frame["seq"].to_numpy()

    def ordered(wanted: str) -> npt.NDArray[np.int64]:
        """Rows of one kind by (radio id, ts, seq, input position): the reference's per-radio sort (a total
        order, the position deciding last, so any sort gives it; polars' multi-key sort uses both cores)."""
        rows = np.flatnonzero((kind == wanted).to_numpy())
        keys = pl.DataFrame({"rank": rank[rows], "ts": all_ts[rows], "seq": all_seq[rows], "row": rows})
        order = keys.select(pl.arg_sort_by(["rank", "ts", "seq", "row"])).to_series().to_numpy()
        return rows[order]

    beat_rows = ordered(HEARTBEAT)
    beat_rank = rank[beat_rows]
    located = radio_located[beat_rank]
    partial_trust = decimal_fraction(params.trust_partial_multiplier)
    trust, located_distance = _trust_and_distance(
        reports, beat_rows, centres, beat_rank, located, params, partial_trust
    )
    hour = all_ts[beat_rows]
    hour -= hour % SECONDS_PER_HOUR
    ok = _first_valid_of_hour(trust != 2, beat_rank, hour)
    shape = np.where(located, LOCATED, NOT_LOCATED).astype(np.int8)
    reason = (
        pl.DataFrame({"located": located, "zero": trust == 2, "ok": ok})
        .select(
            pl.when(~pl.col("located"))
            .then(pl.lit("heartbeat.location_not_asserted"))
            .when(pl.col("zero"))
            .then(pl.lit("heartbeat.location_too_far"))
            .when(pl.col("ok"))
            .then(pl.lit(OK))
            .otherwise(pl.lit("heartbeat.duplicate_hour"))
            .alias("reason")
        )
        .to_series()
    )
    verdicts = frame.select("report_id", "device_id")[beat_rows].with_columns(
        reason,
        pl.Series("shape", shape),
        pl.Series("distance", located_distance),
        pl.Series("hour", hour),
        pl.Series("trust", trust),
    )
    del reason, shape, located_distance

    # speed tests: `ok` each, after the radio's heartbeats, by (ts, seq)
    test_rows = ordered(SPEEDTEST)
    radios = len(ids)
    # each radio's tests are a run of `test_rows` (ordered by radio first): its values are a slice of one list
    test_values: list[SpeedValues] = []
    test_counts = np.bincount(rank[test_rows], minlength=radios).astype(np.int64)
    test_ends = np.cumsum(test_counts)
    if test_rows.size:
        speeds = reports.float_fields(SPEED_FIELDS, test_rows)
        test_values = list(zip(*(speeds[key].tolist() for key in SPEED_FIELDS), strict=True))
        del speeds
        tests = frame.select("report_id", "device_id")[test_rows].select(
            "report_id",
            "device_id",
            pl.lit(OK).alias("reason"),
            pl.lit(EMPTY, dtype=pl.Int8).alias("shape"),
            pl.lit(0.0).alias("distance"),
            pl.lit(0, dtype=pl.Int64).alias("hour"),
            pl.lit(0, dtype=pl.Int8).alias("trust"),
        )
        # the heartbeats' verdicts, then the tests': the two frames side by side, not copied into the
        # reference's order (a radio's heartbeats then its tests): nothing reads verdicts by position (they
        # are stored, published and compared in (device, report) order)
        verdicts = pl.concat([verdicts, tests], rechunk=False)

    # per radio: valid hours and the counts behind its mean trust
    hours = np.bincount(beat_rank, weights=ok, minlength=radios).astype(np.int64)
    full_count = np.bincount(beat_rank, weights=trust == 0, minlength=radios).astype(np.int64)
    partial_count = np.bincount(beat_rank, weights=trust == 1, minlength=radios).astype(np.int64)
    located_count = np.bincount(beat_rank, weights=located, minlength=radios).astype(np.int64)
    facts: list[RadioFacts] = [
        (
            device_id,
            hours_,
            partial(_mean_trust, full_, partial_, located_, partial_trust),
            test_values[first:end],
        )
        for device_id, hours_, full_, partial_, located_, first, end in zip(
            ids,
            hours.tolist(),
            full_count.tolist(),
            partial_count.tolist(),
            located_count.tolist(),
            (test_ends - test_counts).tolist(),
            test_ends.tolist(),
            strict=True,
        )
    ]
    writer = partial(
        write_heartbeat_evidence,
        limit="," + json.dumps("limit_m") + ":" + json.dumps(params.trust_partial_radius_m),
        trust_text=(json.dumps("1"), json.dumps(str(partial_trust)), json.dumps("0")),
    )
    return HeartbeatColumns(VerdictColumns(verdicts, writer), facts)


def _trust_and_distance(
    reports: ReportColumns,
    beat_rows: npt.NDArray[np.int64],
    centres: npt.NDArray[np.float64],
    beat_rank: npt.NDArray[np.uint32],
    located: npt.NDArray[np.bool_],
    params: WirelessParams,
    partial_trust: Fraction,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64]]:
    """Each heartbeat's trust class (0 full, 1 partial, 2 zero or its radio not located) and its distance from
    its radio's cell centre (`centres` by radio rank; 0 where not located): `compute_distance_m`,
    `compute_location_trust`. Its own function so that the positions and the intermediate masks are freed
    before the verdicts are built."""
    at = np.flatnonzero(located)
    payloads = reports.float_fields(("lat", "lon"), beat_rows[at])
    centre = centres[beat_rank[at]]
    distance = compute_haversine_many(centre[:, 0], centre[:, 1], payloads["lat"], payloads["lon"])
    del payloads, centre
    full = distance <= params.trust_full_radius_m
    partial_hit = ~full & (distance <= params.trust_partial_radius_m) & (partial_trust != 0)
    trust = np.full(beat_rows.size, 2, dtype=np.int8)
    trust[at] = np.where(full, 0, np.where(partial_hit, 1, 2))
    located_distance = np.zeros(beat_rows.size, dtype=np.float64)
    located_distance[at] = distance
    return trust, located_distance


def _first_valid_of_hour(
    valid: npt.NDArray[np.bool_], beat_rank: npt.NDArray[np.uint32], hour: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """One valid heartbeat per hour, in (ts, seq) order per radio (the rows' order): the first valid one of
    each (radio, hour)."""
    valid_at = np.flatnonzero(valid)
    valid_rank, valid_hour = beat_rank[valid_at], hour[valid_at]
    first = np.ones(valid_at.size, dtype=np.bool_)
    first[1:] = (valid_rank[1:] != valid_rank[:-1]) | (valid_hour[1:] != valid_hour[:-1])
    ok = np.zeros(valid.size, dtype=np.bool_)
    ok[valid_at[first]] = True
    return ok


def write_heartbeat_evidence(part: pl.DataFrame, limit: str, trust_text: tuple[str, str, str]) -> pl.Series:
    """The evidence text of some verdict rows of `judge_heartbeat_columns` (an `EvidenceWriter`): a located
    heartbeat's distance (`round(x, 1)` as Python writes it), hour, trust and, beyond the partial radius, the
    limit; `NOT_ASSERTED` for a radio without a cell; `{}` for a speed test."""
    text = part.select(
        pl.col("shape"),
        compute_round1_text(part["distance"].to_numpy()),
        pl.col("hour").cast(pl.String),
        pl.col("trust").cast(pl.Int64).replace_strict([0, 1, 2], list(trust_text), return_dtype=pl.String),
        (pl.col("trust") == 2).alias("zero"),
    )
    return text.select(
        pl.when(pl.col("shape") == NOT_LOCATED)
        .then(pl.lit(NOT_ASSERTED))
        .when(pl.col("shape") == EMPTY)
        .then(pl.lit("{}"))
        .otherwise(
            pl.concat_str(
                pl.lit('{"distance_m":'),
                pl.col("distance"),
                pl.lit(',"hour":'),
                pl.col("hour"),
                pl.when(pl.col("zero")).then(pl.lit(limit)).otherwise(pl.lit("")),
                pl.lit(',"location_trust":'),
                pl.col("trust"),
                pl.lit("}"),
            )
        )
        .alias("evidence")
    ).to_series()
