"""The sensors sector's data API under `/v1/sectors/sensors/`: what data buyers query.

- `GET /stations/{device}/latest`: the station's latest weather and air-quality observation;
- `GET /stations/{device}/hourly?hours=N`: its hourly series (lower median of each field per hour);
- `GET /bbox?south=&west=&north=&east=`: the latest observation of every station asserted in the box;
- `GET /rules`: the sector's parameters.

Data comes from the reports the node received in the last `query_window_s`. Every answer lists under `charge`
the stations whose data it served and the credits owed to each (`credits_per_query`); the buyer pays them
with usage receipts (`POST /v1/usage`, sector `sensors`, unit `queries`, `ref` = the answer's for that
station: a buyer's `ref` is unique per receipt), which
the usage pool pays to those stations. The API does not itself hold back data from a buyer that has not paid.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import h3
from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import SectorServices
from opendepin.sectors.sensors.params import SensorsParams
from opendepin.sectors.sensors.reports import AIR_QUALITY, WEATHER

HOUR = 3_600
NAME = "sensors"


def latest_by_station(reports: Sequence[ReportRecord]) -> dict[str, dict[str, Any]]:
    """Per station and kind, the observation with the latest device time (ties: report id)."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in sorted(reports, key=lambda r: (r.ts, r.report_id)):
        if r.kind in (WEATHER, AIR_QUALITY):
            out[r.device_id][r.kind] = {"ts": r.ts, **dict(r.payload)}
    return dict(out)


def hourly_series(reports: Sequence[ReportRecord], kind: str) -> list[dict[str, Any]]:
    """Per hour of device time, the lower median of each field's present values and the sample count."""
    by_hour: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for r in reports:
        if r.kind == kind:
            by_hour[r.ts // HOUR * HOUR].append(r.payload)
    series = []
    for hour in sorted(by_hour):
        rows = by_hour[hour]
        entry: dict[str, Any] = {"hour": hour, "samples": len(rows)}
        for name in sorted({k for row in rows for k in row}):
            values = sorted(float(v) for row in rows if (v := row.get(name)) is not None)
            entry[name] = values[(len(values) - 1) // 2] if values else None
        series.append(entry)
    return series


def answer_ref(path: str, now: int, devices: Sequence[str]) -> str:
    return hashlib.sha256(f"{path}|{now}|{','.join(sorted(devices))}".encode()).hexdigest()[:32]


def build_router(services: SectorServices, params: SensorsParams) -> APIRouter:
    router = APIRouter(tags=[NAME])

    def recent() -> list[ReportRecord]:
        now = services.now()
        return list(services.sector_reports(NAME, now - params.query_window_s))  # type: ignore[attr-defined]

    def charge(path: str, devices: Sequence[str]) -> dict[str, Any]:
        now = services.now()
        ref = answer_ref(path, now, devices)
        return {
            "unit": "queries",
            "credits": {d: params.credits_per_query for d in sorted(devices)},
            "refs": {d: f"{ref}:{k}" for k, d in enumerate(sorted(devices))},
        }

    @router.get("/rules")
    async def rules() -> dict[str, Any]:
        """The parameters stations and buyers need: checks, thresholds, prices."""
        return params.model_dump(mode="json")

    @router.get("/stations/{device_id}/latest")
    async def latest(device_id: str) -> dict[str, Any]:
        """The station's latest observations (weather and air quality)."""
        if services.device(device_id) is None:
            raise HTTPException(404, {"reason": "device.unknown", "message": "not onboarded"})
        reports = await run_in_threadpool(recent)
        found = latest_by_station([r for r in reports if r.device_id == device_id]).get(device_id)
        if not found:
            raise HTTPException(404, {"reason": "sensors.no_data", "message": "no observation in the window"})
        return {
            "station": device_id,
            "observations": found,
            "charge": charge(f"latest/{device_id}", [device_id]),
        }

    @router.get("/stations/{device_id}/hourly")
    async def hourly(device_id: str, hours: int = Query(24, ge=1, le=168)) -> dict[str, Any]:
        """The station's hourly series over the last `hours` hours (lower medians per field)."""
        if services.device(device_id) is None:
            raise HTTPException(404, {"reason": "device.unknown", "message": "not onboarded"})
        since = services.now() - hours * HOUR
        reports = [r for r in await run_in_threadpool(recent) if r.device_id == device_id and r.ts >= since]
        weather, air = hourly_series(reports, WEATHER), hourly_series(reports, AIR_QUALITY)
        served = [device_id] if weather or air else []
        return {
            "station": device_id,
            "weather": weather,
            "aq": air,
            "charge": charge(f"hourly/{device_id}", served),
        }

    @router.get("/bbox")
    async def bbox(
        south: float = Query(ge=-90, le=90),
        west: float = Query(ge=-180, le=180),
        north: float = Query(ge=-90, le=90),
        east: float = Query(ge=-180, le=180),
    ) -> dict[str, Any]:
        """The latest observations of every station whose asserted cell centre lies in the box."""
        if south > north or west > east:
            raise HTTPException(
                422, {"reason": "sensors.bad_box", "message": "south ≤ north and west ≤ east"}
            )
        latest_all = latest_by_station(await run_in_threadpool(recent))
        stations = []
        for device_id in sorted(latest_all):
            info = services.device(device_id)
            if info is None or info.location is None:
                continue
            lat, lon = h3.cell_to_latlng(info.location)
            if south <= lat <= north and west <= lon <= east:
                stations.append(
                    {"station": device_id, "lat": lat, "lon": lon, "observations": latest_all[device_id]}
                )
        served = [s["station"] for s in stations]
        box = f"{south},{west},{north},{east}"
        return {"stations": stations, "charge": charge(f"bbox/{box}", served)}

    return router
