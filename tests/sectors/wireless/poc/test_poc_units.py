"""HIP-15 reward units, HIP-83 cap and HIP-106 reciprocity at their thresholds."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reciprocity import is_active, is_beacon_reciprocal, is_witness_reciprocal
from opendepin.sectors.wireless.poc.rewards_hip15 import (
    compute_beacon_unit,
    compute_witness_unit,
    select_witnesses,
)

PARAMS = PocParams()


DECAY = Fraction(4, 5)


@pytest.mark.parametrize(
    ("n", "beacon", "witness"),
    [
        (0, Fraction(0), Fraction(0)),
        (1, Fraction(1, 4), Fraction(1)),
        (4, Fraction(1), Fraction(1)),
        (5, 2 - DECAY, (4 - (1 - DECAY)) / 5),
        (6, Fraction(136, 100), (4 - (1 - DECAY**2)) / 6),
        (14, 2 - DECAY**10, (4 - (1 - DECAY**10)) / 14),
    ],
)
def test_hip15_units_on_both_sides_of_redundancy(n: int, beacon: Fraction, witness: Fraction) -> None:
    assert compute_beacon_unit(n, PARAMS) == beacon
    assert compute_witness_unit(n, PARAMS) == witness


@given(st.integers(min_value=0, max_value=200))
def test_hip15_units_bounded_by_cap(n: int) -> None:
    assert 0 <= compute_beacon_unit(n, PARAMS) <= PARAMS.unit_cap
    assert 0 <= compute_witness_unit(n, PARAMS) <= PARAMS.unit_cap


@given(st.integers(min_value=0, max_value=100))
def test_beacon_unit_never_decreases_with_more_witnesses(n: int) -> None:
    assert compute_beacon_unit(n + 1, PARAMS) >= compute_beacon_unit(n, PARAMS)


def test_witness_cap_keeps_the_first_fourteen() -> None:
    kept, dropped = select_witnesses(list(range(14)), PARAMS)
    assert kept == list(range(14)) and dropped == []
    kept, dropped = select_witnesses(list(range(15)), PARAMS)
    assert kept == list(range(14)) and dropped == [14]


def test_reciprocity_window_edges() -> None:
    window = PARAMS.reciprocity_window_s
    assert is_beacon_reciprocal(1_000, 1_000 + window, window)
    assert not is_beacon_reciprocal(999, 1_000 + window, window)
    assert not is_beacon_reciprocal(None, 1_000, window)
    assert is_witness_reciprocal(5_000, 1_000, window)
    assert not is_witness_reciprocal(None, 1_000, window)


def test_activity_needs_both_roles_within_60_hours() -> None:
    window = PARAMS.density_active_window_s
    assert window == 60 * 3_600
    assert is_active(0, 0, window, window)
    assert not is_active(0, None, window, window)
    assert not is_active(0, 0, window + 1, window)
