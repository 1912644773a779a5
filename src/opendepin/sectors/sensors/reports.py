"""Report kinds of the sensors sector and how their decimal fields become exact integers.

Stations sign one report per observation. Every number that a rule reads is turned once into an integer
number of thousandths (`quantise`: one correctly rounded IEEE-754 multiplication and Python's exact
round-half-even), so every later comparison, median, sum and correlation is integer arithmetic and gives
the same answer on every machine.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

WEATHER = "weather.obs"
AIR_QUALITY = "aq.obs"
LOCATION = "location.fix"
KINDS = (WEATHER, AIR_QUALITY, LOCATION)

MILLI = 1_000
"""Observations are compared as integers in thousandths of their unit (m°C, m%, mhPa, mm/s, …)."""

PARAMS = ("humidity", "temperature", "wind_direction", "wind_speed", "pressure", "solar", "rain")
"""WeatherXM's seven parameters, in the order of its tables (solar stands for its illuminance)."""
FIELDS = {
    "humidity": "humidity_pct",
    "temperature": "temperature_c",
    "wind_direction": "wind_dir_deg",
    "wind_speed": "wind_speed_ms",
    "pressure": "pressure_hpa",
    "solar": "solar_wm2",
    "rain": "rain_acc_mm",
}
"""Parameter → payload field of `weather.obs`."""
HUMIDITY, TEMPERATURE, WIND_DIRECTION, WIND_SPEED, PRESSURE, SOLAR, RAIN = range(7)

Finite = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class WeatherObservation(BaseModel):
    """One weather sample; the envelope's `ts` is when it was measured (device time). A missing sensor
    reading is null (it counts as no datum)."""

    model_config = Finite
    temperature_c: Annotated[float, Field(ge=-100, le=100)] | None
    humidity_pct: Annotated[float, Field(ge=0, le=100)] | None
    pressure_hpa: Annotated[float, Field(ge=0, le=2_000)] | None
    wind_speed_ms: Annotated[float, Field(ge=0, le=200)] | None
    wind_dir_deg: Annotated[float, Field(ge=0, le=360)] | None
    solar_wm2: Annotated[float, Field(ge=0, le=5_000)] | None
    rain_acc_mm: Annotated[float, Field(ge=0, le=100_000)] | None


class AirQualityObservation(BaseModel):
    """One sample of a dual-channel PM2.5 sensor (PurpleAir style: two laser counters A and B, cf = 1)."""

    model_config = Finite
    pm25_a: Annotated[float, Field(ge=0, le=10_000)] | None
    pm25_b: Annotated[float, Field(ge=0, le=10_000)] | None
    humidity_pct: Annotated[float, Field(ge=0, le=100)] | None
    temperature_c: Annotated[float, Field(ge=-100, le=100)] | None


class LocationFix(BaseModel):
    """A GNSS fix of the station: position, horizontal dilution, satellites used, fix type (3 = 3D)."""

    model_config = Finite
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    hdop: Annotated[float, Field(ge=0, le=100)]
    sats: Annotated[int, Field(ge=0, le=100)]
    fix_type: Annotated[int, Field(ge=0, le=3)]


REPORT_KINDS: dict[str, type[BaseModel]] = {
    WEATHER: WeatherObservation,
    AIR_QUALITY: AirQualityObservation,
    LOCATION: LocationFix,
}


def quantise(value: object, scale: int = MILLI) -> int | None:
    """`value` × `scale` rounded half-even to an integer (None stays None): the only float operation a rule
    ever applies to an observation."""
    if value is None:
        return None
    return round(float(value) * scale)  # type: ignore[arg-type]
