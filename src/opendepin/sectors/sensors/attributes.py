"""Station attributes read by the sensors sector (docs/onboarding.md, "Attributes")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

WEATHER_SET = "weather"
AIR_QUALITY_SET = "aq"


class SensorsMakerAttributes(BaseModel):
    """What the maker attests: the station model (it picks the QoD profile: sampling step, limits,
    thresholds) and its sensor set (`weather`, `aq` or `weather+aq`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    sensors: Annotated[str, Field(pattern=r"^(weather|aq|weather\+aq)$")] | None = None


class SensorsOwnerAttributes(BaseModel):
    """What the owner states about the site: its elevation above sea level (metres), used to compare
    temperature and pressure with neighbours at other heights."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    elevation_m: Annotated[int, Field(ge=-500, le=9_000)] | None = None
