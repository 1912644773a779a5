"""What wireless hotspots do in the generic fleet of `depin up` (the sector's `SectorSimulation`).

Every hour each hotspot that is up sends a heartbeat (and every few hours a speed test, `heartbeats.py`);
on a network with proof of coverage (`[sectors.wireless.poc]`) hotspots also beacon, citing the entropy
the node serves at `GET /v1/sectors/wireless/entropy`, and witness each other's beacons (`hourly.py`).
Hotspots are onboarded with the maker's `mode` and frequency plan and the owner's antenna gain.

The wireless misbehaviours: `gps-far` (stands 1.5–5 km from its assertion, and says so) and, with proof of
coverage only, `gps-spoof` (its radio stands 6–15 km away while it reports the asserted position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opendepin.sectors.base import SectorSimulation, SimDevice, SimReport, SimServices
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.sim.heartbeats import GPS_FAR, GPS_SPOOF, heartbeat_reports
from opendepin.sectors.wireless.sim.hourly import poc_reports_for_hour
from opendepin.sectors.wireless.sim.onboarding import (
    compute_frequency_plan,
    compute_gain_dbi,
    hotspot_maker_attributes,
    hotspot_owner_attributes,
)
from opendepin.sectors.wireless.sim.propagation import RadioPhysics

ENTROPY_ROUTE = "entropy"
BYTES_PER_CREDIT = 24
"""A data credit pays for one packet of up to 24 bytes (Helium's data-credit rule)."""


class WirelessSimulation(SectorSimulation):
    """Heartbeats, speed tests and (with proof of coverage) beacons and witnesses of simulated hotspots."""

    def __init__(self, params: WirelessParams, physics: RadioPhysics | None = None) -> None:
        self.params = params
        self.physics = physics or RadioPhysics()

    @property
    def behaviours(self) -> Mapping[str, str]:
        found = {GPS_FAR: "heartbeat.location_too_far", "lazy": "wireless.insufficient_heartbeats"}
        if self.params.poc is not None:
            found[GPS_SPOOF] = "trust.* (proof of coverage)"
        return found

    def attributes(self, device: SimDevice) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        """Maker: full hotspot, the frequency plan where it stands; owner: its antenna's gain."""
        return (
            hotspot_maker_attributes(compute_frequency_plan(device.lat, device.lon)),
            hotspot_owner_attributes(compute_gain_dbi(device.seed, device.index)),
        )

    def hour(self, devices: Sequence[SimDevice], hour_ts: int, services: SimServices) -> list[SimReport]:
        reports = [report for device in devices for report in heartbeat_reports(device, hour_ts)]
        poc = self.params.poc
        if poc is not None and devices:
            entropy = services.get(ENTROPY_ROUTE)  # as a hotspot reads it, when the hour's reports leave
            reports.extend(
                poc_reports_for_hour(devices, hour_ts, entropy, self.physics, poc.beacon_interval_s)
            )
        return reports

    def session(self, device: SimDevice, credits: int) -> tuple[int, str]:
        """A data session: the bytes its packets carried (BYTES_PER_CREDIT per credit)."""
        return credits * BYTES_PER_CREDIT, "bytes"
