"""Payloads of the proof-of-coverage report kinds `wireless.beacon` and `wireless.witness`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

BEACON = "wireless.beacon"
WITNESS = "wireless.witness"

Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{2,128}$")]


class BeaconPayload(BaseModel):
    """A beacon as its transmitter reports it: cited entropy, local entropy, radio parameters, payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    entropy: Hex
    local_entropy: Hex
    region: Annotated[str, Field(min_length=1, max_length=16)]
    frequency_hz: Annotated[int, Field(gt=0)]
    tx_power_dbm: Annotated[float, Field(ge=-30, le=40)]
    tx_ms: Annotated[int, Field(ge=0, description="transmit time, unix milliseconds (GPS clock)")]
    data: Hex


class WitnessPayload(BaseModel):
    """A witness of a beacon: whose beacon, the packet heard, and how it was received."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    beaconer: Annotated[str, Field(min_length=1)]
    entropy: Hex
    data: Hex
    region: Annotated[str, Field(min_length=1, max_length=16)]
    frequency_hz: Annotated[int, Field(gt=0)]
    rssi_dbm: Annotated[float, Field(ge=-200, le=50)]
    snr_db: Annotated[float, Field(ge=-50, le=50)]
    rx_ms: Annotated[int, Field(ge=0, description="receive time, unix milliseconds (GPS clock)")]


POC_REPORT_KINDS: dict[str, type[BaseModel]] = {BEACON: BeaconPayload, WITNESS: WitnessPayload}
