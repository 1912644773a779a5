"""The simulator's map: a plane in metres anchored at a latitude/longitude, and H3 assertions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import h3
import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MapFrame:
    """Plane coordinates (x east, y north, metres) around an origin; equirectangular."""

    origin_lat: float = 37.0
    origin_lng: float = -120.5
    size_m: float = 120_000.0

    def to_latlng(self, xy: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Latitude and longitude (degrees) of plane points, shape (n, 2) in."""
        lat = self.origin_lat + np.degrees(xy[:, 1] / EARTH_RADIUS_M)
        lng = self.origin_lng + np.degrees(
            xy[:, 0] / (EARTH_RADIUS_M * math.cos(math.radians(self.origin_lat)))
        )
        return lat, lng

    def to_cells(self, xy: FloatArray, resolution: int) -> list[str]:
        """H3 cells (the asserted locations) of plane points."""
        lat, lng = self.to_latlng(xy)
        return [h3.latlng_to_cell(float(a), float(b), resolution) for a, b in zip(lat, lng, strict=True)]

    def cell_xy(self, cells: list[str]) -> FloatArray:
        """Plane coordinates of H3 cell centres (what the verifier sees of an assertion)."""
        points = np.array([h3.cell_to_latlng(c) for c in cells], dtype=np.float64).reshape(-1, 2)
        y = np.radians(points[:, 0] - self.origin_lat) * EARTH_RADIUS_M
        x = (
            np.radians(points[:, 1] - self.origin_lng)
            * EARTH_RADIUS_M
            * math.cos(math.radians(self.origin_lat))
        )
        return np.stack([x, y], axis=1)
