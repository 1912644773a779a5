"""Report kinds of the wireless sector: hourly heartbeats and speed tests (HIP-74 family)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

HEARTBEAT = "wireless.heartbeat"
SPEEDTEST = "wireless.speedtest"


class HeartbeatPayload(BaseModel):
    """A radio's hourly sign of life with the position it measured."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class SpeedtestPayload(BaseModel):
    """A backhaul speed test run by the radio."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    download_mbps: Annotated[float, Field(ge=0, le=100_000)]
    upload_mbps: Annotated[float, Field(ge=0, le=100_000)]
    latency_ms: Annotated[float, Field(ge=0, le=60_000)]
