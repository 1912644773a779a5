"""Real regions (city bounding boxes) the fleet places devices in, on H3 cells."""

from __future__ import annotations

import random
from dataclasses import dataclass

import h3

from opendepin.identity.attestation import ASSERTION_RESOLUTION


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    south: float
    west: float
    north: float
    east: float

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        return rng.uniform(self.south, self.north), rng.uniform(self.west, self.east)


REGIONS: dict[str, Region] = {
    region.name: region
    for region in (
        Region("berlin", 52.3383, 13.0884, 52.6755, 13.7611),
        Region("lisbon", 38.6913, -9.2298, 38.7967, -9.0901),
        Region("new-york", 40.4774, -74.2591, 40.9176, -73.7004),
        Region("lagos", 6.3936, 3.0982, 6.7027, 3.6964),
        Region("sao-paulo", -23.6825, -46.8254, -23.3566, -46.3650),
    )
}


def cell_of(lat: float, lon: float) -> str:
    """The H3 cell (assertion resolution) holding a point."""
    return str(h3.latlng_to_cell(lat, lon, ASSERTION_RESOLUTION))


def offset_point(lat: float, lon: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    """A point `metres` away on `bearing_deg` (small-distance equirectangular approximation)."""
    import math

    dlat = metres * math.cos(math.radians(bearing_deg)) / 111_320.0
    dlon = metres * math.sin(math.radians(bearing_deg)) / (111_320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon
