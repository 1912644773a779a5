"""Exact money in proof of coverage: HIP-15 units and the HIP-17 scale as Fractions, trust in ppm, and the
reward units of every device equal to an independent Fraction reference."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.base import UNIT_SCALE
from opendepin.sectors.wireless.poc.density_hip17 import compute_hex_scales
from opendepin.sectors.wireless.poc.evaluate import build_contributions, compute_scaled_units, evaluate_poc
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rewards_hip15 import (
    compute_beacon_unit,
    compute_hip15_total,
    compute_hip15_totals,
    compute_witness_unit,
)
from opendepin.sectors.wireless.poc.trust import PPM
from tests.sectors.wireless.poc.helpers import cell_at
from tests.sectors.wireless.poc.test_poc_evaluate import _epoch

PARAMS = PocParams()


def test_a_six_witness_beacon_earns_exactly_1_36_units() -> None:
    """2 − 0.8² = 1.36 exactly; the float formula gave 1 359 999 999 (0.8 ** 2 = 0.6400000000000001)."""
    assert math.floor((2 - 0.8**2) * 1.0 * 1.0 * UNIT_SCALE) == 1_359_999_999
    assert compute_scaled_units(compute_beacon_unit(6, PARAMS), Fraction(1), PPM) == 1_360_000_000
    for n, expected in ((8, 1_590_400_000), (10, 1_737_856_000), (12, 1_832_227_840), (14, 1_892_625_817)):
        exact = (2 - Fraction(4, 5) ** (n - 4)) * UNIT_SCALE
        assert compute_scaled_units(compute_beacon_unit(n, PARAMS), Fraction(1), PPM) == expected
        assert expected == math.floor(exact)


def test_a_six_witness_beacon_through_the_whole_epoch() -> None:
    outcome = evaluate_poc(_epoch(6, rssi=-118.0), PARAMS)
    beacon = next(c for c in outcome.contributions if (c.device_id, c.category) == ("b", "beacons"))
    assert beacon.breakdown["hip15_units"] == "34/25"
    assert (beacon.breakdown["hex_scale"], beacon.breakdown["trust_ppm"]) == ("1", PPM)
    assert beacon.units == 1_360_000_000


def test_a_witness_at_2_76_in_a_hex_scaled_one_third_earns_exactly_0_92() -> None:
    """HIP-15 total 1 + 1 + 0.76 in a resolution-10 hex shared by three hotspots (scale 1/3)."""
    assert math.floor(2.76 * (1 / 3) * 1.0 * UNIT_SCALE) == 919_999_999
    base = h3.cell_to_parent(cell_at(0), 10)
    cells = [h3.cell_to_center_child(child, 12) for child in sorted(h3.cell_to_children(base, 11))[:3]]
    scales = compute_hex_scales({"w": cells[0], "x": cells[1], "y": cells[2]}, PARAMS)
    assert scales["w"] == Fraction(1, 3)
    counts = {"beacons": {}, "witnesses": {"w": Counter({3: 2, 5: 1})}}
    contributions, _ = build_contributions(counts, scales, {"w": PPM}, PARAMS)
    assert contributions[0].breakdown["hip15_units"] == "69/25"
    assert contributions[0].units == 920_000_000


def test_trust_scales_exactly_in_parts_per_million() -> None:
    counts = {"beacons": {"b": Counter({6: 1})}, "witnesses": {}}
    contributions, _ = build_contributions(counts, {"b": Fraction(1)}, {"b": 333_333}, PARAMS)
    assert contributions[0].units == 453_332_880  # 1.36 × 0.333333 × 10⁹
    assert contributions[0].breakdown["trust"] == "0.333333"
    assert json.loads(json.dumps(contributions[0].breakdown)) == contributions[0].breakdown


# an independent reference, written from the HIP texts with Fractions
def reference_beacon_unit(n: int) -> Fraction:
    """HIP-15: n/4 up to 4 witnesses, then 2 − 0.8^(n−4), capped at 2."""
    return Fraction(n, 4) if n <= 4 else min(Fraction(2), 2 - Fraction(8, 10) ** (n - 4))


def reference_witness_unit(n: int) -> Fraction:
    """HIP-15: 1 each up to 4 witnesses, then (4 − (1 − 0.8^(n−4))) / n, capped at 2."""
    if n == 0:
        return Fraction(0)
    return Fraction(1) if n <= 4 else min(Fraction(2), (4 - (1 - Fraction(8, 10) ** (n - 4))) / n)


HIP104 = {
    4: (2, 500, 1000),
    5: (4, 100, 200),
    6: (4, 25, 50),
    7: (4, 5, 10),
    8: (2, 1, 1),
    9: (2, 1, 1),
    10: (2, 1, 1),
}


def reference_scales(cells: dict[str, str]) -> dict[str, Fraction]:
    """HIP-17: from resolution 10 down to 4, count hotspots per hex (children's clipped counts), clip each
    hex at min(max, target · max(occupied − N + 1, 1)); a hotspot's scale is Π clipped / unclipped."""
    counts: Counter[str] = Counter(h3.cell_to_parent(c, 11) for c in cells.values())
    ratios: dict[str, Fraction] = {}
    for res in range(10, 3, -1):
        n, target, cap = HIP104[res]
        unclipped: Counter[str] = Counter()
        for hex_id, count in counts.items():
            unclipped[h3.cell_to_parent(hex_id, res)] += count
        clipped: Counter[str] = Counter()
        for hex_id, count in unclipped.items():
            occupied = sum(1 for h in h3.grid_disk(hex_id, 1) if unclipped.get(h, 0) >= target)
            clipped[hex_id] = min(count, min(cap, target * max(occupied - n + 1, 1)))
            ratios[hex_id] = Fraction(clipped[hex_id], count)
        counts = clipped
    return {
        device: math.prod(
            (ratios[h3.cell_to_parent(cell, res)] for res in range(10, 3, -1)), start=Fraction(1)
        )
        for device, cell in cells.items()
    }


HOTSPOT = st.tuples(
    st.integers(-6_000, 6_000),
    st.integers(-6_000, 6_000),
    st.lists(st.integers(0, 14), max_size=6),
    st.lists(st.integers(1, 14), max_size=12),
    st.integers(0, PPM),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(HOTSPOT, min_size=1, max_size=25))
def test_rewards_match_an_independent_fraction_reference(hotspots: list) -> None:
    """Random hotspot sets (positions in a 12 km square, so hexes are shared; random witness counts of
    their beacons and witnessed beacons; random trust): every device's units equal the reference."""
    cells = {f"h{k}": cell_at(north, east) for k, (north, east, _, _, _) in enumerate(hotspots)}
    counts = {
        "beacons": {f"h{k}": Counter(b) for k, (_, _, b, _, _) in enumerate(hotspots) if b},
        "witnesses": {f"h{k}": Counter(w) for k, (_, _, _, w, _) in enumerate(hotspots) if w},
    }
    trust = {f"h{k}": t for k, (*_, t) in enumerate(hotspots)}
    scales = compute_hex_scales(cells, PARAMS)
    assert scales == reference_scales(cells)
    contributions, _ = build_contributions(counts, scales, trust, PARAMS)
    got = {(c.device_id, c.category): c.units for c in contributions}
    expected = {}
    for k, (_, _, beacons, witnesses, t) in enumerate(hotspots):
        device, factor = f"h{k}", scales[f"h{k}"] * Fraction(t, PPM) * UNIT_SCALE
        if beacons:
            expected[(device, "beacons")] = math.floor(sum(map(reference_beacon_unit, beacons)) * factor)
        if witnesses:
            expected[(device, "witnesses")] = math.floor(sum(map(reference_witness_unit, witnesses)) * factor)
    assert got == expected
    for per_n in counts["witnesses"].values():
        assert compute_hip15_total(per_n, PARAMS, beacon=False) == sum(
            reference_witness_unit(n) * c for n, c in per_n.items()
        )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-120_000, 120_000),
            st.integers(-120_000, 120_000),
            st.integers(-120_000, 120_000),
            st.integers(-120_000, 120_000),
            st.integers(0, 7),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_batched_witness_geometry_is_bit_identical_to_one_at_a_time(links: list) -> None:
    """The epoch computes every witness link's distance and free-space loss in one vectorised batch; the
    verdicts must not depend on that (same bits as the scalar rule)."""
    from opendepin.sectors.wireless.poc.rules_witness import compute_link_geometries, compute_link_geometry

    triples = [
        (cell_at(n1, e1), cell_at(n2, e2), 903_900_000 + 200_000 * channel)
        for n1, e1, n2, e2, channel in links
    ]
    batch = compute_link_geometries(triples)
    assert [batch.get(str(k)) for k in range(len(triples))] == [compute_link_geometry(*t) for t in triples]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("abc", min_size=1, max_size=3),
        st.dictionaries(st.integers(0, 40), st.integers(1, 50), min_size=1, max_size=6),
        max_size=8,
    ),
    st.booleans(),
)
def test_totals_over_a_common_denominator_equal_each_device_summed_alone(
    counts: dict[str, dict[int, int]], beacon: bool
) -> None:
    unit = compute_beacon_unit if beacon else compute_witness_unit
    totals = compute_hip15_totals(counts, PARAMS, beacon)
    assert totals == {
        device: sum((c * unit(n, PARAMS) for n, c in per_n.items()), Fraction(0))
        for device, per_n in counts.items()
    }
