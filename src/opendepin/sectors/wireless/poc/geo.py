"""Geometry on asserted H3 cells: centres, great-circle distances, grid distances, local metric plane."""

from __future__ import annotations

import math
from functools import lru_cache

import h3
import numpy as np
import numpy.typing as npt

EARTH_RADIUS_M = 6_371_008.8
FAR_CELLS = 1_000_000_000


@lru_cache(maxsize=1 << 20)
def get_cell_center(cell: str) -> tuple[float, float]:
    """(lat, lng) in degrees of an H3 cell's centre."""
    lat, lng = h3.cell_to_latlng(cell)
    return float(lat), float(lng)


def compute_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in metres between two (lat, lng) points."""
    lat1, lng1, lat2, lng2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def compute_cell_distance(a: str, b: str, resolution: int) -> int:
    """Grid distance between the ancestors of two cells at `resolution` (very large if not computable)."""
    pa = h3.cell_to_parent(a, resolution) if h3.get_resolution(a) > resolution else a
    pb = h3.cell_to_parent(b, resolution) if h3.get_resolution(b) > resolution else b
    try:
        return int(h3.grid_distance(pa, pb))
    except h3.H3BaseException:
        return FAR_CELLS


def compute_distances_m(
    lat1: npt.NDArray[np.float64],
    lng1: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
    lng2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Vectorised haversine distances in metres (degrees in)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lng2 - lng1)
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(h)))


def project_to_plane(
    lat: npt.NDArray[np.float64], lng: npt.NDArray[np.float64], ref_lat: float
) -> npt.NDArray[np.float64]:
    """Equirectangular projection to metres (x east, y north) around latitude `ref_lat`; shape (n, 2)."""
    x = np.radians(lng) * EARTH_RADIUS_M * math.cos(math.radians(ref_lat))
    y = np.radians(lat) * EARTH_RADIUS_M
    return np.stack([x, y], axis=1)


def pairs_within(
    xy: npt.NDArray[np.float64], radius: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All ordered pairs (i, j), i ≠ j, of points closer than `radius` metres (grid bucketing, vectorised)."""
    n = len(xy)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    cells = np.floor(xy / radius).astype(np.int64)
    cells -= cells.min(axis=0)
    width = int(cells[:, 1].max()) + 3
    keys = (cells[:, 0] + 1) * width + (cells[:, 1] + 1)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    left_parts: list[npt.NDArray[np.int64]] = []
    right_parts: list[npt.NDArray[np.int64]] = []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            target = keys + dx * width + dy
            lo = np.searchsorted(sorted_keys, target, side="left")
            hi = np.searchsorted(sorted_keys, target, side="right")
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            i = np.repeat(np.arange(n, dtype=np.int64), counts)
            offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
            j = order[np.repeat(lo, counts) + offsets]
            left_parts.append(i)
            right_parts.append(j)
    i_all, j_all = np.concatenate(left_parts), np.concatenate(right_parts)
    d2 = ((xy[i_all] - xy[j_all]) ** 2).sum(axis=1)
    keep = (i_all != j_all) & (d2 < radius * radius)
    return i_all[keep], j_all[keep]
