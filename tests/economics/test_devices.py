"""Device economics: reward split, payback, join and leave pressure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.economics import devices


@settings(max_examples=60, deadline=None)
@given(
    pool=st.floats(0.0, 1e9),
    counts=st.lists(st.integers(0, 10_000), min_size=1, max_size=4),
    weights=st.lists(st.floats(0.01, 100.0), min_size=4, max_size=4),
)
def test_rewards_paid_equal_the_pool(pool: float, counts: list[int], weights: list[float]) -> None:
    """Property: Σ_i n_i · reward_i = pool whenever any device is there, else nothing is paid."""
    n = np.array(counts, dtype=np.float64)[:, None]
    w = np.array(weights[: len(counts)])[:, None]
    reward = devices.compute_reward_per_device(np.array([pool]), n, w)
    paid = float((reward * n).sum())
    if n.sum() > 0:
        assert paid == pytest.approx(pool, rel=1e-9, abs=1e-6)
    else:
        assert paid == 0.0
    assert np.all(reward >= 0)


def test_payback_days() -> None:
    payback = devices.compute_payback_days(500.0, np.array([3.0, 1.0, 0.5]), 0.5)
    assert payback.tolist() == [200.0, 1000.0, np.inf]


def test_attractiveness_and_distress() -> None:
    assert devices.compute_attractiveness(np.array([0.0, 100.0, 400.0, np.inf]), 200.0).tolist() == [
        1.0,
        0.5,
        0.0,
        0.0,
    ]
    assert devices.compute_distress(np.array([0.0, 0.25, 1.0]), 0.5).tolist() == [1.0, 0.5, 0.0]
    assert devices.compute_distress(np.array([0.0]), 0.0).tolist() == [0.0]


def test_expected_joins_and_leave_probability() -> None:
    joins = devices.compute_expected_joins(np.array([90.0]), np.array([0.5]), 0.02, 10.0, 0.001)
    assert joins[0] == pytest.approx(0.02 * 100 * 0.5 + 0.09)
    assert devices.compute_leave_probability(np.array([1.0]), 2.0, 0.1)[0] == 1.0
