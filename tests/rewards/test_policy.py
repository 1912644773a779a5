"""The reward policy: usage weight as a function of usage/emission, the device split, the usage cap."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.rewards.policy import (
    compute_usage_cap,
    compute_usage_ratio,
    compute_usage_weight,
    split_device_emission,
)

POINTS = [(Fraction(0), Fraction(0)), (Fraction(1), Fraction(9, 10))]


def test_weight_is_linear_between_points_and_flat_outside() -> None:
    assert compute_usage_weight(Fraction(0), POINTS) == 0
    assert compute_usage_weight(Fraction(1, 2), POINTS) == Fraction(9, 20)
    assert compute_usage_weight(Fraction(1), POINTS) == Fraction(9, 10)
    assert compute_usage_weight(Fraction(7), POINTS) == Fraction(9, 10)
    three = [(Fraction(0), Fraction(1, 10)), (Fraction(1, 4), Fraction(1, 5)), (Fraction(2), Fraction(1))]
    assert compute_usage_weight(Fraction(1, 8), three) == Fraction(3, 20)
    assert compute_usage_weight(Fraction(0), three) == Fraction(1, 10)


def test_ratio_values_usage_against_emission() -> None:
    # $5 of credits against 10 tokens emitted at $1 each
    assert compute_usage_ratio(Fraction(5), 10 * 10**18, 10**18, Fraction(1)) == Fraction(1, 2)
    assert compute_usage_ratio(Fraction(5), 0, 10**18, Fraction(1)) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 10**30),
    st.fractions(0, 1),
    st.dictionaries(st.sampled_from("abc"), st.integers(0, 10_000), max_size=3),
    st.dictionaries(st.sampled_from("xyz"), st.integers(0, 10_000), max_size=3),
)
def test_the_split_never_over_allocates(
    device: int, weight: Fraction, usage: dict[str, int], coverage: dict[str, int]
) -> None:
    split = split_device_emission(device, weight, usage, coverage)
    assert sum(split.pools.values()) + split.remainder == device
    assert split.remainder >= 0 and all(v >= 0 for v in split.pools.values())
    if sum(usage.values()) and sum(coverage.values()):
        usage_paid = sum(split.pools[k] for k in usage)
        assert usage_paid <= device * weight


def test_a_side_without_categories_gives_its_part_to_the_other() -> None:
    assert split_device_emission(100, Fraction(1, 2), {}, {"coverage": 1}).pools == {"coverage": 100}
    assert split_device_emission(100, Fraction(1, 2), {"data": 1}, {}).pools == {"data": 100}


def test_the_cap_is_the_token_value_of_the_credits() -> None:
    # 100,000 credits × $0.00001 = $1; at $0.50 a token that is 2 tokens
    cap = compute_usage_cap(100_000, Fraction(1, 100_000), Fraction(1, 2), 10**18, Fraction(1))
    assert cap == 2 * 10**18
    assert compute_usage_cap(100_000, Fraction(1, 100_000), Fraction(0), 10**18, Fraction(1)) == 0
