"""Parameters of the sensors sector (`[sectors.sensors]` of network.toml).

Every constant that decides money is a field. Defaults: WeatherXM's published QoD tables for its two
station models (`WS1000`, the 16-second M5, and `WS2000`, the 3-minute Helium station); our own values where
WeatherXM publishes none (neighbour radius and tolerances, clone thresholds, location hysteresis, the
quality gate), each marked "ours". Decimal values are read as the decimals they spell (`Fraction(str(x))`)
wherever they decide money.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opendepin.sectors.sensors.reports import MILLI, PARAMS

Strict = ConfigDict(extra="forbid", frozen=True)


@lru_cache(maxsize=4_096)
def exact(value: float) -> Fraction:
    """The decimal a parameter spells, exactly (0.67 is 67/100, not the nearest binary double)."""
    return Fraction(str(value))


def milli(value: float) -> int:
    """A parameter in thousandths of its unit, rounded toward zero (the unit of every observation)."""
    return int(exact(value) * MILLI)


class ModelProfile(BaseModel):
    """The QoD profile of one station model (WeatherXM's `initial_params.py`, per model).

    Tables are keyed by parameter (`humidity`, `temperature`, `wind_direction`, `wind_speed`, `pressure`,
    `solar`, `rain`); a parameter absent from a table has no such check.
    """

    model_config = Strict
    step_s: Annotated[int, Field(ge=1, le=3_600)]
    """Uplink interval: the slots of an hour are 3600 / step_s."""
    fill_s: Annotated[int, Field(ge=0, le=3_600)]
    """Gaps up to this long are bridged by the last value (constancy and spike checks only)."""
    median_window_s: Annotated[int, Field(ge=60)]
    """Spikes: the wrong value is the one further from the median of this window."""
    median_min_share: dict[str, Annotated[float, Field(gt=0, le=1)]]
    obc_min: dict[str, float]
    obc_max: dict[str, float]
    """Manufacturer limits (for rain: the largest increase of the accumulation per second, in mm)."""
    spike: dict[str, Annotated[float, Field(gt=0)]]
    """Largest jump between consecutive samples per `spike_period_min` minutes."""
    spike_period_min: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    spike_cap: dict[str, Annotated[float, Field(gt=0)]] | None = None
    """When set, thresholds scale with the time between the samples (Δt / period) up to this cap
    (WeatherXM's Helium rule); when None they are fixed per sample (M5)."""
    constant_short_min: dict[str, Annotated[int, Field(ge=1)]]
    constant_long_min: dict[str, Annotated[int, Field(ge=1)]]
    availability: dict[str, Annotated[float, Field(gt=0, le=1)]]
    """An hour of a parameter is available when this share of its slots holds valid data."""
    weight: Annotated[float, Field(gt=0, le=10)] = 1.0
    """Reward weight of the model (WeatherXM's per-model weight in its cell split)."""

    @model_validator(mode="after")
    def _known(self) -> ModelProfile:
        tables = (
            self.median_min_share,
            self.obc_min,
            self.obc_max,
            self.spike,
            self.spike_period_min,
            self.spike_cap or {},
            self.constant_short_min,
            self.constant_long_min,
            self.availability,
        )
        for table in tables:
            unknown = set(table) - set(PARAMS)
            if unknown:
                raise ValueError(f"unknown parameters {sorted(unknown)}; known: {list(PARAMS)}")
        if set(self.availability) != set(PARAMS):
            raise ValueError(f"availability needs every parameter: {list(PARAMS)}")
        return self

    @property
    def slots_per_hour(self) -> int:
        return 3_600 // self.step_s


AVAILABILITY = {
    "humidity": 0.67,
    "temperature": 0.67,
    "wind_direction": 0.75,
    "wind_speed": 0.75,
    "pressure": 0.67,
    "solar": 0.67,
    "rain": 0.85,
}
MEDIAN_SHARE = {k: 0.67 for k in PARAMS if k != "rain"} | {"wind_direction": 0.75, "wind_speed": 0.75}
CONSTANT_SHORT = {
    "humidity": 360,
    "temperature": 240,
    "wind_direction": 360,
    "wind_speed": 360,
    "pressure": 120,
    "solar": 120,
}
CONSTANT_LONG = {"temperature": 1_440, "wind_direction": 1_440, "wind_speed": 1_440, "pressure": 1_440}
LUX_PER_WM2 = 126.7
"""WeatherXM's illuminance limits are in lux; our stations report irradiance: 126.7 lx per W/m²."""


def _lux(value: float) -> float:
    return round(value / LUX_PER_WM2, 1)


def ws1000() -> ModelProfile:
    """WeatherXM M5 (WS1000): 16-second samples, limits and raw-level jump thresholds as in its code."""
    return ModelProfile(
        step_s=16,
        fill_s=60,
        median_window_s=600,
        median_min_share=MEDIAN_SHARE,
        obc_min={
            "humidity": 10,
            "temperature": -40,
            "wind_direction": 0,
            "wind_speed": 0,
            "pressure": 300,
            "solar": 0,
            "rain": 0,
        },
        obc_max={
            "humidity": 99,
            "temperature": 60,
            "wind_direction": 359,
            "wind_speed": 50,
            "pressure": 1_100,
            "solar": _lux(400_000),
            "rain": 0.254,
        },
        spike={"humidity": 5, "temperature": 2, "wind_speed": 20, "pressure": 0.8, "solar": _lux(97_600)},
        constant_short_min=CONSTANT_SHORT,
        constant_long_min=CONSTANT_LONG,
        availability=AVAILABILITY,
        weight=1.1,
    )


def ws2000() -> ModelProfile:
    """WeatherXM Helium (WS2000): 3-minute samples; jump thresholds per minute scaled by Δt up to caps."""
    return ModelProfile(
        step_s=180,
        fill_s=180,
        median_window_s=3_600,
        median_min_share=MEDIAN_SHARE,
        obc_min={
            "humidity": 1,
            "temperature": -40,
            "wind_direction": 0,
            "wind_speed": 0,
            "pressure": 540,
            "solar": 0,
            "rain": 0,
        },
        obc_max={
            "humidity": 99,
            "temperature": 80,
            "wind_direction": 359,
            "wind_speed": 50,
            "pressure": 1_100,
            "solar": _lux(200_000),
            "rain": 0.254,
        },
        spike={"humidity": 10, "temperature": 3, "wind_speed": 10, "pressure": 0.8, "solar": _lux(97_600)},
        spike_period_min={"humidity": 1, "temperature": 1, "wind_speed": 2, "pressure": 1, "solar": 1},
        spike_cap={
            "humidity": 80,
            "temperature": 15,
            "wind_speed": 15,
            "pressure": 15,
            "solar": _lux(146_400),
        },
        constant_short_min=CONSTANT_SHORT,
        constant_long_min=CONSTANT_LONG,
        availability=AVAILABILITY,
        weight=0.9,
    )


class DeploymentParams(BaseModel):
    """The deployment factor: measured irradiance against the Ineichen–Perez clear-sky model (WeatherXM's
    Indoor Station Detector, with neighbours added)."""

    model_config = Strict
    enabled: bool = True
    min_sun_elevation_deg: float = 7.0
    linke_turbidity: Annotated[float, Field(gt=0, le=10)] = 3.0
    """Ours: one Linke turbidity for the model (pvlib's default climatology is a lookup we avoid)."""
    sunlit_ratio: Annotated[float, Field(gt=0, le=2)] = 0.5
    """Ours: a sun-up sample is sunlit when it measures at least this share of clear sky."""
    min_data_share: Annotated[float, Field(ge=0, le=1)] = 0.4
    almost_night_wm2: float = 5.0
    obstructed_share: Annotated[float, Field(ge=0, le=1)] = 0.4
    """0 < sunlit share < this: indoors or obstructed (WeatherXM's 40 %)."""
    sunny_neighbours_share: Annotated[float, Field(ge=0, le=1)] = 0.4
    """Ours: neighbours whose median sunlit share reaches this saw the sun that day."""
    clear_day_share: Annotated[float, Field(ge=0, le=1)] = 0.8
    """Ours: a day is clear (tilt test) when the neighbours' median sunlit share reaches this."""
    indoor_t_range_c: float = 4.0
    """Ours: an indoor signature is a daily temperature range below this with calm wind (median < 0.5)."""
    tilt_north: tuple[float, float] = (0.3, 0.67)
    tilt_south: tuple[float, float] = (1.05, 1.4)
    faulty_light_ratio: float = 1.5
    history_days: Annotated[int, Field(ge=1, le=30)] = 7
    scores: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: {
            "OUTDOORS": 1.0,
            "INDOORS": 0.0,
            "ALMOST_INDOORS": 0.0,
            "BAD_DEPLOYMENT": 0.29,
            "PROBABLY_BAD": 0.43,
            "INCLINED_NORTH": 0.86,
            "INCLINED_SOUTH": 0.86,
            "UNKNOWN": 1.0,
        }
    )


class NeighbourParams(BaseModel):
    """Ours: the comparison with neighbours WeatherXM lacks, and clone detection."""

    model_config = Strict
    enabled: bool = True
    radius_m: Annotated[int, Field(ge=100)] = 25_000
    min_neighbours: Annotated[int, Field(ge=1)] = 3
    max_neighbours: Annotated[int, Field(ge=1)] = 12
    """The nearest stations within the radius taken per station (bounds the work per station)."""
    lapse_c_per_km: float = 6.5
    mad_multiple: Annotated[float, Field(gt=0)] = 3.0
    tolerance: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {"temperature": 3.0, "humidity": 20.0, "pressure": 3.0, "pm25": 15.0}
    )
    """Absolute tolerance per compared quantity (°C at sea level, %, hPa at sea level, µg/m³)."""
    mismatch_hours: Annotated[int, Field(ge=1, le=24)] = 6
    clone_radius_m: Annotated[int, Field(ge=100)] = 25_000
    clone_candidates: Annotated[int, Field(ge=1)] = 16
    clone_max_lag_s: Annotated[int, Field(ge=0)] = 3_600
    clone_min_overlap: Annotated[int, Field(ge=3)] = 60
    clone_correlation: Annotated[float, Field(gt=0, le=1)] = 0.99
    clone_rms_c: Annotated[float, Field(gt=0)] = 0.15
    """Noise floor: a station whose temperature differs from a neighbour's (shifted) by less than this RMS,
    offset removed, is a copy of it."""


class LocationParams(BaseModel):
    """Ours, after WeatherXM's proof of location and its operators' complaints about GPS jitter."""

    model_config = Strict
    first_fixes: Annotated[int, Field(ge=1)] = 3
    """The pinned position is the median of the first this many accurate fixes."""
    max_hdop: float = 4.0
    min_sats: Annotated[int, Field(ge=0)] = 4
    asserted_tolerance_m: Annotated[int, Field(ge=1)] = 200
    move_m: Annotated[int, Field(ge=1)] = 200
    move_days: Annotated[int, Field(ge=1)] = 2
    relocation_zero_days: Annotated[int, Field(ge=0)] = 2
    """WeatherXM sets PoL to 0 for days after a move (7 in its docs, 2 in force)."""
    cell_resolution: Annotated[int, Field(ge=0, le=15)] = 7
    colocated_m: Annotated[int, Field(ge=0)] = 50
    """Stations pinned closer than this share a slot in their cell, as an owner's stations do."""


class AirQualityParams(BaseModel):
    """PurpleAir's A/B agreement (US EPA sensortoolkit), the EPA correction, identical channels."""

    model_config = Strict
    step_s: Annotated[int, Field(ge=1)] = 120
    ab_abs_ugm3: float = 5.0
    ab_rel: float = 0.70
    identical_s: Annotated[int, Field(ge=60)] = 3_600
    availability: Annotated[float, Field(gt=0, le=1)] = 0.67
    weight: Annotated[float, Field(gt=0, le=10)] = 1.0


class SensorsParams(BaseModel):
    """Every constant of the sensors sector."""

    model_config = Strict
    category: str = "data_quality"
    usage_category: str = "data_api"
    """Category paid for data queries (usage receipts signed by data buyers); "" for none."""
    models: dict[str, ModelProfile] = Field(default_factory=lambda: {"WS1000": ws1000(), "WS2000": ws2000()})
    default_model: str = "WS2000"
    max_upload_delay_s: Annotated[int, Field(ge=3_600, le=14 * 86_400)] = 2 * 86_400
    """Stations buffer offline and upload late: a sample may arrive this long after it was measured."""
    hour_grace_s: Annotated[int, Field(ge=0, le=3_600)] = 600
    """An hour is scored once the epoch ends at least this long after it (its last samples are in)."""
    context_s: Annotated[int, Field(ge=3_600, le=86_400)] = 6 * 3_600
    """Samples kept from one epoch to the next as context (the longest short-constancy window)."""
    min_quality: Annotated[float, Field(ge=0, le=1)] = 0.8
    """Ours (WeatherXM's threshold is unpublished): below this QoD a station earns nothing."""
    faulty_hours: Annotated[int, Field(ge=0, le=24)] = 6
    """Ours: a parameter annotated (out of bounds, spike, constant, frozen) in at least this many scored
    hours marks a faulty sensor: the station earns nothing for that epoch (0 disables the rule). WeatherXM
    would only cut that parameter's seventh of the score, which pays a broken or cheating sensor ~86 %."""
    capacity: Annotated[int, Field(ge=1)] = 10
    deployment: DeploymentParams = Field(default_factory=DeploymentParams)
    neighbours: NeighbourParams = Field(default_factory=NeighbourParams)
    location: LocationParams = Field(default_factory=LocationParams)
    air_quality: AirQualityParams = Field(default_factory=AirQualityParams)
    credits_per_query: Annotated[int, Field(ge=1)] = 10
    """Data credits a buyer pays each station whose data a query serves."""
    query_window_s: Annotated[int, Field(ge=3_600, le=14 * 86_400)] = 2 * 86_400
    """The data API answers from the reports received this long before now."""
    default_elevation_m: int = 0

    @model_validator(mode="after")
    def _default_known(self) -> SensorsParams:
        if self.default_model not in self.models:
            raise ValueError(f"default_model {self.default_model!r} is not one of {sorted(self.models)}")
        if self.context_s < max(
            max(p.constant_short_min.values(), default=0) * 60 for p in self.models.values()
        ):
            raise ValueError("context_s must cover the longest short-constancy window")
        return self

    def profile(self, model: object) -> ModelProfile:
        """The QoD profile of a station model (unknown or missing: the default model's)."""
        return (
            self.models.get(str(model), self.models[self.default_model])
            if model
            else self.models[self.default_model]
        )
