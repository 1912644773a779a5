"""HIP-17 hex-density scaling with HIP-104 parameters (docs/wireless-poc.md), in exact arithmetic.

Counts are integers (H3 parents and neighbours are exact integer operations of the H3 library) and the
scale is a product of ratios clipped/unclipped, kept as a Fraction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction

import h3

from opendepin.sectors.wireless.poc.params import DensityLevel, PocParams


def compute_occupied(cell: str, counts: Mapping[str, int], target: int) -> int:
    """Cells among `cell` and its 6 neighbours (grid_disk 1) whose count reaches `target` (HIP-17)."""
    return sum(1 for other in h3.grid_disk(cell, 1) if counts.get(other, 0) >= target)


def compute_limit(occupied: int, level: DensityLevel) -> int:
    """limit = min(max, target · max(occupied − N + 1, 1)) (HIP-17)."""
    return min(level.max, level.target * max(occupied - level.n + 1, 1))


def compute_clipped_counts(counts: Mapping[str, int], level: DensityLevel) -> dict[str, int]:
    """clipped = min(count, limit) for every cell of one resolution (HIP-17)."""
    return {cell: compute_clipped(cell, count, counts, level) for cell, count in counts.items()}


def compute_clipped(cell: str, count: int, counts: Mapping[str, int], level: DensityLevel) -> int:
    """min(count, limit) of one cell (HIP-17). The limit lies between min(max, target) and max whatever the
    neighbours, so a count up to min(max, target) is its own clipped count, and where max ≤ target the
    limit is max: only the other cells need their neighbours counted (none at HIP-104's resolutions 8-10,
    where max = target = 1)."""
    if count <= min(level.max, level.target):
        return count
    if level.max <= level.target:
        return level.max
    return min(count, compute_limit(compute_occupied(cell, counts, level.target), level))


def compute_parent_counts(counts: Mapping[str, int], resolution: int) -> dict[str, int]:
    """Roll clipped counts up one level: a parent's count is the sum over its children (HIP-17)."""
    rolled: Counter[str] = Counter()
    for cell, count in counts.items():
        rolled[h3.cell_to_parent(cell, resolution)] += count
    return dict(rolled)


def compute_density_table(
    locations: Iterable[str], params: PocParams
) -> dict[int, tuple[dict[str, int], dict[str, int]]]:
    """Per resolution (base−1 … lowest level): (unclipped, clipped) counts of active hotspots (HIP-17)."""
    base = params.density_base_resolution
    counts: dict[str, int] = dict(Counter(h3.cell_to_parent(cell, base) for cell in locations))
    table: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
    for res in range(base - 1, min(params.density_levels, default=base) - 1, -1):
        unclipped = compute_parent_counts(counts, res)
        level = params.density_levels.get(res)
        clipped = compute_clipped_counts(unclipped, level) if level is not None else dict(unclipped)
        table[res] = (unclipped, clipped)
        counts = clipped
    return table


def compute_hex_scale(location: str, table: Mapping[int, tuple[dict[str, int], dict[str, int]]]) -> Fraction:
    """Product over resolutions of clipped/unclipped for the hotspot's ancestors (HIP-17), exact."""
    numerator = denominator = 1
    for res, (unclipped, clipped) in table.items():
        parent = h3.cell_to_parent(location, res)
        total = unclipped.get(parent, 0)
        if total == 0:
            return Fraction(0)
        numerator *= clipped[parent]
        denominator *= total
    return Fraction(numerator, denominator)


def compute_hex_scales(active: Mapping[str, str], params: PocParams) -> dict[str, Fraction]:
    """Scale of every active hotspot (device id → asserted cell); others get `default_hex_scale` elsewhere."""
    table = compute_density_table(active.values(), params)
    return {device: compute_hex_scale(cell, table) for device, cell in active.items()}
