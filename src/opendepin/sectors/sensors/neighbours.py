"""What WeatherXM lacks: each station compared with its neighbours (ours).

Neighbours are the `max_neighbours` nearest stations within `radius_m` of a station's anchor (ties by device
id). For every hour a station scored, each compared quantity — temperature reduced to sea level with the
lapse rate, humidity, pressure reduced to sea level, for air-quality stations the EPA-corrected PM2.5 —
is set against the same hour at the neighbours: with at least `min_neighbours` values, their lower median
`med` and the lower median absolute deviation from it `mad`, the hour mismatches when
|x − med| > max(tolerance, mad_multiple · mad) (AirNet's "median ± 3σ" idea, robust). A station with at
least `mismatch_hours` mismatching hours of one quantity is `sensors.neighbour_mismatch`. All integers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from opendepin.sectors.sensors.geometry import METRES_PER_DEGREE, distances_m
from opendepin.sectors.sensors.params import NeighbourParams, exact

E7 = 10_000_000


def nearest(
    positions: Mapping[str, tuple[int, int]], radius_m: int, limit: int
) -> dict[str, list[tuple[str, int]]]:
    """Each station's nearest other stations within `radius_m`: [(device, metres)], nearest first."""
    ids = sorted(positions)
    if not ids:
        return {}
    lats = np.array([positions[d][0] for d in ids], dtype=np.int64)
    lons = np.array([positions[d][1] for d in ids], dtype=np.int64)
    lat_span = int(radius_m / METRES_PER_DEGREE * E7) + 1
    out: dict[str, list[tuple[str, int]]] = {}
    for k, device in enumerate(ids):
        lat, lon = int(lats[k]), int(lons[k])
        # a box that surely holds the circle (longitude degrees shrink by cos(latitude) ≥ cos(80°) > 1/6)
        factor = 6 if abs(lat) < 80 * E7 else 10**6
        box = (np.abs(lats - lat) <= lat_span) & (np.abs(lons - lon) <= lat_span * factor)
        box[k] = False
        candidates = np.flatnonzero(box)
        if candidates.size == 0:
            out[device] = []
            continue
        metres = distances_m(lats[candidates], lons[candidates], lat, lon)
        inside = metres <= radius_m
        found = sorted(
            (int(m), ids[int(c)])
            for c, m in zip(candidates[inside].tolist(), metres[inside].tolist(), strict=True)
        )
        out[device] = [(d, m) for m, d in found[:limit]]
    return out


def robust_centre(values: Sequence[int]) -> tuple[int, int]:
    """(lower median, lower median of the absolute deviations from it)."""
    ordered = sorted(values)
    med = ordered[(len(ordered) - 1) // 2]
    deviations = sorted(abs(v - med) for v in ordered)
    return med, deviations[(len(deviations) - 1) // 2]


def mismatch_hours(
    hours: Sequence[int],
    own: Mapping[int, Sequence[int | None]],
    neighbours: Sequence[Mapping[int, Sequence[int | None]]],
    quantities: Mapping[str, int],
    params: NeighbourParams,
) -> tuple[dict[str, int], dict[str, int], list[dict[str, Any]]]:
    """(mismatching hours per quantity, compared hours per quantity, a few examples) for a station's scored
    `hours`; `quantities` maps a tolerance name to its position in the hourly summaries."""
    mismatched = dict.fromkeys(quantities, 0)
    compared = dict.fromkeys(quantities, 0)
    examples: list[dict[str, Any]] = []
    multiple = exact(params.mad_multiple)
    for hour in hours:
        mine = own.get(hour)
        if mine is None:
            continue
        for name, position in quantities.items():
            x = mine[position]
            if x is None:
                continue
            values = [
                int(v)
                for n in neighbours
                if (s := n.get(hour)) is not None and (v := s[position]) is not None
            ]
            if len(values) < params.min_neighbours:
                continue
            compared[name] += 1
            med, mad = robust_centre(values)
            tolerance = exact(params.tolerance.get(name, 1e9)) * 1000
            limit = max(tolerance, multiple * mad)
            if abs(int(x) - med) > limit:
                mismatched[name] += 1
                if len(examples) < 3:
                    examples.append(
                        {
                            "hour": hour,
                            "quantity": name,
                            "value": int(x),
                            "median": med,
                            "mad": mad,
                            "limit": str(Fraction(limit)),
                            "neighbours": len(values),
                        }
                    )
    return mismatched, compared, examples
