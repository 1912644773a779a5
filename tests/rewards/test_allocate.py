from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opendepin.rewards.allocate import allocate_pool, split_by_basis_points


@given(
    pool=st.integers(0, 10**30),
    units=st.dictionaries(st.text(max_size=5), st.integers(-5, 10**12), max_size=30),
)
def test_allocation_never_over_allocates(pool: int, units: dict[str, int]) -> None:
    allocation = allocate_pool(pool, units)
    assert allocation.paid + allocation.remainder == pool
    assert allocation.remainder >= 0
    positive = sum(v for v in units.values() if v > 0)
    if positive:
        assert allocation.remainder < len([v for v in units.values() if v > 0]) + 1
    assert all(allocation.amounts[k] == pool * units[k] // positive for k in allocation.amounts)


def test_nobody_earned() -> None:
    allocation = allocate_pool(100, {"a": 0})
    assert allocation.amounts == {} and allocation.remainder == 100


@given(total=st.integers(0, 10**30))
def test_split_conserves(total: int) -> None:
    split = split_by_basis_points(total, {"a": 3_000, "b": 5_000, "c": 2_000})
    assert split.paid + split.remainder == total and 0 <= split.remainder < 3
