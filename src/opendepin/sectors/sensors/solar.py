"""Sun position and clear-sky irradiance, the same bits on every machine.

The deployment factor compares measured irradiance with pvlib's clear-sky model, Ineichen–Perez, as
`pvlib.location.Location.get_clearsky` computes it: the sun's apparent position by pvlib's `ephemeris`
algorithm (with its refraction), Kasten–Young air mass, the standard-atmosphere pressure at the station's
altitude, Spencer's extraterrestrial irradiance. pvlib evaluates these with numpy's transcendental
functions, whose last bits may differ between CPUs; here the same formulas are evaluated with
`opendepin.detmath` (correctly rounded operations in a fixed order; arctangents from its arcsine, Kepler's
equation with a fixed number of iterations), and the irradiance is turned into integer thousandths of W/m².
tests/sectors/sensors/test_solar.py compares both with pvlib itself.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from opendepin import detmath

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SOLAR_CONSTANT = 1366.1
DAY = 86_400
TWO_PI = 2.0 * math.pi
DEG = math.pi / 180.0
RAD = 180.0 / math.pi
KEPLER_ITERATIONS = 6
"""pvlib iterates until the change is below 1e-4°; with the Earth's eccentricity six always get there."""


def civil(ts: IntArray) -> tuple[IntArray, IntArray]:
    """(year, day of the year 1..366) of Unix times, UTC, by integer arithmetic (H. Hinnant's algorithm)."""
    days = ts // DAY
    z = days + 719_468
    era = np.where(z >= 0, z, z - 146_096) // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy_march = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy_march + 2) // 153
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    y = year - 1
    era1 = np.where(y >= 0, y, y - 399) // 400
    yoe1 = y - era1 * 400
    jan1 = era1 * 146_097 + yoe1 * 365 + yoe1 // 4 - yoe1 // 100 + 306 - 719_468
    return year, days - jan1 + 1


def day_of_year(ts: IntArray) -> IntArray:
    """Day of the year (1..366), UTC."""
    return civil(ts)[1]


def _atan(t: FloatArray) -> FloatArray:
    """arctan for |t| ≤ 1 (well conditioned there), from detmath's arcsine."""
    return detmath.asin(t / detmath.sqrt(1.0 + t * t))


def atan2(y: FloatArray, x: FloatArray) -> FloatArray:
    """The angle of (x, y) in (−π, π], from `_atan` of the smaller ratio (deterministic)."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    flat = np.abs(y) <= np.abs(x)
    safe_x = np.where(flat & (x != 0.0), x, 1.0)
    safe_y = np.where(~flat & (y != 0.0), y, 1.0)
    near = _atan(np.where(flat, y / safe_x, 0.0))
    near = np.where(x < 0.0, np.where(y >= 0.0, near + math.pi, near - math.pi), near)
    steep = np.where(y >= 0.0, math.pi / 2, -math.pi / 2) - _atan(np.where(flat, 0.0, x / safe_y))
    return np.where(flat, near, steep)


def _mod360(x: FloatArray) -> FloatArray:
    return np.mod(x, 360.0)


def sun_position(
    ts: IntArray, lat_deg: float, lon_deg: float, pressure_pa: float, temperature_c: float = 12.0
) -> tuple[FloatArray, FloatArray]:
    """(elevation, apparent elevation) of the sun in degrees: pvlib's `solarposition.ephemeris`."""
    year, doy = civil(ts)
    seconds = (ts % DAY).astype(np.float64)
    longitude = -1.0 * lon_deg
    abber = 20.0 / 3600.0
    lat_r = lat_deg * DEG
    univ_hr = seconds / 3600.0
    yr = (year - 1900).astype(np.float64)
    yr_begin = 365.0 * yr + np.floor((yr - 1.0) / 4.0) - 0.5
    ezero = yr_begin + doy.astype(np.float64)
    t = ezero / 36525.0
    gmst0 = 6.0 / 24.0 + 38.0 / 1440.0 + (45.836 + 8640184.542 * t + 0.0929 * t * t) / 86400.0
    gmst0 = 360.0 * (gmst0 - np.floor(gmst0))
    gmsti = _mod360(gmst0 + 360.0 * (1.0027379093 * univ_hr / 24.0))
    loc_ast = _mod360(360.0 + gmsti - longitude)
    epoch_date = ezero + univ_hr / 24.0
    t1 = epoch_date / 36525.0
    obliquity_r = (23.452294 - 0.0130125 * t1 - 1.64e-06 * t1 * t1 + 5.03e-07 * t1 * t1 * t1) * DEG
    ml_perigee = 281.22083 + 4.70684e-05 * epoch_date + 0.000453 * t1 * t1 + 3e-06 * t1 * t1 * t1
    mean_anom = _mod360(358.47583 + 0.985600267 * epoch_date - 0.00015 * t1 * t1 - 3e-06 * t1 * t1 * t1)
    eccen = 0.01675104 - 4.18e-05 * t1 - 1.26e-07 * t1 * t1
    eccen_anom = mean_anom
    for _ in range(KEPLER_ITERATIONS):
        eccen_anom = mean_anom + eccen * RAD * detmath.sin(eccen_anom * DEG)
    half = eccen_anom * DEG / 2.0
    tan_half = detmath.sin(half) / detmath.cos(half)
    ratio = detmath.sqrt((1.0 + eccen) / (1.0 - eccen)) * tan_half
    true_anom = 2.0 * _mod360(atan2(ratio, np.ones_like(ratio)) * RAD)
    ec_lon = _mod360(ml_perigee + true_anom) - abber
    ec_lon_r = ec_lon * DEG
    sin_eps, cos_eps = detmath.sin(obliquity_r), detmath.cos(obliquity_r)
    sin_lon, cos_lon = detmath.sin(ec_lon_r), detmath.cos(ec_lon_r)
    dec_r = detmath.asin(sin_eps * sin_lon)
    rt_ascen = atan2(cos_eps * sin_lon, cos_lon) * RAD
    hr_angle_r = (loc_ast - rt_ascen) * DEG
    lat_a = np.full_like(dec_r, lat_r)
    sin_el = detmath.cos(lat_a) * detmath.cos(dec_r) * detmath.cos(hr_angle_r) + detmath.sin(
        lat_a
    ) * detmath.sin(dec_r)
    elevation = detmath.asin(np.clip(sin_el, -1.0, 1.0)) * RAD
    return elevation, elevation + refraction(elevation, pressure_pa, temperature_c)


def refraction(elevation: FloatArray, pressure_pa: float, temperature_c: float) -> FloatArray:
    """Atmospheric refraction (degrees) as pvlib's ephemeris adds it."""
    el_r = elevation * DEG
    tan_el = detmath.sin(el_r) / np.where(elevation == 90.0, 1.0, detmath.cos(el_r))
    safe = np.where(tan_el == 0.0, 1.0, tan_el)
    high = 58.1 / safe - 0.07 / (safe * safe * safe) + 8.6e-05 / (safe * safe * safe * safe * safe)
    low = elevation * (-518.2 + elevation * (103.4 + elevation * (-12.79 + elevation * 0.711))) + 1735.0
    below = -20.774 / safe
    refract = np.where(
        (elevation > 5.0) & (elevation <= 85.0),
        high,
        np.where(
            (elevation > -0.575) & (elevation <= 5.0),
            low,
            np.where((elevation > -1.0) & (elevation <= -0.575), below, 0.0),
        ),
    )
    return refract * (283.0 / (273.0 + temperature_c)) * (pressure_pa / 101325.0) / 3600.0


def extra_radiation(ts: IntArray) -> FloatArray:
    """Extraterrestrial normal irradiance (W/m²): Spencer's series, as pvlib's `get_extra_radiation`."""
    b = TWO_PI / 365.0 * (day_of_year(ts).astype(np.float64) - 1.0)
    return SOLAR_CONSTANT * (
        1.00011
        + 0.034221 * detmath.cos(b)
        + 0.00128 * detmath.sin(b)
        + 0.000719 * detmath.cos(2.0 * b)
        + 0.000077 * detmath.sin(2.0 * b)
    )


def _power(base: FloatArray, exponent: float) -> FloatArray:
    return detmath.exp(exponent * detmath.log(base))


def altitude_pressure_pa(altitude_m: float) -> float:
    """Standard-atmosphere pressure at an altitude (pvlib's `alt2pres`)."""
    base = np.array([(44331.514 - float(altitude_m)) / 11880.516])
    return float(100.0 * _power(base, 1.0 / 0.1902632)[0])


def clear_sky_ghi(
    ts: IntArray, lat_deg: float, lon_deg: float, altitude_m: float, linke_turbidity: float
) -> tuple[FloatArray, FloatArray]:
    """(clear-sky global horizontal irradiance in W/m², true sun elevation in degrees): Ineichen–Perez
    without its optional Perez enhancement; 0 with the apparent sun at or below the horizon."""
    pressure = altitude_pressure_pa(altitude_m)
    elevation, apparent = sun_position(ts, lat_deg, lon_deg, pressure)
    up = apparent > 0.0
    app = np.where(up, apparent, 1.0)
    cos_z = detmath.sin(app * DEG)
    kasten = 1.0 / (cos_z + 0.50572 * _power(app + 6.07995, -1.6364))
    airmass = kasten * pressure / 101325.0
    altitude = np.full_like(cos_z, float(altitude_m))
    fh1 = detmath.exp(-altitude / 8000.0)
    fh2 = detmath.exp(-altitude / 1250.0)
    cg1 = 5.09e-05 * altitude + 0.868
    cg2 = 3.92e-05 * altitude + 0.0387
    tl = float(linke_turbidity)
    ghi = cg1 * extra_radiation(ts) * cos_z * detmath.exp(-cg2 * airmass * (fh1 + fh2 * (tl - 1.0)))
    return np.where(up, ghi, 0.0), elevation


def clear_sky_milli(
    ts: IntArray, lat_deg: float, lon_deg: float, altitude_m: float, linke_turbidity: float
) -> tuple[IntArray, FloatArray]:
    """Clear-sky GHI in integer thousandths of W/m² (half to even), and the true sun elevation (degrees)."""
    ghi, elevation = clear_sky_ghi(ts, lat_deg, lon_deg, altitude_m, linke_turbidity)
    return np.rint(ghi * 1000.0).astype(np.int64), elevation
