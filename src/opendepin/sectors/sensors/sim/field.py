"""An honest weather and air-quality field with correlated neighbours (seeded, no network needed).

Every station sees one regional field plus its own offset and noise, so neighbours correlate as real ones do:

- temperature: a diurnal sinusoid (minimum near sunrise, maximum about 14:00 local solar time) + a regional
  AR(1) anomaly + the lapse rate × the station's elevation + a station offset + a station AR(1) + white noise;
- humidity from a slowly drifting regional dewpoint (Magnus formula), capped below 99 %;
- pressure: a regional random walk around 1013 hPa at sea level, brought to the station's elevation with the
  hypsometric equation;
- wind: Weibull (k = 2) speeds around a regional scale, a random-walk direction;
- irradiance: the clear-sky model (`solar.py`) × a regional two-state (clear / overcast) Markov cloud factor;
- rain: Poisson events in 0.254 mm tips while overcast, accumulated;
- PM2.5: a lognormal AR(1) regional level; channels A and B = truth × (1 + N(0, 0.05)) each.

Terrain is a smooth function of position, so a station that claims another place claims another elevation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from opendepin.sectors.sensors.solar import clear_sky_ghi

FloatArray = npt.NDArray[np.float64]
DAY = 86_400
KM_PER_DEG = 111.32


def terrain_m(lat: float, lon: float) -> int:
    """Ground elevation (metres) of the simulated region: rolling hills between about 200 and 900 m."""
    x, y = lon * KM_PER_DEG * math.cos(math.radians(lat)), lat * KM_PER_DEG
    h = 550 + 200 * math.sin(x / 9.0) * math.cos(y / 11.0) + 120 * math.sin((x + y) / 5.0)
    return round(h)


@dataclass(frozen=True, slots=True)
class Regional:
    """The regional series on a grid of `step_s` seconds from `start`."""

    start: int
    step_s: int
    t_sea: FloatArray
    dewpoint: FloatArray
    p_sea: FloatArray
    wind_scale: FloatArray
    wind_dir: FloatArray
    cloud: FloatArray
    rain_rate: FloatArray
    """Expected tips per step."""
    pm25: FloatArray
    clear: FloatArray
    """Clear-sky irradiance at the region's centre (W/m²): stations differ from it by minutes of sun time."""

    def index(self, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return np.clip((ts - self.start) // self.step_s, 0, self.t_sea.size - 1)


def _ar1(rng: np.random.Generator, n: int, phi: float, sigma: float) -> FloatArray:
    """x_k = φ·x_(k−1) + e_k, e ~ N(0, σ), started from the stationary distribution; evaluated in blocks as
    x_k = φ^k · (x_0 + Σ_(j≤k) e_j φ^(−j)) (blocks keep φ^(−j) small)."""
    x = rng.normal(0.0, sigma / math.sqrt(1 - phi * phi))
    noise = rng.normal(0.0, sigma, n)
    out = np.empty(n)
    block = 128
    powers = phi ** np.arange(1, block + 1)
    for s in range(0, n, block):
        chunk = noise[s : s + block]
        pw = powers[: chunk.size]
        out[s : s + chunk.size] = pw * (x + np.cumsum(chunk / pw))
        x = out[s + chunk.size - 1]
    return out


def regional_field(
    seed: int, start: int, days: int, lon: float, step_s: int = 60, warm: float = 0.0, lat: float = 47.0
) -> Regional:
    """The shared weather of a region for `days` days from `start` (seeded; `warm` shifts its climate)."""
    rng = np.random.default_rng([seed, 0x5E45])
    n = days * DAY // step_s + 1
    ts = start + step_s * np.arange(n)
    solar_hour = ((ts % DAY) / 3600.0 + lon / 15.0) % 24.0
    diurnal = 5.0 * np.sin(2 * math.pi * (solar_hour - 8.0) / 24.0)
    t_sea = 14.0 + warm + diurnal + _ar1(rng, n, 0.998, 0.04)
    dewpoint = 7.0 + warm + _ar1(rng, n, 0.999, 0.03)
    dewpoint = np.minimum(dewpoint, t_sea - 0.5)
    p_sea = 1013.0 + warm * 1.5 + _ar1(rng, n, 0.9998, 0.02)
    wind_scale = 3.0 + np.abs(_ar1(rng, n, 0.995, 0.05))
    wind_dir = np.cumsum(rng.normal(0.0, 2.0, n)) % 360.0
    cloud = np.empty(n)
    overcast = rng.random() < 0.3
    stay = math.exp(-step_s / (4 * 3600.0))
    for k in range(n):
        if rng.random() > stay:
            overcast = rng.random() < 0.35
        cloud[k] = 0.3 if overcast else 1.0
    cloud = np.clip(cloud + rng.normal(0.0, 0.03, n), 0.05, 1.1)
    rain_rate = np.where(cloud < 0.5, 0.02 * step_s / 60.0, 0.0)
    pm25 = np.exp(math.log(9.0) + _ar1(rng, n, 0.997, 0.03))
    clear, _ = clear_sky_ghi(ts.astype(np.int64), lat, lon, 400.0, 3.0)
    return Regional(
        start, step_s, t_sea, dewpoint, p_sea, wind_scale, wind_dir, cloud, rain_rate, pm25, clear
    )


def relative_humidity(t: FloatArray, dewpoint: FloatArray) -> FloatArray:
    """Magnus formula (%)."""
    return 100.0 * np.exp(17.625 * dewpoint / (243.04 + dewpoint) - 17.625 * t / (243.04 + t))


def station_pressure(p_sea: FloatArray, t: FloatArray, elevation_m: float) -> FloatArray:
    """The inverse of the sector's sea-level reduction: p = p₀ · exp(−h / (29.263 · T̄))."""
    t_mean = t + 273.15 + 0.00325 * elevation_m
    return p_sea * np.exp(-elevation_m / (29.263 * t_mean))


@dataclass(frozen=True, slots=True)
class Site:
    """Where a station measures and its personal offsets (seeded per station)."""

    lat: float
    lon: float
    elevation_m: int
    seed: int
    phase_s: int
    """Its sampling clock's offset within a step."""


def weather_samples(site: Site, field: Regional, ts: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    """What an honest outdoor station at `site` measures at `ts` (payload field → values). The station's own
    noise is a function of time (drawn on the field's grid), so two readings of one instant agree."""
    rng = np.random.default_rng([site.seed, 0x57A7])
    m = field.t_sea.size
    offset = rng.normal(0.0, 0.4)
    own_t = _ar1(rng, m, 0.99, 0.06) + rng.normal(0.0, 0.05, m)
    own_rh = rng.normal(0.0, 0.4, m)
    own_p = rng.normal(0.0, 0.03, m)
    gusts = rng.weibull(2.0, m) * rng.uniform(0.8, 1.2)
    veer = rng.normal(0.0, 15.0, m)
    shade = rng.uniform(0.95, 1.05)
    own_solar = rng.normal(0.0, 2.0, m)
    dew_offset = rng.normal(0.0, 0.3)
    tips_grid = rng.poisson(field.rain_rate)
    k = field.index(ts)
    t = field.t_sea[k] - 0.0065 * site.elevation_m + offset + own_t[k]
    rh = np.clip(relative_humidity(t, field.dewpoint[k] + dew_offset), 5.0, 98.5) + own_rh[k]
    p = station_pressure(field.p_sea[k], t, site.elevation_m) + own_p[k]
    wind = field.wind_scale[k] * gusts[k]
    direction = (field.wind_dir[k] + veer[k]) % 360.0
    clear = field.clear[k]
    solar = np.maximum(clear * field.cloud[k] * shade + own_solar[k], 0.0)
    solar = np.where(clear > 0, solar, 0.0)
    rain = np.cumsum(tips_grid)[k] * 0.254
    return {
        "temperature_c": np.round(t, 2),
        "humidity_pct": np.clip(np.round(rh, 1), 1.0, 99.0),
        "pressure_hpa": np.round(p, 2),
        "wind_speed_ms": np.round(wind, 1),
        "wind_dir_deg": np.round(direction, 0) % 360.0,
        "solar_wm2": np.round(solar, 1),
        "rain_acc_mm": np.round(rain, 3),
    }


def aq_samples(site: Site, field: Regional, ts: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    """An honest dual-channel PM2.5 sensor at `site` (µg/m³, cf = 1, reading about 40 % high as raw
    PurpleAir counters do), with its humidity and temperature."""
    rng = np.random.default_rng([site.seed, 0xA0])
    m = field.t_sea.size
    level = rng.uniform(0.9, 1.1) * 1.4
    noise_a, noise_b, noise_t = rng.normal(0.0, 0.05, m), rng.normal(0.0, 0.05, m), rng.normal(0.0, 0.3, m)
    k = field.index(ts)
    truth = field.pm25[k] * level
    a = truth * (1 + noise_a[k])
    b = truth * (1 + noise_b[k])
    t = field.t_sea[k] - 0.0065 * site.elevation_m + noise_t[k]
    rh = np.clip(relative_humidity(t, field.dewpoint[k]), 5.0, 98.5)
    return {
        "pm25_a": np.round(np.maximum(a, 0.0), 2),
        "pm25_b": np.round(np.maximum(b, 0.0), 2),
        "humidity_pct": np.round(rh, 1),
        "temperature_c": np.round(t, 2),
    }
