"""Geometry on asserted H3 cells: centres, great-circle distances, grid distances, local metric plane.

Every figure that decides a verdict or a reward is computed deterministically (docs/wireless-poc.md,
"Exact and reproducible"): cell centres are quantised to integer 10⁻⁷ degrees (`E7`) straight out of the
H3 library, and distances and projections use `opendepin.detmath` (correctly rounded operations only).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import h3
import h3.api.basic_int as h3_int
import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from opendepin import detmath
from opendepin.detmath import DEG_TO_RAD

EARTH_RADIUS_M = 6_371_008.8
FAR_CELLS = 1_000_000_000
E7 = 10_000_000
"""Cell centres are integers in 10⁻⁷ degrees (about 1 cm), like GPS receivers' own integer formats."""

FloatArray = npt.NDArray[np.float64]


def quantise_degrees(value: float) -> int:
    """Degrees → integer 10⁻⁷ degrees, rounded to nearest (ties to even)."""
    return round(value * E7)


@lru_cache(maxsize=1 << 20)
def get_cell_center_e7(cell: str) -> tuple[int, int]:
    """(lat, lng) of an H3 cell's centre in integer 10⁻⁷ degrees.

    H3 computes the centre with the platform's libm (a last-bit difference between machines is possible);
    rounding to 10⁻⁷ degrees absorbs it except when the exact centre lies within ~10⁻¹⁴ degrees of a
    rounding boundary (docs/wireless-poc.md, "Residual risk").
    """
    lat, lng = h3.cell_to_latlng(cell)
    return quantise_degrees(lat), quantise_degrees(lng)


@lru_cache(maxsize=1 << 20)
def get_cell_center(cell: str) -> tuple[float, float]:
    """(lat, lng) in degrees of an H3 cell's centre, from the quantised integers (exact division)."""
    lat, lng = get_cell_center_e7(cell)
    return lat / E7, lng / E7


def _clamp_to_one(x: float | FloatArray) -> float | FloatArray:
    return np.minimum(1.0, x) if isinstance(x, np.ndarray) else min(1.0, x)


def compute_haversine_m(
    lat1: float | FloatArray, lng1: float | FloatArray, lat2: float | FloatArray, lng2: float | FloatArray
) -> float | FloatArray:
    """Great-circle (haversine) distance in metres, degrees in; floats or arrays, the same bits either way
    (the same correctly rounded operations in the same order)."""
    p1, l1, p2, l2 = lat1 * DEG_TO_RAD, lng1 * DEG_TO_RAD, lat2 * DEG_TO_RAD, lng2 * DEG_TO_RAD
    half_dlat = detmath.sin((p2 - p1) * 0.5)
    half_dlng = detmath.sin((l2 - l1) * 0.5)
    h = half_dlat * half_dlat + detmath.cos(p1) * detmath.cos(p2) * (half_dlng * half_dlng)
    return 2.0 * EARTH_RADIUS_M * detmath.asin(_clamp_to_one(detmath.sqrt(h)))


HAVERSINE_CHUNK = 1 << 16
"""Elements `compute_haversine_many` computes at a time: the deterministic kernels make a few dozen
temporary arrays, which at this size stay in the CPU's cache (4M distances: 0.52 s, against 2.81 s as one
array; 24M heartbeats as one array held gigabytes of temporaries)."""


def compute_haversine_many(
    lat1: FloatArray, lng1: FloatArray, lat2: FloatArray, lng2: FloatArray
) -> FloatArray:
    """`compute_haversine_m` of equally long arrays, `HAVERSINE_CHUNK` elements at a time: the same bits
    (each element is computed by the same operations on its own)."""
    out = np.empty(len(lat1), dtype=np.float64)
    for start in range(0, len(lat1), HAVERSINE_CHUNK):
        part = slice(start, start + HAVERSINE_CHUNK)
        out[part] = compute_haversine_m(lat1[part], lng1[part], lat2[part], lng2[part])
    return out


def compute_distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle (haversine) distance in metres between two (lat, lng) points in degrees."""
    return float(compute_haversine_m(a[0], a[1], b[0], b[1]))


def compute_cell_distances_m(pairs: Sequence[tuple[str, str]]) -> FloatArray:
    """`compute_cell_distance_m` of many pairs at once (vectorised; bit-identical to one at a time)."""
    if not pairs:
        return np.zeros(0)
    cells: dict[str, int] = {}  # each distinct cell's centre looked up once, then gathered by index
    first = np.array([cells.setdefault(x, len(cells)) for x, _ in pairs], dtype=np.int64)
    second = np.array([cells.setdefault(y, len(cells)) for _, y in pairs], dtype=np.int64)
    centres = np.array([get_cell_center(cell) for cell in cells], dtype=np.float64).reshape(-1, 2)
    a, b = centres[first], centres[second]
    return compute_haversine_many(a[:, 0], a[:, 1], b[:, 0], b[:, 1])


@lru_cache(maxsize=1 << 20)
def compute_cell_distance_m(a: str, b: str) -> float:
    """Great-circle distance between two cells' quantised centres (metres)."""
    return compute_distance_m(get_cell_center(a), get_cell_center(b))


@lru_cache(maxsize=1 << 20)
def get_ancestor(cell: str, resolution: int) -> str:
    """The cell's ancestor at `resolution` (the cell itself if it is that coarse or coarser); cached, as a
    hotspot's cell is looked up once per witness link."""
    return h3.cell_to_parent(cell, resolution) if h3.get_resolution(cell) > resolution else cell


@lru_cache(maxsize=1 << 20)
def get_ancestor_index(cell: str, resolution: int) -> int:
    """`get_ancestor` as H3's 64-bit integer index (what H3 computes grid distances on)."""
    return int(h3.str_to_int(get_ancestor(cell, resolution)))


def compute_cell_distance(a: str, b: str, resolution: int) -> int:
    """Grid distance between the ancestors of two cells at `resolution` (very large if not computable)."""
    pa = get_ancestor_index(a, resolution)
    pb = get_ancestor_index(b, resolution)
    try:
        return int(h3_int.grid_distance(pa, pb))
    except h3.H3BaseException:
        return FAR_CELLS


def compute_reference_latitude_e7(lat_e7: npt.NDArray[np.int64]) -> int:
    """Integer mean latitude (10⁻⁷ degrees, floor) of the devices: the plane's reference parallel."""
    return int(sum(int(v) for v in lat_e7.tolist()) // len(lat_e7)) if len(lat_e7) else 0


def project_to_plane(
    lat_e7: npt.NDArray[np.int64], lng_e7: npt.NDArray[np.int64], ref_lat_e7: int
) -> FloatArray:
    """Equirectangular projection to metres (x east, y north) around latitude `ref_lat_e7`; shape (n, 2)."""
    scale = detmath.cos((ref_lat_e7 / E7) * DEG_TO_RAD)
    x = (lng_e7.astype(np.float64) / E7) * DEG_TO_RAD * EARTH_RADIUS_M * scale
    y = (lat_e7.astype(np.float64) / E7) * DEG_TO_RAD * EARTH_RADIUS_M
    return np.stack([x, y], axis=1)


def compute_plane_distances(a: FloatArray, b: FloatArray) -> FloatArray:
    """Euclidean distances between rows of two (n, 2) arrays of plane points: √(dx² + dy²)."""
    dx = a[:, 0] - b[:, 0]
    dy = a[:, 1] - b[:, 1]
    return np.sqrt(dx * dx + dy * dy)


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
    ddx = xy[i_all, 0] - xy[j_all, 0]
    ddy = xy[i_all, 1] - xy[j_all, 1]
    keep = (i_all != j_all) & (ddx * ddx + ddy * ddy < radius * radius)
    return i_all[keep], j_all[keep]


def pairs_near(
    query: npt.NDArray[np.float64], xy: npt.NDArray[np.float64], radius: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """All pairs (i, j) with query point i and point j closer than `radius` metres: dx² + dy² < radius²,
    computed exactly so; pairs ordered by i, then by j. Candidates come from scipy's k-d trees with a slack
    of 10⁻⁶ of the radius (far above the rounding of their own distance), then the exact test decides."""
    empty = np.zeros(0, dtype=np.int64)
    if len(query) == 0 or len(xy) == 0 or not radius > 0:
        return empty, empty
    rows = np.flatnonzero(np.isfinite(query).all(axis=1))
    points = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if len(rows) == 0 or len(points) == 0:
        return empty, empty
    reach = radius * (1.0 + 1e-6) if np.isfinite(radius) else np.inf
    found = cKDTree(query[rows]).sparse_distance_matrix(cKDTree(xy[points]), reach, output_type="ndarray")
    i = rows[found["i"].astype(np.int64)]
    j = points[found["j"].astype(np.int64)]
    ddx = query[i, 0] - xy[j, 0]
    ddy = query[i, 1] - xy[j, 1]
    keep = ddx * ddx + ddy * ddy < radius * radius
    keys = np.sort(i[keep] * len(xy) + j[keep])
    return keys // len(xy), keys % len(xy)
