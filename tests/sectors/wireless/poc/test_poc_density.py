"""HIP-17 hex-density scaling with the HIP-104 parameters."""

from __future__ import annotations

from fractions import Fraction

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.density_hip17 import (
    compute_clipped_counts,
    compute_density_table,
    compute_hex_scale,
    compute_hex_scales,
    compute_limit,
    compute_occupied,
)
from opendepin.sectors.wireless.poc.params import DensityLevel, PocParams
from tests.sectors.wireless.poc.helpers import cell_at

PARAMS = PocParams()


def test_limit_formula_around_the_neighbour_threshold() -> None:
    level = DensityLevel(n=4, target=5, max=10)
    assert compute_limit(4, level) == 5
    assert compute_limit(5, level) == 10
    assert compute_limit(7, level) == 10
    assert compute_limit(0, level) == 5


def test_occupied_counts_the_cell_and_its_neighbours_at_target() -> None:
    cell = h3.cell_to_parent(cell_at(0), 8)
    neighbour = sorted(h3.grid_ring(cell, 1))[0]
    far = sorted(h3.grid_ring(cell, 2))[0]
    counts = {cell: 1, neighbour: 1, far: 1}
    assert compute_occupied(cell, counts, 1) == 2
    assert compute_occupied(cell, counts, 2) == 0


def test_lone_hotspot_keeps_full_scale() -> None:
    assert compute_hex_scales({"a": cell_at(0)}, PARAMS) == {"a": 1.0}


def test_two_hotspots_in_one_resolution_10_cell_share_it() -> None:
    base = h3.cell_to_parent(cell_at(0), 10)
    a, b = (h3.cell_to_center_child(child, 12) for child in sorted(h3.cell_to_children(base, 11))[:2])
    scales = compute_hex_scales({"a": a, "b": b}, PARAMS)
    assert scales == {"a": Fraction(1, 2), "b": Fraction(1, 2)}


def test_density_table_rolls_clipped_counts_up() -> None:
    base = h3.cell_to_parent(cell_at(0), 10)
    cells = [h3.cell_to_center_child(child, 12) for child in sorted(h3.cell_to_children(base, 11))[:3]]
    table = compute_density_table(cells, PARAMS)
    unclipped, clipped = table[10]
    assert unclipped[base] == 3 and clipped[base] == 1
    assert table[9][0][h3.cell_to_parent(base, 9)] == 1
    assert compute_hex_scale(cells[0], table) == Fraction(1, 3)


def test_distant_hotspots_do_not_affect_each_other() -> None:
    scales = compute_hex_scales({"a": cell_at(0), "b": cell_at(50_000)}, PARAMS)
    assert scales == {"a": 1.0, "b": 1.0}


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 7),
    target=st.integers(1, 6),
    maximum=st.integers(1, 12),
    counts=st.lists(st.integers(1, 15), min_size=19, max_size=19),
)
def test_clipped_counts_equal_the_formula_with_every_neighbourhood_counted(
    n: int, target: int, maximum: int, counts: list[int]
) -> None:
    """Cells whose count cannot exceed the limit skip counting neighbours: the same clipped counts."""
    centre = h3.cell_to_parent(cell_at(0), 8)
    cells = sorted(h3.grid_disk(centre, 2))
    by_cell = dict(zip(cells, counts, strict=True))
    level = DensityLevel(n=n, target=target, max=maximum)
    expected = {
        cell: min(count, compute_limit(compute_occupied(cell, by_cell, target), level))
        for cell, count in by_cell.items()
    }
    assert compute_clipped_counts(by_cell, level) == expected
