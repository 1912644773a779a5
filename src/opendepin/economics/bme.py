"""Burn-and-mint equilibrium: users burn tokens for data credits worth the USD they pay for service.

B_t = D_t / P_t, S_{t+1} = S_t + M_t − B_t, N_t = M_t − B_t, P* = D / M, B/M = revenue ÷ incentives.
Helium net emissions (HIP-20 as amended): burned tokens are re-minted, smoothed
target_t = (1 − α)·target_{t−1} + α·burn_t (α = 1/7), capped at 1,643.83561643 tokens a day.
Float64: a simulated path, not a settlement (burns are not rounded up here).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MIN_PRICE_USD = 1e-12


def compute_tokens_for_credits(served_usd: FloatArray, oracle_price: FloatArray | float) -> FloatArray:
    """Tokens users buy to burn for the credits they pay with: D / P (P floored at 1e-12 USD so that a
    price path that underflows cannot produce 0 / 0)."""
    return served_usd / np.maximum(oracle_price, MIN_PRICE_USD)


def compute_burn(served_usd: FloatArray, oracle_price: FloatArray | float, supply: FloatArray) -> FloatArray:
    """Tokens burned for credits: D / P, never more than the circulating supply."""
    return np.minimum(compute_tokens_for_credits(served_usd, oracle_price), supply)


def compute_credits(served_usd: FloatArray, credit_usd: float) -> FloatArray:
    """Data credits minted: D / credit price (1 DC = $0.00001)."""
    return served_usd / credit_usd


def compute_remint_target(
    previous: FloatArray, burned: FloatArray, smoothing: FloatArray | float
) -> FloatArray:
    """Smoothed re-mint target: (1 − α)·yesterday + α·today's burn."""
    return (1.0 - smoothing) * previous + smoothing * burned


def compute_remint(target: FloatArray, cap_per_day: FloatArray | float) -> FloatArray:
    """Net emissions re-minted today: min(target, cap)."""
    return np.minimum(target, cap_per_day)


def compute_equilibrium_price(demand_usd: FloatArray, minted: FloatArray) -> FloatArray:
    """P* = D / M: the price at which burns equal mints (NaN when nothing is minted)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(minted > 0, demand_usd / np.where(minted > 0, minted, 1.0), np.nan)


def compute_burn_mint_ratio(burned: FloatArray, minted: FloatArray) -> FloatArray:
    """B / M = USD revenue ÷ USD value of emissions (NaN when nothing is minted)."""
    return compute_equilibrium_price(burned, minted)
