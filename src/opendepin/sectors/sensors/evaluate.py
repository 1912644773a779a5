"""One epoch of the sensors sector: every station's data through the single-station checks, then against its
neighbours, then its pay (docs/sensors.md).

Per station and kind (weather, air quality), with exact fractions:

    score = quality × deployment × location × available_hours / epoch_hours
    units = ⌊score × cell_scaling × model_weight × UNIT_SCALE⌋

- quality: the mean over parameters of the mean hourly valid share (WeatherXM's QoD, `qod/`); below
  `min_quality` the station earns nothing (`sensors.low_quality`);
- deployment: the deployment class's score (`deployment.py`, weather only);
- location: 1 when the station is where its anchor says (`location.py`), else 0;
- a station flagged `sensors.neighbour_mismatch` or `sensors.neighbour_clone` earns nothing this epoch;
- cell_scaling: rank within its H3 cell, owner and co-location groups (`cells.py`).

Each hour of a station is scored once, in the first epoch that closes it (late uploads included), and is
paid then: a station that uploads a day late is paid for that day in the epoch its data arrives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import (
    UNIT_SCALE,
    Contribution,
    DeviceInfo,
    DeviceNote,
    SectorInput,
    SectorOutcome,
    Verdict,
)
from opendepin.sectors.sensors.aq import AirQualityEpoch, process_air_quality
from opendepin.sectors.sensors.cells import Candidate, rank_cells
from opendepin.sectors.sensors.clones import CloneSeries, find_clones
from opendepin.sectors.sensors.deployment import classify_day, station_class
from opendepin.sectors.sensors.location import Located, locate
from opendepin.sectors.sensors.neighbours import mismatch_hours, nearest
from opendepin.sectors.sensors.params import SensorsParams, exact
from opendepin.sectors.sensors.reports import AIR_QUALITY, LOCATION, WEATHER
from opendepin.sectors.sensors.weather import WeatherEpoch, process_weather

HOUR = 3_600
WEATHER_QUANTITIES = {"temperature": 0, "humidity": 1, "pressure": 2}
AQ_QUANTITIES = {"pm25": 0}
WEATHER_FLAGS = ("sensors.neighbour_clone", "sensors.neighbour_mismatch:weather", "sensors.faulty_sensor")


@dataclass(slots=True)
class Station:
    """Everything one station's own data gave this epoch."""

    device: DeviceInfo
    located: Located
    weather: WeatherEpoch | None = None
    air: AirQualityEpoch | None = None
    deploy_history: list[str] = field(default_factory=list)
    flags: dict[str, dict[str, Any]] = field(default_factory=dict)


def _elevation(device: DeviceInfo, params: SensorsParams) -> int:
    value = device.attributes.get("elevation_m")
    return int(value) if isinstance(value, int) else params.default_elevation_m


def _wants(device: DeviceInfo, kind: str) -> bool:
    sensors = device.attributes.get("sensors")
    return sensors is None or kind in str(sensors).split("+")


def _has_pending(prior: Mapping[str, Any]) -> bool:
    return bool(prior.get("held"))


def _station(
    device: DeviceInfo,
    reports: Mapping[str, list[ReportRecord]],
    prior: Mapping[str, Any],
    data: SectorInput,
    params: SensorsParams,
) -> Station:
    located = locate(device, reports.get(LOCATION, []), prior.get("loc"), data.window, params.location)
    station = Station(device, located, deploy_history=list(prior.get("deploy", [])))
    wx_prior = prior.get("wx", {})
    if reports.get(WEATHER) or _has_pending(wx_prior):
        profile = params.profile(device.attributes.get("model"))
        station.weather = process_weather(
            reports.get(WEATHER, []),
            wx_prior,
            data.window,
            params,
            profile,
            located.anchor,
            _elevation(device, params),
        )
    aq_prior = prior.get("aq", {})
    if reports.get(AIR_QUALITY) or _has_pending(aq_prior):
        station.air = process_air_quality(reports.get(AIR_QUALITY, []), aq_prior, data.window, params)
    return station


def evaluate_sensors(data: SectorInput, params: SensorsParams) -> SectorOutcome:
    """The pure epoch function of the sensors sector."""
    grouped: dict[str, dict[str, list[ReportRecord]]] = defaultdict(lambda: defaultdict(list))
    for report in data.reports:
        grouped[report.device_id][report.kind].append(report)
    ids = sorted(
        d
        for d in set(grouped)
        | {d for d, s in data.prior_device_state.items() if _has_pending(s.get("wx", {}))}
        | {d for d, s in data.prior_device_state.items() if _has_pending(s.get("aq", {}))}
        if d in data.devices
    )
    stations = {
        d: _station(data.devices[d], grouped.get(d, {}), data.prior_device_state.get(d, {}), data, params)
        for d in ids
    }
    anchors = {d: s.located.anchor for d, s in stations.items() if s.located.anchor is not None}
    nb = params.neighbours
    reach = max(nb.radius_m, nb.clone_radius_m)
    near = nearest(anchors, reach, max(nb.max_neighbours, nb.clone_candidates)) if nb.enabled else {}
    neighbours = {
        d: [n for n, m in near.get(d, []) if m <= nb.radius_m][: nb.max_neighbours] for d in stations
    }
    if nb.enabled:
        _neighbour_checks(stations, neighbours, params)
        _clone_checks(stations, near, params)
    _deployment(stations, neighbours, params)
    _faulty(stations, params)
    return _pay(stations, data, params)


def _neighbour_checks(
    stations: Mapping[str, Station], neighbours: Mapping[str, list[str]], params: SensorsParams
) -> None:
    """`sensors.neighbour_mismatch` per kind: at least `mismatch_hours` hours of one quantity outside the
    neighbours' robust band."""
    for device_id, station in stations.items():
        for kind, own, quantities in (
            ("weather", station.weather, WEATHER_QUANTITIES),
            ("aq", station.air, AQ_QUANTITIES),
        ):
            if own is None or not own.hours:
                continue
            others = []
            for n in neighbours.get(device_id, []):
                other = stations[n].weather if kind == "weather" else stations[n].air
                if other is not None:
                    others.append(other.summaries)
            if len(others) < params.neighbours.min_neighbours:
                continue
            bad, compared, examples = mismatch_hours(
                own.hours, own.summaries, others, quantities, params.neighbours
            )
            worst = max(bad, key=lambda q: (bad[q], q))
            if bad[worst] >= params.neighbours.mismatch_hours:
                station.flags[f"sensors.neighbour_mismatch:{kind}"] = {
                    "kind": kind,
                    "quantity": worst,
                    "hours": bad[worst],
                    "compared": compared[worst],
                    "limit_hours": params.neighbours.mismatch_hours,
                    "neighbours": len(others),
                    "examples": examples,
                }


def _clone_checks(
    stations: Mapping[str, Station], near: Mapping[str, list[tuple[str, int]]], params: SensorsParams
) -> None:
    """`sensors.neighbour_clone`: the copier of a pair whose temperatures match to the noise floor."""
    nb = params.neighbours
    series: dict[str, CloneSeries] = {}
    steps: dict[str, int] = {}
    for device_id, station in stations.items():
        wx = station.weather
        if wx is None or wx.clone_ts.size == 0:
            continue
        series[device_id] = CloneSeries(wx.clone_ts, wx.clone_values, wx.clone_received)
        steps[device_id] = params.profile(station.device.attributes.get("model")).step_s
    candidates = {
        d: [(n, m) for n, m in near.get(d, []) if m <= nb.clone_radius_m][: nb.clone_candidates]
        for d in series
    }
    onboarded = {d: stations[d].device.onboarded_at for d in series}
    for copier, evidence in find_clones(series, candidates, onboarded, steps, nb).items():
        stations[copier].flags["sensors.neighbour_clone"] = evidence


def _faulty(stations: Mapping[str, Station], params: SensorsParams) -> None:
    """`sensors.faulty_sensor`: a parameter annotated in at least `faulty_hours` of the scored hours."""
    if params.faulty_hours == 0:
        return
    for station in stations.values():
        wx = station.weather
        if wx is None or not wx.flagged_hours:
            continue
        worst = max(wx.flagged_hours, key=lambda p: (wx.flagged_hours[p], p))
        if wx.flagged_hours[worst] >= params.faulty_hours:
            station.flags["sensors.faulty_sensor"] = {
                "parameter": worst,
                "hours": wx.flagged_hours[worst],
                "limit_hours": params.faulty_hours,
                "scored_hours": len(wx.hours),
                "annotations": wx.annotations.get(worst, {}),
            }


def _deployment(
    stations: Mapping[str, Station], neighbours: Mapping[str, list[str]], params: SensorsParams
) -> None:
    """Classify each weather station's day and append it to its history."""
    dp = params.deployment
    shares: dict[str, Fraction] = {}
    for device_id, station in stations.items():
        wx = station.weather
        if wx is not None and wx.sun.present:
            shares[device_id] = Fraction(wx.sun.lit, wx.sun.present)
    for device_id, station in stations.items():
        wx = station.weather
        if wx is None or not wx.hours or not dp.enabled or station.located.anchor is None:
            continue
        around = [shares[n] for n in neighbours.get(device_id, []) if n in shares]
        day, evidence = classify_day(
            wx.sun, wx.t_range_milli, wx.wind_median_milli, around, params.neighbours.min_neighbours, dp
        )
        station.deploy_history = [*station.deploy_history, day][-dp.history_days :]
        station.flags["_deploy_day"] = {"day": day, **evidence}


@dataclass(frozen=True, slots=True)
class _Scored:
    kind: str
    score: Fraction
    factors: dict[str, Any]


def _kind_scores(station: Station, data: SectorInput, params: SensorsParams) -> list[_Scored]:
    epoch_hours = max(1, (data.window.end - data.window.start) // HOUR)
    location = Fraction(station.located.confidence)
    out: list[_Scored] = []
    gate = exact(params.min_quality)
    wx = station.weather
    if wx is not None and wx.hours and _wants(station.device, "weather"):
        quality = wx.scores.quality()
        if params.deployment.enabled:
            deploy_class, deployment = station_class(station.deploy_history, params.deployment)
        else:
            deploy_class, deployment = "DISABLED", Fraction(1)
        available = wx.scores.available_hours()
        flagged = [f for f in station.flags if f in WEATHER_FLAGS]
        passes = quality >= gate and not flagged
        score = quality * deployment * location * Fraction(available, epoch_hours) if passes else Fraction(0)
        out.append(
            _Scored(
                "weather",
                score,
                {
                    "quality": str(quality),
                    "parameters": wx.scores.parameter_scores(),
                    "deployment_class": deploy_class,
                    "deployment": str(deployment),
                    "location": str(location),
                    "available_hours": available,
                    "scored_hours": len(wx.hours),
                    "epoch_hours": epoch_hours,
                    "min_quality": str(gate),
                    "flags": flagged,
                    "annotations": wx.annotations,
                },
            )
        )
    air = station.air
    if air is not None and air.hours and _wants(station.device, "aq"):
        quality = air.quality()
        available = air.available_hours()
        flagged = [f for f in station.flags if f == "sensors.neighbour_mismatch:aq"]
        passes = quality >= gate and not flagged
        score = quality * location * Fraction(available, epoch_hours) if passes else Fraction(0)
        out.append(
            _Scored(
                "aq",
                score,
                {
                    "quality": str(quality),
                    "location": str(location),
                    "available_hours": available,
                    "scored_hours": len(air.hours),
                    "epoch_hours": epoch_hours,
                    "min_quality": str(gate),
                    "flags": flagged,
                    "channels": air.counts,
                },
            )
        )
    return out


def _pay(stations: Mapping[str, Station], data: SectorInput, params: SensorsParams) -> SectorOutcome:
    verdicts: list[Verdict] = []
    notes: list[DeviceNote] = []
    device_state: dict[str, dict[str, Any]] = {}
    scored: dict[str, list[_Scored]] = {}
    candidates: list[Candidate] = []
    for device_id, station in stations.items():
        located = station.located
        verdicts.extend(located.verdicts)
        if station.weather is not None:
            verdicts.extend(station.weather.verdicts)
        if station.air is not None:
            verdicts.extend(station.air.verdicts)
        notes.extend(DeviceNote(device_id, reason, evidence) for reason, evidence in located.notes)
        for flag, evidence in station.flags.items():
            if flag == "_deploy_day":
                continue
            notes.append(DeviceNote(device_id, flag.split(":")[0], evidence))
        day = station.flags.get("_deploy_day")
        if day is not None and day["day"] in ("INDOORS", "ALMOST_INDOORS", "BAD_DEPLOYMENT"):
            notes.append(DeviceNote(device_id, "sensors.indoor_suspect", day))
        kinds = _kind_scores(station, data, params)
        scored[device_id] = kinds
        for k in kinds:
            quality = Fraction(k.factors["quality"])
            if quality < exact(params.min_quality):
                notes.append(
                    DeviceNote(
                        device_id,
                        "sensors.low_quality",
                        {
                            "kind": k.kind,
                            "quality": k.factors["quality"],
                            "min_quality": k.factors["min_quality"],
                        },
                    )
                )
            if k.score > 0 and located.cell is not None and located.anchor is not None:
                candidates.append(
                    Candidate(
                        device_id,
                        station.device.owner,
                        located.cell,
                        k.kind,
                        located.anchor,
                        k.score,
                        located.since,
                    )
                )
        state: dict[str, Any] = {"loc": located.state, "deploy": station.deploy_history}
        if station.weather is not None:
            state["wx"] = station.weather.state
        elif "wx" in data.prior_device_state.get(device_id, {}):
            state["wx"] = data.prior_device_state[device_id]["wx"]
        if station.air is not None:
            state["aq"] = station.air.state
        elif "aq" in data.prior_device_state.get(device_id, {}):
            state["aq"] = data.prior_device_state[device_id]["aq"]
        device_state[device_id] = state
    cells = rank_cells(candidates, params.capacity, params.location.colocated_m)
    contributions: list[Contribution] = []
    withheld: dict[str, Fraction] = {}
    for device_id in sorted(scored):
        station = stations[device_id]
        weight = exact(params.profile(station.device.attributes.get("model")).weight)
        total = 0
        breakdown: dict[str, Any] = {
            "formula": "Σ kinds quality × deployment × location × hours × cell × weight"
        }
        for k in scored[device_id]:
            outcome = cells.get((device_id, k.kind))
            scaling = outcome.scaling if outcome is not None else Fraction(0)
            kind_weight = weight if k.kind == "weather" else exact(params.air_quality.weight)
            units = int(k.score * scaling * kind_weight * UNIT_SCALE)  # toward zero
            total += units
            cell = {}
            if outcome is not None:
                cell = {
                    "rank": outcome.rank,
                    "capacity": outcome.capacity,
                    "group_size": outcome.group_size,
                    "group": outcome.group_reason,
                    "stations_in_cell": outcome.stations_in_cell,
                    "scaling": str(scaling),
                }
                if outcome.scaling == 0:
                    notes.append(DeviceNote(device_id, "sensors.cell_capacity", {"kind": k.kind, **cell}))
                elif outcome.group_size > 1:
                    notes.append(DeviceNote(device_id, "sensors.cell_group", {"kind": k.kind, **cell}))
            breakdown[k.kind] = {
                **k.factors,
                "score": str(k.score),
                "cell": cell,
                "weight": str(kind_weight),
                "units": units,
            }
        if total > 0:
            contributions.append(Contribution(device_id, params.category, total, breakdown))
        elif scored[device_id]:
            withheld[device_id] = Fraction(0)  # buyers' credits do not pay data the rules do not pay
    return SectorOutcome(
        verdicts=verdicts,
        contributions=contributions,
        notes=notes,
        device_state=device_state,
        usage_share=withheld,
    )
