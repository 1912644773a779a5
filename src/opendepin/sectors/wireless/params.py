"""Parameters of the wireless sector: mobile-style coverage (HIP-74 family) and proof of coverage
(docs/wireless-poc.md). Decimal values are read as the decimals they spell wherever they decide money."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from opendepin.sectors.wireless.poc.params import PocParams


class SpeedTier(BaseModel):
    """Thresholds for one speed-test tier (HIP-74): download/upload at least, latency below."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    download_mbps: float
    upload_mbps: float
    latency_ms: float
    multiplier: Annotated[float, Field(ge=0, le=1)]


def _default_tiers() -> list[SpeedTier]:
    return [
        SpeedTier(download_mbps=100, upload_mbps=10, latency_ms=50, multiplier=1.0),
        SpeedTier(download_mbps=75, upload_mbps=8, latency_ms=60, multiplier=0.75),
        SpeedTier(download_mbps=50, upload_mbps=5, latency_ms=75, multiplier=0.5),
        SpeedTier(download_mbps=30, upload_mbps=2, latency_ms=100, multiplier=0.25),
    ]


class WirelessParams(BaseModel):
    """Every constant of the mobile-style coverage rules, with Helium's published values as defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    category: str = "coverage"
    usage_category: str = "data_transfer"
    """Category paid for data sessions hotspots carry (usage receipts signed by routers); "" for none."""
    min_heartbeats_per_day: Annotated[int, Field(ge=1, le=24)] = 12
    trust_full_radius_m: Annotated[float, Field(gt=0)] = 300.0
    trust_partial_radius_m: Annotated[float, Field(gt=0)] = 400.0
    trust_partial_multiplier: Annotated[float, Field(ge=0, le=1)] = 0.25
    base_points: Annotated[float, Field(gt=0)] = 1.0
    rank_multipliers: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: [1.0, 0.75, 0.25]
    )
    speedtest_window: Annotated[int, Field(ge=1)] = 6
    speedtest_min: Annotated[int, Field(ge=1)] = 2
    speedtest_tiers: list[SpeedTier] = Field(default_factory=_default_tiers)
    poc: PocParams | None = None
    """Beacon/witness proof of coverage (`[sectors.wireless.poc]`); off unless the table is present."""

    @model_validator(mode="after")
    def _ordered(self) -> WirelessParams:
        if self.trust_partial_radius_m < self.trust_full_radius_m:
            raise ValueError("trust_partial_radius_m must be ≥ trust_full_radius_m")
        if self.speedtest_min > self.speedtest_window:
            raise ValueError("speedtest_min must be ≤ speedtest_window")
        return self
