"""The sorting set operations give numpy's own results."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from opendepin.arrays import INT64_SAFE, int64_or_zero, is_in, unique_sorted

INTS = st.lists(st.integers(-(2**62), 2**62), max_size=80)
SMALL = st.lists(st.integers(-5, 5), max_size=80)


@given(values=st.one_of(INTS, SMALL))
def test_unique_sorted_equals_numpy_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    got, expected = unique_sorted(array), np.unique(array)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)


@given(values=st.one_of(INTS, SMALL), candidates=st.one_of(INTS, SMALL))
def test_is_in_equals_numpy_isin(values: list[int], candidates: list[int]) -> None:
    a, b = np.array(values, dtype=np.int64), np.array(candidates, dtype=np.int64)
    assert np.array_equal(is_in(a, b), np.isin(a, b))
    assert np.array_equal(is_in(a.reshape(-1, 1), b), np.isin(a.reshape(-1, 1), b))


@given(values=st.lists(st.integers(-(2**80), 2**80), max_size=40))
def test_int64_or_zero_keeps_what_fits_and_says_what_does_not(values: list[int]) -> None:
    array, big = int64_or_zero(values)
    assert array.dtype == np.int64 and len(array) == len(values)
    for value, got, oversized in zip(values, array.tolist(), big.tolist(), strict=True):
        assert oversized == (not -INT64_SAFE < value < INT64_SAFE)
        assert got == (0 if oversized else value)
