"""The deterministic clear-sky model against pvlib itself, and the same bits on every call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from opendepin.sectors.sensors.solar import civil, clear_sky_ghi, clear_sky_milli, sun_position

SITES = [(47.37, 8.54, 408), (-33.9, 151.2, 20), (64.1, -21.9, 50), (0.3, 32.6, 1_190)]
START = 1_780_272_000  # 2026-06-01


@pytest.mark.parametrize(("lat", "lon", "alt"), SITES)
def test_matches_pvlib_ineichen(lat: float, lon: float, alt: int) -> None:
    ts = np.arange(START, START + 2 * 86_400, 900, dtype=np.int64)
    ghi, elevation = clear_sky_ghi(ts, lat, lon, alt, 3.0)
    times = pd.DatetimeIndex(pd.to_datetime(ts, unit="s", utc=True))
    location = pvlib.location.Location(lat, lon, "UTC", alt)
    position = location.get_solarposition(times, method="ephemeris")
    clear = location.get_clearsky(times, model="ineichen", linke_turbidity=3.0, solar_position=position)
    assert np.max(np.abs(elevation - position["elevation"].to_numpy())) < 1e-6
    assert np.max(np.abs(ghi - clear["ghi"].to_numpy())) < 1e-6


def test_civil_calendar() -> None:
    stamps = pd.date_range("1999-12-30", "2030-03-02", freq="37h", tz="UTC")
    ts = stamps.as_unit("s").asi8.astype(np.int64)
    year, doy = civil(ts)
    assert year.tolist() == stamps.year.tolist()
    assert doy.tolist() == stamps.day_of_year.tolist()


def test_integer_milli_and_repeatable() -> None:
    ts = np.arange(START, START + 86_400, 180, dtype=np.int64)
    first, _ = clear_sky_milli(ts, 47.0, 8.5, 500, 3.0)
    second, _ = clear_sky_milli(ts[::-1].copy(), 47.0, 8.5, 500, 3.0)
    assert first.dtype == np.int64 and first.tolist() == second[::-1].tolist()
    assert first.max() > 800_000 and first.min() == 0


def test_refraction_lifts_the_apparent_sun() -> None:
    ts = np.arange(START, START + 86_400, 600, dtype=np.int64)
    true, apparent = sun_position(ts, 47.0, 8.5, 101_325.0)
    assert np.all(apparent >= true - 1e-12)
