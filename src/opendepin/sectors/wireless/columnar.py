"""The heartbeat rule over columns: `_heartbeat_verdicts` (plugin.py, the reference) for every radio at once.

It implements, with the same numbers, the rules of heartbeat.py: each heartbeat's distance from its radio's
asserted cell (`compute_distance_m`, the deterministic haversine of `poc/geo.py` on arrays: the same bits
as one at a time), its HIP-119 location trust (`compute_location_trust`: ≤ full radius 1, ≤ partial radius
the partial multiplier, else 0 and `heartbeat.location_too_far`), the hour it counts for
(`truncate_to_hour`), one valid heartbeat per hour (`heartbeat.duplicate_hour` for the others, in (ts, seq)
order per radio), `heartbeat.location_not_asserted` for a radio without a cell; and per radio its valid
hours and the exact mean of its heartbeats' trust (`compute_mean_trust`). The evidence of each verdict is
written as the canonical JSON of the reference's evidence map (`round(distance, 1)` in Python's shortest
form, computed exactly from the double's bits). Speed tests are read as records (few per radio) and the
per-radio shares are computed by the reference code (`_mobile_outcome`). Equality with the reference is
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

from opendepin.reports.columns import REPORT_SCHEMA, ReportColumns
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, DeviceInfo
from opendepin.sectors.columns import VerdictColumns, evidence_json
from opendepin.sectors.wireless.heartbeat import SECONDS_PER_HOUR
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.poc.geo import compute_haversine_m, get_cell_center
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

NOT_ASSERTED = evidence_json({"hint": "assert a location when onboarding the device"})
FAST_LIMIT = 2.0**40
"""Below this a double's `round(x, 1)` is written `q.r` (tenths): 0.1 is far above the doubles' spacing."""

RadioFacts = tuple[str, int, Callable[[], Fraction], Sequence[ReportRecord]]
"""(device id, valid hours, its mean location trust, its speed tests by (ts, seq))"""


@dataclass(frozen=True)
class HeartbeatColumns:
    """Verdicts of the heartbeats and speed tests (in the reference's order) and the facts per radio."""

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
    frame = reports.frame.with_row_index("order")
    ids = frame["device_id"].unique().sort().to_list()
    cells = [devices[d].location for d in ids]
    centres = [get_cell_center(c) if c is not None else (0.0, 0.0) for c in cells]
    radios = pl.DataFrame(
        {
            "device_id": ids,
            "located": [c is not None for c in cells],
            "clat": [c[0] for c in centres],
            "clng": [c[1] for c in centres],
        },
        schema={"device_id": pl.String, "located": pl.Boolean, "clat": pl.Float64, "clng": pl.Float64},
    )
    beats = (
        frame.filter(pl.col("kind") == HEARTBEAT)
        .join(radios, on="device_id", how="left")
        .sort("device_id", "ts", "seq", "order")
    )
    located = beats["located"].to_numpy()
    at = np.flatnonzero(located)
    n = beats.height

    # distance, trust and hour of every located heartbeat (compute_distance_m, compute_location_trust)
    payloads = ReportColumns(beats.select(list(REPORT_SCHEMA)).filter(pl.Series(located))).float_fields(
        ("lat", "lon")
    )
    distance = np.asarray(
        compute_haversine_m(
            beats["clat"].to_numpy()[at], beats["clng"].to_numpy()[at], payloads["lat"], payloads["lon"]
        ),
        dtype=np.float64,
    )
    partial_trust = Fraction(str(params.trust_partial_multiplier))
    full = distance <= params.trust_full_radius_m
    partial_hit = ~full & (distance <= params.trust_partial_radius_m) & (partial_trust != 0)
    zero = ~full & ~partial_hit
    trust = np.full(n, 2, dtype=np.int8)  # 0 full, 1 partial, 2 zero (and not located)
    trust[at] = np.where(full, 0, np.where(partial_hit, 1, 2))
    ts = beats["ts"].to_numpy()
    hour = ts - ts % SECONDS_PER_HOUR

    # one valid heartbeat per hour, in (ts, seq) order per radio: the first of each (radio, hour)
    valid = np.zeros(n, dtype=np.bool_)
    valid[at] = ~zero
    keyed = pl.DataFrame({"device_id": beats["device_id"], "hour": hour}).filter(pl.Series(valid))
    first = keyed.select(
        ((pl.col("device_id") != pl.col("device_id").shift(1)) | (pl.col("hour") != pl.col("hour").shift(1)))
        .fill_null(True)
        .alias("first")
    )["first"].to_numpy()
    ok = np.zeros(n, dtype=np.bool_)
    ok[np.flatnonzero(valid)] = first

    limit = "," + json.dumps("limit_m") + ":" + json.dumps(params.trust_partial_radius_m)
    trust_text = pl.Series([json.dumps(str(t)) for t in (Fraction(1), partial_trust, Fraction(0))])
    located_distance = np.zeros(n, dtype=np.float64)
    located_distance[at] = distance
    judged = pl.DataFrame(
        {
            "located": located,
            "distance": compute_round1_text(located_distance),
            "hour": hour,
            "zero": trust == 2,
            "ok": ok,
            "trust": trust,
        }
    ).select(
        pl.when(~pl.col("located"))
        .then(pl.lit("heartbeat.location_not_asserted"))
        .when(pl.col("zero"))
        .then(pl.lit("heartbeat.location_too_far"))
        .when(pl.col("ok"))
        .then(pl.lit(OK))
        .otherwise(pl.lit("heartbeat.duplicate_hour"))
        .alias("reason"),
        pl.when(pl.col("located"))
        .then(
            pl.concat_str(
                pl.lit('{"distance_m":'),
                pl.col("distance"),
                pl.lit(',"hour":'),
                pl.col("hour").cast(pl.String),
                pl.when(pl.col("zero")).then(pl.lit(limit)).otherwise(pl.lit("")),
                pl.lit(',"location_trust":'),
                pl.col("trust").cast(pl.Int64).replace_strict([0, 1, 2], trust_text, return_dtype=pl.String),
                pl.lit("}"),
            )
        )
        .otherwise(pl.lit(NOT_ASSERTED))
        .alias("evidence"),
    )
    verdicts = beats.select("report_id", "device_id", "ts", "seq", "order").with_columns(
        judged["reason"],
        judged["evidence"],
        pl.lit(0, dtype=pl.Int8).alias("group"),
    )

    # speed tests: `ok` each, after the radio's heartbeats, by (ts, seq)
    tests = frame.filter(pl.col("kind") == SPEEDTEST).sort("device_id", "ts", "seq", "order")
    tests_of: dict[str, list[ReportRecord]] = {}
    if tests.height:
        for record in ReportColumns(tests.select(list(REPORT_SCHEMA))):
            tests_of.setdefault(record.device_id, []).append(record)
        verdicts = pl.concat(
            [
                verdicts,
                tests.select("report_id", "device_id", "ts", "seq", "order").with_columns(
                    pl.lit(OK).alias("reason"),
                    pl.lit("{}").alias("evidence"),
                    pl.lit(1, dtype=pl.Int8).alias("group"),
                ),
            ]
        ).sort("device_id", "group", "ts", "seq", "order")

    # per radio: valid hours and the counts behind its mean trust
    counts = (
        pl.DataFrame({"device_id": beats["device_id"], "ok": ok, "trust": trust, "located": located})
        .group_by("device_id")
        .agg(
            pl.col("ok").sum().alias("hours"),
            (pl.col("trust") == 0).sum().alias("full"),
            (pl.col("trust") == 1).sum().alias("partial"),
            pl.col("located").sum().alias("located"),
        )
    )
    by_radio = {row[0]: row[1:] for row in counts.iter_rows()}
    facts: list[RadioFacts] = []
    for device_id in ids:
        hours, full_count, partial_count, located_count = by_radio.get(device_id, (0, 0, 0, 0))
        facts.append(
            (
                device_id,
                int(hours),
                partial(_mean_trust, int(full_count), int(partial_count), int(located_count), partial_trust),
                tests_of.get(device_id, []),
            )
        )
    return HeartbeatColumns(
        VerdictColumns(verdicts.select("report_id", "device_id", "reason", "evidence")),
        facts,
    )
