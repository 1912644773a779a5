"""One weather station's epoch: its samples through WeatherXM's checks, hourly scores, the hourly values its
neighbours are compared with, and the sun statistics of the deployment factor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from opendepin import detmath
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import OK, EpochWindow, Verdict
from opendepin.sectors.sensors.buffer import HOUR, Buffered, gather, next_buffer_state
from opendepin.sectors.sensors.params import ModelProfile, SensorsParams, exact
from opendepin.sectors.sensors.qod.codes import NAMES, PRIORITY, REASONS, VALID
from opendepin.sectors.sensors.qod.constancy import carried_runs, check_constancy
from opendepin.sectors.sensors.qod.hourly import HourlyScores, annotation_counts, flagged_hours, score_hours
from opendepin.sectors.sensors.qod.obc import check_ranges
from opendepin.sectors.sensors.qod.series import Series
from opendepin.sectors.sensors.qod.spikes import check_spikes
from opendepin.sectors.sensors.reports import (
    FIELDS,
    HUMIDITY,
    PARAMS,
    PRESSURE,
    SOLAR,
    TEMPERATURE,
    WIND_SPEED,
)
from opendepin.sectors.sensors.solar import clear_sky_milli

WEATHER_FIELDS = [FIELDS[p] for p in PARAMS]
SUMMARY = ("t", "rh", "p", "sun", "lit")
"""An hour's summary kept for neighbours: temperature at sea level (m°C), humidity (m%), pressure at sea
level (mhPa) — each the lower median of the hour's valid samples when the hour is available, else None —
and the sun-up samples and sunlit samples of the deployment check."""


@dataclass(slots=True)
class SunStats:
    """Sun-up slots expected, sun-up samples with a valid irradiance, how many of them were sunlit, and the
    sums of measured and clear-sky irradiance over them (thousandths of W/m²)."""

    expected: int = 0
    present: int = 0
    lit: int = 0
    measured: int = 0
    clear: int = 0


@dataclass(slots=True)
class WeatherEpoch:
    """What one station's weather samples gave this epoch."""

    hours: list[int]
    scores: HourlyScores
    annotations: dict[str, dict[str, int]]
    flagged_hours: dict[str, int]
    summaries: dict[int, list[int | None]]
    sun: SunStats
    t_range_milli: int | None
    wind_median_milli: int | None
    clone_ts: np.ndarray
    clone_values: np.ndarray
    clone_received: np.ndarray
    verdicts: list[Verdict]
    state: dict[str, Any]


def lower_median(values: np.ndarray) -> int:
    return int(np.sort(values)[(values.size - 1) // 2])


def sea_level_temperature(t_milli: int, elevation_m: int, lapse_c_per_km: float) -> int:
    """Temperature reduced to sea level with a lapse rate (m°C per m = °C per km), toward −∞."""
    correction = exact(lapse_c_per_km) * elevation_m
    return t_milli + (correction.numerator // correction.denominator)


def sea_level_pressure(p_milli: int, t_milli: int, elevation_m: int) -> int:
    """Pressure reduced to sea level (hypsometric equation, mean column temperature T + 0.00325·h):
    p · exp(h / (29.263 · T̄)), with detmath's exp, to thousandths of hPa half to even."""
    if elevation_m == 0:
        return p_milli
    t_mean = t_milli / 1000.0 + 273.15 + 0.00325 * elevation_m
    factor = detmath.exp(np.array([elevation_m / (29.263 * t_mean)]))[0]
    return round(p_milli * float(factor))


def _report_verdict(report_id: str, codes: np.ndarray, row: list[int | None], hour: int) -> Verdict:
    flagged = {PARAMS[p]: NAMES[int(c)] for p, c in enumerate(codes.tolist()) if c != VALID}
    if not flagged:
        return Verdict(report_id, OK, {"hour": hour})
    first = next(code for code in PRIORITY if code in codes)
    values = {PARAMS[p]: row[2 + p] for p in range(len(PARAMS)) if PARAMS[p] in flagged}
    return Verdict(report_id, REASONS[first], {"hour": hour, "flags": flagged, "values_milli": values})


def process_weather(
    reports: Sequence[ReportRecord],
    prior: Mapping[str, Any],
    window: EpochWindow,
    params: SensorsParams,
    profile: ModelProfile,
    position: tuple[int, int] | None,
    elevation_m: int,
) -> WeatherEpoch:
    """Score the hours this epoch closes for one station (see `buffer` for which), with WeatherXM's OBC,
    spike and constancy checks in that order, and summarise them."""
    buffered = gather(reports, WEATHER_FIELDS, prior, window, params.max_upload_delay_s, params.hour_grace_s)
    ts, received, values, present, scored = buffered.arrays(len(PARAMS))
    series = Series.of(ts, values, present, scored)
    check_ranges(series, profile)
    check_spikes(series, profile)
    carried = {
        PARAMS.index(name): (int(run[0]), int(run[1]), int(run[2]))
        for name, run in prior.get("runs", {}).items()
        if name in PARAMS
    }
    starts = check_constancy(series, profile, carried)
    scores = score_hours(series, profile, buffered.hours)
    verdicts = list(buffered.verdicts)
    annotated = (series.codes != VALID).any(axis=1).tolist()
    hours_of = (ts // HOUR * HOUR).tolist()
    for k, report_id in enumerate(buffered.report_ids):
        if report_id is not None and not annotated[k]:
            verdicts.append(Verdict(report_id, OK, {"hour": hours_of[k]}))
        elif report_id is not None:
            verdicts.append(
                _report_verdict(report_id, series.codes[k], buffered.rows[k], int(ts[k]) // HOUR * HOUR)
            )
    verdicts.extend(Verdict(rid, OK, {"held_for_hour": hour}) for rid, hour in buffered.held_reports)
    summaries, sun, t_range, wind = _summaries(
        series, scores, buffered, params, profile, position, elevation_m
    )
    state = next_buffer_state(buffered, window, params.max_upload_delay_s, params.context_s)
    if state["tail"]:
        first_row = len(buffered.rows) - len(state["tail"])
        state["runs"] = carried_runs(series, starts, first_row)
    valid_t = scored & present[:, TEMPERATURE] & (series.codes[:, TEMPERATURE] == VALID)
    return WeatherEpoch(
        hours=buffered.hours,
        scores=scores,
        annotations=annotation_counts(series),
        flagged_hours=flagged_hours(series, buffered.hours),
        summaries=summaries,
        sun=sun,
        t_range_milli=t_range,
        wind_median_milli=wind,
        clone_ts=ts[valid_t],
        clone_values=values[valid_t, TEMPERATURE],
        clone_received=received[valid_t],
        verdicts=verdicts,
        state=state,
    )


def _summaries(
    series: Series,
    scores: HourlyScores,
    buffered: Buffered,
    params: SensorsParams,
    profile: ModelProfile,
    position: tuple[int, int] | None,
    elevation_m: int,
) -> tuple[dict[int, list[int | None]], SunStats, int | None, int | None]:
    summaries: dict[int, list[int | None]] = {}
    sun = SunStats()
    if not scores.hours:
        return summaries, sun, None, None
    hour_of = series.ts // HOUR * HOUR
    good = series.present & (series.codes == VALID) & series.scored[:, None]
    deployment = params.deployment
    lit_ratio = exact(deployment.sunlit_ratio)
    clear = elevation = slot_elevation = None
    if position is not None and deployment.enabled:
        lat, lon = position[0] / 1e7, position[1] / 1e7
        # the clear-sky model at every slot boundary of the scored hours; a sample takes the linear
        # interpolation between the boundaries of its slot (integer, toward −∞), a slot its start's elevation
        slots, step = profile.slots_per_hour, profile.step_s
        edges = np.array([h + k * step for h in scores.hours for k in range(slots + 1)], dtype=np.int64)
        edge_clear, edge_elevation = clear_sky_milli(edges, lat, lon, elevation_m, deployment.linke_turbidity)
        edge_clear = edge_clear.reshape(len(scores.hours), slots + 1)
        edge_elevation = edge_elevation.reshape(len(scores.hours), slots + 1)
        slot_elevation = edge_elevation[:, :slots]
        clear = np.zeros(len(series), dtype=np.int64)
        elevation = np.full(len(series), -90.0)
        rows = np.flatnonzero(good[:, SOLAR])
        if rows.size:
            index = {h: k for k, h in enumerate(scores.hours)}
            offset = series.ts[rows] - hour_of[rows]
            hk = np.array([index[int(h)] for h in hour_of[rows].tolist()], dtype=np.int64)
            slot, into = offset // step, offset % step
            c0, c1 = edge_clear[hk, slot], edge_clear[hk, np.minimum(slot + 1, slots)]
            e0, e1 = edge_elevation[hk, slot], edge_elevation[hk, np.minimum(slot + 1, slots)]
            clear[rows] = c0 + ((c1 - c0) * into) // step
            elevation[rows] = e0 + (e1 - e0) * (into / step)
    hourly_t: list[int] = []
    hourly_wind: list[int] = []
    neighbours = params.neighbours
    for k, hour in enumerate(scores.hours):
        in_hour = hour_of == hour
        medians: dict[int, int | None] = {}
        for p in (TEMPERATURE, HUMIDITY, PRESSURE, WIND_SPEED):
            column = series.values[in_hour & good[:, p], p]
            medians[p] = lower_median(column) if scores.available[k, p] and column.size else None
        t, rh, p = medians[TEMPERATURE], medians[HUMIDITY], medians[PRESSURE]
        t_sl = None if t is None else sea_level_temperature(t, elevation_m, neighbours.lapse_c_per_km)
        p_sl = None if p is None or t is None else sea_level_pressure(p, t, elevation_m)
        sun_n = lit_n = 0
        if clear is not None and elevation is not None and slot_elevation is not None:
            up = in_hour & good[:, SOLAR] & (elevation > deployment.min_sun_elevation_deg)
            measured = series.values[up, SOLAR]
            theory = clear[up]
            sun_n = int(np.count_nonzero(up))
            lit_n = int(np.count_nonzero(measured * lit_ratio.denominator >= lit_ratio.numerator * theory))
            sun.expected += int(np.count_nonzero(slot_elevation[k] > deployment.min_sun_elevation_deg))
            sun.present += sun_n
            sun.lit += lit_n
            sun.measured += int(measured.sum())
            sun.clear += int(theory.sum())
        summaries[hour] = [t_sl, rh, p_sl, sun_n, lit_n]
        if t is not None:
            hourly_t.append(t)
        if medians[WIND_SPEED] is not None:
            hourly_wind.append(int(medians[WIND_SPEED]))  # type: ignore[arg-type]
    t_range = max(hourly_t) - min(hourly_t) if hourly_t else None
    wind = lower_median(np.array(hourly_wind)) if hourly_wind else None
    return summaries, sun, t_range, wind


def sunlit_share(sun_n: int, lit_n: int) -> Fraction | None:
    return Fraction(lit_n, sun_n) if sun_n else None
