"""Building blocks for the sensors tests: series of samples and report records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from opendepin.reports.model import ReportRecord
from opendepin.sectors.sensors.qod.series import Series
from opendepin.sectors.sensors.reports import FIELDS, PARAMS, WEATHER

GOOD = {
    "humidity": 60_000,
    "temperature": 15_000,
    "wind_direction": 180_000,
    "wind_speed": 3_000,
    "pressure": 1_000_000,
    "solar": 0,
    "rain": 0,
}


def series(ts: Sequence[int], columns: Mapping[str, Sequence[int | None]], scored: bool = True) -> Series:
    """A series whose parameters not named in `columns` vary slowly (never stuck, never jumping)."""
    n = len(ts)
    values = np.zeros((n, len(PARAMS)), dtype=np.int64)
    present = np.ones((n, len(PARAMS)), dtype=bool)
    for p, name in enumerate(PARAMS):
        column = columns.get(name)
        if column is None:
            base = GOOD[name]
            step = 0 if name in ("solar", "rain") else 7
            values[:, p] = base + step * (np.arange(n) % 5)
            continue
        for k, v in enumerate(column):
            present[k, p] = v is not None
            values[k, p] = 0 if v is None else v
    return Series.of(np.array(ts, dtype=np.int64), values, present, np.full(n, scored))


def weather_report(device: str, ts: int, received: int | None = None, **fields: Any) -> ReportRecord:
    payload = {FIELDS[p]: None for p in PARAMS}
    payload.update(fields)
    return ReportRecord(
        f"{device}:{ts}", WEATHER, device, ts, ts, payload, ts + 30 if received is None else received
    )
