"""opendepin.detection: the detection figures every sector's simulator reports."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opendepin.detection import classification, leakage, pay_ratio


def test_leakage_and_pay_ratio() -> None:
    paid = {"a": 30, "b": 10, "h1": 40, "h2": 20}
    assert leakage(paid, {"a", "b"}) == 0.4
    assert pay_ratio(paid, {"a", "b"}, {"h1", "h2", "h3"}) == 20 / 20
    assert pay_ratio(paid, {"a"}, {"h1", "h2"}) == 1.0 and pay_ratio(paid, {"b"}, {"h1"}) == 0.25
    assert leakage({}, {"a"}) == 0.0 and pay_ratio(paid, set(), {"h1"}) == 0.0
    assert pay_ratio({"a": 5}, {"a"}, {"h"}) == 0.0  # the honest were paid nothing


def test_classification() -> None:
    assert classification({"a", "h1"}, {"a", "b"}, {"h1", "h2", "h3", "h4"}) == (0.5, 0.5, 0.25)
    assert classification(set(), set(), {"h"}) == (1.0, 1.0, 0.0)  # nothing to catch, nobody accused
    assert classification(set(), {"a"}, {"h"}) == (0.0, 0.0, 0.0)


devices = st.sets(st.sampled_from([f"d{i}" for i in range(12)]))


@given(
    devices,
    devices,
    devices,
    st.dictionaries(st.sampled_from([f"d{i}" for i in range(12)]), st.integers(0, 99)),
)
def test_figures_stay_in_their_ranges(
    flagged: set[str], adversaries: set[str], others: set[str], paid: dict[str, int]
) -> None:
    honest = others - adversaries
    assert 0.0 <= leakage(paid, adversaries) <= 1.0
    assert all(0.0 <= figure <= 1.0 for figure in classification(flagged, adversaries, honest))
    assert pay_ratio(paid, adversaries, honest) >= 0.0
