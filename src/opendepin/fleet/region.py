"""Real regions (city bounding boxes) the fleet places devices in, on H3 cells.

Devices gather in neighbourhoods, as real deployments do: a region's box is cut into 3 × 2 rectangles and a
device drawn uniformly in the box is moved toward the centre of its rectangle, which shrinks each to a fifth
of its width and height (about 3 km × 3.7 km in Berlin). Devices then have neighbours within radio range,
as proof of coverage needs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

NEIGHBOURHOOD_COLUMNS = 3
NEIGHBOURHOOD_ROWS = 2
NEIGHBOURHOOD_SHRINK = 0.2


def _gather(fraction: float, parts: int) -> float:
    """A position in [0, 1) moved toward the centre of its part (of `parts` equal parts)."""
    scaled = fraction * parts
    part = min(int(scaled), parts - 1)
    centre = part + 0.5
    return (centre + (scaled - centre) * NEIGHBOURHOOD_SHRINK) / parts


@dataclass(frozen=True, slots=True)
class Region:
    name: str
    south: float
    west: float
    north: float
    east: float

    def random_point(self, rng: random.Random) -> tuple[float, float]:
        """A point in one of the region's neighbourhoods (two draws from `rng`)."""
        u = rng.uniform(0.0, 1.0)
        v = rng.uniform(0.0, 1.0)
        lat = self.south + (self.north - self.south) * _gather(u, NEIGHBOURHOOD_ROWS)
        lon = self.west + (self.east - self.west) * _gather(v, NEIGHBOURHOOD_COLUMNS)
        return lat, lon


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
