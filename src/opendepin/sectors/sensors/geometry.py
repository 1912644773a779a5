"""Positions as integer 1e-7 degrees and distances between them, the same bits on every machine.

Distances use the equirectangular approximation (exact enough within the 25 km the rules look at) with
`detmath.cos`, and are rounded to whole metres; they decide who is whose neighbour and whether a station
moved, so no libm function enters them. H3 cells (the cell capacity's resolution) come from `h3`: a parent
of an asserted cell is exact integer arithmetic; a cell of a measured position uses h3's trigonometry (the
residual risk of a point within nanodegrees of a cell edge, as for the wireless sector).
"""

from __future__ import annotations

import math

import h3
import numpy as np
import numpy.typing as npt

from opendepin import detmath

E7 = 10_000_000
METRES_PER_DEGREE = 111_320.0
DEG = math.pi / 180.0


def to_e7(degrees: float) -> int:
    """Degrees → integer 1e-7 degrees (one correctly rounded multiplication, half to even)."""
    return round(float(degrees) * E7)


def distance_m(lat1: int, lon1: int, lat2: int, lon2: int) -> int:
    """Ground distance in whole metres (half to even) between two e7 positions."""
    return int(distances_m(np.array([lat1]), np.array([lon1]), lat2, lon2)[0])


def distances_m(
    lats: npt.NDArray[np.int64], lons: npt.NDArray[np.int64], lat: int, lon: int
) -> npt.NDArray[np.int64]:
    """Distances in whole metres from (lat, lon) to every e7 position of `lats`/`lons`."""
    mean_lat = (lats.astype(np.float64) + float(lat)) / (2.0 * E7)
    kx = detmath.cos(mean_lat * DEG) * METRES_PER_DEGREE
    dx = (lons.astype(np.float64) - float(lon)) / E7 * kx
    dy = (lats.astype(np.float64) - float(lat)) / E7 * METRES_PER_DEGREE
    return np.rint(detmath.sqrt(dx * dx + dy * dy)).astype(np.int64)


def cell_centre_e7(cell: str) -> tuple[int, int]:
    """The centre of an H3 cell, as e7 integers."""
    lat, lon = h3.cell_to_latlng(cell)
    return to_e7(lat), to_e7(lon)


def cell_at(lat_e7: int, lon_e7: int, resolution: int) -> str:
    """The H3 cell of a position at `resolution`."""
    return str(h3.latlng_to_cell(lat_e7 / E7, lon_e7 / E7, resolution))


def parent_cell(cell: str, resolution: int) -> str:
    """An asserted cell's parent at `resolution` (the cell itself when it is coarser)."""
    if h3.get_resolution(cell) <= resolution:
        return cell
    return str(h3.cell_to_parent(cell, resolution))
