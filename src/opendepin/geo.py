"""Small geometry shared by the simulators and the sectors: H3 assertion cells and offsets on the ground.

Pure functions over latitude/longitude in degrees; no sector, no I/O.
"""

from __future__ import annotations

import math

import h3

from opendepin.identity.attestation import ASSERTION_RESOLUTION

METRES_PER_DEGREE = 111_320.0
"""Metres per degree of latitude (and of longitude at the equator) in the small-distance approximation."""


def cell_of(lat: float, lon: float) -> str:
    """The H3 cell (assertion resolution) holding a point."""
    return str(h3.latlng_to_cell(lat, lon, ASSERTION_RESOLUTION))


def offset_point(lat: float, lon: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    """A point `metres` away on `bearing_deg` (small-distance equirectangular approximation)."""
    dlat = metres * math.cos(math.radians(bearing_deg)) / METRES_PER_DEGREE
    dlon = metres * math.sin(math.radians(bearing_deg)) / (METRES_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon
