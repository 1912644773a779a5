"""Token price (USD per token) and the price oracle (a TWAP of reported prices, halted when stale).

log P_t = log base_t + w_t. `base` is the exogenous part: the initial price or an interpolated `path`,
times shocks (a crash). w is a log random walk (drift μ, volatility σ, mean-preserving) which, for the
`market` model, also moves with net buying: w_{t+1} = w_t + (μ − σ²/2)/365 + σ/√365·ε + impact · flow_t,
flow_t = (D_t − sell_fraction · M_t · P_t) / depth_usd. Users buy D_t USD of tokens to burn for credits
(demand), contributors sell part of their rewards (sell pressure); with sell_fraction = 1 and no noise the
price settles where the two meet, P* = D / M (the BME equilibrium). The push impact · flow is clipped
to ±0.5 a day by the model (a circuit breaker), so one day's imbalance cannot move the price e-fold.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.paths import compute_shock_factor
from opendepin.economics.spec import PriceSpec

FloatArray = NDArray[np.float64]


def compute_price_base(spec: PriceSpec, days: FloatArray) -> FloatArray:
    """Exogenous price path: `initial` (gbm, market) or log-linear interpolation of `path`, times shocks."""
    if spec.kind == "path":
        points = sorted(spec.path)
        xs = np.array([day for day, _ in points], dtype=np.float64)
        logs = np.log(np.array([usd for _, usd in points], dtype=np.float64))
        base = np.exp(np.interp(days, xs, logs))
    else:
        base = np.full_like(days, spec.initial, dtype=np.float64)
    return base * compute_shock_factor(spec.shocks, days)


def compute_market_flow(
    served_usd: FloatArray,
    minted: FloatArray,
    sell_fraction: FloatArray | float,
    spot: FloatArray,
    depth_usd: FloatArray | float,
) -> FloatArray:
    """Net buying in units of market depth: (D − sell_fraction · M · P) / depth."""
    return (served_usd - sell_fraction * minted * spot) / depth_usd


def compute_twap(window: FloatArray) -> FloatArray:
    """Time-weighted average of the last reported daily prices (rows of `window`, equal weights)."""
    return window.mean(axis=0)


def is_oracle_halted(age_days: FloatArray, max_staleness_days: FloatArray | float) -> NDArray[np.bool_]:
    """Credit minting halts while the last oracle update is older than the staleness bound."""
    return age_days > max_staleness_days
