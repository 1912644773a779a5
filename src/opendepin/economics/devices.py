"""Device population: rewards per device, payback, joins and leaves.

Contributors are paid the device share of every mint: the coverage pool split across device types by
weight × count, the usage pool by the service they carried (the reward policy, :mod:`.policy`).
Payback (days) = hardware cost ÷ (daily reward × P − daily operating cost). People join while that payback
beats a threshold and leave while rewards do not cover the operating cost (see DeviceTypeSpec).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def compute_pool_pay(
    pool_tokens: FloatArray, counts: FloatArray, weights: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Tokens per device of each type (rows), pool · w_i / Σ_j w_j n_j, and the tokens paid in total (the
    pool; 0 when no device is there, and then 0 per device too)."""
    total = (weights * counts).sum(axis=0)
    per_weight = np.where(total > 0, pool_tokens / np.maximum(total, 1e-12), 0.0)
    return weights * per_weight, per_weight * total


def compute_reward_per_device(pool_tokens: FloatArray, counts: FloatArray, weights: FloatArray) -> FloatArray:
    """Tokens per device of each type (rows): pool · w_i / Σ_j w_j n_j (0 when no device is there)."""
    return compute_pool_pay(pool_tokens, counts, weights)[0]


def compute_payback_days(
    hardware_cost: FloatArray | float, earnings_usd: FloatArray, opex_usd: FloatArray | float
) -> FloatArray:
    """Hardware cost ÷ (daily earnings − daily operating cost); +inf when the margin is not positive."""
    margin = earnings_usd - opex_usd
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(margin > 0, hardware_cost / np.where(margin > 0, margin, 1.0), np.inf)


def compute_attractiveness(payback_days: FloatArray, threshold_days: FloatArray | float) -> FloatArray:
    """How strongly a newcomer is drawn in: clip(1 − payback / threshold, 0, 1)."""
    return np.clip(1.0 - payback_days / threshold_days, 0.0, 1.0)


def compute_distress(earnings_usd: FloatArray, opex_usd: FloatArray | float) -> FloatArray:
    """Share of the operating cost rewards fail to cover: clip((opex − earnings) / opex, 0, 1)."""
    opex = np.asarray(opex_usd, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(
            opex > 0, np.clip((opex - earnings_usd) / np.where(opex > 0, opex, 1.0), 0.0, 1.0), 0.0
        )


def compute_expected_joins(
    counts: FloatArray,
    attractiveness: FloatArray,
    join_rate: FloatArray | float,
    join_floor: FloatArray | float,
    organic_growth: FloatArray | float,
) -> FloatArray:
    """Expected joins a day: join_rate · (n + floor) · attractiveness + organic growth · n."""
    return join_rate * (counts + join_floor) * attractiveness + organic_growth * counts


def compute_leave_probability(
    distress: FloatArray, leave_rate: FloatArray | float, base_churn: FloatArray | float
) -> FloatArray:
    """Daily probability a device leaves: base churn + leave_rate · distress (at most 1)."""
    return np.minimum(base_churn + leave_rate * distress, 1.0)
